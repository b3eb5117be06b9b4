// Document 002's role actors. See replica_actor.hpp.

#include "actors/replica/replica_actor.hpp"

#include <caf/all.hpp>

#include <map>
#include <stdexcept>
#include <string>

#include "actors/protocol/atoms.hpp"
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

struct replica_role_state {
  static inline const char* name = "replicas";
  std::shared_ptr<node::io_runtime> io;
  node::event_log* events = nullptr;
  role_kind kind = role_kind::client_gateway;
  policy::replica_section section;
  std::uint32_t self = 0;
  net::client_gateway_stage* cgw = nullptr;
  net::server_gateway_stage* sgw = nullptr;
  net::replica_stage* rep = nullptr;
};

using replica_actor_type = caf::stateful_actor<replica_role_state>;

std::string addr(std::uint32_t a) { return policy::format_ipv4(a); }

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
      node::status_table t{"replicas", "replica",
                           {{"replica", column_kind::key, ""},
                            {"name", column_kind::fact, ""},
                            {"server", column_kind::fact, ""},
                            {"state", column_kind::fact, ""}},
                           {}};
      for (const auto& srv : st.section.servers)
        for (const auto& r : srv.replicas)
          t.rows.push_back({{scalar(addr(r.address)), scalar(r.name), scalar(addr(srv.address)),
                             scalar(policy::to_string(r.state))},
                            {}});
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
      break;
    }
  }
  return s;
}

caf::behavior replica_impl(replica_actor_type* self, std::shared_ptr<node::io_runtime> io,
                           node::event_log* events, policy::policy p, role_kind kind) {
  auto& st = self->state;
  st.io = std::move(io);
  st.events = events;
  st.kind = kind;
  st.section = *p.replica;
  st.self = p.identity.address;
  st.cgw = st.io->stage<net::client_gateway_stage>();
  st.sgw = st.io->stage<net::server_gateway_stage>();
  st.rep = st.io->stage<net::replica_stage>();
  st.events->add(node::severity::info, "replica_role_started",
                 {{"role", kind == role_kind::client_gateway   ? "client_gateway"
                           : kind == role_kind::server_gateway ? "server_gateway"
                                                               : "replica"},
                  {"configuration", policy::to_string(st.section.configuration)}});
  return {
    [=](node::loop_atom, node::loop_reply& k) { k(); },
    [=](protocol::get_atom) { return status(self->state); },
    [=](node::flows_atom, std::uint32_t limit) {
      auto rp = self->make_response_promise<node::flow_list>();
      auto* stage = self->state.cgw;
      if (self->state.kind != role_kind::client_gateway || !stage) {
        rp.deliver(node::flow_list{"replicas", {}, 0});
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
          node::flow_list out{"replicas", {}, l.total};
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
      switch (st.kind) {
        case role_kind::server_gateway:
          st.sgw->publish(server_gateway_table_of(*next));
          return "replica section: fan-out table replaced (replica states, client gateways, rules)";
        case role_kind::replica:
          st.rep->set_health(health_of(st.section.state));
          return std::string("replica section: state ") + policy::to_string(st.section.state);
        case role_kind::client_gateway: break;
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
