#include "actors/node/daemon.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <nlohmann/json.hpp>

#include <stdexcept>

#include "actors/console/http_server.hpp"
#include "actors/console/metrics.hpp"
#include "actors/cluster/cluster_actor.hpp"
#include "actors/group/discovery.hpp"
#include "actors/group/group_actor.hpp"
#include "actors/node/io_runtime.hpp"
#include "actors/node/node_config.hpp"
#include "actors/node/packet_io_actor.hpp"
#include "actors/node/tls_watch.hpp"
#include "actors/protocol/catalog.hpp"
#include "actors/slr/slr_actor.hpp"
#include "policy/diff.hpp"
#include "policy/policy.hpp"
#include "policy/render.hpp"
#include "policy/rules.hpp"

namespace baton::node {
namespace {

using console::http_request;
using console::http_response;
using nlohmann::json;

constexpr auto ask_timeout = std::chrono::seconds(3);
constexpr std::uint16_t discovery_port = 4791;  // UDP; beacons say where the group actor listens

/// Asks a local actor for its JSON answer from a console thread.
template <class Handle, class... Ts>
std::string ask(caf::actor_system& sys, const Handle& h, Ts... xs) {
  caf::scoped_actor self{sys};
  std::string result;
  std::string failure;
  self->request(h, ask_timeout, xs...)
    .receive([&](std::string& r) { result = std::move(r); },
             [&](caf::error& e) { failure = sys.render(e); });
  if (!failure.empty()) throw std::runtime_error("actor did not answer: " + failure);
  return result;
}

group::group_actor_config make_group_config(const policy::policy& p) {
  group::group_actor_config cfg;
  cfg.self.name = p.identity.name;
  cfg.self.address = p.identity.address;
  for (auto r : p.roles) cfg.self.roles.push_back(policy::to_string(r));
  cfg.self.console = policy::to_string(p.console);
  cfg.identity = p.identity.name;
  cfg.group.work_units = p.timers.work_units;
  cfg.group.master_offer_timeout = group::time_ms{p.timers.master_offer_ms};
  cfg.group.master_watchdog = group::time_ms{p.timers.master_watchdog_ms};
  cfg.group.client_watchdog = group::time_ms{p.timers.master_watchdog_ms};
  cfg.group.rebalance_interval = group::time_ms{p.timers.rebalance_ms};
  cfg.group.keepalive_k = p.timers.k;
  // The group is the peers named in /group/peers, or every peer when that list is empty.
  for (auto& peer : p.peers) {
    bool member = p.group.peers.empty();
    for (auto& name : p.group.peers) member = member || name == peer.name;
    if (member) cfg.peers.push_back({peer.name, peer.at.address, peer.at.port});
  }
  cfg.accept_discovered = p.group.discovery_broadcast;
  cfg.group.quorum = p.group.quorum;
  return cfg;
}

}  // namespace

struct daemon::impl {
  std::string policy_path;
  std::mutex policy_mutex;
  policy_ptr current;
  std::unique_ptr<node_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  group::group_actor group;
  packet_io_actor packet_io;
  cluster::cluster_actor cluster;  // when the policy makes this node a cluster member
  caf::actor slr;                  // SLR or host agent, when the policy has an slr section
  std::uint16_t slr_port = 0;
  std::uint16_t group_port = 0;
  std::unique_ptr<console::http_server> console;
  std::unique_ptr<group::discovery> discovery;
  std::uint64_t reloads = 0, reload_failures = 0;
};

daemon::daemon(std::string policy_path, policy::policy initial) : impl_(new impl) {
  auto& d = *impl_;
  d.policy_path = std::move(policy_path);
  d.current = std::make_shared<const policy::policy>(std::move(initial));
  const auto& p = *d.current;

  on_tls_refusal([this](const tls_refusal& r) {
    events_.add(severity::warning, "peer_refused",
                {{"stage", "tls"}, {"direction", r.direction}, {"peer", r.peer},
                 {"reason", r.reason}});
  });

  // The data path first: a port that cannot be opened stops start-up before anything listens.
  auto io = std::make_shared<io_runtime>(p);

  tls_files tls{p.identity.certificate, p.identity.key, p.identity.ca};
  bool linked = !p.peers.empty() || p.group.discovery_broadcast;
  const bool slr_role =
    p.slr && (p.has_role(policy::role::slr) || p.has_role(policy::role::host_agent));
  if (tls.certificate.empty() && (linked || slr_role))
    throw std::runtime_error("/identity/certificate: this node links to peers (listed or "
                             "discovered), so it needs a certificate, key and CA");
  d.cfg = std::make_unique<node_config>(tls);
  d.sys = std::make_unique<caf::actor_system>(*d.cfg);

  auto group_cfg = make_group_config(p);
  if (io->cluster()) {
    d.cluster = cluster::spawn_cluster_actor(*d.sys, io, events_, std::chrono::milliseconds(100));
    group_cfg.role = caf::actor_cast<caf::actor>(d.cluster);
  }
  if (slr_role)
    d.slr = p.slr->level == policy::slr_level::host ? slr::spawn_host_agent(*d.sys, io, events_, p)
                                                    : slr::spawn_slr_actor(*d.sys, io, events_, p);
  d.packet_io = spawn_packet_io_actor(*d.sys, std::move(io), events_);
  if (d.slr && p.slr->hot_spare) group_cfg.role = d.slr;  // one unit: the active SLR's
  d.group = group::spawn_group_actor(*d.sys, std::move(group_cfg), events_);
  if (d.cluster)
    caf::anon_send(d.cluster, protocol::group_atom::value, d.group);
  if (d.slr && p.slr->hot_spare)
    caf::anon_send(d.slr, protocol::group_atom::value, d.group);
  if (d.slr && p.slr->level != policy::slr_level::host) {
    // Lower nodes and neighbour SLRs dial this port; TLS checks their certificates.
    auto addr = policy::format_ipv4(p.identity.address);
    auto port = caf::openssl::publish(d.slr, p.slr->port, addr.c_str(), true);
    if (!port)
      throw std::runtime_error("cannot listen for SLR links on " + addr + ":" +
                               std::to_string(p.slr->port) + ": " + d.sys->render(port.error()));
    d.slr_port = *port;
  }
  if (linked) {
    auto addr = policy::format_ipv4(p.identity.address);
    auto port = caf::openssl::publish(d.group, p.identity.port, addr.c_str(), true);
    if (!port)
      throw std::runtime_error("cannot listen for peers on " + addr + ":" +
                               std::to_string(p.identity.port) + ": " + d.sys->render(port.error()));
    d.group_port = *port;
  }
  if (p.group.discovery_broadcast) {
    auto group_handle = d.group;
    d.discovery = std::make_unique<group::discovery>(
      group::beacon{p.identity.name, p.identity.address, d.group_port}, discovery_port,
      std::chrono::milliseconds(1000), [group_handle](const group::beacon& b) {
        caf::anon_send(group_handle, protocol::discover_atom::value, b.name, b.address, b.port);
      });
    try {
      d.discovery->start();
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("discovery: ") + e.what());
    }
  }
  d.console = std::make_unique<console::http_server>(policy::to_string(p.console));
  auto& server = *d.console;
  auto& sys = *d.sys;
  server.route("GET", "/actors", [this, &sys](const http_request&) {
    auto& d = *impl_;
    json j;
    j["node"] = d.current->identity.name;
    json roles = json::array();
    for (auto r : d.current->roles) roles.push_back(policy::to_string(r));
    j["roles"] = roles;
    j["actors"] = json::array({
      {{"name", "group"}, {"id", d.group.id()}, {"purpose", "group substrate: membership, election, "
                                                             "keepalive, work units, replication"},
       {"listening", d.group_port}},
      {{"name", "packet_io"}, {"id", d.packet_io.id()}, {"purpose", "owns the packet loop thread"}},
    });
    if (d.slr)
      j["actors"].push_back({{"name", d.current->slr->level == policy::slr_level::host ? "host_agent" : "slr"},
                             {"id", d.slr.id()},
                             {"purpose", "service level routing: state updates, Figure 9's table, "
                                         "shortcuts, flow recovery"},
                             {"listening", d.slr_port}});
    if (d.cluster)
      j["actors"].push_back({{"name", "cluster"}, {"id", d.cluster.id()},
                             {"purpose", "cluster member: owned units on the packet path, flow "
                                         "state replication and take-over"}});
    j["running_actors"] = sys.registry().running();
    json messages = json::array();
    for (auto& m : protocol::message_catalog())
      messages.push_back({{"name", m.name}, {"purpose", m.purpose}});
    j["messages"] = messages;
    return http_response::json(j.dump());
  });
  server.route("GET", "/group", [this, &sys](const http_request&) {
    return http_response::json(ask(sys, impl_->group, protocol::get_atom::value));
  });
  server.route("GET", "/units", [this, &sys](const http_request&) {
    auto& d = *impl_;
    auto units = ask(sys, d.group, protocol::units_atom::value);
    if (!d.cluster) return http_response::json(units);
    // A cluster member adds the flows it carries for each unit it owns.
    auto table = json::parse(units);
    auto flows = json::parse(ask(sys, d.cluster, protocol::units_atom::value));
    for (auto& u : table) {
      auto key = std::to_string(u["unit"].get<unsigned>());
      u["flows"] = flows.contains(key) ? flows[key].get<std::uint64_t>() : 0;
    }
    return http_response::json(table.dump());
  });
  server.route("GET", "/slr", [this, &sys](const http_request&) {
    auto& d = *impl_;
    if (!d.slr) return http_response::json(json{{"error", "this node has no slr role"}}.dump(), 404);
    return http_response::json(ask(sys, d.slr, protocol::get_atom::value));
  });
  server.route("POST", "/slr/flush", [this, &sys](const http_request& req) {
    auto& d = *impl_;
    if (!d.slr || d.current->slr->level == policy::slr_level::host)
      return http_response::json(json{{"error", "this node is not an SLR"}}.dump(), 404);
    std::string scope = req.param("scope").value_or("table");
    if (scope != "table" && scope != "all")
      return http_response::json(json{{"error", "scope must be table or all"}}.dump(), 400);
    return http_response::json(ask(sys, d.slr, slr::flush_atom::value, scope));
  });
  server.route("GET", "/flows", [this](const http_request&) {
    // The pass-through stage keeps no per-flow state; roles with flow tables list them here.
    json j;
    j["flows"] = json::array();
    j["roles_with_flow_state"] = json::array();
    (void)this;
    return http_response::json(j.dump());
  });
  auto counters = [this, &sys]() {
    auto& d = *impl_;
    json j;
    j["packet_io"] = json::parse(ask(sys, d.packet_io, protocol::get_atom::value));
    auto g = json::parse(ask(sys, d.group, protocol::get_atom::value));
    j["group"] = {{"messages_sent", g["messages_sent"]},
                  {"messages_received", g["messages_received"]},
                  {"unknown_sender", g["unknown_sender"]},
                  {"unreachable", g["unreachable"]}};
    if (d.cluster) j["cluster"] = json::parse(ask(sys, d.cluster, protocol::get_atom::value));
    if (d.slr) {
      auto s = json::parse(ask(sys, d.slr, protocol::get_atom::value));
      j["slr"] = {{"data_path", s.value("data_path", json::object())},
                  {"control", s.value("control", json::object())}};
    }
    j["tls"] = {{"refused", tls_refusals()}, {"accepted", tls_accepted()}};
    j["events"] = {{"peer_refused", events_.count("peer_refused")},
                   {"reload_failed", events_.count("reload_failed")}};
    j["reloads"] = {{"applied", d.reloads}, {"failed", d.reload_failures}};
    j["console"] = {{"requests", d.console->requests_total()}};
    if (d.discovery)
      j["discovery"] = {{"beacons_sent", d.discovery->beacons_sent()},
                        {"beacons_received", d.discovery->beacons_received()},
                        {"malformed", d.discovery->malformed()}};
    return j;
  };
  server.route("GET", "/counters", [counters](const http_request&) {
    return http_response::json(counters().dump());
  });
  server.route("GET", "/policy", [this](const http_request&) {
    std::lock_guard<std::mutex> guard{impl_->policy_mutex};
    return http_response::json(policy::to_json_string(*impl_->current));
  });
  server.route("GET", "/events", [this](const http_request& req) {
    std::uint64_t after = 0;
    if (auto a = req.param("after")) after = std::stoull(*a);
    return http_response::json(events_.json(after));
  });
  server.route("POST", "/reload", [this](const http_request&) {
    return http_response::json(reload());
  });
  server.route("POST", "/drain", [this](const http_request&) {
    return http_response::json(drain());
  });
  server.route("GET", "/metrics", [counters](const http_request&) {
    auto c = counters();
    auto& io = c["packet_io"];
    std::vector<console::metric_family> families;
    auto counter = [&](std::string name, std::string help) -> console::metric_family& {
      families.push_back({std::move(name), std::move(help), console::metric_type::counter, {}});
      return families.back();
    };
    counter("baton_packets_received_total", "datagrams that entered the packet loop")
      .add({}, io["rx_packets"].get<double>());
    counter("baton_packets_sent_total", "datagrams an output port took")
      .add({}, io["tx_packets"].get<double>());
    auto& drops = counter("baton_packets_dropped_total", "datagrams dropped, by reason");
    for (auto& [reason, n] : io["drops"].items()) drops.add({{"reason", reason}}, n.get<double>());
    auto& malformed = counter("baton_packets_malformed_total", "malformed datagrams, by parse status");
    for (auto& [status, n] : io["malformed"].items())
      malformed.add({{"status", status}}, n.get<double>());
    auto& port_rx = counter("baton_port_received_total", "datagrams received, by port");
    auto& port_tx = counter("baton_port_sent_total", "datagrams sent, by port");
    for (auto& port : io["ports"]) {
      port_rx.add({{"port", port["name"].get<std::string>()}}, port["rx_packets"].get<double>());
      port_tx.add({{"port", port["name"].get<std::string>()}}, port["tx_packets"].get<double>());
    }
    auto& sent = counter("baton_group_messages_sent_total", "group messages sent, by type");
    for (auto& [type, n] : c["group"]["messages_sent"].items()) sent.add({{"type", type}}, n.get<double>());
    auto& received = counter("baton_group_messages_received_total", "group messages received, by type");
    for (auto& [type, n] : c["group"]["messages_received"].items())
      received.add({{"type", type}}, n.get<double>());
    if (c.contains("slr")) {
      auto& dp = counter("baton_slr_datagrams_total", "SLR data path, by what happened");
      for (auto& [what, n] : c["slr"]["data_path"].items())
        if (what != "flows") dp.add({{"what", what}}, n.get<double>());
      auto& ctl = counter("baton_slr_control_total", "SLR control plane events, by kind");
      for (auto& [what, n] : c["slr"]["control"].items())
        if (what != "flow_records") ctl.add({{"what", what}}, n.get<double>());
    }
    if (io.contains("shaping")) {
      auto& sent = counter("baton_shaping_sent_bytes_total", "bytes the shaper sent, by class");
      auto& dropped = counter("baton_shaping_dropped_total", "datagrams the shaper dropped, by class");
      for (auto& cl : io["shaping"]["classes"]) {
        sent.add({{"class", cl["name"].get<std::string>()}}, cl["sent_bytes"].get<double>());
        dropped.add({{"class", cl["name"].get<std::string>()}}, cl["dropped"].get<double>());
      }
    }
    counter("baton_tls_refused_total", "node-to-node TLS handshakes refused")
      .add({}, c["tls"]["refused"].get<double>());
    counter("baton_peer_refused_total", "peers refused at TLS, hello or join")
      .add({}, c["events"]["peer_refused"].get<double>());
    counter("baton_reload_failed_total", "reloads refused because the new policy was invalid")
      .add({}, c["events"]["reload_failed"].get<double>());
    return http_response::text(console::render_prometheus(families), 200,
                               "text/plain; version=0.0.4; charset=utf-8");
  });
  try {
    server.start();
  } catch (const std::exception& e) {
    throw std::runtime_error("console " + policy::to_string(p.console) + ": " + e.what());
  }
  events_.add(severity::info, "started",
              {{"node", p.identity.name}, {"console", server.address()},
               {"group_port", std::to_string(d.group_port)}});
}

daemon::~daemon() {
  auto& d = *impl_;
  if (d.console) d.console->stop();
  if (d.discovery) d.discovery->stop();
  if (d.sys) {
    caf::anon_send_exit(d.group, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(d.packet_io, caf::exit_reason::user_shutdown);
    if (d.cluster) caf::anon_send_exit(d.cluster, caf::exit_reason::user_shutdown);
    if (d.slr) caf::anon_send_exit(d.slr, caf::exit_reason::user_shutdown);
    d.sys->await_all_actors_done();
  }
  on_tls_refusal({});
  events_.add(severity::info, "stopped", {});
}

std::string daemon::console_address() const { return impl_->console->address(); }

std::string daemon::reload() {
  auto& d = *impl_;
  std::lock_guard<std::mutex> guard{d.policy_mutex};
  policy_ptr next;
  try {
    next = std::make_shared<const policy::policy>(policy::load_policy_file(d.policy_path));
  } catch (const policy::policy_error& e) {
    ++d.reload_failures;
    events_.add(severity::error, "reload_failed",
                {{"file", d.policy_path}, {"pointer", e.pointer()}, {"reason", e.reason()},
                 {"kept", "running policy"}});
    return json{{"applied", false}, {"pointer", e.pointer()}, {"reason", e.reason()}}.dump();
  }
  auto diff = policy::diff_policies(*d.current, *next);
  json applied = json::array(), restart = json::array();
  // The data path takes rules, profiles and routes by table swap, in one step.
  std::string io_answer;
  if (diff.changed("io") || diff.changed("rules") || diff.changed("profiles"))
    io_answer = ask(*d.sys, d.packet_io, protocol::reload_atom::value, next);
  for (auto& section : diff.sections) {
    if (section == "io") {
      (io_answer.rfind("io not changed", 0) == 0 ? restart : applied).push_back(section);
    } else if (section == "rules" || section == "profiles" || section == "pep") {
      applied.push_back(section);
    } else {
      restart.push_back(section);
      events_.add(severity::warning, "reload_needs_restart",
                  {{"section", section}, {"reason", "takes effect when batond restarts; existing "
                                                    "links and connections are kept until then"}});
    }
  }
  d.current = next;
  ++d.reloads;
  events_.add(severity::info, "reloaded", {{"file", d.policy_path}, {"changes", policy::to_string(diff)}});
  return json{{"applied", true}, {"sections_changed", diff.sections}, {"applied_now", applied},
              {"need_restart", restart}}.dump();
}

std::string daemon::drain() { return ask(*impl_->sys, impl_->group, protocol::drain_atom::value); }

}  // namespace baton::node
