#include "actors/slr/slr_actor.hpp"

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <map>
#include <thread>
#include <unordered_map>

#include "actors/group/group_actor.hpp"
#include "actors/runtime/event_log.hpp"
#include "actors/runtime/on_loop.hpp"
#include "actors/runtime/policy_ptr.hpp"
#include "actors/protocol/atoms.hpp"
#include "actors/protocol/slr.hpp"
#include "actors/slr/flow_record.hpp"
#include "actors/slr/links.hpp"
#include "actors/slr/routing.hpp"
#include "net/slr/slr_stage.hpp"
#include "policy/policy.hpp"
#include "policy/rules.hpp"

namespace baton::slr {
namespace {

using node::severity;
using nlohmann::json;
using clock_type = std::chrono::steady_clock;

/// Wakes the actor when the data path queued flow events. CAF 0.17 cannot watch a descriptor, so
/// a thread blocks in poll() on the stage's eventfd, sends one pump message and waits until the
/// actor has drained (the stage's eventfd stays readable until then).
class event_pump {
 public:
  event_pump(int events_fd, caf::actor target)
      : drained_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), stop_(::eventfd(0, EFD_CLOEXEC)) {
    if (drained_ < 0 || stop_ < 0) throw std::runtime_error("slr: cannot make the event pump's eventfd");
    thread_ = std::thread([this, events_fd, target] { run(events_fd, target); });
  }
  ~event_pump() {
    std::uint64_t one = 1;
    (void)!::write(stop_, &one, sizeof one);
    thread_.join();
    ::close(drained_);
    ::close(stop_);
  }
  /// The actor calls this after each drain.
  void drained() noexcept {
    std::uint64_t one = 1;
    (void)!::write(drained_, &one, sizeof one);
  }

 private:
  void run(int events_fd, caf::actor target) {
    pollfd fds[2] = {{events_fd, POLLIN, 0}, {stop_, POLLIN, 0}};
    for (;;) {
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents) return;
      if (!(fds[0].revents & POLLIN)) continue;
      caf::anon_send(target, pump_atom::value);
      // Wait for the drain (or stop) before looking at the stage's eventfd again.
      pollfd wait[2] = {{drained_, POLLIN, 0}, {stop_, POLLIN, 0}};
      while (::poll(wait, 2, -1) < 0 && errno == EINTR) {}
      if (wait[1].revents) return;
      std::uint64_t n;
      (void)!::read(drained_, &n, sizeof n);
    }
  }

  int drained_ = -1, stop_ = -1;
  std::thread thread_;
};

/// A node below (host agent or SLR) or a neighbour that dialled us.
struct inbound_node {
  std::string name;
  std::string level;
  std::uint32_t tunnel_address = 0;
  std::uint64_t sequence = 0;
  std::vector<protocol::slr_subnet_load> subnets;
  clock_type::time_point last{};
  caf::actor handle;
};

struct slr_state {
  static inline const char* name = "slr";
  std::shared_ptr<node::io_runtime> io;
  node::event_log* events = nullptr;
  policy::slr_section cfg;
  std::string self_name;
  std::string level;
  protocol::slr_hello hello;
  std::unique_ptr<routing_table> table;
  std::vector<routing_table::subnet_route> routes;
  std::vector<outbound_link> uppers, neighbors;
  std::map<caf::actor_addr, inbound_node> inbound;  // lower nodes and neighbours that dialled us
  flow_records flows;                                // the SLR's own record of its flows
  std::unordered_map<net::flow_key, clock_type::time_point, net::flow_key_hash> asked;  // WHOHAS
  std::unique_ptr<event_pump> pump;
  std::map<std::uint32_t, std::uint64_t> chosen;  // new flows per next hop while active
  group::group_actor group;
  bool active = true;
  bool dirty = false;  // records changed since the last copy to the hot spare
  std::uint64_t sequence = 0;
  std::uint64_t states_received = 0, states_sent = 0, states_stale = 0, entries_ignored = 0,
                recomputes = 0, publish_errors = 0, shortcuts_sent = 0, shortcuts_received = 0,
                shortcuts_forwarded = 0, recreated = 0, whohas_sent = 0, whohas_answered = 0,
                ihave_installed = 0, unrecovered = 0, adverts = 0, events_seen = 0,
                install_failures = 0, takeovers = 0, replications = 0, replicated_bytes = 0,
                imported = 0, import_errors = 0;

  net::slr_stage* data_path = nullptr;  // owned by the loop; flow-table calls only on the loop
  std::size_t data_path_flows = 0;      // its flow count, as the loop last reported it

  net::slr_stage& stage() { return *data_path; }
};

using slr_pointer = caf::stateful_actor<slr_state>*;

std::vector<outbound_link>& uppers_of(slr_pointer self) { return self->state.uppers; }
std::vector<outbound_link>& neighbors_of(slr_pointer self) { return self->state.neighbors; }

std::chrono::milliseconds loop_now() { return net::coarse_now(); }  // the SLR stage's own clock

/// Records a flow in the SLR's own table; an active SLR with a hot spare copies it over later.
flow_record& remember(slr_state& st, const net::flow_key& key, std::uint32_t next_hop,
                      std::uint32_t prev_hop, net::flow_origin origin) {
  st.dirty = st.dirty || st.active;
  return st.flows.record(key, next_hop, prev_hop, origin, clock_type::now());
}

using flow_entries = std::vector<std::tuple<net::flow_key, std::uint32_t, net::flow_origin>>;

/// Installs entries in the data path in one command on the loop thread; `then(installed)` runs in
/// the actor once they are in.
template <class Then>
void install_all(slr_pointer self, flow_entries e, Then then) {
  auto* stage = self->state.data_path;
  const auto wanted = e.size();
  node::on_loop(
    self, *self->state.io,
    [stage, e = std::move(e)] {
      std::size_t ok = 0;
      auto now = loop_now();
      for (auto& [key, hop, origin] : e) ok += stage->install(key, hop, origin, now) ? 1 : 0;
      return ok;
    },
    [self, wanted, then](std::size_t ok) {
      self->state.install_failures += wanted - ok;
      then(ok);
    });
}

void install_all(slr_pointer self, flow_entries e) {
  install_all(self, std::move(e), [](std::size_t) {});
}

/// The upper SLR whose tunnels arrive from `prev_hop`, or nullptr.
outbound_link* upper_for(slr_state& st, std::uint32_t prev_hop) {
  for (auto& l : st.uppers)
    if (l.handle && (l.tunnel_address == prev_hop || l.address == prev_hop)) return &l;
  return nullptr;
}

/// Passes a tunnel object on to the SLR the flow came from (the shortcut moves upstream).
/// Returns whether one was sent (shortcuts on, and the flow came through a linked upper SLR).
bool send_upstream(slr_pointer self, const flow_record& r, std::uint32_t host) {
  auto& st = self->state;
  if (!st.cfg.shortcuts || r.prev_hop == 0) return false;
  auto* up = upper_for(st, r.prev_hop);
  if (!up) return false;
  self->send(up->handle, protocol::tunnel_object{to_protocol(r.key), host});
  return true;
}

void on_events(slr_pointer self) {
  auto& st = self->state;
  std::vector<net::slr_event> events;
  st.stage().drain_events([&](const net::slr_event& e) { events.push_back(e); });
  st.pump->drained();
  flow_entries reinstall;
  const auto now = clock_type::now();
  for (auto& e : events) {
    ++st.events_seen;
    switch (e.kind) {
      case net::slr_event_kind::new_flow: {
        auto& r = remember(st, e.key, e.next_hop, e.prev_hop, net::flow_origin::chosen);
        if (st.active) ++st.chosen[e.next_hop];
        // A site SLR's choice is a host: tell the SLR above (document 001's tunnel object).
        if (st.cfg.level == policy::slr_level::site && st.active) {
          if (send_upstream(self, r, e.next_hop)) ++st.shortcuts_sent;
        }
        break;
      }
      case net::slr_event_kind::advertised_flow:
        ++st.adverts;
        remember(st, e.key, e.next_hop, e.prev_hop, net::flow_origin::advertised);
        st.events->add(severity::info, "flow_advertised",
                       {{"flow", to_string(e.key)}, {"server", policy::format_ipv4(e.next_hop)}});
        break;
      case net::slr_event_kind::unknown_flow: {
        // Recovery (1): the data path lost the entry but the SLR still knows the flow.
        if (auto* r = st.flows.find(e.key)) {
          reinstall.emplace_back(e.key, r->next_hop, net::flow_origin::recovered);
          ++st.recreated;
          break;
        }
        // Recovery (3): ask the neighbour SLRs, once a second per flow.
        auto& asked = st.asked[e.key];
        if (now - asked < std::chrono::seconds(1)) break;
        asked = now;
        bool any = false;
        for (auto& n : st.neighbors)
          if (n.handle) {
            self->send(n.handle, protocol::whohas{to_protocol(e.key), st.self_name, 1});
            any = true;
          }
        for (auto& [addr, n] : st.inbound)
          if (n.level == st.level && n.handle) {
            self->send(n.handle, protocol::whohas{to_protocol(e.key), st.self_name, 1});
            any = true;
          }
        if (any) ++st.whohas_sent;
        else ++st.unrecovered;
        break;
      }
    }
  }
  if (!reinstall.empty()) {
    st.events->add(severity::info, "flows_recreated", {{"flows", std::to_string(reinstall.size())}});
    install_all(self, std::move(reinstall));
  }
}

/// Figure 9 and the state update upward.
void recompute(slr_pointer self) {
  auto& st = self->state;
  ++st.recomputes;
  st.routes = st.table->recompute(clock_type::now(), std::chrono::system_clock::now());
  net::slr_routes out;
  for (auto& r : st.routes) {
    net::slr_subnet s;
    s.prefix = r.net.prefix;
    s.length = r.net.length;
    for (auto& c : r.candidates)
      if (c.next_hop != st.cfg.tunnel_address) s.candidates.push_back({c.next_hop, c.weight});
    out.subnets.push_back(std::move(s));
  }
  try {
    st.stage().publish(out);
  } catch (const std::exception& e) {
    ++st.publish_errors;
    st.events->add(severity::error, "slr_publish_failed", {{"reason", e.what()}});
  }
  // A hot spare reports nothing upward: the SLR above must see one node per tunnel address.
  if (!st.active) return;
  protocol::slr_state up;
  up.name = st.self_name;
  up.tunnel_address = st.cfg.tunnel_address;
  up.sequence = ++st.sequence;
  for (auto& [net, m] : upward(st.routes))
    up.subnets.push_back({net.prefix, net.length, m});
  st.states_sent += send_to_linked(self, st.uppers, up);
}

json status(slr_pointer self) {
  auto& st = self->state;
  json j;
  j["level"] = st.level;
  j["name"] = st.self_name;
  j["tunnel_address"] = policy::format_ipv4(st.cfg.tunnel_address);
  j["active"] = st.active;
  j["shortcuts"] = st.cfg.shortcuts;
  auto links = [](const std::vector<outbound_link>& v) {
    json a = json::array();
    for (auto& l : v)
      a.push_back({{"name", l.name}, {"address", policy::format_ipv4(l.address)},
                   {"linked", static_cast<bool>(l.handle)},
                   {"tunnel_address", policy::format_ipv4(l.tunnel_address)},
                   {"attempts", l.attempts}, {"failures", l.failures}});
    return a;
  };
  j["uppers"] = links(st.uppers);
  j["neighbors"] = links(st.neighbors);
  auto& lower = j["lower"] = json::array();
  const auto now = clock_type::now();
  for (auto& [addr, n] : st.inbound) {
    json subnets = json::array();
    for (auto& s : n.subnets)
      subnets.push_back({{"subnet", policy::format_ipv4(s.prefix) + "/" + std::to_string(s.length)},
                         {"load", s.load}});
    lower.push_back({{"name", n.name}, {"level", n.level},
                     {"tunnel_address", policy::format_ipv4(n.tunnel_address)},
                     {"age_ms", std::chrono::duration_cast<std::chrono::milliseconds>(now - n.last).count()},
                     {"subnets", subnets}});
  }
  auto& chosen = j["chosen"] = json::object();
  for (auto& [hop, n] : st.chosen) chosen[policy::format_ipv4(hop)] = n;
  auto& routes = j["routes"] = json::array();
  for (auto& r : st.routes) {
    json c = json::array();
    auto shares = expected_shares(r);
    for (std::size_t i = 0; i < r.candidates.size(); ++i) {
      auto& x = r.candidates[i];
      c.push_back({{"from", x.from}, {"next_hop", policy::format_ipv4(x.next_hop)},
                   {"load", x.load}, {"route_cost", x.route_cost}, {"cost", x.cost},
                   {"weight", x.weight}, {"expected_share", i < shares.size() ? shares[i] : 0.0}});
    }
    routes.push_back({{"subnet", policy::to_string(r.net)}, {"aggregate", r.aggregate},
                      {"candidates", c}});
  }
  auto sc = st.stage().counters();
  j["data_path"] = {{"tunneled", sc.tunneled}, {"decapsulated", sc.decapsulated},
                    {"new_flows", sc.new_flows}, {"pinned_hits", sc.pinned_hits},
                    {"shortcut_hits", sc.shortcut_hits},
                    {"unknown_flow_drops", sc.unknown_flow_drops},
                    {"advert_installs", sc.advert_installs}, {"adverts_refused", sc.adverts_refused},
                    {"no_route", sc.no_route}, {"decap_errors", sc.decap_errors},
                    {"standby_drops", sc.standby_drops}, {"table_full", sc.table_full},
                    {"fragments", sc.fragments}, {"oversize", sc.oversize},
                    {"events_lost", sc.events_lost}, {"flows", st.data_path_flows}};
  j["control"] = {{"flow_records", st.flows.size()}, {"states_received", st.states_received},
                  {"states_stale", st.states_stale}, {"entries_ignored", st.entries_ignored},
                  {"states_sent", st.states_sent}, {"recomputes", st.recomputes},
                  {"publish_errors", st.publish_errors}, {"shortcuts_sent", st.shortcuts_sent},
                  {"shortcuts_received", st.shortcuts_received},
                  {"shortcuts_forwarded", st.shortcuts_forwarded}, {"recreated", st.recreated},
                  {"whohas_sent", st.whohas_sent}, {"whohas_answered", st.whohas_answered},
                  {"ihave_installed", st.ihave_installed}, {"unrecovered", st.unrecovered},
                  {"adverts", st.adverts}, {"events", st.events_seen},
                  {"install_failures", st.install_failures}, {"takeovers", st.takeovers},
                  {"replications", st.replications}, {"replicated_bytes", st.replicated_bytes},
                  {"imported", st.imported}, {"import_errors", st.import_errors}};
  return j;
}

/// How often an active SLR with a hot spare copies its changed flow records over.
constexpr std::chrono::milliseconds replication_interval{100};

void set_active(slr_pointer self, bool active, const std::string& why) {
  auto& st = self->state;
  if (active == st.active) return;
  st.active = active;
  st.stage().set_active(active);
  st.dirty = active;
  st.events->add(severity::info, active ? "slr_active" : "slr_standby",
                 {{"reason", why}, {"flows", std::to_string(st.data_path_flows)}});
}

caf::behavior slr_impl(caf::stateful_actor<slr_state>* self, std::shared_ptr<node::io_runtime> io,
                       node::event_log* events, policy::slr_section cfg, std::string name) {
  auto& st = self->state;
  st.io = std::move(io);
  st.data_path = st.io->stage<net::slr_stage>();
  st.events = events;
  st.cfg = std::move(cfg);
  st.self_name = std::move(name);
  st.level = policy::to_string(st.cfg.level);
  st.hello = {st.self_name, st.level, st.cfg.tunnel_address};
  st.table = std::make_unique<routing_table>(st.cfg);
  st.flows = flow_records(st.cfg.flow_capacity);
  for (auto& u : st.cfg.upper) st.uppers.push_back({u.name, u.address, u.port});
  for (auto& n : st.cfg.neighbors)
    if (node::dials(st.cfg.tunnel_address, n.address)) st.neighbors.push_back({n.name, n.address, n.port});
  st.active = !st.cfg.hot_spare;  // a hot-spare pair waits for the group to say who is master
  st.stage().set_active(st.active);
  st.pump = std::make_unique<event_pump>(st.stage().event_fd(), caf::actor_cast<caf::actor>(self));
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    link_lost(st.uppers, dm.source, *st.events);
    link_lost(st.neighbors, dm.source, *st.events);
    auto i = st.inbound.find(dm.source);
    if (i != st.inbound.end()) {
      st.events->add(severity::warning, "slr_lower_lost", {{"node", i->second.name}});
      st.table->forget(i->second.name);
      st.inbound.erase(i);
    }
  });
  self->send(self, protocol::tick_atom::value);
  if (st.cfg.hot_spare) self->send(self, protocol::apply_atom::value);
  st.events->add(severity::info, "slr_started",
                 {{"level", st.level}, {"tunnel_address", policy::format_ipv4(st.cfg.tunnel_address)},
                  {"uppers", std::to_string(st.uppers.size())}});
  return {
    [=](protocol::tick_atom) {
      auto& st = self->state;
      dial_due(self, uppers_of, st.hello, *st.events);
      dial_due(self, neighbors_of, st.hello, *st.events);
      recompute(self);
      auto* stage = st.data_path;
      node::on_loop(
        self, *st.io,
        [stage] {
          stage->expire(loop_now(), 8192);
          return stage->flows();
        },
        [self](std::size_t flows) { self->state.data_path_flows = flows; });
      st.flows.expire(clock_type::now());
      for (auto it = st.asked.begin(); it != st.asked.end();)
        it = clock_type::now() - it->second > std::chrono::seconds(5) ? st.asked.erase(it) : std::next(it);
      self->delayed_send(self, std::chrono::milliseconds(st.cfg.update_interval_ms),
                         protocol::tick_atom::value);
    },
    [=](pump_atom) { on_events(self); },
    [=](protocol::group_atom, group::group_actor g) { self->state.group = std::move(g); },
    // Hot spare: the pair's group has one work unit; its owner is the active SLR, its backup the
    // spare, which holds the active one's flow records (replicated as the unit's state) and
    // takes the unit over with them when the active SLR fails.
    [=](protocol::assign_atom, group::unit_id) { set_active(self, true, "unit assigned"); },
    [=](protocol::revoke_atom, group::unit_id, bool) { set_active(self, false, "unit revoked"); },
    [=](protocol::takeover_atom, group::unit_id, group::state_bytes& state) {
      auto& st = self->state;
      std::vector<flow_record> copy;
      if (!unpack_flow_records(state, copy)) {
        ++st.import_errors;
        st.events->add(severity::error, "slr_takeover_state_malformed",
                       {{"bytes", std::to_string(state.size())}});
      }
      flow_entries entries;
      for (auto& r : copy) {
        entries.emplace_back(r.key, r.next_hop, net::flow_origin::replicated);
        st.flows.record(r.key, r.next_hop, 0, r.origin, clock_type::now());
      }
      install_all(self, std::move(entries), [self](std::size_t ok) { self->state.imported += ok; });
      ++st.takeovers;
      set_active(self, true, "took over with " + std::to_string(copy.size()) + " replicated flows");
    },
    [=](protocol::apply_atom) {
      // Copy the records to the hot spare when they changed (the group sends the latest state
      // of the unit to its backup; 18 bytes a flow).
      auto& st = self->state;
      self->delayed_send(self, replication_interval, protocol::apply_atom::value);
      if (!st.group || !st.active || !st.dirty) return;
      st.dirty = false;
      auto bytes = pack_flow_records(st.flows);
      ++st.replications;
      st.replicated_bytes += bytes.size();
      self->send(st.group, protocol::replicate_atom::value, group::unit_id{0}, std::move(bytes));
    },
    [=](const protocol::slr_hello& h) {
      auto& st = self->state;
      auto sender = caf::actor_cast<caf::actor>(self->current_sender());
      if (!sender) return;
      // An upper answering our hello tells us its tunnel address.
      if (auto* l = link_of(st.uppers, sender.address())) {
        l->tunnel_address = h.tunnel_address;
        l->level = h.level;
        return;
      }
      if (auto* l = link_of(st.neighbors, sender.address())) {
        l->tunnel_address = h.tunnel_address;
        l->level = h.level;
        return;
      }
      auto& n = st.inbound[sender.address()];
      const bool fresh = !n.handle;
      n.name = h.name;
      n.level = h.level;
      n.tunnel_address = h.tunnel_address;
      n.handle = sender;
      n.last = clock_type::now();
      if (fresh) {
        self->monitor(sender);
        self->send(sender, st.hello);
        st.events->add(severity::info, h.level == st.level ? "slr_neighbor_linked" : "slr_lower_linked",
                       {{"node", h.name}, {"level", h.level},
                        {"tunnel_address", policy::format_ipv4(h.tunnel_address)}});
      }
    },
    [=](const protocol::slr_state& s) {
      auto& st = self->state;
      auto i = st.inbound.find(caf::actor_cast<caf::actor_addr>(self->current_sender()));
      if (i == st.inbound.end() || i->second.name != s.name) return;  // no hello: not ours
      auto& n = i->second;
      if (s.sequence <= n.sequence) {
        ++st.states_stale;
        return;
      }
      ++st.states_received;
      n.sequence = s.sequence;
      n.subnets = s.subnets;
      n.last = clock_type::now();
      advertisement a;
      a.from = s.name;
      a.next_hop = s.tunnel_address ? s.tunnel_address : n.tunnel_address;
      for (auto& x : s.subnets) a.loads.push_back({subnet{x.prefix, x.length}, x.load});
      st.entries_ignored += st.table->update(a, clock_type::now());
    },
    [=](const protocol::tunnel_object& t) {
      // The shortcut from below: pin the flow to the host, pass it on upstream.
      auto& st = self->state;
      ++st.shortcuts_received;
      on_events(self);  // our own record of the flow may still wait in the ring
      auto key = to_key(t.flow);
      install_all(self, {{key, t.host, net::flow_origin::shortcut}});
      // A previous hop of 0 keeps the one our record has.
      auto& rec = remember(st, key, t.host, 0, net::flow_origin::shortcut);
      if (send_upstream(self, rec, t.host)) ++st.shortcuts_forwarded;
    },
    [=](const protocol::whohas& q) {
      auto& st = self->state;
      auto sender = caf::actor_cast<caf::actor>(self->current_sender());
      auto* r = st.flows.find(to_key(q.flow));
      if (!r || !sender) return;
      ++st.whohas_answered;
      self->send(sender, protocol::ihave{q.flow, r->next_hop, st.self_name});
    },
    [=](const protocol::ihave& a) {
      auto& st = self->state;
      auto key = to_key(a.flow);
      if (st.flows.find(key)) return;  // already recovered
      install_all(self, {{key, a.next_hop, net::flow_origin::recovered}});
      remember(st, key, a.next_hop, 0, net::flow_origin::recovered);
      ++st.ihave_installed;
      st.events->add(severity::info, "flow_recovered_by_whohas",
                     {{"flow", to_string(key)}, {"from", a.from},
                      {"next_hop", policy::format_ipv4(a.next_hop)}});
    },
    [=](flush_atom, const std::string& scope) {
      auto& st = self->state;
      std::size_t records = 0;
      if (scope == "all") {
        records = st.flows.size();
        st.flows.clear();
      }
      auto rp = self->make_response_promise();
      auto* stage = st.data_path;
      node::on_loop(
        self, *st.io, [stage] { return stage->flush(); },
        [self, rp, scope, records](std::size_t table) mutable {
          self->state.data_path_flows = 0;
          self->state.events->add(severity::warning, "slr_flows_flushed",
                                  {{"scope", scope}, {"data_path", std::to_string(table)},
                                   {"records", std::to_string(records)}});
          rp.deliver(json{{"scope", scope}, {"data_path_flows", table}, {"records", records}}.dump());
        });
      return rp;
    },
    [=](node::loop_atom, node::loop_reply& k) { k(); },
    // As the hot-spare pair's unit worker it hears the group's view too; the unit events say all
    // it needs (active or spare), and it carries no per-unit flow counts.
    [=](const group::group_view&) {},
    [=](protocol::units_atom) { return std::string("{}"); },
    [=](protocol::reload_atom, const node::policy_ptr&) -> std::string {
      return "slr section: takes effect when batond restarts";
    },
    [=](protocol::get_atom) -> std::string { return status(self).dump(); },
  };
}

}  // namespace

caf::actor spawn_slr_actor(caf::actor_system& sys, std::shared_ptr<node::io_runtime> io,
                           node::event_log& events, const policy::policy& p) {
  // The policy defaults slr.tunnel_address to the identity's address.
  return sys.spawn(slr_impl, std::move(io), &events, *p.slr, p.identity.name);
}

}  // namespace baton::slr
