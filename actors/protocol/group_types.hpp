#pragma once
// Basic vocabulary of the group substrate (DESIGN §1, document 004): who a node is, what a work
// unit is, what a unit's replicated state is, and how time is passed in. It lives with the
// messages (actors/protocol/group.hpp) because they are written in it; the state machines in
// actors/group/ include it from here. Plain C++, no CAF: the state machines are driven by their
// host (a CAF actor in production, a simulator in the unit tests).

#include <chrono>
#include <cstdint>
#include <vector>

namespace baton::group {

/// A node of the group, named by its IPv4 address in host order. The address doubles as the
/// final tie-break of the master election ("is my IP address less than his?", document 004,
/// Figure 8A), so it must be unique in the group. 0 is never a node: it means "nobody" in tables
/// and "every peer" as a destination (see `broadcast`).
using node_id = std::uint32_t;

/// Destination meaning "every configured peer": the host expands it to group_config::peers
/// (the document broadcasts join requests, master offers and master keepalives).
inline constexpr node_id broadcast = 0;

/// "nobody" in owner / backup tables.
inline constexpr node_id no_node = 0;

/// A work unit number, 0 .. N-1 ("a unique work unit number between 0 and 1023").
using unit_id = std::uint32_t;

/// Opaque per-unit state bytes a role registers for replication; the substrate never looks inside.
using state_bytes = std::vector<std::uint8_t>;

/// What a registered state portion is (document 004, Figure 7; replication.hpp). The substrate
/// treats the bytes of every kind alike except that a checkpoint replaces all that came before.
///   initial:    an initial delta, e.g. the records of flows new since the last one (sent once);
///   essential:  an essential delta, e.g. the records whose essential state changed;
///   checkpoint: the unit's whole state (for a new backup, after take-over, for compaction).
enum class portion_kind : std::uint8_t { checkpoint = 0, initial = 1, essential = 2 };

/// "checkpoint", "initial", "essential"; "unknown" for a value off the list (bytes from a peer).
constexpr const char* portion_name(portion_kind k) noexcept {
  return k == portion_kind::checkpoint  ? "checkpoint"
         : k == portion_kind::initial   ? "initial"
         : k == portion_kind::essential ? "essential"
                                        : "unknown";
}

/// Time as the host passes it in: milliseconds since an arbitrary, monotonic epoch. The state
/// machines never read a clock themselves, so tests drive them with simulated time.
using time_ms = std::chrono::milliseconds;

}  // namespace baton::group
