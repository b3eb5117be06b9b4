#pragma once
// The CAF actor that hosts one node's group_member (group_member.hpp): it carries the group's
// messages over mutually authenticated TLS links to the configured peers, drives the state machine's
// timers, and answers the console. Every role that forms a group (cluster members, SLR hot spares,
// PEP gateway clusters, rim sets) runs one of these; it is the only place the substrate meets CAF.

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "actors/group/config.hpp"
#include "actors/group/group_view.hpp"
#include "actors/protocol/atoms.hpp"
#include "actors/protocol/group.hpp"
#include "actors/protocol/node.hpp"
#include "actors/runtime/status_message.hpp"

namespace baton::node {
class event_log;
}

namespace baton::group {

/// Group to role: register a checkpoint of this unit now (events::checkpoint_wanted), answered
/// with (replicate_atom, unit, portion_kind::checkpoint as uint8, bytes).
using checkpoint_atom = caf::atom_constant<caf::atom("checkpoint")>;

/// The interface published to peers (and used locally by the console). A peer must reach it
/// through this same typed handle.
using group_actor = caf::typed_actor<
  caf::reacts_to<protocol::hello>, caf::reacts_to<join_request>, caf::reacts_to<join_reply>,
  caf::reacts_to<exit_request>, caf::reacts_to<master_offer>,
  caf::reacts_to<other_master_exists>, caf::reacts_to<master_keepalive>,
  caf::reacts_to<client_keepalive>, caf::reacts_to<work_assign>,
  caf::reacts_to<work_assign_ack>, caf::reacts_to<work_deassign>,
  caf::reacts_to<work_deassign_done>, caf::reacts_to<state_delta>, caf::reacts_to<state_ack>,
  caf::reacts_to<state_handover>,
  caf::reacts_to<protocol::tick_atom>,
  caf::reacts_to<protocol::discover_atom, std::string, std::uint32_t, std::uint16_t>,
  caf::reacts_to<protocol::replicate_atom, unit_id, state_bytes>,
  caf::reacts_to<protocol::replicate_atom, unit_id, std::uint8_t, state_bytes>,
  caf::replies_to<protocol::get_atom>::with<node::role_status>,
  caf::replies_to<protocol::units_atom>::with<node::role_status>,
  caf::replies_to<protocol::drain_atom>::with<std::string>,
  // Console: move work unit N to a member (name or address); answers JSON with an HTTP "status".
  caf::replies_to<protocol::move_atom, unit_id, std::string>::with<std::string>>;

/// A peer the group actor links to.
struct peer_address {
  std::string name;           // the peer's certificate identity (its policy name)
  node_id id = no_node;       // its IPv4 address, host order
  std::uint16_t port = 0;     // where its group actor is published
};

struct group_actor_config {
  protocol::hello self;           // this node, as told to peers
  std::string identity;           // certificate identity sent in join requests
  group_config group;             // timers and N; group.peers is filled from `peers`
  std::vector<peer_address> peers;
  /// Discovery on: peers found by beacon are dialled, and a hello from a node that is not listed
  /// is accepted (its certificate has already passed the TLS handshake against our CA).
  bool accept_discovered = false;
  /// The role working on units (a cluster member's cluster actor), told of every unit event:
  /// (assign_atom, unit), (revoke_atom, unit, handing_over), and on take-over either
  /// (takeover_atom, unit, state_bytes) when the unit's log is one checkpoint (or empty), or
  /// (takeover_atom, unit, std::vector<state_portion>) with the checkpoint and deltas in order;
  /// (checkpoint_atom, unit) asks it for a checkpoint (compaction, after a take-over).
  /// It replicates with (replicate_atom, unit, uint8 portion_kind, bytes) - deltas and
  /// checkpoints, replication.hpp - or, the whole state each time, (replicate_atom, unit, state),
  /// which registers a checkpoint. It is also sent the group's view
  /// (group_view) whenever that changes, first right after start. Empty: nobody works on units.
  caf::actor role;
  /// Ticks are scheduled for when a timer is next due (group_member::next_due: keepalives,
  /// watchdogs, deadlines, resends), so an idle group wakes only for those. tick_ms is the tick
  /// period while the state machine asks to be ticked again soon (a pass it repeats each tick).
  std::uint32_t tick_ms = 5;
  /// Run on a thread of its own (caf::detached) rather than on CAF's shared workers: the group
  /// keeps time (200 ms watchdogs), and a worker busy with a role's or the console's work must not
  /// make it late (STYLE 14). batond sets it; tests on CAF's test coordinator leave it off.
  bool own_thread = false;
  std::uint32_t reconnect_ms = 500;
};

/// Spawns the group actor. `events` must outlive the actor. Links to peers are opened by the
/// actor itself through the OpenSSL middleman; publish the returned handle with
/// caf::openssl::publish so peers can reach it.
group_actor spawn_group_actor(caf::actor_system& sys, group_actor_config cfg,
                              node::event_log& events);

}  // namespace baton::group

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(baton::group::group_view)
