#pragma once
// What a group_member tells its hosting role. Events are appended in the order they happen and
// collected with group_member::take_events(); the host reacts (starts or stops work on a unit,
// logs, counts) but never has to answer, except to join_vote (group_member::resolve_join) and
// checkpoint_wanted (group_member::replicate).

#include <string>
#include <vector>
#include <variant>

#include "actors/protocol/group_types.hpp"
#include "actors/protocol/group.hpp"

namespace baton::group {

/// This node is now a member (client) of the group led by `master` (Figure 6, 607).
struct joined {
  node_id master = no_node;
};
/// This node left its group and is joining again: told to exit, dropped by the master, or it was
/// master and lost the tie-break. Owned units are kept until a new master decides.
struct left {
  std::string reason;
};
/// This node is now the master (Figure 6, 623).
struct became_master {};
/// The master watchdog expired (Figure 8I): the master is presumed dead; joining again.
struct lost_master {
  node_id master = no_node;
};
/// Our join request was refused with `reason`; it is retried after join_retry_interval.
struct join_refused {
  std::string reason;
};
/// A node joined / left the group (master: its own decision; client: seen in the member list).
struct member_joined {
  node_id node = no_node;
  std::string identity;
};
struct member_left {
  node_id node = no_node;
  std::string reason;
};
/// Master only: a join waits for the roles' decision (Figure 8F, 879). Answer with
/// group_member::resolve_join before join_vote_timeout, or the join is refused.
struct join_vote {
  node_id node = no_node;
  std::string identity;
};
/// Master only: a join was refused (unknown identity, veto, configuration version, vote timeout).
/// DESIGN §4: the refusal is logged and counted by the host.
struct peer_refused {
  node_id node = no_node;
  std::string identity;
  std::string reason;
};
/// This node now owns `unit` with no prior state (a fresh unit).
struct unit_assigned {
  unit_id unit = 0;
};
/// This node no longer owns `unit`; stop processing its packets. `handing_over` is true when the
/// unit moves on purpose (its state goes to the target; the role must not change it any more).
struct unit_revoked {
  unit_id unit = 0;
  bool handing_over = false;
};
/// This node now owns `unit` and continues it from `from`'s state: the replicated log it held as
/// backup, or the log handed over by a de-assign (`handover`). Also used when a hand-over is
/// abandoned and the unit returns to this node (from == this node). `portions` is the log in
/// order: a checkpoint first if there is one, then the deltas after it; the role applies them in
/// this order (empty: no state). See replication.hpp.
struct take_over_unit {
  unit_id unit = 0;
  node_id from = no_node;
  bool handover = false;
  std::vector<state_portion> portions;
};
/// The role should register a checkpoint of `unit` (group_member::replicate with
/// portion_kind::checkpoint): the deltas since the last one passed the compaction bound, or the
/// unit was taken over with deltas (replication.hpp).
struct checkpoint_wanted {
  unit_id unit = 0;
};

using event = std::variant<joined, left, became_master, lost_master, join_refused, member_joined,
                           member_left, join_vote, peer_refused, unit_assigned, unit_revoked,
                           take_over_unit, checkpoint_wanted>;

}  // namespace baton::group
