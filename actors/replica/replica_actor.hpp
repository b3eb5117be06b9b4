#pragma once
// Document 002's control plane: one actor per role (client gateway, server gateway, replica),
// the face of the role's stage on the packet path, each under its own console name
// (actor_name(): /client_gateway, /server_gateway, /replica) and all three under /replicas
// (batonctl replicas), merged when a node plays more than one. They answer:
//   (get_atom)               -> node::role_status: the stage's counters and, per server, its
//                               replicas (server gateway: state), the answers seen (client
//                               gateway: wins, resets, RTT), or the host's own state (replica);
//                               apart from the facts role, configuration and address, the three
//                               use distinct names, so their merge under /replicas loses nothing
//   (node::flows_atom, limit) -> node::flow_list: the client gateway's translation table (read
//                               on the loop thread); empty for the other two
//   (reload_atom, policy_ptr) -> std::string: the server gateway republishes its fan-out table
//                               (replica states, client gateways, rules, max_fanout); the
//                               replica applies its own state; both gateways apply bad_options;
//                               the client gateway's other settings need a restart
// The server gateway marks a replica dead dead_after_ms after its last report (a timer armed by
// each report, default one report interval and a fifth), or at once when its link closes.
// The stages are found on the node's io_runtime (io_runtime::stage<T>()).

#include <caf/fwd.hpp>

#include <memory>

#include "policy/policy.hpp"

namespace baton::node {
class io_runtime;
class event_log;
}  // namespace baton::node

namespace baton::replica {

enum class role_kind { client_gateway, server_gateway, replica };

/// The role's actor name in the console and its counters: "client_gateway", "server_gateway",
/// "replica".
const char* actor_name(role_kind kind) noexcept;

/// Spawns the role's actor. The role's stage must be installed on `io`. Throws
/// std::runtime_error when it is not.
caf::actor spawn_replica_actor(caf::actor_system& sys, std::shared_ptr<node::io_runtime> io,
                               node::event_log& events, const policy::policy& p, role_kind kind);

}  // namespace baton::replica
