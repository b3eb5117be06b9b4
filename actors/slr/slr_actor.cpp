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
#include "actors/runtime/status_message.hpp"
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
  // Hot spare, active side: the next replication round sends a checkpoint of the records (just
  // became active, took over, or the group asked) instead of the delta of their changes.
  bool checkpoint_due = false;
  std::uint64_t sequence = 0;
  slr_control_counters ctl;  // flow_records is filled in by status()

  net::slr_stage* data_path = nullptr;  // owned by the loop; flow-table calls only on the loop
  std::size_t data_path_flows = 0;      // its flow count, as the loop last reported it

  net::slr_stage& stage() { return *data_path; }
};

using slr_pointer = caf::stateful_actor<slr_state>*;

std::vector<outbound_link>& uppers_of(slr_pointer self) { return self->state.uppers; }
std::vector<outbound_link>& neighbors_of(slr_pointer self) { return self->state.neighbors; }

std::chrono::milliseconds loop_now() { return net::coarse_now(); }  // the SLR stage's own clock

/// Records a flow in the SLR's own table; an active SLR with a hot spare sends the change over in
/// the next replication round (the table tracks its changes while active).
flow_record& remember(slr_state& st, const net::flow_key& key, std::uint32_t next_hop,
                      std::uint32_t prev_hop, net::flow_origin origin) {
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
      self->state.ctl.install_failures += wanted - ok;
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
    ++st.ctl.events;
    switch (e.kind) {
      case net::slr_event_kind::new_flow: {
        auto& r = remember(st, e.key, e.next_hop, e.prev_hop, net::flow_origin::chosen);
        if (st.active) ++st.chosen[e.next_hop];
        // A site SLR's choice is a host: tell the SLR above (document 001's tunnel object).
        if (st.cfg.level == policy::slr_level::site && st.active) {
          if (send_upstream(self, r, e.next_hop)) ++st.ctl.shortcuts_sent;
        }
        break;
      }
      case net::slr_event_kind::advertised_flow:
        ++st.ctl.adverts;
        remember(st, e.key, e.next_hop, e.prev_hop, net::flow_origin::advertised);
        st.events->add(severity::info, "flow_advertised",
                       {{"flow", to_string(e.key)}, {"server", policy::format_ipv4(e.next_hop)}});
        break;
      case net::slr_event_kind::unknown_flow: {
        // Recovery (1): the data path lost the entry but the SLR still knows the flow.
        if (auto* r = st.flows.find(e.key)) {
          reinstall.emplace_back(e.key, r->next_hop, net::flow_origin::recovered);
          ++st.ctl.recreated;
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
        if (any) ++st.ctl.whohas_sent;
        else ++st.ctl.unrecovered;
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
  ++st.ctl.recomputes;
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
    ++st.ctl.publish_errors;
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
  st.ctl.states_sent += send_to_linked(self, st.uppers, up);
}

/// A steady time as milliseconds of CLOCK_MONOTONIC (libstdc++'s steady_clock), which every
/// process of the machine shares: a lab compares the stamps of several nodes with its own.
std::int64_t steady_ms(clock_type::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

node::role_status status(slr_pointer self) {
  auto& st = self->state;
  node::role_status s;
  s.fact("level", node::scalar(st.level))
    .fact("name", node::scalar(st.self_name))
    .fact("tunnel_address", node::scalar(policy::format_ipv4(st.cfg.tunnel_address)))
    .fact("active", node::scalar(st.active))
    .fact("shortcuts", node::scalar(st.cfg.shortcuts));
  s.tables.push_back(links_table("uppers", st.uppers, true));
  s.tables.push_back(links_table("neighbors", st.neighbors, true));
  node::status_table lower{"lower", "node", {{"name", node::column_kind::key, ""},
                                             {"level", node::column_kind::fact, ""},
                                             {"tunnel_address", node::column_kind::fact, ""},
                                             {"age_ms", node::column_kind::fact, ""}},
                           {}};
  const auto now = clock_type::now();
  for (auto& [addr, n] : st.inbound) {
    node::status_table subnets{"subnets", "", {{"subnet", node::column_kind::key, ""},
                                               {"load", node::column_kind::fact, ""}},
                               {}};
    for (auto& x : n.subnets)
      subnets.rows.push_back({{node::scalar(policy::format_ipv4(x.prefix) + "/" + std::to_string(x.length)),
                               node::scalar(x.load)},
                              {}});
    lower.rows.push_back(
      {{node::scalar(n.name), node::scalar(n.level), node::scalar(policy::format_ipv4(n.tunnel_address)),
        node::scalar(std::chrono::duration_cast<std::chrono::milliseconds>(now - n.last).count())},
       {std::move(subnets)}});
  }
  s.tables.push_back(std::move(lower));
  node::counter_family chosen{"chosen", "new flows this SLR chose, by next hop",
                              net::counter_kind::counter, "next_hop", {}};
  for (auto& [hop, n] : st.chosen) chosen.values.emplace_back(policy::format_ipv4(hop), n);
  s.families.push_back(std::move(chosen));
  node::status_table routes{"routes", "subnet",
                            {{"subnet", node::column_kind::key, ""},
                             {"aggregate", node::column_kind::gauge, "M = G(...) reported upward"}},
                            {}};
  for (auto& r : st.routes) {
    node::status_table c{"candidates", "", {{"from", node::column_kind::fact, ""},
                                            {"next_hop", node::column_kind::key, ""},
                                            {"load", node::column_kind::fact, ""},
                                            {"route_cost", node::column_kind::fact, ""},
                                            {"cost", node::column_kind::fact, ""},
                                            {"weight", node::column_kind::fact, ""},
                                            {"expected_share", node::column_kind::fact, ""},
                                            {"load_since_ms", node::column_kind::fact, ""}},
                         {}};
    auto shares = expected_shares(r);
    for (std::size_t i = 0; i < r.candidates.size(); ++i) {
      auto& x = r.candidates[i];
      c.rows.push_back({{node::scalar(x.from), node::scalar(policy::format_ipv4(x.next_hop)),
                         node::scalar(x.load), node::scalar(x.route_cost), node::scalar(x.cost),
                         node::scalar(x.weight),
                         node::scalar(i < shares.size() ? shares[i] : 0.0),
                         node::scalar(steady_ms(x.load_since))},
                        {}});
    }
    routes.rows.push_back({{node::scalar(policy::to_string(r.net)), node::scalar(r.aggregate)},
                           {std::move(c)}});
  }
  s.tables.push_back(std::move(routes));
  s.group("data_path", st.stage().counters());
  s.group("data_path", slr_data_path_gauges{st.data_path_flows});
  auto ctl = st.ctl;
  ctl.flow_records = st.flows.size();
  s.group("control", ctl);
  return s;
}

/// How often an active SLR with a hot spare sends the changes of its flow records over.
constexpr std::chrono::milliseconds replication_interval{100};

void set_active(slr_pointer self, bool active, const std::string& why) {
  auto& st = self->state;
  if (active == st.active) return;
  st.active = active;
  st.stage().set_active(active);
  // Active with a spare: track the records' changes, starting from a checkpoint.
  st.flows.track_changes(active && st.cfg.hot_spare.has_value());
  st.checkpoint_due = active && st.cfg.hot_spare.has_value();
  st.events->add(severity::info, active ? "slr_active" : "slr_standby",
                 {{"reason", why}, {"flows", std::to_string(st.data_path_flows)}});
}

/// The spare takes the unit over: the replicated blobs (checkpoint first, then deltas) rebuild the
/// active SLR's records, which go into the data path and the SLR's own record; it becomes active
/// and replicates a checkpoint of its merged records.
void take_over(slr_pointer self, const std::vector<group::state_bytes>& blobs) {
  auto& st = self->state;
  const auto now = clock_type::now();
  flow_records copy(st.cfg.flow_capacity);
  for (const auto& b : blobs) {
    if (apply_records_blob(b, copy, now).ok) continue;
    ++st.ctl.import_errors;
    st.events->add(severity::error, "slr_takeover_state_malformed",
                   {{"bytes", std::to_string(b.size())}});
    break;  // what follows a bad portion cannot be applied in order
  }
  flow_entries entries;
  copy.for_each([&](const flow_record& r) {
    entries.emplace_back(r.key, r.next_hop, net::flow_origin::replicated);
    st.flows.record(r.key, r.next_hop, 0, r.origin, now);
  });
  install_all(self, std::move(entries), [self](std::size_t ok) { self->state.ctl.imported += ok; });
  ++st.ctl.takeovers;
  set_active(self, true, "took over with " + std::to_string(copy.size()) + " replicated flows");
  st.checkpoint_due = st.cfg.hot_spare.has_value();  // also when it was active already (a move given up)
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
    // Take-over: the active SLR's records as the group held them, a lone checkpoint as bytes or
    // the checkpoint and the deltas after it as portions, applied in order.
    [=](protocol::takeover_atom, group::unit_id, group::state_bytes& state) {
      std::vector<group::state_bytes> blobs;
      if (!state.empty()) blobs.push_back(std::move(state));
      take_over(self, blobs);
    },
    [=](protocol::takeover_atom, group::unit_id, std::vector<group::state_portion>& portions) {
      std::vector<group::state_bytes> blobs;
      for (auto& p : portions) blobs.push_back(std::move(p.data));
      take_over(self, blobs);
    },
    [=](group::checkpoint_atom, group::unit_id) { self->state.checkpoint_due = true; },
    [=](protocol::apply_atom) {
      // Send the records' changes to the hot spare: a checkpoint when one is due (or the records
      // were flushed), else the delta of the round, initial when it only adds records.
      auto& st = self->state;
      self->delayed_send(self, replication_interval, protocol::apply_atom::value);
      if (!st.group || !st.active || !st.flows.tracking()) return;
      auto changes = st.flows.take_changes();
      group::portion_kind kind;
      std::vector<std::uint8_t> bytes;
      if (st.checkpoint_due || changes.cleared) {
        st.checkpoint_due = false;
        kind = group::portion_kind::checkpoint;
        bytes = encode_records_checkpoint(st.flows);
      } else if (!changes.empty()) {
        kind = changes.removed.empty() ? group::portion_kind::initial
                                       : group::portion_kind::essential;
        bytes = encode_records_delta(changes);
      } else {
        return;
      }
      ++st.ctl.replications;
      st.ctl.replicated_bytes += bytes.size();
      self->send(st.group, protocol::replicate_atom::value, group::unit_id{0},
                 static_cast<std::uint8_t>(kind), std::move(bytes));
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
        ++st.ctl.states_stale;
        return;
      }
      ++st.ctl.states_received;
      n.sequence = s.sequence;
      n.subnets = s.subnets;
      n.last = clock_type::now();
      advertisement a;
      a.from = s.name;
      a.next_hop = s.tunnel_address ? s.tunnel_address : n.tunnel_address;
      for (auto& x : s.subnets) a.loads.push_back({subnet{x.prefix, x.length}, x.load});
      st.ctl.entries_ignored += st.table->update(a, clock_type::now());
    },
    [=](const protocol::tunnel_object& t) {
      // The shortcut from below: pin the flow to the host, pass it on upstream.
      auto& st = self->state;
      ++st.ctl.shortcuts_received;
      on_events(self);  // our own record of the flow may still wait in the ring
      auto key = to_key(t.flow);
      install_all(self, {{key, t.host, net::flow_origin::shortcut}});
      // A previous hop of 0 keeps the one our record has.
      auto& rec = remember(st, key, t.host, 0, net::flow_origin::shortcut);
      if (send_upstream(self, rec, t.host)) ++st.ctl.shortcuts_forwarded;
    },
    [=](const protocol::whohas& q) {
      auto& st = self->state;
      auto sender = caf::actor_cast<caf::actor>(self->current_sender());
      auto* r = st.flows.find(to_key(q.flow));
      if (!r || !sender) return;
      ++st.ctl.whohas_answered;
      self->send(sender, protocol::ihave{q.flow, r->next_hop, st.self_name});
    },
    [=](const protocol::ihave& a) {
      auto& st = self->state;
      auto key = to_key(a.flow);
      if (st.flows.find(key)) return;  // already recovered
      install_all(self, {{key, a.next_hop, net::flow_origin::recovered}});
      remember(st, key, a.next_hop, 0, net::flow_origin::recovered);
      ++st.ctl.ihave_installed;
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
    [=](protocol::units_atom) { return node::unit_flows{}; },
    [=](node::flows_atom, std::uint32_t limit) {
      // At most `limit` pinned flows, copied on the loop, named here.
      auto rp = self->make_response_promise();
      auto* stage = self->state.data_path;
      node::on_loop(
        self, *self->state.io,
        [stage, limit] {
          node::flow_list out;
          out.role = "slr";
          out.total = stage->flows();
          out.flows.reserve(std::min<std::size_t>(limit, stage->flows()));
          stage->list_flows(limit, [&](const net::flow_key& k, std::uint32_t hop, net::flow_origin o,
                                       net::flow_state state, std::uint32_t idle_ms) {
            node::flow_row r;
            r.key = k;
            r.to_addr = hop;
            r.origin = net::to_string(o);
            r.state = net::to_string(state);
            r.idle_ms = idle_ms;
            out.flows.push_back(std::move(r));
          });
          return out;
        },
        [rp](node::flow_list out) mutable { rp.deliver(std::move(out)); });
      return rp;
    },
    [=](protocol::reload_atom, const node::policy_ptr&) -> std::string {
      return "slr section: takes effect when batond restarts";
    },
    [=](protocol::get_atom) { return status(self); },
  };
}

}  // namespace

node::status_table links_table(const std::string& name, const std::vector<outbound_link>& v,
                               bool with_tunnel_address) {
  node::status_table t{name, "link", {{"name", node::column_kind::key, ""},
                                      {"address", node::column_kind::fact, ""},
                                      {"linked", node::column_kind::gauge, "1 while the link is up"}},
                       {}};
  if (with_tunnel_address) t.columns.push_back({"tunnel_address", node::column_kind::fact, ""});
  t.columns.push_back({"attempts", node::column_kind::counter, "times this link was dialled"});
  t.columns.push_back({"failures", node::column_kind::counter, "dials that failed"});
  for (auto& l : v) {
    node::status_row r{{node::scalar(l.name), node::scalar(policy::format_ipv4(l.address)),
                        node::scalar(static_cast<bool>(l.handle))},
                       {}};
    if (with_tunnel_address) r.cells.push_back(node::scalar(policy::format_ipv4(l.tunnel_address)));
    r.cells.push_back(node::scalar(l.attempts));
    r.cells.push_back(node::scalar(l.failures));
    t.rows.push_back(std::move(r));
  }
  return t;
}

caf::actor spawn_slr_actor(caf::actor_system& sys, std::shared_ptr<node::io_runtime> io,
                           node::event_log& events, const policy::policy& p) {
  // The policy defaults slr.tunnel_address to the identity's address.
  return sys.spawn(slr_impl, std::move(io), &events, *p.slr, p.identity.name);
}

}  // namespace baton::slr
