#pragma once
// The replica roles' data-path settings from the policy (document 002): what each stage is built
// with at start and, for the server gateway, the table it is given again on reload.

#include <cstdint>
#include <map>
#include <memory>

#include "net/replica/client_gateway_stage.hpp"
#include "net/replica/replica_stage.hpp"
#include "net/replica/server_gateway_stage.hpp"
#include "policy/policy.hpp"

namespace baton::replica {

inline net::replica_configuration configuration_of(policy::replica_config c) {
  switch (c) {
    case policy::replica_config::a: return net::replica_configuration::a;
    case policy::replica_config::b: return net::replica_configuration::b;
    case policy::replica_config::c: return net::replica_configuration::c;
  }
  return net::replica_configuration::a;
}

inline net::replica_health health_of(policy::replica_state s) {
  switch (s) {
    case policy::replica_state::active: return net::replica_health::active;
    case policy::replica_state::busy: return net::replica_health::busy;
    case policy::replica_state::dead: return net::replica_health::dead;
  }
  return net::replica_health::dead;
}

/// The server gateway's fan-out table: servers and their replicas with the policy's states, the
/// client gateways whose tags count, the rules (a profile whose action is "forward" makes a start
/// packet replicatable) and the bound. Precondition: p.replica.
/// `reported`: replicas whose state the reports (or their silence) decide, by address; a replica
/// the policy marks busy or dead stays so whatever it reports.
inline std::unique_ptr<const net::server_gateway_table> server_gateway_table_of(
    const policy::policy& p, const std::map<std::uint32_t, net::replica_health>& reported = {}) {
  const auto& s = *p.replica;
  auto t = std::make_unique<net::server_gateway_table>();
  for (const auto& srv : s.servers) {
    net::server_gateway_server out{srv.address, {}};
    for (const auto& r : srv.replicas) {
      net::replica_health h = health_of(r.state);
      if (auto it = reported.find(r.address); it != reported.end() && h == net::replica_health::active)
        h = it->second;
      out.replicas.push_back({r.address, h});
    }
    t->servers.push_back(std::move(out));
  }
  for (const auto& g : s.client_gateways) {
    const std::uint32_t mask = g.clients_length == 0 ? 0 : ~std::uint32_t{0} << (32 - g.clients_length);
    t->gateways.push_back({g.address, g.clients_prefix, mask});
  }
  t->rules = s.rules;
  for (const auto& prof : p.profiles) t->replicatable.push_back(prof.action == policy::profile_action::forward);
  t->max_fanout = s.max_fanout;
  return t;
}

}  // namespace baton::replica
