// Document 000's row of the role table: the rim host. Its data path is reverse-flow forwarding
// (net/rim/rim_stage.hpp) on three ports: a copy of the uplink's packets (AF_PACKET), the raw
// IP-in-IP port between rim hosts, and the TUN into the local stack; the kernel rules that go
// with it (net/rim/rim_rules.hpp). The service and the hand-offs run in the actor (rim_actor.hpp).

#include "actors/rim/role.hpp"

#include <caf/actor_system.hpp>
#include <caf/openssl/publish.hpp>

#include <stdexcept>

#include "actors/rim/rim_actor.hpp"
#include "actors/runtime/io_runtime.hpp"
#include "net/io/packet_port.hpp"
#include "net/rim/rim_rules.hpp"
#include "net/rim/rim_stage.hpp"
#include "policy/policy.hpp"
#include "policy/rules.hpp"

namespace baton::rim {
namespace {

bool is_rim(const policy::policy& p) { return p.rim && p.has_role(policy::role::rim); }

std::vector<std::string> ports(const policy::policy& p) { return {p.rim->uplink, "ipip", p.rim->tun}; }

void build_rim(node::io_runtime& io, const policy::policy& p) {
  const auto& r = *p.rim;
  io.begin(p);
  policy::io_interface uplink;
  uplink.name = r.uplink;
  uplink.kind = policy::io_backend::af_packet;
  net::rim_stage_config cfg;
  cfg.self = p.identity.address;
  cfg.uplink = io.add_io_port(uplink, policy::io_backend::af_packet).id();
  cfg.tunnel = io.add_tunnel_port();
  policy::io_interface tun;
  tun.name = r.tun;
  tun.kind = policy::io_backend::tun;
  cfg.tun = io.add_io_port(tun, policy::io_backend::tun).id();
  io.add_stage(std::make_unique<net::rim_stage>(io.epoch(), cfg));
  net::install_rim_rules({r.tun, r.route_table});
}

node::spawned_role spawn_rim(const node::role_context& ctx) {
  const auto& p = *ctx.policy;
  auto actor = spawn_rim_actor(ctx.sys, ctx.io, ctx.events, p);
  // The other rim hosts dial this port; TLS checks their certificates.
  auto addr = policy::format_ipv4(p.identity.address);
  auto port = caf::openssl::publish(actor, p.rim->port, addr.c_str(), true);
  if (!port)
    throw std::runtime_error("cannot listen for rim links on " + addr + ":" + std::to_string(p.rim->port) + ": " +
                             ctx.sys.render(port.error()));
  node::spawned_role out;
  out.actors.push_back({"rim",
                        "rim host: serves the content, hands live TCP connections to other rim hosts "
                        "(TCP_REPAIR) and forwards the client's packets to their holder (document 000)",
                        actor, p.rim->port});
  // The rim is the node's group: the group's view tells the rim actor who the master is, and the
  // master runs the management object. The rim takes no work units.
  out.unit_worker = actor;
  return out;
}

}  // namespace

const node::role_row rim_row{
  "rim", "rim host (document 000): live TCP hand-off between hosts with reverse-flow forwarding",
  true, "rim", is_rim, build_rim, ports, spawn_rim, /*section_required=*/true};

}  // namespace baton::rim
