#pragma once
// Vocabulary shared by document 002's three stages (client gateway, server gateway, replica):
// the configuration both ends agree on, a replica's health, and the client gateway's scoreboard
// of who answered first. CAF-free.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace baton::net {

/// Document 002's three configurations (Figures 4A-6C):
///  a: the replica answers from its own address; the client gateway translates both directions
///     (server -> replica on the way out, replica -> server on the way back).
///  b: the replica answers as the server: its SYN-ACK comes encapsulated (outer server -> client,
///     inner replica -> client, so the gateway learns the replica), later segments plainly from
///     the server's address; the gateway translates only client -> replica.
///  c: every answer comes encapsulated (outer replica -> client, inner server -> client); the
///     gateway cracks them and encapsulates the client's segments to the replica.
enum class replica_configuration : std::uint8_t { a, b, c };
/// "A", "B", "C".
const char* to_string(replica_configuration c) noexcept;

/// A replica as the server gateway sees it (document 002, Figure 4: dead or inactive replicas do
/// nothing, busy ones drop the start packet; the server gateway does not send them any).
enum class replica_health : std::uint8_t { active, busy, dead };
/// "active", "busy", "dead".
const char* to_string(replica_health h) noexcept;

/// One (server, answerer) pair as the client gateway counted it. answerer == server: the origin.
struct answer_stats {
  std::uint32_t server = 0;
  std::uint32_t answerer = 0;
  std::uint64_t wins = 0;       // answered first
  std::uint64_t losses = 0;     // answered later and was reset
  std::uint32_t rtt_us_last = 0;
  std::uint32_t rtt_us_min = 0;
  std::uint64_t rtt_us_sum = 0;  // over wins + losses, for the mean
};

/// Fixed-size scoreboard (no allocation on the loop): the loop thread records, any thread reads.
class answer_scoreboard {
 public:
  static constexpr std::size_t capacity = 64;

  /// Loop thread: counts one answer. Pairs past `capacity` are counted in overflow().
  void record(std::uint32_t server, std::uint32_t answerer, bool won, std::uint32_t rtt_us) noexcept;
  /// Any thread: the pairs seen so far.
  std::vector<answer_stats> snapshot() const;
  std::uint64_t overflow() const noexcept { return overflow_.load(std::memory_order_relaxed); }

 private:
  struct slot {
    std::atomic<std::uint32_t> server{0};
    std::atomic<std::uint32_t> answerer{0};
    std::atomic<std::uint64_t> wins{0};
    std::atomic<std::uint64_t> losses{0};
    std::atomic<std::uint32_t> rtt_us_last{0};
    std::atomic<std::uint32_t> rtt_us_min{0};
    std::atomic<std::uint64_t> rtt_us_sum{0};
  };
  std::array<slot, capacity> slots_{};
  std::atomic<std::size_t> used_{0};  // slots [0, used_) are filled (release after the fields)
  std::atomic<std::uint64_t> overflow_{0};
};

}  // namespace baton::net
