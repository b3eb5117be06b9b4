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
#include <string>
#include <vector>

#include "actors/runtime/role_status.hpp"
#include "net/io/counter_list.hpp"

namespace baton::node {
class io_runtime;
class event_log;
}  // namespace baton::node

namespace baton::policy {
struct policy;
}

namespace baton::slr {

/// The SLR actor's control-plane counters, declared once (net/io/counter_list.hpp); its status
/// (get_atom -> node::role_status) shows them as "control", next to the data path's
/// (net::slr_counters) as "data_path".
#define BATON_SLR_CONTROL_COUNTERS(COUNTER, GAUGE)                                          \
  GAUGE(flow_records, "flows in the SLR's own record")                                     \
  COUNTER(states_received, "state updates taken from the nodes below")                     \
  COUNTER(states_stale, "state updates older than one already taken")                     \
  COUNTER(entries_ignored, "subnet entries of state updates the table ignored")            \
  COUNTER(states_sent, "state updates sent to the SLRs above")                             \
  COUNTER(recomputes, "Figure 9 table recomputations")                                     \
  COUNTER(publish_errors, "routing tables the data path refused")                          \
  COUNTER(shortcuts_sent, "tunnel objects sent upstream for new flows (site SLR)")         \
  COUNTER(shortcuts_received, "tunnel objects received from below")                        \
  COUNTER(shortcuts_forwarded, "tunnel objects passed on upstream")                        \
  COUNTER(recreated, "lost data-path entries re-created from the SLR's own record")        \
  COUNTER(whohas_sent, "WHOHAS questions sent to neighbour SLRs")                          \
  COUNTER(whohas_answered, "WHOHAS questions this SLR answered")                            \
  COUNTER(ihave_installed, "flows recovered from a neighbour's IHAVE answer")              \
  COUNTER(unrecovered, "unknown flows with no neighbour to ask")                           \
  COUNTER(adverts, "flow advertisements the data path installed")                          \
  COUNTER(events, "flow events read from the data path")                                   \
  COUNTER(install_failures, "flow entries the data path could not install")                \
  COUNTER(takeovers, "times this hot spare took over")                                     \
  COUNTER(replications, "flow-record checkpoints and deltas sent to the hot spare")        \
  COUNTER(replicated_bytes, "bytes of flow records sent to the hot spare")                 \
  COUNTER(imported, "flows installed from the active SLR's records at takeover")           \
  COUNTER(import_errors, "takeover states that did not parse")
/// The data path's flow count, next to its counters (net::slr_counters) under "data_path".
#define BATON_SLR_DATA_PATH_GAUGES(COUNTER, GAUGE) \
  GAUGE(flows, "flows in the data path's table, as the packet loop last reported it")
/// The host agent's counters ("control").
#define BATON_HOST_AGENT_COUNTERS(COUNTER, GAUGE)                                           \
  COUNTER(states_sent, "state updates sent to the SLRs above")                             \
  COUNTER(load_errors, "load index measurements that failed")                              \
  COUNTER(progress_checks, "stalled-flow checks run")                                      \
  COUNTER(stalled_seen, "stalled flows seen by those checks")                              \
  COUNTER(adverts_sent, "flow advertisements sent to clients")                             \
  COUNTER(advert_errors, "flow advertisements or checks that failed")

BATON_COUNTER_STRUCT(slr_control_counters, BATON_SLR_CONTROL_COUNTERS)
BATON_COUNTER_STRUCT(slr_data_path_gauges, BATON_SLR_DATA_PATH_GAUGES)
BATON_COUNTER_STRUCT(host_agent_counters, BATON_HOST_AGENT_COUNTERS)

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
/// Answers (get_atom) -> node::role_status, (node::flows_atom, uint32_t limit) ->
/// node::flow_list, (flush_atom, std::string scope) -> JSON text.
caf::actor spawn_slr_actor(caf::actor_system& sys, std::shared_ptr<node::io_runtime> io,
                           node::event_log& events, const policy::policy& p);

/// Spawns the host agent (slr level host). Answers (get_atom) -> node::role_status and
/// (node::flows_atom, uint32_t) -> an empty node::flow_list (it pins no flows).
struct outbound_link;
/// The status table of a role's links ("uppers", "neighbors"): name, address, linked, the far
/// side's tunnel address (with_tunnel_address), dial attempts and failures.
node::status_table links_table(const std::string& name, const std::vector<outbound_link>& links,
                               bool with_tunnel_address);

caf::actor spawn_host_agent(caf::actor_system& sys, std::shared_ptr<node::io_runtime> io,
                            node::event_log& events, const policy::policy& p);

}  // namespace baton::slr
