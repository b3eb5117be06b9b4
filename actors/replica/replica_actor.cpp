// Document 002's role actors. See replica_actor.hpp.

#include "actors/replica/replica_actor.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <stdexcept>
#include <string>

#include "actors/protocol/atoms.hpp"
#include "actors/protocol/replica.hpp"
#include "actors/runtime/tls_dial.hpp"
#include "actors/replica/tables.hpp"
#include "actors/runtime/event_log.hpp"
#include "actors/runtime/io_runtime.hpp"
#include "actors/runtime/loop_reply.hpp"
#include "actors/runtime/on_loop.hpp"
#include "actors/runtime/policy_ptr.hpp"
#include "actors/runtime/status_message.hpp"
#include "net/replica/client_gateway_stage.hpp"
#include "net/replica/replica_stage.hpp"
#include "net/replica/server_gateway_stage.hpp"
#include "policy/rules.hpp"

namespace baton::replica {
namespace {

using node::column_kind;
using node::scalar;

using steady = std::chrono::steady_clock;

/// The reports' counters, declared once (net/io/counter_list.hpp): the replica's, the server
/// gateway's (both under "reports" in the status, apart in name so a node playing both lists both).
#define BATON_REPLICA_REPORT_COUNTERS(COUNTER, GAUGE)                                          \
  COUNTER(reports_sent, "replica: reports sent to server gateways")                            \
  COUNTER(dial_failures, "replica: dials to a server gateway that failed")
BATON_COUNTER_STRUCT(replica_report_counters, BATON_REPLICA_REPORT_COUNTERS)
#define BATON_GATEWAY_REPORT_COUNTERS(COUNTER, GAUGE)                                          \
  COUNTER(reports_received, "server gateway: reports accepted")                                \
  COUNTER(reports_refused, "server gateway: reports naming a replica it does not list")        \
  COUNTER(reports_stale, "server gateway: reports older than one already seen")                \
  COUNTER(dead_by_silence, "server gateway: replicas marked dead for falling silent")          \
  COUNTER(dead_by_link, "server gateway: replicas marked dead when their link went down")      \
  COUNTER(table_publishes, "server gateway: fan-out tables published after a state change")
BATON_COUNTER_STRUCT(gateway_report_counters, BATON_GATEWAY_REPORT_COUNTERS)

/// A server gateway's own message: the deadline of a replica's report `received` (its count of
/// accepted reports) has passed; when no report came since, the replica is dead by silence.
using deadline_atom = caf::atom_constant<caf::atom("rdeadline")>;

/// What a server gateway knows from one replica's reports.
struct reported_replica {
  bool reported = false;
  steady::time_point last_seen;
  std::string state = "active";
  std::uint64_t connections = 0;
  std::uint64_t sequence = 0;
  std::uint64_t received = 0;         // reports accepted: names the deadline armed by the last
  std::uint64_t gap_ms_max = 0;       // the longest time between two reports seen
  caf::actor_addr source;
  bool link_down = false;
};

/// A replica's link to one server gateway.
struct report_link {
  policy::replica_gateway_link to;
  caf::actor handle;
  bool dialing = false;
};

struct replica_role_state {
  static inline const char* name = "replicas";
  std::shared_ptr<node::io_runtime> io;
  node::event_log* events = nullptr;
  role_kind kind = role_kind::client_gateway;
  policy::policy policy;
  policy::replica_section section;
  std::string self_name;
  std::map<std::uint32_t, reported_replica> reports;             // server gateway
  std::map<std::uint32_t, net::replica_health> published;        // server gateway: the overrides
  std::vector<report_link> links;                                // replica
  std::uint64_t sequence = 0;                                    // replica
  replica_report_counters rc;                                    // replica
  gateway_report_counters gc;                                    // server gateway
  std::uint32_t self = 0;
  net::client_gateway_stage* cgw = nullptr;
  net::server_gateway_stage* sgw = nullptr;
  net::replica_stage* rep = nullptr;
};

using replica_actor_type = caf::stateful_actor<replica_role_state>;

std::string addr(std::uint32_t a) { return policy::format_ipv4(a); }

}  // namespace

const char* actor_name(role_kind kind) noexcept {
  switch (kind) {
    case role_kind::client_gateway: return "client_gateway";
    case role_kind::server_gateway: return "server_gateway";
    case role_kind::replica: return "replica";
  }
  return "replica";
}

namespace {

/// The name the policy gives an address (a replica's name, "origin" for a server), or "".
std::string name_of(const policy::replica_section& s, std::uint32_t server, std::uint32_t a) {
  if (a == server) return "origin";
  for (const auto& srv : s.servers)
    for (const auto& r : srv.replicas)
      if (r.address == a) return r.name;
  return "replica";
}

node::role_status status(const replica_role_state& st) {
  node::role_status s;
  s.fact("configuration", scalar(policy::to_string(st.section.configuration)))
    .fact("address", scalar(addr(st.self)));
  switch (st.kind) {
    case role_kind::client_gateway: {
      s.fact("role", scalar("client_gateway"));
      s.group("client_gateway", st.cgw->counters());
      s.group("translation", st.cgw->table_counters());
      // Per server: who answered, how often first, how often late (reset), the RTT seen.
      node::status_table t{"answers", "answerer",
                           {{"answerer", column_kind::key, ""},
                            {"server", column_kind::fact, ""},
                            {"name", column_kind::fact, ""},
                            {"wins", column_kind::counter, "connections this answerer answered first"},
                            {"resets", column_kind::counter, "late answers reset by the client gateway"},
                            {"rtt_ms_last", column_kind::gauge, "SYN to SYN-ACK, last answer (ms)"},
                            {"rtt_ms_min", column_kind::gauge, "SYN to SYN-ACK, smallest (ms)"},
                            {"rtt_ms_mean", column_kind::gauge, "SYN to SYN-ACK, mean (ms)"}},
                           {}};
      for (const auto& a : st.cgw->scoreboard().snapshot()) {
        const std::uint64_t n = a.wins + a.losses;
        t.rows.push_back({{scalar(addr(a.answerer)), scalar(addr(a.server)),
                           scalar(name_of(st.section, a.server, a.answerer)), scalar(a.wins),
                           scalar(a.losses), scalar(a.rtt_us_last / 1000.0), scalar(a.rtt_us_min / 1000.0),
                           scalar(n ? static_cast<double>(a.rtt_us_sum) / n / 1000.0 : 0.0)},
                          {}});
      }
      s.tables.push_back(std::move(t));
      break;
    }
    case role_kind::server_gateway: {
      s.fact("role", scalar("server_gateway")).fact("max_fanout", scalar(st.section.max_fanout));
      s.group("server_gateway", st.sgw->counters());
      s.group("reports", st.gc);
      node::status_table t{"replicas", "replica",
                           {{"replica", column_kind::key, ""},
                            {"name", column_kind::fact, ""},
                            {"server", column_kind::fact, ""},
                            {"policy_state", column_kind::fact, ""},
                            {"state", column_kind::fact, ""},
                            {"reported", column_kind::fact, ""},
                            {"last_report_ms", column_kind::fact, ""},
                            {"report_gap_ms_max", column_kind::gauge, "longest time between two reports (ms)"},
                            {"connections", column_kind::gauge, "connections the replica last reported"}},
                           {}};
      const auto now = steady::now();
      for (const auto& srv : st.section.servers)
        for (const auto& r : srv.replicas) {
          net::replica_health h = health_of(r.state);
          if (auto it = st.published.find(r.address); it != st.published.end() && h == net::replica_health::active)
            h = it->second;
          const auto rep = st.reports.find(r.address);
          const bool seen = rep != st.reports.end() && rep->second.reported;
          t.rows.push_back(
            {{scalar(addr(r.address)), scalar(r.name), scalar(addr(srv.address)),
              scalar(policy::to_string(r.state)), scalar(net::to_string(h)), scalar(seen ? rep->second.state : "never"),
              scalar(seen ? static_cast<std::int64_t>(
                              std::chrono::duration_cast<std::chrono::milliseconds>(now - rep->second.last_seen).count())
                          : std::int64_t{-1}),
              scalar(seen ? rep->second.gap_ms_max : std::uint64_t{0}),
              scalar(seen ? rep->second.connections : std::uint64_t{0})},
             {}});
        }
      s.tables.push_back(std::move(t));
      break;
    }
    case role_kind::replica: {
      s.fact("role", scalar("replica")).fact("state", scalar(net::to_string(st.rep->health())));
      std::string servers;
      for (const auto& srv : st.section.servers) servers += (servers.empty() ? "" : " ") + addr(srv.address);
      s.fact("servers", scalar(servers));
      s.group("replica", st.rep->counters());
      s.group("connections", st.rep->table_counters());
      s.group("reports", st.rc);
      node::status_table t{"server_gateways", "gateway",
                           {{"gateway", column_kind::key, ""}, {"linked", column_kind::fact, ""}}, {}};
      for (const auto& l : st.links)
        t.rows.push_back({{scalar(addr(l.to.address) + ":" + std::to_string(l.to.port)), scalar(bool(l.handle))}, {}});
      s.tables.push_back(std::move(t));
      break;
    }
  }
  return s;
}

net::replica_health health_named(const std::string& s) {
  if (s == "busy") return net::replica_health::busy;
  if (s == "dead") return net::replica_health::dead;
  return net::replica_health::active;
}

/// Server gateway: recomputes each reporting replica's state (its report, or dead when its link
/// went down or it fell silent) and publishes a new fan-out table when any changed.
void recompute(replica_actor_type* self) {
  auto& st = self->state;
  std::map<std::uint32_t, net::replica_health> next;
  const auto now = steady::now();
  for (auto& [address, r] : st.reports) {
    if (!r.reported) continue;
    net::replica_health h = health_named(r.state);
    if (r.link_down) h = net::replica_health::dead;
    if (now - r.last_seen >= std::chrono::milliseconds(st.section.dead_after_ms)) {
      if (h != net::replica_health::dead && st.published[address] != net::replica_health::dead)
        ++st.gc.dead_by_silence;
      h = net::replica_health::dead;
    }
    next[address] = h;
  }
  if (next == st.published) return;
  for (auto& [address, h] : next) {
    auto old = st.published.find(address);
    if (old == st.published.end() || old->second != h) {
      const auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(now - st.reports[address].last_seen);
      st.events->add(node::severity::info, "replica_state",
                     {{"replica", addr(address)}, {"state", net::to_string(h)},
                      {"silent_ms", std::to_string(silent.count())}});
    }
  }
  st.published = next;
  st.sgw->publish(server_gateway_table_of(st.policy, st.published));
  ++st.gc.table_publishes;
}

/// Replica: dials every server gateway it is not linked to, reports to those it is.
void report(replica_actor_type* self) {
  auto& st = self->state;
  protocol::replica_report r;
  r.name = st.self_name;
  r.address = st.policy.identity.address;
  r.connections = st.rep->table_counters().entries;
  net::replica_health h = st.rep->health();
  if (h == net::replica_health::active && st.section.busy_above != 0 && r.connections > st.section.busy_above)
    h = net::replica_health::busy;
  r.state = net::to_string(h);
  r.sequence = ++st.sequence;
  for (std::size_t i = 0; i < st.links.size(); ++i) {
    auto& l = st.links[i];
    if (l.handle) {
      self->send(l.handle, r);
      ++st.rc.reports_sent;
      continue;
    }
    if (l.dialing) continue;
    l.dialing = true;
    node::dial_tls(
      self, l.to.address, l.to.port, {},
      [self, i](caf::strong_actor_ptr ptr) {
        auto& l = self->state.links[i];
        l.dialing = false;
        l.handle = caf::actor_cast<caf::actor>(ptr);
        self->monitor(l.handle);
        self->state.events->add(node::severity::info, "replica_report_link_up",
                                {{"server_gateway", addr(l.to.address)}});
      },
      [self, i](std::string reason, bool) {
        auto& l = self->state.links[i];
        l.dialing = false;
        ++self->state.rc.dial_failures;
        self->state.events->add(node::severity::warning, "replica_report_dial_failed",
                                {{"server_gateway", addr(l.to.address)}, {"reason", reason}});
      });
  }
}

caf::behavior replica_impl(replica_actor_type* self, std::shared_ptr<node::io_runtime> io,
                           node::event_log* events, policy::policy p, role_kind kind) {
  auto& st = self->state;
  st.io = std::move(io);
  st.events = events;
  st.kind = kind;
  st.section = *p.replica;
  st.policy = p;
  st.self_name = p.identity.name;
  st.self = p.identity.address;
  for (const auto& g : st.section.server_gateways) st.links.push_back({g, {}, false});
  if (kind == role_kind::server_gateway)
    for (const auto& srv : st.section.servers)
      for (const auto& r : srv.replicas) st.reports[r.address];
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    for (auto& l : st.links)
      if (l.handle && l.handle.address() == dm.source) l.handle = nullptr;
    for (auto& [address, r] : st.reports)
      if (r.source && r.source == dm.source) {
        r.link_down = true;
        ++st.gc.dead_by_link;
      }
    if (st.kind == role_kind::server_gateway) recompute(self);
  });
  if (kind != role_kind::client_gateway) self->send(self, protocol::tick_atom::value);
  st.cgw = st.io->stage<net::client_gateway_stage>();
  st.sgw = st.io->stage<net::server_gateway_stage>();
  st.rep = st.io->stage<net::replica_stage>();
  st.events->add(node::severity::info, "replica_role_started",
                 {{"role", actor_name(kind)},
                  {"configuration", policy::to_string(st.section.configuration)}});
  return {
    [=](node::loop_atom, node::loop_reply& k) { k(); },
    [=](protocol::tick_atom) {
      auto& st = self->state;
      if (st.kind == role_kind::server_gateway) recompute(self);  // deadlines do it sooner
      if (st.kind == role_kind::replica) report(self);
      self->delayed_send(self, std::chrono::milliseconds(st.section.report_interval_ms),
                         protocol::tick_atom::value);
    },
    [=](const protocol::replica_report& r) {
      auto& st = self->state;
      if (st.kind != role_kind::server_gateway) return;
      auto it = st.reports.find(r.address);
      const std::string listed = it == st.reports.end() ? "" : name_of(st.section, 0, r.address);
      if (it == st.reports.end() || listed != r.name) {
        ++st.gc.reports_refused;
        st.events->add(node::severity::warning, "replica_report_refused",
                       {{"name", r.name}, {"address", addr(r.address)}});
        return;
      }
      auto& rep = it->second;
      auto sender = caf::actor_cast<caf::actor>(self->current_sender());
      const bool new_link = sender && sender.address() != rep.source;  // a restarted replica
      if (rep.reported && r.sequence <= rep.sequence && !rep.link_down && !new_link) {
        ++st.gc.reports_stale;
        return;
      }
      if (new_link) {
        rep.source = sender.address();
        self->monitor(sender);
      }
      const auto now = steady::now();
      if (rep.reported)
        rep.gap_ms_max = std::max<std::uint64_t>(
          rep.gap_ms_max, std::chrono::duration_cast<std::chrono::milliseconds>(now - rep.last_seen).count());
      rep.reported = true;
      rep.link_down = false;
      rep.last_seen = now;
      rep.state = r.state;
      rep.connections = r.connections;
      rep.sequence = r.sequence;
      ++rep.received;
      ++st.gc.reports_received;
      recompute(self);
      // The next report is due within one interval: dead_after_ms from now without one, the
      // replica is dead (not only at the next tick).
      self->delayed_send(self, std::chrono::milliseconds(st.section.dead_after_ms), deadline_atom::value,
                         r.address, rep.received);
    },
    [=](deadline_atom, std::uint32_t address, std::uint64_t received) {
      auto& st = self->state;
      auto it = st.reports.find(address);
      if (it != st.reports.end() && it->second.received == received) recompute(self);
    },
    [=](protocol::get_atom) { return status(self->state); },
    [=](node::flows_atom, std::uint32_t limit) {
      auto rp = self->make_response_promise<node::flow_list>();
      auto* stage = self->state.cgw;
      if (self->state.kind != role_kind::client_gateway || !stage) {
        rp.deliver(node::flow_list{actor_name(self->state.kind), {}, 0});
        return rp;
      }
      struct listed {
        std::vector<net::translation_entry> entries;
        std::uint32_t now = 0;
        std::size_t total = 0;
      };
      node::on_loop(
        self, *self->state.io,
        [stage, limit] {
          listed l;
          stage->list_entries(limit, [&](const net::translation_entry& e) { l.entries.push_back(e); });
          l.now = stage->now_ms();
          l.total = stage->table_counters().entries;
          return l;
        },
        [rp, self](listed l) mutable {
          node::flow_list out{actor_name(self->state.kind), {}, l.total};
          for (const auto& e : l.entries) {
            node::flow_row r;
            r.key.src_addr = e.key.client;
            r.key.src_port = e.key.client_port;
            r.key.dst_addr = e.server;
            r.key.dst_port = e.key.server_port;
            r.key.protocol = 6;
            r.to_addr = e.winner;
            r.to_port = e.key.server_port;
            r.state = net::to_string(e.state);
            r.origin = name_of(self->state.section, e.server, e.winner);
            r.age_ms = static_cast<std::int64_t>(l.now - e.created_ms);
            r.idle_ms = static_cast<std::int64_t>(l.now - e.last_seen_ms);
            out.flows.push_back(std::move(r));
          }
          rp.deliver(std::move(out));
        });
      return rp;
    },
    [=](protocol::reload_atom, const node::policy_ptr& next) -> std::string {
      auto& st = self->state;
      if (!next || !next->replica) return "replica section: removed; takes effect when batond restarts";
      st.section = *next->replica;
      const bool pass = st.section.bad_options == policy::replica_bad_options::pass;
      const std::string bad_options = std::string("bad TCP options: ") + policy::to_string(st.section.bad_options);
      switch (st.kind) {
        case role_kind::server_gateway:
          st.policy = *next;
          st.sgw->set_pass_bad_options(pass);
          st.sgw->publish(server_gateway_table_of(*next, st.published));
          return "replica section: fan-out table replaced (replica states, client gateways, rules, timers); " +
                 bad_options;
        case role_kind::replica:
          st.rep->set_health(health_of(st.section.state));
          return std::string("replica section: state ") + policy::to_string(st.section.state);
        case role_kind::client_gateway:
          st.cgw->set_pass_bad_options(pass);
          return "replica section: " + bad_options + "; the rest takes effect when batond restarts";
      }
      return "replica section: takes effect when batond restarts";
    },
  };
}

}  // namespace

caf::actor spawn_replica_actor(caf::actor_system& sys, std::shared_ptr<node::io_runtime> io,
                               node::event_log& events, const policy::policy& p, role_kind kind) {
  const bool ok = kind == role_kind::client_gateway   ? io->stage<net::client_gateway_stage>() != nullptr
                  : kind == role_kind::server_gateway ? io->stage<net::server_gateway_stage>() != nullptr
                                                      : io->stage<net::replica_stage>() != nullptr;
  if (!ok) throw std::runtime_error("replica: the role's stage is not on the data path");
  return sys.spawn(replica_impl, std::move(io), &events, p, kind);
}

}  // namespace baton::replica
