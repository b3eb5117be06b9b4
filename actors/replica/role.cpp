// Document 002's rows of the role table: the client gateway, the server gateway and the replica,
// each a data path (its stage from net/replica) and one actor (replica_actor.hpp).

#include "actors/replica/role.hpp"

#include <caf/actor_system.hpp>
#include <caf/openssl/publish.hpp>

#include <stdexcept>

#include "actors/replica/replica_actor.hpp"
#include "actors/replica/tables.hpp"
#include "actors/runtime/io_runtime.hpp"
#include "net/io/pass_through.hpp"
#include "net/io/raw_ipv4_port.hpp"
#include "policy/policy.hpp"

namespace baton::replica {
namespace {

bool is_client_gateway(const policy::policy& p) {
  return p.replica && p.has_role(policy::role::client_gateway);
}
bool is_server_gateway(const policy::policy& p) {
  return p.replica && p.has_role(policy::role::server_gateway);
}
bool is_replica(const policy::policy& p) { return p.replica && p.has_role(policy::role::replica); }

std::vector<std::string> interface_ports(const policy::policy& p) {
  std::vector<std::string> names;
  for (auto& itf : p.io.interfaces) names.push_back(itf.name);
  return names;
}

net::translation_timeouts timeouts_of(const policy::replica_section& s) {
  net::translation_timeouts t;
  t.pending_ms = s.pending_ms;
  t.idle_ms = s.idle_ms;
  return t;
}

void build_client_gateway(node::io_runtime& io, const policy::policy& p) {
  if (p.io.interfaces.size() != 2)
    throw std::runtime_error("client gateway: /io/interfaces must name two devices, the clients' side "
                             "first, then the WAN");
  const auto& s = *p.replica;
  io.begin(p);
  const net::port_id clients = io.add_io_port(p.io.interfaces[0], p.io.backend).id();
  const net::port_id wan = io.add_io_port(p.io.interfaces[1], p.io.backend).id();
  net::client_gateway_config c;
  c.configuration = configuration_of(s.configuration);
  c.client_side = clients;
  c.wan_side = wan;
  c.self = p.identity.address;
  c.ports = s.ports;
  c.capacity = s.table_capacity;
  c.timeouts = timeouts_of(s);
  c.pass_bad_options = s.bad_options == policy::replica_bad_options::pass;
  io.add_stage(std::make_unique<net::client_gateway_stage>(c));
  // What the gateway leaves alone is forwarded between the two sides as it is.
  net::pass_through_table routes;
  routes.route(clients, wan).route(wan, clients);
  io.add_stage(std::make_unique<net::pass_through_stage>(io.epoch(), routes));
}

std::vector<std::string> server_gateway_ports(const policy::policy& p) {
  auto names = interface_ports(p);
  names.push_back("ipip_out");
  return names;
}

void build_server_gateway(node::io_runtime& io, const policy::policy& p) {
  if (p.io.interfaces.size() != 2)
    throw std::runtime_error("server gateway: /io/interfaces must name two devices: the TUN the servers' "
                             "addresses are routed into, then the interface toward the origin");
  io.begin(p);
  const net::port_id from_clients = io.add_io_port(p.io.interfaces[0], p.io.backend).id();
  const net::port_id to_origin = io.add_io_port(p.io.interfaces[1], p.io.backend).id();
  // The copies leave through the kernel's routing toward each replica.
  net::raw_ipv4_config rc;
  rc.name = "ipip_out";
  auto raw = std::make_unique<net::raw_ipv4_port>(rc);
  net::packet_port* tunnel = raw.get();
  io.add_port(std::move(raw), "ipip_out");
  net::server_gateway_config c;
  c.from_clients = from_clients;
  c.to_origin = to_origin;
  c.tunnel = tunnel;
  c.self = p.identity.address;
  c.pass_bad_options = p.replica->bad_options == policy::replica_bad_options::pass;
  io.add_stage(std::make_unique<net::server_gateway_stage>(io.epoch(), c, server_gateway_table_of(p)));
}

std::vector<std::string> replica_ports(const policy::policy& p) {
  std::vector<std::string> names{"ipip"};
  for (auto& n : interface_ports(p)) names.push_back(n);
  return names;
}

void build_replica(node::io_runtime& io, const policy::policy& p) {
  if (p.io.interfaces.size() != 1)
    throw std::runtime_error("replica: /io/interfaces must name one TUN device (into the local stack)");
  const auto& s = *p.replica;
  io.begin(p);
  const net::port_id tunnel = io.add_tunnel_port();
  const net::port_id local = io.add_io_port(p.io.interfaces[0], p.io.backend).id();
  net::replica_stage_config c;
  c.configuration = configuration_of(s.configuration);
  c.tunnel = tunnel;
  c.local = local;
  c.self = p.identity.address;
  for (const auto& srv : s.servers) c.servers.push_back(srv.address);
  c.capacity = s.table_capacity;
  c.timeouts = timeouts_of(s);
  auto& stage = io.add_stage(std::make_unique<net::replica_stage>(c));
  stage.set_health(health_of(s.state));
}

// Each role's actor under its own name; /replicas shows the node's replica roles together.
node::spawned_role spawn_role(const node::role_context& ctx, role_kind kind, const char* purpose) {
  node::spawned_role r;
  r.actors.push_back({actor_name(kind), purpose,
                      spawn_replica_actor(ctx.sys, ctx.io, ctx.events, *ctx.policy, kind), 0, "replicas"});
  return r;
}

node::spawned_role spawn_client_gateway(const node::role_context& ctx) {
  return spawn_role(ctx, role_kind::client_gateway,
                    "client gateway: tags start packets, keeps the first answer, resets the rest, "
                    "translates (document 002)");
}
node::spawned_role spawn_server_gateway(const node::role_context& ctx) {
  auto r = spawn_role(ctx, role_kind::server_gateway,
                      "server gateway: fans tagged start packets out to the server's replicas "
                      "(document 002)");
  // Replicas report their state over TLS: listen only when the node has a certificate.
  const auto& p = *ctx.policy;
  if (!p.identity.certificate.empty()) {
    auto address = policy::format_ipv4(p.identity.address);
    auto port = caf::openssl::publish(r.actors[0].handle, p.replica->report_port, address.c_str(), true);
    if (!port)
      throw std::runtime_error("cannot listen for replica reports on " + address + ":" +
                               std::to_string(p.replica->report_port) + ": " + ctx.sys.render(port.error()));
    r.actors[0].listening = *port;
  }
  return r;
}
node::spawned_role spawn_replica(const node::role_context& ctx) {
  return spawn_role(ctx, role_kind::replica,
                    "replica: cracks start packets for the local server, answers as the "
                    "configuration says (document 002)");
}

}  // namespace

const node::role_row client_gateway_row{
  "client_gateway", "client gateway (document 002): tags start packets, first answer wins, resets the rest",
  false, "replica", is_client_gateway, build_client_gateway, interface_ports, spawn_client_gateway};

const node::role_row server_gateway_row{
  "server_gateway", "server gateway (document 002): fans tagged start packets out to replicas",
  false, "replica", is_server_gateway, build_server_gateway, server_gateway_ports, spawn_server_gateway};

const node::role_row replica_row{
  "replica", "replica host (document 002): answers start packets for the servers it stands in for",
  false, "replica", is_replica, build_replica, replica_ports, spawn_replica};

}  // namespace baton::replica
