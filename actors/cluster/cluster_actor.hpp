#pragma once
// The cluster member (document 004): the actor that makes the group's decisions true on the packet
// path. The group actor tells it which work units this member owns (assign, revoke, take over with
// the replicated state); it publishes the owned-units table to the gateway stage, imports taken-over
// flows, and replicates the flows of its own units to their backups: every replication interval,
// per owned unit, the gateway's delta since the last round (removals, new flows' initial records,
// changed essential records; net/gateway/gateway_stage.hpp export_delta) goes to the group as an
// initial or essential portion, and a checkpoint (the unit's whole state) when the group asks for
// one, after a take-over, or when the delta cannot be formed (actors/group/replication.hpp).
// While idle (no flows, nothing changed) it schedules no rounds: the stage's owned wake or a unit
// event starts them again (issue 15).
//
// It also runs the segment side of the traffic mode (net/cluster: cluster_stage.hpp,
// arp_speaker.hpp): as master it answers ARP for the cluster addresses and announces them when it
// becomes master; in forwarding mode it gives the stage a route per unit (forward to the owner's
// MAC, hold while the assignment is unacknowledged, or handle locally). Its group actor pushes the
// group's view (master, members, owners, acknowledgements) whenever it changes.
//
// It never waits on the packet loop: flow-table work is posted to the loop and answered as a
// message (actors/runtime/on_loop.hpp).

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "actors/group/group_actor.hpp"
#include "actors/protocol/group_types.hpp"
#include "actors/protocol/atoms.hpp"
#include "actors/runtime/loop_reply.hpp"
#include "actors/runtime/policy_ptr.hpp"
#include "actors/runtime/status_message.hpp"
#include "net/io/counter_list.hpp"

namespace baton::node {
class io_runtime;
class event_log;
}  // namespace baton::node

namespace baton::cluster {

/// The cluster actor's own counters, declared once (net/io/counter_list.hpp); its status
/// (get_atom -> node::role_status) adds the gateway's, the forwarding stage's and the ARP side's.
#define BATON_CLUSTER_UNIT_GAUGES(COUNTER, GAUGE)                                     \
  GAUGE(owned_units, "work units this member owns")                                  \
  GAUGE(flows, "flows in the gateway's table, as the packet loop last reported it")
#define BATON_CLUSTER_REPLICATION_COUNTERS(COUNTER, GAUGE)                            \
  COUNTER(blobs, "state portions (deltas, checkpoints) handed to the group for the units' backups") \
  COUNTER(bytes, "bytes of unit state handed to the group")                          \
  COUNTER(checkpoints, "of which checkpoints (a unit's whole state)")                \
  COUNTER(takeovers, "units taken over from another member")                         \
  COUNTER(imported_flows, "flows created from taken-over state")                     \
  COUNTER(import_errors, "taken-over unit states that did not parse")               \
  COUNTER(rounds_skipped, "replication rounds skipped: no flows, no owned datagram, no unit change")
#define BATON_CLUSTER_VIEW_COUNTERS(COUNTER, GAUGE) \
  COUNTER(applied, "group views applied to the ARP side and the routes")
#define BATON_CLUSTER_ROUTE_GAUGES(COUNTER, GAUGE)                                    \
  GAUGE(routes_forward, "units the master forwards to their owner's MAC")            \
  GAUGE(routes_hold, "units whose datagrams the master holds (assignment in progress)")

BATON_COUNTER_STRUCT(cluster_unit_gauges, BATON_CLUSTER_UNIT_GAUGES)
BATON_COUNTER_STRUCT(cluster_replication_counters, BATON_CLUSTER_REPLICATION_COUNTERS)
BATON_COUNTER_STRUCT(cluster_view_counters, BATON_CLUSTER_VIEW_COUNTERS)
BATON_COUNTER_STRUCT(cluster_route_gauges, BATON_CLUSTER_ROUTE_GAUGES)

/// The cluster actor's own timer: look at the last group view again (a master holding a unit's
/// datagrams because its owner's MAC was not known yet).
using view_atom = caf::atom_constant<caf::atom("view")>;

using cluster_actor = caf::typed_actor<
  caf::reacts_to<group::group_view>,
  caf::reacts_to<view_atom>,
  caf::reacts_to<node::loop_atom, node::loop_reply>,
  caf::reacts_to<protocol::group_atom, group::group_actor>,
  caf::reacts_to<protocol::assign_atom, group::unit_id>,
  caf::reacts_to<protocol::revoke_atom, group::unit_id, bool>,
  caf::reacts_to<protocol::takeover_atom, group::unit_id, group::state_bytes>,
  caf::reacts_to<protocol::takeover_atom, group::unit_id, std::vector<group::state_portion>>,
  caf::reacts_to<group::checkpoint_atom, group::unit_id>,
  caf::reacts_to<protocol::tick_atom>,
  caf::reacts_to<protocol::apply_atom>,
  caf::replies_to<protocol::get_atom>::with<node::role_status>,
  caf::replies_to<protocol::units_atom>::with<node::unit_flows>,
  caf::replies_to<node::flows_atom, std::uint32_t>::with<node::flow_list>,
  caf::replies_to<protocol::reload_atom, node::policy_ptr>::with<std::string>>;

/// Spawns the cluster actor over the node's data path (whose io_runtime must hold a cluster stage).
/// `events` must outlive the actor. Tell it its group actor with (group_atom, handle).
/// (The group actor reaches it through an untyped handle: group_actor_config::role.)
cluster_actor spawn_cluster_actor(caf::actor_system& sys, std::shared_ptr<node::io_runtime> io,
                                  node::event_log& events,
                                  std::chrono::milliseconds replication_interval);

}  // namespace baton::cluster
