#pragma once
// The service level router (document 001) and the host agent, as actors over the node's data
// path. The whole story of the role, in this folder:
//
//   host agent (host_agent_actor.cpp)  dials its upper SLR(s) over TLS, says slr_hello, then
//       every update interval sends slr_state: its virtual subnets with a load index
//       (load_index.hpp). Its data path (io_runtime) takes IP-in-IP from a raw socket and hands
//       the inner datagram to the local stack through a TUN, where the virtual address sits on a
//       local interface: the service answers the client directly, from the virtual address.
//       When a flow stops making progress (sock_diag.hpp: no ACK for progress_timeout), it sends
//       the client document 001's flow advertisement (Figure 10, net/packet/flow_advert.hpp).
//   SLR (slr_actor.cpp)  takes the states of the nodes below, recomputes Figure 9's table
//       (routing.hpp) every update interval, publishes it to the data path (net/slr/slr_stage)
//       and reports the aggregate M_k = G(...) upward. It reads the data path's flow events: a
//       site SLR sends each new flow's host upward as a tunnel object (the shortcut), which every
//       SLR on the way pins and passes on to the SLR the flow came from; a mid-flow packet with
//       no entry is re-created from the SLR's own record of its flows, else asked of its
//       neighbour SLRs (WHOHAS); a flow advertisement installs itself in the data path.
//       With a hot spare, the pair's group has one work unit: its owner is the active SLR and
//       replicates its flow records as the unit's state to the backup, the spare. The spare sees
//       the same traffic (both accept the SLR cluster address's frames), learns the same flows by
//       the same deterministic choice, forwards nothing, and takes the unit over with the
//       replicated records (shortcuts, recovered and advertised flows included) when the active
//       SLR fails.

#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include <memory>

namespace baton::node {
class io_runtime;
class event_log;
}  // namespace baton::node

namespace baton::policy {
struct policy;
}

namespace baton::slr {

/// The event pump says the data path queued flow events.
using pump_atom = caf::atom_constant<caf::atom("pump")>;
/// Console: forget flows. (flush_atom, "table") empties the data path's flow table only (the
/// "tunnel entry router loses its classification state"); "all" forgets the SLR's own record
/// too, so only WHOHAS or a flow advertisement can restore them.
using flush_atom = caf::atom_constant<caf::atom("flush")>;

/// Spawns the SLR actor for a node whose policy has an slr section with level network, system or
/// site; `io` must hold the SLR stage (io_runtime::slr()). `events` must outlive the actor.
/// With a hot spare it is its group's role (the group actor's config names it) and must be told
/// the group actor with (group_atom, handle).
/// Answers (get_atom) -> JSON text, (flush_atom, std::string scope) -> JSON text.
caf::actor spawn_slr_actor(caf::actor_system& sys, std::shared_ptr<node::io_runtime> io,
                           node::event_log& events, const policy::policy& p);

/// Spawns the host agent (slr level host). Answers (get_atom) -> JSON text.
caf::actor spawn_host_agent(caf::actor_system& sys, std::shared_ptr<node::io_runtime> io,
                            node::event_log& events, const policy::policy& p);

}  // namespace baton::slr
