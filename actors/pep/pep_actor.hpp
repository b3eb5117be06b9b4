#pragma once
// Document 003's control plane: the PEP endpoint's actor, the face of its stream engine
// (engine.hpp), which it starts when spawned and stops when it exits. It answers, under the
// console name "pep" (/pep, batonctl pep):
//   (get_atom)                -> node::role_status: backbones (peer, state, RTT, delivery rate,
//                                retransmissions, bytes), spoofed connections (CCBs), CT and NR
//                                counts by reason, the SYN verdict counters
//   (node::flows_atom, limit) -> node::flow_list: the spoofed connections as flows (/flows)
//   (reload_atom, policy_ptr) -> std::string: new rules, profiles, peers and limits for new
//                                connections; connections already spoofed keep theirs
// The engine runs on its own thread; the actor posts to it and gets the answer back as a message
// (node::loop_reply), so it never waits.

#include <caf/fwd.hpp>

#include "policy/policy.hpp"

namespace baton::node {
class event_log;
}

namespace baton::pep {

/// Spawns the actor and starts the engine. Throws std::runtime_error when the engine cannot
/// start (interception rules, ports, certificates).
caf::actor spawn_pep_actor(caf::actor_system& sys, node::event_log& events, const policy::policy& p);

}  // namespace baton::pep
