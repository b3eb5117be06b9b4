#include "actors/daemon/daemon.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <nlohmann/json.hpp>

#include <map>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "actors/console/console_policy.hpp"
#include "actors/console/http_client.hpp"
#include "actors/console/http_server.hpp"
#include "actors/console/web_assets.hpp"
#include "actors/console/metrics.hpp"
#include "actors/console/status_render.hpp"
#include "actors/daemon/roles.hpp"
#include "actors/group/discovery.hpp"
#include "actors/group/group_actor.hpp"
#include "actors/protocol/catalog.hpp"
#include "actors/rim/rim_actor.hpp"
#include "actors/runtime/io_runtime.hpp"
#include "actors/runtime/node_config.hpp"
#include "actors/runtime/packet_io_actor.hpp"
#include "actors/runtime/status_message.hpp"
#include "actors/runtime/tls_watch.hpp"
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
constexpr std::uint32_t solo_group_tick_ms = 100;
constexpr std::uint16_t discovery_port = 4791;  // UDP; beacons say where the group actor listens

/// Asks a local actor for its answer of type Result (JSON text, a role_status, a flow_list, ...)
/// from a console thread.
template <class Result = std::string, class Handle, class... Ts>
Result ask(caf::actor_system& sys, const Handle& h, Ts... xs) {
  caf::scoped_actor self{sys};
  Result result;
  std::string failure;
  self->request(h, ask_timeout, xs...)
    .receive([&](Result& r) { result = std::move(r); },
             [&](caf::error& e) { failure = sys.render(e); });
  if (!failure.empty()) throw std::runtime_error("actor did not answer: " + failure);
  return result;
}

/// The node's own counters (apart from its actors'), declared once (net/io/counter_list.hpp).
#define BATON_NODE_TLS_COUNTERS(COUNTER, GAUGE)                    \
  COUNTER(refused, "node-to-node TLS handshakes refused")          \
  COUNTER(accepted, "node-to-node TLS handshakes accepted")
/// Named as the events they count.
#define BATON_NODE_EVENT_COUNTERS(COUNTER, GAUGE)                  \
  COUNTER(peer_refused, "peers refused at TLS, hello or join")     \
  COUNTER(reload_failed, "reloads refused because the new policy was invalid")
#define BATON_NODE_RELOAD_COUNTERS(COUNTER, GAUGE)                 \
  COUNTER(applied, "policy reloads applied")                       \
  COUNTER(failed, "policy reloads that kept the running policy")
#define BATON_NODE_CONSOLE_COUNTERS(COUNTER, GAUGE)                                    \
  COUNTER(requests, "console requests served")                                         \
  COUNTER(unauthorized, "console requests refused with 401: no client certificate, no right token") \
  COUNTER(tls_handshake_failures, "console TLS handshakes that failed")
#define BATON_NODE_DISCOVERY_COUNTERS(COUNTER, GAUGE)              \
  COUNTER(beacons_sent, "group discovery beacons sent")            \
  COUNTER(beacons_received, "group discovery beacons received")    \
  COUNTER(malformed, "group discovery beacons that did not parse")
BATON_COUNTER_STRUCT(node_tls_counters, BATON_NODE_TLS_COUNTERS)
BATON_COUNTER_STRUCT(node_event_counters, BATON_NODE_EVENT_COUNTERS)
BATON_COUNTER_STRUCT(node_reload_counters, BATON_NODE_RELOAD_COUNTERS)
BATON_COUNTER_STRUCT(node_console_counters, BATON_NODE_CONSOLE_COUNTERS)
BATON_COUNTER_STRUCT(node_discovery_counters, BATON_NODE_DISCOVERY_COUNTERS)

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
  cfg.group.backup_takeover = p.group.backup_takeover;
  cfg.group.successor_takeover = p.group.successor_takeover;
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
  std::vector<const role_row*> rows;  // the role table's rows this node plays
  std::vector<role_actor> roles;      // the actors they spawned
  std::vector<const role_row*> role_of;  // per entry of roles: the row that spawned it
  caf::actor unit_worker;             // the role working on the group's units, if any
  std::vector<std::string> ports;     // the data path's port names (reload checks)
  std::uint16_t group_port = 0;
  std::unique_ptr<console::http_server> console;
  std::unique_ptr<group::discovery> discovery;
  std::uint64_t reloads = 0, reload_failures = 0;

  /// The running policy; console threads read it while a reload may replace it.
  policy_ptr policy() {
    std::lock_guard<std::mutex> guard{policy_mutex};
    return current;
  }
  /// The role actor named `name` ("slr", ...), or nullptr.
  const role_actor* role(const std::string& name) const {
    for (auto& r : roles)
      if (r.name == name) return &r;
    return nullptr;
  }
};

namespace {

/// The port names the data path opens for `p`: the selected rows', else the default path's.
std::vector<std::string> data_path_ports(const std::vector<const role_row*>& rows,
                                         const policy::policy& p) {
  std::vector<std::string> names;
  for (auto* row : rows)
    for (auto& n : row->ports(p)) names.push_back(n);
  return rows.empty() ? io_runtime::pass_through_ports(p) : names;
}

}  // namespace

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

  check_roles_runnable(p);
  d.rows = selected_roles(p);

  // The console's options first: a token file that cannot be read stops start-up before any
  // actor or thread exists. Four threads: the web page's reads of peers (/peer) may each wait up
  // to 1.5 s on a hung peer without keeping batonctl waiting.
  console::server_options console_options;
  console_options.threads = 4;
  // TLS and who must authenticate (/console_auth); the page's own files stay open so a browser
  // can load the page that asks for the token.
  {
    std::vector<std::string> open_paths{"/"};
    for (auto& asset : console::web_assets()) open_paths.emplace_back(asset.path);
    console::apply_console_policy(p, std::move(open_paths), console_options);
  }

  // The data path first: a port that cannot be opened stops start-up before anything listens.
  auto io = std::make_shared<io_runtime>();
  for (auto* row : d.rows) row->build_data_path(*io, p);
  if (d.rows.empty()) io->build_pass_through(p);
  d.ports = data_path_ports(d.rows, p);

  tls_files tls{p.identity.certificate, p.identity.key, p.identity.ca};
  bool linked = !p.peers.empty() || p.group.discovery_broadcast;
  bool role_links = false;
  for (auto* row : d.rows) role_links = role_links || row->links_over_tls;
  if (tls.certificate.empty() && (linked || role_links))
    throw std::runtime_error("/identity/certificate: this node links to peers (listed or "
                             "discovered, or as its role), so it needs a certificate, key and CA");
  d.cfg = std::make_unique<node_config>(tls);
  d.sys = std::make_unique<caf::actor_system>(*d.cfg);

  // The loop runs before any role actor exists: a role never sees a data path that is not
  // running yet (its posts would run on its own thread, racing the loop's start).
  if (io->active()) {
    io->start();
    events_.add(severity::info, "packet_loop_started", {});
  }
  d.packet_io = spawn_packet_io_actor(*d.sys, io, events_);
  role_context ctx{*d.sys, io, events_, d.current};
  for (auto* row : d.rows) {
    auto spawned = row->spawn(ctx);
    for (auto& a : spawned.actors) {
      d.roles.push_back(std::move(a));
      d.role_of.push_back(row);
    }
    if (spawned.unit_worker && !d.unit_worker) d.unit_worker = spawned.unit_worker;
  }
  auto group_cfg = make_group_config(p);
  group_cfg.role = d.unit_worker;
  group_cfg.own_thread = true;
  // A group of one (no peers, none to discover) has no timer that needs 5 ms precision; its
  // ticks would cost every idle node two thread wake-ups per tick for nothing.
  if (!linked) group_cfg.tick_ms = solo_group_tick_ms;
  d.group = group::spawn_group_actor(*d.sys, std::move(group_cfg), events_);
  if (d.unit_worker) caf::anon_send(d.unit_worker, protocol::group_atom::value, d.group);
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
  d.console = std::make_unique<console::http_server>(policy::to_string(p.console), console_options);
  auto& server = *d.console;
  auto& sys = *d.sys;
  server.route("GET", "/actors", [this, &sys](const http_request&) {
    auto& d = *impl_;
    auto current = d.policy();
    json j;
    j["node"] = current->identity.name;
    json roles = json::array();
    for (auto r : current->roles) roles.push_back(policy::to_string(r));
    j["roles"] = roles;
    j["actors"] = json::array({
      {{"name", "group"}, {"id", d.group.id()}, {"purpose", "group substrate: membership, election, "
                                                             "keepalive, work units, replication"},
       {"listening", d.group_port}},
      {{"name", "packet_io"}, {"id", d.packet_io.id()}, {"purpose", "owns the packet loop thread"}},
    });
    for (auto& r : d.roles) {
      json a = {{"name", r.name}, {"id", r.handle.id()}, {"purpose", r.purpose}};
      if (r.listening) a["listening"] = r.listening;
      j["actors"].push_back(a);
    }
    j["running_actors"] = sys.registry().running();
    json messages = json::array();
    for (auto& m : protocol::message_catalog())
      messages.push_back({{"name", m.name}, {"purpose", m.purpose}});
    j["messages"] = messages;
    return http_response::json(j.dump());
  });
  server.route("GET", "/group", [this, &sys](const http_request&) {
    return http_response::json(
      console::status_json(ask<role_status>(sys, impl_->group, protocol::get_atom::value)).dump());
  });
  server.route("GET", "/units", [this, &sys](const http_request&) {
    auto& d = *impl_;
    auto table = console::status_json(ask<role_status>(sys, d.group, protocol::units_atom::value))["units"];
    if (!d.unit_worker) return http_response::json(table.dump());
    // The role working on units adds the flows it carries for each unit it owns.
    auto flows = ask<unit_flows>(sys, d.unit_worker, protocol::units_atom::value);
    std::unordered_map<std::uint32_t, std::uint64_t> by_unit(flows.counts.begin(), flows.counts.end());
    for (auto& u : table) {
      auto i = by_unit.find(u["unit"].get<std::uint32_t>());
      u["flows"] = i == by_unit.end() ? 0 : i->second;
    }
    return http_response::json(table.dump());
  });
  // Each role actor's status under its name (/slr, /cluster, /host_agent) and, when no actor has
  // that name, under its policy section's (a host agent's is /slr too, as the SLR section's node).
  std::set<std::string> status_paths;
  for (auto& r : d.roles) status_paths.insert("/" + r.name);
  for (std::size_t i = 0; i < d.roles.size(); ++i) {
    auto handle = d.roles[i].handle;
    auto status = [handle, &sys](const http_request&) {
      return http_response::json(
        console::status_json(ask<role_status>(sys, handle, protocol::get_atom::value)).dump());
    };
    server.route("GET", "/" + d.roles[i].name, status);
    if (status_paths.insert(std::string("/") + d.role_of[i]->section).second)
      server.route("GET", std::string("/") + d.role_of[i]->section, status);
  }
  // A path several actors share (role_actor::shared_route): their statuses merged.
  std::map<std::string, std::vector<caf::actor>> shared_routes;
  for (auto& r : d.roles)
    if (!r.shared_route.empty()) shared_routes["/" + r.shared_route].push_back(r.handle);
  for (auto& [path, handles] : shared_routes) {
    if (!status_paths.insert(path).second) continue;  // an actor of that name answers it
    server.route("GET", path, [handles = handles, &sys](const http_request&) {
      std::vector<json> parts;
      for (auto& h : handles)
        parts.push_back(console::status_json(ask<role_status>(sys, h, protocol::get_atom::value)));
      return http_response::json(console::merge_status(parts).dump());
    });
  }
  if (auto* slr = d.role("slr")) {
    auto handle = slr->handle;
    server.route("POST", "/slr/flush", [handle, &sys](const http_request& req) {
      std::string scope = req.param("scope").value_or("table");
      if (scope != "table" && scope != "all")
        return http_response::json(json{{"error", "scope must be table or all"}}.dump(), 400);
      return http_response::json(ask(sys, handle, slr::flush_atom::value, scope));
    });
  }
  if (auto* rim = d.role("rim")) {
    auto handle = rim->handle;
    // Document 000's hand-off by hand: ?flow=CLIENT:PORT (a connection served here) &to=MEMBER.
    server.route("POST", "/rim/handoff", [handle, &sys](const http_request& req) {
      auto flow = req.param("flow");
      auto to = req.param("to");
      if (!flow || !to)
        return http_response::json(json{{"error", "flow=CLIENT:PORT and to=MEMBER are required"}}.dump(), 400);
      auto answer = ask(sys, handle, rim::handoff_atom::value, *flow, *to);
      return http_response::json(answer, answer.rfind("{\"error\"", 0) == 0 ? 409 : 200);
    });
    // Masquerade: ?flow=CLIENT:PORT&via=MEMBER[,MEMBER...]&mode=masquerade|funnel|off.
    server.route("POST", "/rim/masquerade", [handle, &sys](const http_request& req) {
      auto flow = req.param("flow");
      auto via = req.param("via").value_or("");
      auto mode = req.param("mode").value_or("masquerade");
      if (!flow || (via.empty() && mode != "off"))
        return http_response::json(json{{"error", "flow=CLIENT:PORT and via=MEMBER[,MEMBER] are required"}}.dump(), 400);
      auto answer = ask(sys, handle, rim::masquerade_atom::value, *flow, via, mode);
      return http_response::json(answer, answer.rfind("{\"error\"", 0) == 0 ? 409 : 200);
    });
  }
  server.route("GET", "/flows", [this, &sys](const http_request& req) {
    // The flows of every role that keeps them (cluster: the gateway's table; slr: pinned flows),
    // each read on the loop thread by its actor, at most ?limit=N (default 1000) in all.
    auto& d = *impl_;
    std::size_t limit = 0;
    try {
      limit = console::flows_limit(req.param("limit"));
    } catch (const std::invalid_argument& e) {
      return http_response::json(json{{"error", e.what()}}.dump(), 400);
    }
    std::vector<flow_list> lists;
    for (auto& r : d.roles) {
      auto l = ask<flow_list>(sys, r.handle, flows_atom::value, static_cast<std::uint32_t>(limit));
      if (l.role == "host_agent") continue;  // pins no flows
      lists.push_back(std::move(l));
    }
    return http_response::json(console::flows_json(lists, limit).dump());
  });
  // Every counter of the node, as typed status: the packet-I/O actor's and each role actor's
  // role_status, the group actor's, and the node's own lists.
  struct all_counters {
    role_status packet_io;
    role_status group;
    std::vector<std::pair<std::string, role_status>> roles;
    role_status node;  // tls, events, reloads, console, discovery
  };
  auto collect = [this, &sys]() {
    auto& d = *impl_;
    all_counters c;
    c.packet_io = ask<role_status>(sys, d.packet_io, protocol::get_atom::value);
    c.group = ask<role_status>(sys, d.group, protocol::get_atom::value);
    for (auto& r : d.roles)
      c.roles.emplace_back(r.name, ask<role_status>(sys, r.handle, protocol::get_atom::value));
    c.node.group("tls", node_tls_counters{tls_refusals(), tls_accepted()});
    node_event_counters ev;
#define BATON_NODE_EVENT_COUNT(name, help) ev.name = events_.count(#name);
    BATON_NODE_EVENT_COUNTERS(BATON_NODE_EVENT_COUNT, BATON_NODE_EVENT_COUNT)
#undef BATON_NODE_EVENT_COUNT
    c.node.group("events", ev);
    c.node.group("reloads", node_reload_counters{d.reloads, d.reload_failures});
    c.node.group("console", node_console_counters{d.console->requests_total(),
                                                            d.console->unauthorized_total(),
                                                            d.console->tls_handshake_failures()});
    if (d.discovery)
      c.node.group("discovery", node_discovery_counters{d.discovery->beacons_sent(),
                                                        d.discovery->beacons_received(),
                                                        d.discovery->malformed()});
    return c;
  };
  auto counters = [collect]() {
    auto c = collect();
    json j = console::status_json(c.node);
    j["packet_io"] = console::status_json(c.packet_io);
    j["group"] = console::status_json(c.group);
    for (auto& [name, st] : c.roles) j[name] = console::status_json(st);
    return j;
  };
  server.route("GET", "/counters", [counters](const http_request&) {
    return http_response::json(counters().dump());
  });
  server.route("GET", "/policy", [this](const http_request&) {
    return http_response::json(policy::to_json_string(*impl_->policy()));
  });
  server.route("GET", "/events", [this](const http_request& req) {
    std::uint64_t after = 0;
    if (auto a = req.param("after")) after = std::stoull(*a);
    return http_response::json(events_.json(after));
  });
  server.route("POST", "/reload", [this](const http_request&) {
    return http_response::json(reload());
  });
  server.route("POST", "/drain", [this](const http_request& req) {
    // Only this node drains today: a body naming another member or one unit (batonctl drain
    // --member/--unit) is refused rather than draining this node by mistake.
    auto body = json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
      return http_response::error(400, "the body must be a JSON object");
    auto self = impl_->policy()->identity.name;
    if (body.contains("unit") ||
        (body.contains("member") && !(body["member"].is_string() && body["member"] == self)))
      return http_response::error(501, "this node drains only itself (no member other than " + self +
                                         ", no single unit): ask that member's console");
    return http_response::json(drain());
  });
  server.route("POST", "/group/move", [this, &sys](const http_request& req) {
    // ?unit=N&to=MEMBER (name or address): the master moves the unit with document 004's
    // de-assign, the state with it. The group actor says the status (202, 400, 409).
    auto unit = req.param("unit"), to = req.param("to");
    if (!unit || !to || to->empty())
      return http_response::error(400, "unit=N and to=MEMBER (name or address) are required");
    if (unit->empty() || unit->size() > 9 || unit->find_first_not_of("0123456789") != std::string::npos)
      return http_response::error(400, "unit must be a work unit number, got \"" + *unit + "\"");
    auto answer = json::parse(ask(sys, impl_->group, protocol::move_atom::value,
                                  static_cast<group::unit_id>(std::stoul(*unit)), *to));
    int status = answer.value("status", 500);
    answer.erase("status");
    return http_response::json(answer.dump(), status);
  });
  server.route("GET", "/metrics", [collect](const http_request&) {
    auto c = collect();
    std::vector<console::metric_family> families;
    console::status_metrics("packet_io", c.packet_io, families);
    console::status_metrics("group", c.group, families);
    for (auto& [name, st] : c.roles) console::status_metrics(name, st, families);
    console::status_metrics("node", c.node, families);
    return http_response::text(console::render_prometheus(families), 200,
                               console::prometheus_content_type);
  });
  // The web console (actors/console/web): its files, and what it needs to show the peers' state.
  for (auto& asset : console::web_assets()) {
    auto serve = [asset](const http_request&) {
      auto r = http_response::text(std::string(asset.body), 200, std::string(asset.content_type));
      // The page runs only its own files and talks only to this console.
      r.headers.emplace_back("Content-Security-Policy",
                             "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
      r.headers.emplace_back("X-Content-Type-Options", "nosniff");
      return r;
    };
    server.route("GET", std::string(asset.path), serve);
    if (asset.path == "/index.html") server.route("GET", "/", serve);
  }
  server.route("GET", "/consoles", [this](const http_request&) {
    // This node's console and every peer's the policy names (peers[].console), for the page's
    // node switcher; /peer reaches them through this node.
    auto current = impl_->policy();
    json list = json::array();
    list.push_back({{"name", current->identity.name},
                    {"address", policy::format_ipv4(current->identity.address)},
                    {"console", policy::to_string(current->console)},
                    {"self", true}});
    for (auto& peer : current->peers)
      list.push_back({{"name", peer.name},
                      {"address", policy::format_ipv4(peer.at.address)},
                      {"console", peer.console},
                      {"self", false}});
    return http_response::json(list.dump());
  });
  server.route("GET", "/peer", [this](const http_request& req) {
    // GET ?name=PEER&path=/units: the peer's answer to a read, fetched by this node, so one page
    // shows the whole group. Only reads, only peers the policy names with a console address.
    auto name = req.param("name").value_or("");
    auto path = req.param("path").value_or("");
    static const std::set<std::string> readable{"/actors", "/group", "/units", "/counters",
                                                "/events", "/policy", "/flows", "/slr",
                                                "/cluster", "/pep", "/replicas", "/host_agent"};
    if (!readable.count(path))
      return http_response::error(400, "path must be one of the console's reads (/group, /units, "
                                       "/counters, /events, /actors, /policy, /flows, or a role's)");
    auto current = impl_->policy();
    const policy::peer* peer = nullptr;
    for (auto& p : current->peers)
      if (p.name == name) peer = &p;
    if (!peer) return http_response::error(404, "no peer named \"" + name + "\" in the policy");
    if (peer->console.empty())
      return http_response::error(404, "peer " + name + " has no console address in the policy "
                                       "(peers[].console)");
    std::string target = path;
    if (auto after = req.param("after")) {
      if (after->empty() || after->size() > 19 || after->find_first_not_of("0123456789") != std::string::npos)
        return http_response::error(400, "after must be an event sequence number");
      target += "?after=" + *after;
    }
    try {
      // Bounded: a hung peer holds one console thread for at most this long.
      // A peer's console off loopback is TLS: our certificate as the client's, our CA checks its.
      auto reply = console::http_fetch(console::peer_console_client(*current, peer->console),
                                       peer->console, "GET", target, {},
                                       std::chrono::milliseconds(1500));
      http_response r;
      r.status = reply.status;
      // Never HTML under this console's origin: the peer's answer is JSON or plain text here.
      const bool is_json = reply.header("content-type").value_or("").find("json") != std::string::npos;
      r.content_type = is_json ? "application/json" : "text/plain; charset=utf-8";
      r.headers.emplace_back("X-Content-Type-Options", "nosniff");
      r.body = std::move(reply.body);
      return r;
    } catch (const std::exception& e) {
      return http_response::error(502, "peer " + name + ": " + e.what());
    }
  });
  try {
    server.start();
  } catch (const std::exception& e) {
    throw std::runtime_error("console " + policy::to_string(p.console) + ": " + e.what());
  }
  // How the console is protected, said at start (and in /events); never the token itself.
  events_.add(severity::info, "console_protected",
              {{"console", server.address()}, {"protection", policy::console_protection(p)}});
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
    for (auto& r : d.roles) caf::anon_send_exit(r.handle, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(d.packet_io, caf::exit_reason::user_shutdown);
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
    check_roles_runnable(*next);  // a role this build has no row for is refused like bad JSON
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
    io_answer = ask(*d.sys, d.packet_io, protocol::reload_atom::value, next,
                    data_path_ports(d.rows, *next));
  for (auto& section : diff.sections) {
    bool role_section = false;
    for (std::size_t i = 0; i < d.roles.size(); ++i) {
      // The PEP's rules name profiles: it is asked about both.
      const std::string own = d.role_of[i]->section;
      if (section != own && !(section == "profiles" && own == "pep")) continue;
      // The role says what it did with its section: "applied: ..." when it took the change for
      // new connections, otherwise what needs a restart, and why.
      auto answer = ask(*d.sys, d.roles[i].handle, protocol::reload_atom::value, next);
      const bool took_it = answer.rfind("applied", 0) == 0;
      if (!role_section) (took_it ? applied : restart).push_back(section);
      role_section = true;
      if (!took_it)
        events_.add(severity::warning, "reload_needs_restart",
                    {{"section", section}, {"role", d.roles[i].name}, {"reason", answer}});
    }
    if (role_section) continue;
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
