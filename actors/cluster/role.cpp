// The cluster member's row of the role table (document 004): its data path (both shared segments
// captured by AF_PACKET, the work-unit filter and NAT / DSR of the gateway stage wrapped in the
// segment side) and its actor, which works on the group's units.

#include "actors/cluster/role.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>

#include <chrono>
#include <stdexcept>

#include "actors/cluster/cluster_actor.hpp"
#include "actors/runtime/io_runtime.hpp"
#include "net/cluster/cluster_stage.hpp"
#include "net/io/af_packet_port.hpp"
#include "net/io/neighbor.hpp"
#include "policy/policy.hpp"
#include "policy/rules.hpp"

namespace baton::cluster {
namespace {

bool selected(const policy::policy& p) { return p.cluster && p.has_role(policy::role::cluster); }

std::vector<std::string> ports(const policy::policy& p) { return {p.cluster->outside, p.cluster->inside}; }

void build_data_path(node::io_runtime& io, const policy::policy& p) {
  const auto& c = *p.cluster;
  io.begin(p);
  // Both segments are shared: every member captures every frame (promiscuous) and the work-unit
  // filter decides. Frames for the cluster MAC are "other host" to the kernel, which drops them:
  // only the owner's baton answers.
  policy::io_interface outside{c.outside, policy::io_backend::af_packet, c.router, true};
  policy::io_interface inside{c.inside, policy::io_backend::af_packet, 0, true};
  net::port_id client_port = 0, backend_port = 0;
  for (auto* itf : {&outside, &inside}) {
    net::port_id id = 0;
    try {
      auto& port = io.add_io_port(*itf, policy::io_backend::af_packet);
      id = port.id();
      // In the cluster-MAC modes the stage drops every frame to this member's own MAC (the
      // kernel's: its group links, its connections to backends); the kernel's filter drops them
      // instead, so they do not wake the loop (issue 15). Forwarding mode takes exactly those.
      if (c.traffic != policy::traffic_mode::forwarding)
        if (auto* packet = dynamic_cast<net::af_packet_port*>(&port)) packet->drop_frames_to_host();
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("cluster: ") + e.what());
    }
    (itf == &outside ? client_port : backend_port) = id;
  }
  net::gateway_config g;
  g.cluster_ip = c.ip;
  g.member_addr = p.identity.address;
  g.mode = c.mode == policy::cluster_mode::nat ? net::gateway_mode::nat
                                               : net::gateway_mode::direct_server_return;
  g.client_port = client_port;
  g.backend_port = backend_port;
  std::vector<net::backend_neighbor> neighbors;
  for (const auto& svc : c.services) {
    net::gateway_service s;
    s.protocol = policy::ip_protocol(svc.protocol);
    s.port = svc.port;
    for (const auto& b : svc.backends) {
      s.backends.push_back({b.address, b.port, true});
      auto mac = net::resolve_neighbor(c.inside, b.address, std::chrono::seconds(3));
      if (!mac)
        throw std::runtime_error("cluster: backend " + policy::format_ipv4(b.address) +
                                 " does not answer ARP on " + c.inside);
      neighbors.push_back({b.address, *mac});
    }
    g.services.push_back(std::move(s));
  }
  if (const char* why = g.validate(); why && *why) throw std::runtime_error(std::string("cluster: ") + why);
  net::gateway_settings settings;
  settings.hasher = net::work_unit_hasher(c.hash == policy::work_unit_hash_name::document
                                            ? net::work_unit_hash::document
                                            : net::work_unit_hash::mixed,
                                          p.timers.work_units);
  io.add_stage(std::make_unique<net::cluster_stage>(
    std::make_unique<net::gateway_stage>(io.epoch(), settings, g), std::move(neighbors),
    backend_port, net::segment_settings_from(p, client_port, backend_port)));
}

node::spawned_role spawn(const node::role_context& ctx) {
  auto actor = spawn_cluster_actor(ctx.sys, ctx.io, ctx.events, std::chrono::milliseconds(100));
  auto handle = caf::actor_cast<caf::actor>(actor);
  node::spawned_role r;
  r.actors.push_back({"cluster",
                      "cluster member: owned units on the packet path, flow state replication and "
                      "take-over",
                      handle, 0});
  r.unit_worker = handle;
  return r;
}

}  // namespace

const node::role_row role_row{
  "cluster",
  "cluster member (document 004): shares the cluster IP, works on the units the master assigns",
  false, "cluster", selected, build_data_path, ports, spawn};

}  // namespace baton::cluster
