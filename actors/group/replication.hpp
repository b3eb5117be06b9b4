#pragma once
// Replication of per-unit state (document 004, "State Maintenance", Figure 7).
//
// "The TCP Failover State [...] comprises three portions, an Initial State portion which only
// needs to be sent once [...]; the Essential State Portion which must be sent [...] when any item
// listed in the Essential portion changes; and the Calculable State portion [...] which is not
// sent." The document sends to every member; we send each unit's state to its one backup (the
// master picks it), which is the member that takes the unit over if the owner fails.
//
// owned_state is the owner's side: the latest registered state per unit and what its backup has
// acknowledged; collect() produces the sends (a change goes out at once, unacknowledged portions
// are resent every resend interval). replica_store is the backup's side, and also holds state
// handed over by a de-assign until the unit is assigned here.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "actors/protocol/group.hpp"
#include "actors/group/types.hpp"

namespace baton::group {

/// One unit's replicable state.
struct unit_state {
  node_id owner = no_node;  // who produced it
  std::uint64_t version = 0;  // essential version (grows with every change by that owner)
  bool has_initial = false;
  state_bytes initial;
  state_bytes essential;
};

class owned_state {
 public:
  /// Sets the initial portion of unit u (sent to the backup once, again to each new backup).
  void set_initial(unit_id u, state_bytes data);
  /// Sets the essential portion of u; its version grows by one.
  void set_essential(unit_id u, state_bytes data);
  /// The backup that should hold u's state. A new backup gets everything again.
  void set_backup(unit_id u, node_id backup);
  /// A backup's acknowledgement; ignored unless `from` is u's current backup.
  void on_ack(unit_id u, node_id from, const state_ack& ack);
  /// Starts owning u with state continued from another node (take-over): everything is sent to
  /// the backup again under a fresh version sequence.
  void adopt(unit_id u, const unit_state& s);
  /// Forgets u (it is no longer ours).
  void erase(unit_id u);
  /// u's state as this node holds it (owner = `self`), or nullopt if nothing was registered.
  std::optional<unit_state> get(unit_id u, node_id self) const;

  /// Appends the state messages due at `now` as (destination, message) pairs: unsent changes at
  /// once, unacknowledged ones again after `resend`.
  void collect(time_ms now, time_ms resend, std::vector<std::pair<node_id, message>>& out);
  /// The same for unit u alone (a role's change goes out at once without a walk over all units).
  void collect_unit(unit_id u, time_ms now, time_ms resend,
                    std::vector<std::pair<node_id, message>>& out);

  std::size_t size() const noexcept { return entries_.size(); }

 private:
  struct entry {
    bool has_initial = false;
    state_bytes initial;
    state_bytes essential;
    std::uint64_t version = 0;
    node_id backup = no_node;
    bool initial_acked = false;
    bool initial_sent = false;
    std::uint64_t sent_version = 0;
    std::uint64_t acked_version = 0;
    time_ms last_sent{-1000000};
  };
  void mark(unit_id u, entry& e);
  // Sends what is due for one entry; returns true while something stays unacknowledged.
  bool collect_entry(unit_id u, entry& e, time_ms now, time_ms resend,
                     std::vector<std::pair<node_id, message>>& out);

  std::map<unit_id, entry> entries_;
  std::set<unit_id> pending_;  // units with something unacknowledged
};

class replica_store {
 public:
  /// Stores an initial portion from `from` (a new owner replaces the old owner's replica).
  /// Returns the acknowledgement to send back.
  state_ack on_initial(node_id from, const state_initial& m);
  /// Stores an essential portion if it is newer than the one held from the same owner.
  /// Returns the acknowledgement to send back (the version now held).
  state_ack on_essential(node_id from, const state_essential& m);
  /// Keeps a de-assign's handed-over state until the unit is assigned here.
  void on_handover(node_id from, const state_handover& m);

  /// Removes and returns the best state to continue u with, from the replica and the handed-over
  /// state: the newer of the two if both come from one owner, else the one from
  /// `previous_owner`, else the handed-over one. `handover` tells which was chosen.
  std::optional<unit_state> take(unit_id u, node_id previous_owner, bool& handover);

  const unit_state* replica(unit_id u) const;
  const unit_state* handover(unit_id u) const;
  void drop_replica(unit_id u) noexcept { replicas_.erase(u); }
  void drop_handover(unit_id u) noexcept { handovers_.erase(u); }
  void clear_handovers() noexcept { handovers_.clear(); }
  void clear() noexcept {
    replicas_.clear();
    handovers_.clear();
  }
  /// Units this node holds a replica of, ascending.
  std::vector<unit_id> replica_units() const;

 private:
  std::map<unit_id, unit_state> replicas_;
  std::map<unit_id, unit_state> handovers_;
};

}  // namespace baton::group
