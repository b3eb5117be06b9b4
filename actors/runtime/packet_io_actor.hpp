#pragma once
// The packet-I/O actor (DESIGN §3): the control-plane face of the node's data path. It owns the
// io_runtime (whose loop runs on its own thread and never sees a CAF message), starts it, answers
// status queries (a role_status) and applies reloaded io sections by swapping tables.

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <memory>
#include <string>
#include <vector>

#include "actors/protocol/atoms.hpp"
#include "actors/runtime/policy_ptr.hpp"
#include "actors/runtime/status_message.hpp"

namespace baton::node {

class io_runtime;
class event_log;

/// (reload_atom, policy, ports): `ports` are the port names the new policy's data path opens
/// (io_runtime::apply).
using packet_io_actor =
  caf::typed_actor<caf::replies_to<protocol::get_atom>::with<role_status>,
                   caf::replies_to<protocol::reload_atom, policy_ptr,
                                   std::vector<std::string>>::with<std::string>>;

/// Spawns the actor over a runtime whose loop the caller has started (before any role actor
/// exists, so no role ever sees a loop that is not running yet); it stops the loop when it
/// terminates. Roles share the runtime (to publish tables and post commands to the loop).
/// `events` must outlive it.
packet_io_actor spawn_packet_io_actor(caf::actor_system& sys, std::shared_ptr<io_runtime> io,
                                      event_log& events);

}  // namespace baton::node
