#pragma once
// The packet-I/O actor (DESIGN §3): the control-plane face of the node's data path. It owns the
// io_runtime (whose loop runs on its own thread and never sees a CAF message), starts it, answers
// counter queries and applies reloaded io sections by swapping tables.

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <memory>
#include <string>

#include "actors/protocol/atoms.hpp"

namespace baton::policy {
struct policy;
}

namespace baton::node {

class io_runtime;
class event_log;

/// A loaded policy shared between local actors (never sent to another node).
using policy_ptr = std::shared_ptr<const policy::policy>;

using packet_io_actor =
  caf::typed_actor<caf::replies_to<protocol::get_atom>::with<std::string>,
                   caf::replies_to<protocol::reload_atom, policy_ptr>::with<std::string>>;

/// Spawns the actor, which starts `io`'s loop and stops it when it terminates. The cluster role
/// shares the runtime (to publish tables and run commands on the loop). `events` must outlive it.
packet_io_actor spawn_packet_io_actor(caf::actor_system& sys, std::shared_ptr<io_runtime> io,
                                      event_log& events);

}  // namespace baton::node

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(baton::node::policy_ptr)
