#pragma once
// Work units and their assignment (document 004, Figures 8D, 8E and 9), master side.
//
// N units (1024 by default) each have an owner and a backup. "If [...] this work set had been
// assigned [...] the answer is no [...] the master will assign this work set to the least loaded
// member"; the assignment takes effect once the member acknowledges it. When a member's watchdog
// expires "the master deletes that client from the cluster data list and the deleted unit's work
// goes into a pool of unassigned work": we first give each such unit to its backup, which holds
// its replicated state, and only units without a live backup go to the pool.
// Rebalancing (Figure 8D): "calculates the load difference between most loaded (K) and least
// loaded (J) [...] would moving 1 work unit from most loaded (K) to least loaded (J) have any
// effect? [...] If so then the master sends a work de-assign request to the most loaded member
// with the least loaded member as the target [...] and then the master checks the load numbers
// again". We read the test as K - 1 >= J + 1 (the text's "J-1" cannot be meant): a move helps
// only while the spread is at least 2, so rebalancing stops at a spread of at most 1.
//
// Load is the number of units a member owns, counting a unit being moved at its target. (The
// load members report in their keepalives is carried for the console, not used here.)

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "actors/protocol/group_types.hpp"

namespace baton::group {

struct unit_record {
  node_id owner = no_node;
  node_id backup = no_node;
  bool acked = false;             // the owner acknowledged the assignment
  node_id move_target = no_node;  // a de-assign towards this node is in progress
  time_ms move_deadline{0};
  std::uint32_t move_tries = 0;
  bool move_requested = false;    // the move in progress was asked for (console), not planned
  bool pinned = false;            // placed by such a move: rebalancing does not move it again
  time_ms last_sent{-1000000};    // when the master last sent this unit's work_assign
};

/// A de-assign the master should send: `from` hands `unit` to `to`.
struct unit_move {
  unit_id unit = 0;
  node_id from = no_node;
  node_id to = no_node;
};

class work_table {
 public:
  /// A table of `units` unassigned units.
  explicit work_table(std::uint32_t units);

  std::uint32_t size() const noexcept { return static_cast<std::uint32_t>(records_.size()); }
  bool valid(unit_id u) const noexcept { return u < records_.size(); }
  /// Precondition: valid(u).
  const unit_record& at(unit_id u) const noexcept { return records_[u]; }
  /// Grows whenever an owner or backup changes.
  std::uint64_t version() const noexcept { return version_; }

  /// Sets the owner (cancelling any move); `acked` when the owner is known to hold it already.
  void assign(unit_id u, node_id owner, bool acked) noexcept;
  void set_backup(unit_id u, node_id backup) noexcept;
  /// The owner confirmed unit u; true if `from` is its owner.
  bool ack(unit_id u, node_id from) noexcept;
  void mark_sent(unit_id u, time_ms now) noexcept { records_[u].last_sent = now; }

  /// Units per member of `members` (all present, possibly 0), a moving unit counted at its target.
  std::map<node_id, std::uint32_t> loads(const std::vector<node_id>& members) const;
  /// The member with the fewest units (lowest id on ties); no_node if `members` is empty.
  node_id least_loaded(const std::vector<node_id>& members) const;
  /// A backup for u: the member other than its owner holding the fewest backups (lowest id on
  /// ties); no_node if there is none.
  node_id choose_backup(unit_id u, const std::vector<node_id>& members) const;

  /// Figure 8E for `failed` (no longer in `members`): its units go to their live backup, else
  /// become unassigned; moves towards it are abandoned; it stops being anyone's backup. Returns
  /// the units whose owner changed.
  std::vector<unit_id> fail_member(node_id failed, const std::vector<node_id>& members);
  /// Gives every unassigned unit an owner: a member in `claims` (a backup that holds its state)
  /// if any, else the least loaded member. Units in `hold` stay unassigned (their backup has not
  /// joined yet). Unacknowledged until the owner answers. Returns the units assigned.
  std::vector<unit_id> assign_unassigned(const std::vector<node_id>& members,
                                         const std::map<unit_id, node_id>& claims,
                                         const std::set<unit_id>& hold = {});
  /// Gives every owned unit whose backup is missing, not a member, or the owner itself a backup.
  /// Returns the units changed.
  std::vector<unit_id> repair_backups(const std::vector<node_id>& members);

  /// Starts the de-assign of u towards `to`, expiring at `deadline`: the one move that
  /// rebalancing and an operator's request (`requested`: console's "move a unit") both use.
  /// Precondition: valid(u), u acknowledged by an owner other than `to`, no move in progress.
  void start_move(unit_id u, node_id to, time_ms deadline, bool requested) noexcept;
  /// Figure 8D: starts de-assigns from the most to the least loaded member while that lowers the
  /// spread, at most `max_moves` of them (0: no limit). Only acknowledged units not already
  /// moving, and not placed by a requested move (pinned), are moved. Each started move expires at `deadline`. Returns the moves started.
  std::vector<unit_move> plan_rebalance(const std::vector<node_id>& members,
                                        std::uint32_t max_moves, time_ms deadline);
  /// The target reported the state handed over: ownership moves to it (unacknowledged; pinned
  /// there when the move was requested). If the
  /// target was the backup, a new backup is chosen from `members`. False if no such move.
  bool finish_move(unit_id u, node_id target, const std::vector<node_id>& members);
  /// Gives up a move: the unit stays with its owner, which must acknowledge it again.
  void abort_move(unit_id u) noexcept;
  /// Retry bookkeeping for a move that timed out.
  void retry_move(unit_id u, time_ms deadline) noexcept;

  std::vector<node_id> owners() const;
  std::vector<node_id> backups() const;

 private:
  std::vector<unit_record> records_;
  std::uint64_t version_ = 1;
};

/// max - min over `loads` (0 when empty): the spread rebalancing drives to at most 1.
std::uint32_t load_spread(const std::map<node_id, std::uint32_t>& loads) noexcept;

}  // namespace baton::group
