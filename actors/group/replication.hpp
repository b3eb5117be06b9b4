#pragma once
// Replication of per-unit state (document 004, "State Maintenance", Figure 7), as deltas.
//
// "The TCP Failover State [...] comprises three portions, an Initial State portion which only
// needs to be sent once [...]; the Essential State Portion which must be sent [...] when any item
// listed in the Essential portion changes; and the Calculable State portion [...] which is not
// sent." The document sends to every member; we send each unit's state to its one backup (the
// master picks it), which is the member that takes the unit over if the owner fails.
//
// The role registers a unit's state as portions (portion_kind, types.hpp), never the whole state
// on every change:
//   initial delta    - e.g. the initial records of the flows created since the last delta;
//   essential delta  - e.g. the essential records that changed since (and flows that ended);
//   checkpoint       - the unit's whole state; it replaces everything registered before it.
// The bytes are opaque here: the substrate never parses them, it only keeps them in order.
//
// Streams and sequence numbers. Each portion gets the next sequence number of the unit's stream
// on its owner. A stream starts either with sequence 1 from empty state (a fresh unit) or with a
// checkpoint; a node starts a new stream when it begins owning a unit, when it takes one over
// (the taken-over portions are renumbered 1..n in the new stream) and when a backup turns out to
// hold another life's stream under the same number. Stream numbers are
// (group_config::stream_base << 32) + a per-node counter.
//
// Owner (owned_state). The owner keeps the unit's log: its latest checkpoint, if any, and every
// delta registered after it, in order - exactly what the backup should hold. A new portion goes
// to the backup at once (state_delta); portions the backup has not acknowledged go again, all of
// them in one state_delta, every resend interval. The backup acknowledges the highest contiguous
// sequence it holds (state_ack); an acknowledgement for a stream other than ours (the backup lost
// or never had our state) makes the owner send the log again from its start. A new backup starts
// at nothing acknowledged, so it gets the log from its start: the checkpoint and the deltas after
// it. A hand-over (state_handover) carries the same log.
//
// Compaction. The log grows by every delta. When the deltas since the last checkpoint exceed the
// bound of group_config (compaction_due: more than compact_deltas deltas, or more bytes than
// compact_ratio x the checkpoint and compact_min_bytes), add() says so once and the member tells
// the role (events::checkpoint_wanted); the role answers by registering a checkpoint, which
// truncates the log on the owner and, once it arrives, on the backup. Until it answers the log
// keeps growing, and the request is repeated each time the deltas' bytes double. After a
// take-over the role is asked for a checkpoint too (the new owner's merged state replaces the
// old owner's log).
//
// Backup (replica_store). Per unit it keeps the owner's log as received: portions are applied in
// sequence order (one arriving early waits in a small reorder window), duplicates are ignored, a
// checkpoint replaces everything before it. On take-over the role receives the log (a checkpoint
// first if there is one, then the deltas in order) and merges it. replica_store also holds state
// handed over by a de-assign until the unit is assigned here.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "actors/group/config.hpp"
#include "actors/protocol/group_types.hpp"
#include "actors/protocol/group.hpp"

namespace baton::group {

/// One unit's replicable state as a log: who produced it, in which stream, and the portions in
/// order (a checkpoint first if there is one, then deltas with consecutive sequence numbers).
struct unit_log {
  node_id owner = no_node;
  std::uint64_t stream = 0;
  std::uint64_t last = 0;  // sequence of the last portion (0: nothing yet)
  std::vector<state_portion> portions;

  /// Bytes of all the portions' data.
  std::size_t bytes() const noexcept;
};

class owned_state {
 public:
  /// The compaction bound and the stream base come from `cfg` (config.hpp).
  explicit owned_state(const group_config& cfg = {});

  /// Registers a portion of unit u (a checkpoint drops everything before it from the log).
  /// Returns true when the role should now register a checkpoint (compaction; see the file
  /// comment). Sending happens in collect().
  bool add(unit_id u, portion_kind kind, state_bytes data);
  /// The backup that should hold u's state. A new backup gets the log from its start.
  void set_backup(unit_id u, node_id backup);
  /// A backup's acknowledgement; ignored unless `from` is u's current backup.
  void on_ack(unit_id u, node_id from, const state_ack& ack);
  /// Starts owning u with state continued from another node (take-over): a new stream whose log
  /// is `portions` renumbered 1..n. Returns true when the log holds deltas (the role should
  /// register a checkpoint of the merged state).
  bool adopt(unit_id u, const std::vector<state_portion>& portions);
  /// Continues u's log in a new stream (renumbered 1..n; the backup gets it again from its
  /// start): a unit taken back after a hand-over that did not happen, so that the log handed
  /// over then is older than anything the backup holds from now on.
  void restart_stream(unit_id u);
  /// Forgets u (it is no longer ours).
  void erase(unit_id u);
  /// u's log as this node holds it (owner = `self`), or nullopt if nothing was registered.
  std::optional<unit_log> get(unit_id u, node_id self) const;

  /// Appends the state messages due at `now` as (destination, message) pairs: new portions at
  /// once, unacknowledged ones again after `resend`.
  void collect(time_ms now, time_ms resend, std::vector<std::pair<node_id, message>>& out);
  /// The same for unit u alone (a role's change goes out at once without a walk over all units).
  void collect_unit(unit_id u, time_ms now, time_ms resend,
                    std::vector<std::pair<node_id, message>>& out);

  std::size_t size() const noexcept { return entries_.size(); }
  /// The first time collect(t, resend, ...) has something to send: the earliest resend of an
  /// unacknowledged portion (its last send plus `resend`; a portion never sent is due at once,
  /// time_ms::min()); time_ms::max() when everything is acknowledged.
  time_ms next_due(time_ms resend) const noexcept;

 private:
  struct entry {
    unit_log log;
    std::size_t delta_bytes = 0;  // of the deltas after the checkpoint
    std::size_t deltas = 0;
    std::size_t asked_at_bytes = 0;  // delta_bytes when a checkpoint was last asked for
    bool asked = false;
    node_id backup = no_node;
    std::uint64_t acked = 0;  // the backup holds our stream up to here
    std::uint64_t sent = 0;   // sent up to here
    time_ms last_sent{-1000000};
  };
  void mark(unit_id u, const entry& e);
  void new_stream(entry& e);
  bool compaction_wanted(entry& e);
  // Sends what is due for one entry; returns true while something stays unacknowledged.
  bool collect_entry(unit_id u, entry& e, time_ms now, time_ms resend,
                     std::vector<std::pair<node_id, message>>& out);

  group_config bounds_;
  std::uint64_t streams_ = 0;
  std::map<unit_id, entry> entries_;
  std::set<unit_id> pending_;  // units with something unacknowledged
};

class replica_store {
 public:
  /// How far ahead of the contiguous sequence a portion may arrive and wait for the gap.
  static constexpr std::uint64_t reorder_window = 256;

  /// Applies portions from `from` (a stream start from a new owner replaces the old owner's
  /// replica; other portions of a stream not held are ignored). Returns the acknowledgement to
  /// send back: the stream held from `from` (0: none) and its highest contiguous sequence.
  state_ack on_delta(node_id from, const state_delta& m);
  /// Keeps a de-assign's handed-over log until the unit is assigned here.
  void on_handover(node_id from, const state_handover& m);

  /// Removes and returns the best log to continue u with, from the replica and the handed-over
  /// log: the newer of the two (stream, then sequence) if both come from one owner, else the one
  /// from `previous_owner`, else the handed-over one. `handover` tells which was chosen.
  std::optional<unit_log> take(unit_id u, node_id previous_owner, bool& handover);

  const unit_log* replica(unit_id u) const;
  const unit_log* handover(unit_id u) const;
  void drop_replica(unit_id u) noexcept { replicas_.erase(u); }
  void drop_handover(unit_id u) noexcept { handovers_.erase(u); }
  void clear_handovers() noexcept { handovers_.clear(); }
  void clear() noexcept {
    replicas_.clear();
    handovers_.clear();
  }
  /// Units this node holds a replica of, ascending.
  std::vector<unit_id> replica_units() const;
  /// Bytes and portions held for u's replica (tests, console).
  std::size_t replica_bytes(unit_id u) const noexcept;

 private:
  struct held {
    unit_log log;
    std::map<std::uint64_t, state_portion> ahead;  // arrived before the gap below them filled
  };
  static void apply(held& h, const state_portion& p);

  std::map<unit_id, held> replicas_;
  std::map<unit_id, unit_log> handovers_;
};

}  // namespace baton::group
