#pragma once
// The rim host's actor (document 000): it runs the service (service.hpp), links to the other rim
// hosts (TLS, mutual certificates; only the group's members are taken), and moves live
// connections between them:
//   giver:  stops the flow's packets here (the owner drops the kernel's copy, a holder stops
//           injecting it), freezes the socket, sends rim_take to the taker and waits for rim_taken;
//           taken: forgets the socket; refused or no answer within handoff_timeout_ms: thaws it
//           and carries on (the flow never ends up without a sender, nor with two);
//   taker:  re-creates the socket (with the owner's address), injects the flow's forwarded
//           packets from then on, and tells the owner (rim_holder) so it forwards them here;
//   owner:  forwards the client's packets of each flow it gave away to the flow's holder, and
//           keeps dropping and forwarding for a while after the flow ends (late ACKs, FIN).
//   masquerade: the host with the socket keeps it, its segments leave from other rim hosts, in
//           its name (or, funnel-cast, from both); a reflector chain passes them on first.
// The console asks it: (handoff_atom, "client:port", "member") and (masquerade_atom,
// "client:port", "member,member", "masquerade"|"funnel"|"off") -> JSON text.

#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include <memory>

#include "policy/policy.hpp"

namespace baton::node {
class event_log;
class io_runtime;
}

namespace baton::rim {

using handoff_atom = caf::atom_constant<caf::atom("handoff")>;
using masquerade_atom = caf::atom_constant<caf::atom("masquerad")>;

caf::actor spawn_rim_actor(caf::actor_system& sys, std::shared_ptr<node::io_runtime> io, node::event_log& events,
                           const policy::policy& p);

}  // namespace baton::rim
