// The SLR's and the host agent's rows of the role table: their data paths (the raw IP-in-IP port,
// the io section's devices, the SLR stage or the host's decapsulation into a TUN) and their actors.

#include "actors/slr/role.hpp"

#include <caf/actor_system.hpp>
#include <caf/openssl/publish.hpp>

#include <stdexcept>

#include "actors/runtime/io_runtime.hpp"
#include "actors/slr/slr_actor.hpp"
#include "net/slr/slr_stage.hpp"
#include "policy/policy.hpp"
#include "policy/rules.hpp"

namespace baton::slr {
namespace {

bool is_slr(const policy::policy& p) {
  return p.slr && p.has_role(policy::role::slr) && p.slr->level != policy::slr_level::host;
}

bool is_host_agent(const policy::policy& p) {
  return p.slr && p.has_role(policy::role::host_agent) && p.slr->level == policy::slr_level::host;
}

/// The raw IP-in-IP port first, then the io section's devices.
std::vector<std::string> ports(const policy::policy& p) {
  std::vector<std::string> names{"ipip"};
  for (auto& itf : p.io.interfaces) names.push_back(itf.name);
  return names;
}

void build_slr(node::io_runtime& io, const policy::policy& p) {
  const auto& s = *p.slr;
  io.begin(p);
  const auto tunnel = io.add_tunnel_port();
  // Virtual-host traffic the kernel routes into a TUN (the network-level SLR takes clients'
  // packets this way); the io section names it.
  for (auto& itf : p.io.interfaces) io.add_io_port(itf, p.io.backend);
  net::slr_stage_config cfg;
  cfg.self = s.tunnel_address;  // the policy defaults it to the identity's address
  cfg.tunnel_in = tunnel;
  cfg.out = tunnel;
  cfg.active = !s.hot_spare;
  cfg.flow_capacity = s.flow_capacity;
  io.add_stage(std::make_unique<net::slr_stage>(io.epoch(), cfg));
}

void build_host_agent(node::io_runtime& io, const policy::policy& p) {
  // The host side of direct server return: tunnels from the site SLR arrive on the raw socket,
  // lose their outer header and go to the local stack through the TUN, where the virtual
  // address sits on a local interface. Nothing is routed back into the TUN: the service answers
  // the client through the kernel's ordinary routing, from the virtual address.
  if (p.io.interfaces.size() != 1 ||
      p.io.interfaces[0].kind.value_or(p.io.backend) != policy::io_backend::tun)
    throw std::runtime_error("slr host agent: /io/interfaces must name exactly one TUN device "
                             "(where decapsulated datagrams enter the local stack)");
  io.begin(p);
  const auto tunnel = io.add_tunnel_port();
  const net::port_id tun = io.add_io_port(p.io.interfaces[0], p.io.backend).id();
  net::pass_through_table routes;
  routes.route(tunnel, tun, net::tunnel_action::decapsulate);
  io.add_stage(std::make_unique<net::pass_through_stage>(io.epoch(), routes));
}

node::spawned_role spawn_slr(const node::role_context& ctx) {
  const auto& p = *ctx.policy;
  auto actor = spawn_slr_actor(ctx.sys, ctx.io, ctx.events, p);
  // Lower nodes and neighbour SLRs dial this port; TLS checks their certificates.
  auto addr = policy::format_ipv4(p.identity.address);
  auto port = caf::openssl::publish(actor, p.slr->port, addr.c_str(), true);
  if (!port)
    throw std::runtime_error("cannot listen for SLR links on " + addr + ":" +
                             std::to_string(p.slr->port) + ": " + ctx.sys.render(port.error()));
  node::spawned_role r;
  r.actors.push_back({"slr",
                      "service level routing: state updates, Figure 9's table, shortcuts, flow "
                      "recovery",
                      actor, *port});
  // With a hot spare, the pair's group has one work unit: its owner is the active SLR.
  if (p.slr->hot_spare) r.unit_worker = actor;
  return r;
}

node::spawned_role spawn_host_agent_role(const node::role_context& ctx) {
  node::spawned_role r;
  r.actors.push_back({"host_agent",
                      "host agent: load reports to the site SLR, tunnels into the local stack, "
                      "flow advertisements",
                      spawn_host_agent(ctx.sys, ctx.io, ctx.events, *ctx.policy), 0});
  return r;
}

}  // namespace

const node::role_row slr_row{
  "slr", "service level router (document 001): network, system or site level",
  true, "slr", is_slr, build_slr, ports, spawn_slr};

const node::role_row host_agent_row{
  "host_agent", "host agent (document 001): ends the SLR's tunnels, reports load",
  true, "slr", is_host_agent, build_host_agent, ports, spawn_host_agent_role};

}  // namespace baton::slr
