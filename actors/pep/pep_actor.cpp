// The PEP endpoint's actor. See pep_actor.hpp.

#include "actors/pep/pep_actor.hpp"

#include <caf/all.hpp>

#include <memory>
#include <string>

#include "actors/group/group_actor.hpp"
#include "actors/group/group_view.hpp"
#include "actors/pep/engine.hpp"
#include "actors/protocol/atoms.hpp"
#include "actors/runtime/event_log.hpp"
#include "actors/runtime/loop_reply.hpp"
#include "actors/runtime/on_loop.hpp"
#include "actors/runtime/policy_ptr.hpp"
#include "actors/runtime/status_message.hpp"
#include "policy/rules.hpp"

namespace baton::pep {
namespace {

using node::column_kind;
using node::scalar;

struct pep_state {
  static inline const char* name = "pep";
  std::shared_ptr<engine> eng;
  node::event_log* events = nullptr;
  // A hub group member (pep.group): the group's view and the units it gave this member.
  group::group_view view;
  std::vector<std::uint8_t> owned;
};
using pep_actor_type = caf::stateful_actor<pep_state>;

/// Runs `work(engine&)` on the engine's thread and `then(result)` in the actor.
template <class Work, class Then>
void on_engine(pep_actor_type* self, Work work, Then then) {
  auto eng = self->state.eng;
  node::on_loop(self, *eng, [eng, work] { return work(*eng); }, std::move(then));
}

node::counter_family family(std::string name, std::string help,
                            const std::vector<std::pair<std::string, std::uint64_t>>& values) {
  node::counter_family f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.label = "reason";
  f.values = values;
  return f;
}

/// Bytes as sent over bytes before compression (1.0: nothing saved); "-" before any byte.
node::status_scalar ratio(std::uint64_t out, std::uint64_t in) {
  if (in == 0) return scalar("-");
  return scalar(static_cast<double>(out) / static_cast<double>(in));
}

node::role_status status_of(const pep_snapshot& s) {
  node::role_status st;
  st.fact("connections", scalar(s.connections_total));
  st.fact("group", scalar(s.group ? "member" : "off"));
  st.fact("compression_ratio", ratio(s.counters.compress_bytes_out, s.counters.compress_bytes_in));
  st.group("pep", s.counters);
  st.group("syn_queue", s.queue);
  st.families.push_back(family("ct_sent", "CT messages sent, by reason (document 003 Table C)", s.ct_sent));
  st.families.push_back(family("ct_received", "CT messages received, by reason", s.ct_received));
  st.families.push_back(family("nr_sent", "NR messages sent, by reason", s.nr_sent));
  st.families.push_back(family("nr_received", "NR messages received, by reason", s.nr_received));
  node::status_table b{"backbones", "peer",
                       {{"peer", column_kind::key, ""},
                        {"path", column_kind::fact, "the peer's WAN path it runs on (document 003's PSK)"},
                        {"address", column_kind::fact, ""},
                        {"state", column_kind::fact, ""},
                        {"dialled", column_kind::fact, ""},
                        {"top", column_kind::fact, "carries the top priority only (pep.top_backbone)"},
                        {"congestion", column_kind::fact, ""},
                        {"tls", column_kind::fact, ""},
                        {"rtt_ms", column_kind::gauge, "backbone TCP smoothed RTT (ms)"},
                        {"min_rtt_ms", column_kind::gauge, "backbone TCP minimum RTT (ms): rtt_ms minus it is path queueing"},
                        {"keepalive_rtt_ms", column_kind::gauge, "keepalive round trip, queueing included (ms)"},
                        {"delivery_rate_bps", column_kind::gauge, "backbone delivery rate (bit/s, kernel estimate)"},
                        {"retransmissions", column_kind::counter, "backbone TCP segments retransmitted"},
                        {"bytes_in", column_kind::counter, "backbone bytes received (TLS payload)"},
                        {"bytes_out", column_kind::counter, "backbone bytes sent (TLS payload)"},
                        {"wire_bytes_in", column_kind::counter, "backbone TCP payload received (TLS records)"},
                        {"wire_bytes_out", column_kind::counter, "backbone TCP payload sent, retransmissions included (TLS records)"},
                        {"messages_in", column_kind::counter, "TSK messages received on the backbone"},
                        {"messages_out", column_kind::counter, "TSK messages sent on the backbone"},
                        {"queued", column_kind::gauge, "bytes waiting in user space for the backbone"},
                        {"unsent_limit", column_kind::gauge, "bytes the backbone socket may hold unsent (TCP_NOTSENT_LOWAT)"},
                        {"unsent", column_kind::gauge, "bytes in the backbone socket not yet sent"},
                        {"pacing_limit_bps", column_kind::gauge, "backbone paced at most at this (bit/s; from the path's rate_mbit; 0: no cap)"},
                        {"pacing_rate_bps", column_kind::gauge, "backbone pacing rate now (bit/s, kernel)"},
                        {"unsent_boost", column_kind::gauge, "the unsent bound is unsent_ms times this (doubled by dry spells)"},
                        {"unsent_dry", column_kind::counter, "times the socket ran dry while data waited in user space"},
                        {"connections", column_kind::gauge, "spoofed connections on the backbone"},
                        {"peer_max_ccbs", column_kind::gauge, "spoofed connections the peer accepts (its TPP)"},
                        {"moved_in", column_kind::counter, "connections moved onto it (RS) since it came up"},
                        {"moved_out", column_kind::counter, "connections moved off it since it came up"}},
                       {}};
  for (const auto& x : s.backbones) {
    // Document 003's PK: each priority's queue on this backbone (JSON: row["priorities"]).
    node::status_table prio{"priorities", "priority",
                            {{"priority", column_kind::key, "0..3, 3 the top (strict)"},
                             {"weight", column_kind::fact, "share weight below the top; 0: strict"},
                             {"queued_bytes", column_kind::gauge, "bytes waiting in this priority's queue"},
                             {"queued_messages", column_kind::gauge, "TSK messages waiting in this priority's queue"},
                             {"sent_bytes", column_kind::counter, "bytes of this priority written to the backbone"},
                             {"sent_messages", column_kind::counter, "TSK messages of this priority written"},
                             {"share", column_kind::gauge, "this priority's part of the bytes written"}},
                            {}};
    for (const auto& p : x.priorities)
      prio.rows.push_back({{scalar(unsigned{p.priority}), scalar(std::uint64_t{p.weight}), scalar(p.queued_bytes),
                            scalar(p.queued_messages), scalar(p.sent_bytes), scalar(p.sent_messages), scalar(p.share)},
                           {}});
    b.rows.push_back({{scalar(x.peer), scalar(x.path), scalar(x.address), scalar(x.state), scalar(x.dialled), scalar(x.top),
                       scalar(x.congestion),
                       scalar(x.tls), scalar(x.tcp_rtt_ms), scalar(x.tcp_min_rtt_ms), scalar(x.keepalive_rtt_ms),
                       scalar(x.delivery_rate_bps), scalar(x.retransmissions), scalar(x.bytes_in), scalar(x.bytes_out),
                       scalar(x.wire_bytes_in), scalar(x.wire_bytes_out), scalar(x.messages_in), scalar(x.messages_out),
                       scalar(x.queued), scalar(std::uint64_t{x.unsent_limit}), scalar(std::uint64_t{x.unsent}),
                       scalar(x.pacing_limit_bps), scalar(x.pacing_rate_bps),
                       scalar(std::uint64_t{x.unsent_boost}), scalar(x.unsent_dry), scalar(std::uint64_t{x.connections}), scalar(std::uint64_t{x.peer_max_ccbs}),
                       scalar(x.moved_in), scalar(x.moved_out)},
                      {std::move(prio)}});
  }
  st.tables.push_back(std::move(b));
  // Document 003's PSK: each listed WAN path per peer and its state.
  node::status_table paths{"paths", "",
                           {{"peer", column_kind::fact, ""},
                            {"path", column_kind::fact, ""},
                            {"local", column_kind::fact, ""},
                            {"address", column_kind::fact, ""},
                            {"rate_mbit", column_kind::fact, ""},
                            {"cost", column_kind::fact, ""},
                            {"state", column_kind::fact, "up: a backbone on the path is up"},
                            {"preferred", column_kind::fact, "the cheapest path up: new connections without a preference"},
                            {"rtt_ms", column_kind::gauge, "the smallest kernel smoothed RTT of its backbones (ms)"},
                            {"backbones_up", column_kind::gauge, ""},
                            {"connections", column_kind::gauge, "spoofed connections on the path"},
                            {"bytes_in", column_kind::counter, ""},
                            {"bytes_out", column_kind::counter, ""},
                            {"moved_in", column_kind::counter, "connections moved onto the path"},
                            {"moved_out", column_kind::counter, "connections moved off the path"}},
                           {}};
  for (const auto& x : s.paths)
    paths.rows.push_back({{scalar(x.peer), scalar(x.path), scalar(x.local), scalar(x.address),
                           scalar(std::uint64_t{x.rate_mbit}), scalar(std::uint64_t{x.cost}), scalar(x.up ? "up" : "down"),
                           scalar(x.preferred), scalar(x.rtt_ms), scalar(std::uint64_t{x.backbones_up}),
                           scalar(std::uint64_t{x.connections}), scalar(x.bytes_in), scalar(x.bytes_out),
                           scalar(x.moved_in), scalar(x.moved_out)},
                          {}});
  st.tables.push_back(std::move(paths));
  node::status_table c{"spoofed", "",
                       {{"cid", column_kind::fact, ""},
                        {"peer_cid", column_kind::fact, ""},
                        {"host", column_kind::fact, ""},
                        {"remote", column_kind::fact, ""},
                        {"peer", column_kind::fact, ""},
                        {"profile", column_kind::fact, ""},
                        {"state", column_kind::fact, ""},
                        {"initiator", column_kind::fact, ""},
                        {"three_way_spoofed", column_kind::fact, ""},
                        {"mss", column_kind::fact, ""},
                        {"bytes_from_host", column_kind::fact, ""},
                        {"bytes_to_host", column_kind::fact, ""},
                        {"queued_to_host", column_kind::fact, ""},
                        {"send_window", column_kind::fact, ""},
                        {"compress", column_kind::fact, ""},
                        {"compression_ratio", column_kind::fact, ""},
                        {"path", column_kind::fact, ""},
                        {"movable", column_kind::fact, "keeps its sent data until acknowledged: may move to another path"},
                        {"kept", column_kind::fact, "bytes kept for sending again"},
                        {"moves", column_kind::fact, ""}},
                       {}};
  for (const auto& x : s.connections)
    c.rows.push_back({{scalar(unsigned{x.cid}), scalar(unsigned{x.peer_cid}), scalar(policy::format_endpoint(x.host_ip, x.host_port)),
                       scalar(policy::format_endpoint(x.remote_ip, x.remote_port)),
                       scalar(x.peer), scalar(x.profile), scalar(x.state), scalar(x.initiator),
                       scalar(x.three_way_spoofed), scalar(unsigned{x.mss}), scalar(x.bytes_from_host),
                       scalar(x.bytes_to_host), scalar(x.queued_to_host), scalar(x.send_window),
                       scalar(!x.compress ? "off" : x.compress_paused ? "paused" : "on"),
                       x.compress ? ratio(x.compress_out, x.compress_in) : scalar("-"), scalar(x.path),
                       scalar(x.movable), scalar(x.kept), scalar(std::uint64_t{x.moves})},
                      {}});
  st.tables.push_back(std::move(c));
  if (s.group) {
    // A hub PEP group member: which member serves each branch peer seen here, by work unit.
    st.fact("group_self", scalar(s.group_self));
    st.fact("group_master", scalar(s.group_master));
    st.fact("units_owned", scalar(std::uint64_t{s.units_owned}));
    node::status_table g{"group_branches", "branch",
                         {{"branch", column_kind::key, "the branch peer (its certificate's CN, or its /pep/peers name)"},
                          {"unit", column_kind::fact, "its work unit: FNV-1a of the name modulo the group's units"},
                          {"owner", column_kind::fact, "the member that owns the unit (serves the branch)"},
                          {"here", column_kind::fact, "this member owns the unit"},
                          {"backbone", column_kind::fact, "up: the branch's backbone is served here"},
                          {"accepted", column_kind::counter, "its backbones accepted here"},
                          {"refused", column_kind::counter, "its backbones refused here (NR not_owner)"},
                          {"dropped", column_kind::counter, "its backbones closed here when the unit left"}},
                         {}};
    for (const auto& x : s.group_branches)
      g.rows.push_back({{scalar(x.branch), scalar(std::uint64_t{x.unit}), scalar(x.owner), scalar(x.here),
                         scalar(x.backbone), scalar(x.accepted), scalar(x.refused), scalar(x.dropped)},
                        {}});
    st.tables.push_back(std::move(g));
  }
  return st;
}

node::flow_list flows_of(const pep_snapshot& s) {
  node::flow_list out{"pep", {}, s.connections_total};
  for (const auto& x : s.connections) {
    node::flow_row r;
    r.key.src_addr = x.host_ip;
    r.key.src_port = x.host_port;
    r.key.dst_addr = x.remote_ip;
    r.key.dst_port = x.remote_port;
    r.key.protocol = 6;
    r.state = x.state;
    r.origin = x.initiator ? "spoofed (our host started it)" : "spoofed (peer's CR)";
    out.flows.push_back(std::move(r));
  }
  return out;
}

/// Tells the engine the group's state (pep.group): the view's owners, the units it owns here.
void push_group(pep_actor_type* self) {
  const auto& v = self->state.view;
  group_state g;
  g.self = v.self;
  g.master = v.master;
  g.owners = v.owners;
  g.owned = self->state.owned;
  if (g.owned.size() < g.owners.size()) g.owned.resize(g.owners.size(), 0);
  self->state.eng->post([eng = self->state.eng, g = std::move(g)]() mutable { eng->set_group(std::move(g)); });
}

void set_owned(pep_actor_type* self, group::unit_id u, bool on) {
  auto& owned = self->state.owned;
  if (u >= 1u << 20) return;  // not a unit of any group (work units are at most 2^16)
  if (u >= owned.size()) owned.resize(u + 1, 0);
  owned[u] = on ? 1 : 0;
  push_group(self);
}

caf::behavior pep_impl(pep_actor_type* self, std::shared_ptr<engine> eng, node::event_log* events) {
  self->state.eng = std::move(eng);
  self->state.events = events;
  self->attach_functor([eng = self->state.eng] { eng->stop(); });
  return {
    [=](node::loop_atom, node::loop_reply& k) { k(); },
    [=](protocol::get_atom) {
      auto rp = self->make_response_promise<node::role_status>();
      on_engine(self, [](engine& e) { return e.snapshot(200); },
                [rp](pep_snapshot s) mutable { rp.deliver(status_of(s)); });
      return rp;
    },
    [=](node::flows_atom, std::uint32_t limit) {
      auto rp = self->make_response_promise<node::flow_list>();
      on_engine(self, [limit](engine& e) { return e.snapshot(limit); },
                [rp](pep_snapshot s) mutable { rp.deliver(flows_of(s)); });
      return rp;
    },
    // The hub group (pep.group; the daemon makes this actor the group's unit worker then): a
    // branch is served by the member that owns its unit. Nothing is replicated (the CCBs are
    // not): a take-over starts the unit empty, so the branch's spoofed connections on a dead
    // member are reset and the branch redials the new owner.
    [=](protocol::group_atom, const group::group_actor&) {},
    [=](const group::group_view& v) {
      self->state.view = v;
      push_group(self);
    },
    [=](protocol::assign_atom, group::unit_id u) { set_owned(self, u, true); },
    [=](protocol::revoke_atom, group::unit_id u, bool) { set_owned(self, u, false); },
    [=](protocol::takeover_atom, group::unit_id u, group::state_bytes&) { set_owned(self, u, true); },
    [=](protocol::takeover_atom, group::unit_id u, std::vector<group::state_portion>&) { set_owned(self, u, true); },
    [=](group::checkpoint_atom, group::unit_id) {},
    [=](protocol::units_atom) {
      auto rp = self->make_response_promise<node::unit_flows>();
      on_engine(self, [](engine& e) { return e.unit_connections(); },
                [rp](std::vector<std::pair<std::uint32_t, std::uint64_t>> counts) mutable {
                  rp.deliver(node::unit_flows{std::move(counts)});
                });
      return rp;
    },
    [=](protocol::reload_atom, const node::policy_ptr& next) {
      auto rp = self->make_response_promise<std::string>();
      auto p = next;
      on_engine(self, [p](engine& e) { return e.apply(*p); },
                [rp, self](std::string changed) mutable {
                  self->state.events->add(node::severity::info, "pep_reloaded", {{"changed", changed}});
                  rp.deliver(changed);
                });
      return rp;
    },
  };
}

}  // namespace

caf::actor spawn_pep_actor(caf::actor_system& sys, node::event_log& events, const policy::policy& p) {
  auto eng = std::make_shared<engine>(p, events);
  eng->start();
  return sys.spawn(pep_impl, eng, &events);
}

}  // namespace baton::pep
