#pragma once
// The cluster member (document 004): the actor that makes the group's decisions true on the packet
// path. The group actor tells it which work units this member owns (assign, revoke, take over with
// the replicated state); it publishes the owned-units table to the gateway stage, imports taken-over
// flows, and replicates the flows of its own units to their backups (the whole unit's flow state,
// batched every replication interval, through the group's essential portion).
//
// It also runs the segment side of the traffic mode (cluster_stage.hpp, arp_speaker.hpp): as
// master it answers ARP for the cluster addresses and announces them when it becomes master; in
// forwarding mode it gives the stage a route per unit (forward to the owner's MAC, hold while the
// assignment is in progress, or handle locally). It learns whether it is master, the owners and the
// members by asking its group actor (get, units) every view_interval; see view_interval.

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "actors/group/group_actor.hpp"
#include "actors/group/types.hpp"
#include "actors/protocol/atoms.hpp"

namespace baton::node {
class io_runtime;
class event_log;
}  // namespace baton::node

namespace baton::cluster {

/// The cluster actor's own timer: read the group's view (master or not, owners, members) and
/// bring the ARP side and the forwarding routes in line with it.
using view_atom = caf::atom_constant<caf::atom("view")>;

using cluster_actor = caf::typed_actor<
  caf::reacts_to<view_atom>,
  caf::reacts_to<protocol::group_atom, group::group_actor>,
  caf::reacts_to<protocol::assign_atom, group::unit_id>,
  caf::reacts_to<protocol::revoke_atom, group::unit_id, bool>,
  caf::reacts_to<protocol::takeover_atom, group::unit_id, group::state_bytes>,
  caf::reacts_to<protocol::tick_atom>,
  caf::reacts_to<protocol::apply_atom>,
  caf::replies_to<protocol::get_atom>::with<std::string>,
  caf::replies_to<protocol::units_atom>::with<std::string>>;

/// Spawns the cluster actor over the node's data path (whose io_runtime must hold a cluster stage).
/// `events` must outlive the actor. Tell it its group actor with (group_atom, handle).
/// (The group actor reaches it through an untyped handle: group_actor_config::role.)
cluster_actor spawn_cluster_actor(caf::actor_system& sys, std::shared_ptr<node::io_runtime> io,
                                  node::event_log& events,
                                  std::chrono::milliseconds replication_interval);

/// How often the cluster actor reads the group's view. A unit whose owner is the same in two
/// consecutive reads counts as acknowledged (the group's work_assign / work_assign_ack round trip
/// takes a few milliseconds on a LAN; the group does not report acknowledgements to its role);
/// until then its datagrams are held on the master.
inline constexpr std::chrono::milliseconds view_interval{40};

/// The bytes a unit's replicated state travels as: the gateway's initial blob and essential blob,
/// prefixed by the initial blob's length (4 bytes, big-endian).
group::state_bytes pack_unit_state(const std::vector<std::uint8_t>& initial,
                                   const std::vector<std::uint8_t>& essential);
/// Splits packed state; false when it is too short or its length prefix runs past the end.
bool unpack_unit_state(const group::state_bytes& packed, std::size_t& initial_size);

}  // namespace baton::cluster
