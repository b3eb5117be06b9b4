#include "actors/group/group_actor.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/openssl/manager.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <unordered_map>

#include "actors/group/group_member.hpp"
#include "actors/group/group_view.hpp"
#include "actors/runtime/event_log.hpp"
#include "actors/runtime/status_message.hpp"
#include "actors/runtime/tls_dial.hpp"
#include "net/io/counter_list.hpp"
#include "policy/rules.hpp"

namespace baton::group {
namespace {

using protocol::get_atom;
using protocol::tick_atom;
using protocol::units_atom;
using node::severity;

struct link {
  peer_address address;
  group_actor handle;     // empty while not connected
  bool connecting = false;
  time_ms next_attempt{0};
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
};

struct group_state {
  static inline const char* name = "group";

  std::unique_ptr<group_member> member;
  group_actor_config cfg;
  node::event_log* events = nullptr;
  // The actor system's clock (the real steady clock in batond, the simulated one under CAF's test
  // coordinator), so the group's timers run on the same time as its tick's delayed sends.
  const caf::actor_clock* clock = nullptr;
  caf::actor_clock::time_point epoch{};
  std::map<node_id, link> links;
  std::unordered_map<caf::actor_addr, node_id> by_sender;  // remote proxies -> node
  std::map<std::string, std::uint64_t> sent_by_type, received_by_type;
  std::uint64_t unknown_sender = 0;  // messages from a link that never said hello
  std::uint64_t unreachable = 0;     // messages for a peer with no link
  group_view last_view;              // what the role was last told
  std::uint64_t views_pushed = 0;
  // When the ticks in flight are due, earliest first (delayed sends to self arrive in that
  // order): a tick is scheduled for when the state machine or a link's redial is next due, and
  // only when none in flight comes at that time or before (schedule_tick).
  std::multiset<time_ms> ticks;
  std::uint64_t ticks_run = 0;
  // Whether the state machine was told that the links to every configured peer are up (a
  // starting node listens for the offer period only from then: group_member::on_links_up).
  bool links_reported = false;

  time_ms now() const {
    return std::chrono::duration_cast<time_ms>(clock->now() - epoch);
  }
};

using group_pointer = group_actor::stateful_pointer<group_state>;

void log_event(group_pointer self, const event& e) {
  auto& log = *self->state.events;
  std::visit(
    [&](const auto& ev) {
      using T = std::decay_t<decltype(ev)>;
      if constexpr (std::is_same_v<T, joined>) {
        log.add(severity::info, "group_joined", {{"master", policy::format_ipv4(ev.master)}});
      } else if constexpr (std::is_same_v<T, left>) {
        log.add(severity::warning, "group_left", {{"reason", ev.reason}});
      } else if constexpr (std::is_same_v<T, became_master>) {
        log.add(severity::info, "became_master", {});
      } else if constexpr (std::is_same_v<T, lost_master>) {
        log.add(severity::warning, "lost_master", {{"master", policy::format_ipv4(ev.master)}});
      } else if constexpr (std::is_same_v<T, join_refused>) {
        log.add(severity::warning, "join_refused", {{"reason", ev.reason}});
      } else if constexpr (std::is_same_v<T, member_joined>) {
        log.add(severity::info, "member_joined",
                {{"member", policy::format_ipv4(ev.node)}, {"identity", ev.identity}});
      } else if constexpr (std::is_same_v<T, member_left>) {
        log.add(severity::warning, "member_left",
                {{"member", policy::format_ipv4(ev.node)}, {"reason", ev.reason}});
      } else if constexpr (std::is_same_v<T, join_vote>) {
        // No role vetoes joins yet: accept at once (the vote hook is where roles will answer).
        self->state.member->resolve_join(ev.node, true, {}, self->state.now());
      } else if constexpr (std::is_same_v<T, peer_refused>) {
        log.add(severity::warning, "peer_refused",
                {{"stage", "join"}, {"peer", ev.identity}, {"address", policy::format_ipv4(ev.node)},
                 {"reason", ev.reason}});
      } else if constexpr (std::is_same_v<T, unit_assigned>) {
        if (self->state.cfg.role) caf::anon_send(self->state.cfg.role, protocol::assign_atom::value, ev.unit);
      } else if constexpr (std::is_same_v<T, unit_revoked>) {
        if (self->state.cfg.role)
          caf::anon_send(self->state.cfg.role, protocol::revoke_atom::value, ev.unit, ev.handing_over);
      } else if constexpr (std::is_same_v<T, take_over_unit>) {
        // A lone checkpoint (or nothing) goes as bytes, as roles that register their whole state
        // (update_essential) expect; a log with deltas goes as the ordered portions.
        auto& role = self->state.cfg.role;
        const auto& ps = ev.portions;
        if (role && ps.size() <= 1 && (ps.empty() || ps[0].kind == portion_kind::checkpoint))
          caf::anon_send(role, protocol::takeover_atom::value, ev.unit,
                         ps.empty() ? state_bytes{} : ps[0].data);
        else if (role)
          caf::anon_send(role, protocol::takeover_atom::value, ev.unit, ps);
      } else if constexpr (std::is_same_v<T, checkpoint_wanted>) {
        if (self->state.cfg.role)
          caf::anon_send(self->state.cfg.role, checkpoint_atom::value, ev.unit);
      }
    },
    e);
}

void send_to(group_pointer self, link& l, const message& m) {
  std::visit([&](const auto& msg) { self->send(l.handle, msg); }, m);
  ++l.sent;
  ++self->state.sent_by_type[message_name(m)];
}

/// Delivers what the state machine produced and reports its events.
// The longest the actor sleeps without a tick, whatever is due: a bound, not a timer anything
// waits for (every timer the state machine has is in group_member::next_due).
constexpr time_ms longest_sleep{1000};

// Schedules the next tick for when something is next due (group_member::next_due, a link's
// next dial), instead of ticking every tick_ms: an idle member wakes for its keepalives and
// watchdogs only (issue 15). Something due now or before ("tick again soon") gets a tick in
// tick_ms, as the periodic tick gave it.
void schedule_tick(group_pointer self) {
  auto& st = self->state;
  const time_ms now = st.now();
  time_ms due = st.member->next_due(now);
  const auto me = st.cfg.self.address;
  for (auto& [id, l] : st.links)
    if (node::dials(me, id) && !l.handle && !l.connecting) due = std::min(due, l.next_attempt);
  time_ms delay = due <= now ? time_ms{std::max<std::uint32_t>(st.cfg.tick_ms, 1)} : due - now;
  delay = std::min(delay, longest_sleep);
  const time_ms at = now + delay;
  if (!st.ticks.empty() && *st.ticks.begin() <= at) return;  // one in flight comes in time
  st.ticks.insert(at);
  self->delayed_send(self, delay, tick_atom::value);
}

void flush(group_pointer self) {
  auto& st = self->state;
  for (auto& out : st.member->take_outbox()) {
    if (out.to == broadcast) {
      for (auto& [id, l] : st.links)
        if (l.handle) send_to(self, l, out.msg);
    } else if (auto i = st.links.find(out.to); i != st.links.end() && i->second.handle) {
      send_to(self, i->second, out.msg);
    } else {
      ++st.unreachable;
    }
  }
  for (auto& e : st.member->take_events()) log_event(self, e);
  // The role hears the group's view when it changes, after the unit events that changed it.
  if (st.cfg.role) {
    auto view = view_of(*st.member);
    if (view != st.last_view) {
      st.last_view = view;
      ++st.views_pushed;
      caf::anon_send(st.cfg.role, std::move(view));
    }
  }
  // Whatever changed (a message, a tick, a role's call) may bring a timer forward.
  schedule_tick(self);
}

/// Tells the state machine once that every configured peer is linked (discovered ones are not
/// waited for: link_wait bounds the wait for them).
void report_links(group_pointer self) {
  auto& st = self->state;
  if (st.links_reported) return;
  for (const auto& p : st.cfg.peers)
    if (auto i = st.links.find(p.id); i == st.links.end() || !i->second.handle) return;
  st.links_reported = true;
  st.events->add(severity::info, "peers_linked", {{"peers", std::to_string(st.cfg.peers.size())}});
  st.member->on_links_up(st.now());
  flush(self);
}

void attach(group_pointer self, link& l, group_actor handle) {
  l.handle = handle;
  l.connecting = false;
  self->state.by_sender[handle.address()] = l.address.id;
  self->monitor(handle);
  self->send(handle, self->state.cfg.self);
  self->state.events->add(severity::info, "peer_linked",
                          {{"peer", l.address.name}, {"address", policy::format_ipv4(l.address.id)}});
  report_links(self);
}

void connect(group_pointer self, link& l) {
  l.connecting = true;
  auto id = l.address.id;
  node::dial_tls(
    self, id, l.address.port, self->home_system().message_types<group_actor>(),
    [=](caf::strong_actor_ptr ptr) {
      auto& link = self->state.links[id];
      link.connecting = false;
      if (!link.handle) attach(self, link, caf::actor_cast<group_actor>(std::move(ptr)));
    },
    [=](const std::string& reason, bool wrong_actor) {
      auto& st = self->state;
      auto& link = st.links[id];
      link.connecting = false;
      if (wrong_actor) {
        st.events->add(severity::error, "peer_refused",
                       {{"stage", "link"}, {"peer", link.address.name},
                        {"reason", "published interface is not a baton group actor: " + reason}});
        link.next_attempt = st.now() + time_ms{st.cfg.reconnect_ms * 10};
        schedule_tick(self);
        return;
      }
      link.next_attempt = st.now() + time_ms{st.cfg.reconnect_ms};
      st.events->add(severity::debug, "peer_unreachable", {{"peer", link.address.name}, {"reason", reason}});
      schedule_tick(self);
    });
}

/// Dials the peers that are down and due; of each pair, only the lower address dials
/// (node::dials), the other attaches when the hello arrives.
void reconnect_due(group_pointer self) {
  auto now = self->state.now();
  auto me = self->state.cfg.self.address;
  for (auto& [id, l] : self->state.links)
    if (node::dials(me, id) && !l.handle && !l.connecting && now >= l.next_attempt) connect(self, l);
}

template <class Message>
void deliver(group_pointer self, const Message& m) {
  auto& st = self->state;
  auto sender = self->current_sender();
  auto i = sender ? st.by_sender.find(caf::actor_cast<caf::actor_addr>(sender)) : st.by_sender.end();
  if (i == st.by_sender.end()) {
    ++st.unknown_sender;
    return;
  }
  ++st.links[i->second].received;
  ++st.received_by_type[message_name(message{m})];
  st.member->on_message(i->second, message{m}, st.now());
  flush(self);
}

#define BATON_GROUP_LINK_COUNTERS(COUNTER, GAUGE)                                  \
  COUNTER(unknown_sender, "group messages from a link that never said hello")      \
  COUNTER(unreachable, "group messages for a peer with no link (not sent)")        \
  COUNTER(views_pushed, "group views pushed to the role (membership changes)")    \
  COUNTER(ticks, "timer ticks run (scheduled for when a timer is next due)")        \
  COUNTER(late_watchdog_checks, "watchdog expiries found too late to judge, given a grace")    \
  COUNTER(tie_breaks_deferred, "tie-breaks against another master left to its next keepalive") \
  COUNTER(lost_master_takeovers, "units taken over as backup when the master was lost")    \
  COUNTER(takeovers_given_back, "of those, units a live master kept (revoked at rejoin)")   \
  COUNTER(successions, "times this node offered itself at once as a lost master's successor")
BATON_COUNTER_STRUCT(group_link_counters, BATON_GROUP_LINK_COUNTERS)

node::counter_family by_type(const char* name, const char* help,
                             const std::map<std::string, std::uint64_t>& counts) {
  node::counter_family f{name, help, net::counter_kind::counter, "type", {}};
  for (auto& [type, n] : counts) f.values.emplace_back(type, n);
  return f;
}

std::string address_text(node_id id) { return id == no_node ? "" : policy::format_ipv4(id); }

/// The group's status as a struct (the console renders it: /group, /counters, /metrics).
// Console: POST /group/move. The answer is JSON with the HTTP status the console gives it: 202
// when the de-assign started (the unit moves once its state is over), 400 for a unit or member
// that does not exist, 409 when this node is not the master (naming it: the master alone keeps
// the work table, so the request goes there) or the unit cannot move now.
std::string move_unit(group_pointer self, unit_id unit, const std::string& to) {
  auto& st = self->state;
  auto& m = *st.member;
  auto name_of = [&](node_id id) {
    for (const auto& e : m.members())
      if (e.id == id) return e.identity;
    return std::string{};
  };
  auto error = [&](int status, const std::string& why) {
    nlohmann::json j{{"error", why}, {"status", status}};
    if (m.master() != no_node)
      j["master"] = {{"name", name_of(m.master())}, {"address", policy::format_ipv4(m.master())}};
    return j.dump();
  };
  node_id target = no_node;
  for (const auto& e : m.members())
    if (e.identity == to || policy::format_ipv4(e.id) == to) target = e.id;
  if (!m.is_master()) {
    const auto master = m.master();
    return error(409, master == no_node ? "this node has no master yet: try again"
                                        : "only the master moves units: ask " + name_of(master) +
                                            " (" + policy::format_ipv4(master) + ")");
  }
  if (unit >= m.config().work_units)
    return error(400, "no work unit " + std::to_string(unit) + ": units are 0 to " +
                        std::to_string(m.config().work_units - 1));
  if (target == no_node) return error(400, "\"" + to + "\" is not a member of the group (name or address)");
  const node_id from = m.owner_of(unit);
  using verdict = group_member::move_verdict;
  switch (m.request_move(unit, target, st.now())) {
    case verdict::started: break;
    case verdict::already_there: return error(409, to + " owns unit " + std::to_string(unit) + " already");
    case verdict::unassigned: return error(409, "unit " + std::to_string(unit) + " has no owner now");
    case verdict::busy:
      return error(409, "unit " + std::to_string(unit) + " is moving or not yet confirmed by its owner: try again");
    case verdict::not_master: return error(409, "this node stopped being the master");
    case verdict::no_such_unit: return error(400, "no work unit " + std::to_string(unit));
    case verdict::not_a_member: return error(400, "\"" + to + "\" is not a member of the group");
  }
  flush(self);
  st.events->add(severity::info, "unit_move_requested",
                 {{"unit", std::to_string(unit)}, {"from", policy::format_ipv4(from)},
                  {"to", policy::format_ipv4(target)}});
  return nlohmann::json{{"moving", true}, {"unit", unit}, {"from", policy::format_ipv4(from)},
                        {"to", policy::format_ipv4(target)}, {"status", 202}}.dump();
}

node::role_status status(group_pointer self) {
  auto& st = self->state;
  auto& m = *st.member;
  node::role_status s;
  s.fact("self", node::scalar(policy::format_ipv4(m.self())))
    .fact("identity", node::scalar(m.identity()))
    .fact("phase", node::scalar(phase_name(m.current_phase())))
    .fact("master", node::scalar(address_text(m.master())))
    .fact("is_master", node::scalar(m.is_master()))
    .fact("keepalive_n", node::scalar(m.keepalive_n()))
    .fact("loss_estimate", node::scalar(m.loss_estimate()))
    .fact("work_units", node::scalar(m.config().work_units))
    .fact("quorum", node::scalar(m.config().quorum))
    .fact("owned_units", node::scalar(m.owned_units().size()));
  node::status_table members{"members", "member", {{"address", node::column_kind::key, ""},
                                                   {"identity", node::column_kind::fact, ""},
                                                   {"load", node::column_kind::gauge,
                                                    "a member's load as the group knows it"}},
                             {}};
  for (auto& e : m.members())
    members.rows.push_back({{node::scalar(policy::format_ipv4(e.id)), node::scalar(e.identity),
                             node::scalar(e.load)},
                            {}});
  node::status_table peers{"peers", "peer", {{"name", node::column_kind::key, ""},
                                             {"address", node::column_kind::fact, ""},
                                             {"port", node::column_kind::fact, ""},
                                             {"linked", node::column_kind::fact, ""},
                                             {"sent", node::column_kind::counter,
                                              "group messages sent to the peer"},
                                             {"received", node::column_kind::counter,
                                              "group messages received from the peer"}},
                           {}};
  for (auto& [id, l] : st.links)
    peers.rows.push_back({{node::scalar(l.address.name), node::scalar(policy::format_ipv4(id)),
                           node::scalar(unsigned{l.address.port}),
                           node::scalar(static_cast<bool>(l.handle)), node::scalar(l.sent),
                           node::scalar(l.received)},
                          {}});
  s.tables.push_back(std::move(members));
  s.tables.push_back(std::move(peers));
  s.families.push_back(by_type("messages_sent", "group messages sent, by type", st.sent_by_type));
  s.families.push_back(
    by_type("messages_received", "group messages received, by type", st.received_by_type));
  s.group("", group_link_counters{st.unknown_sender, st.unreachable, st.views_pushed, st.ticks_run,
                                  m.late_checks(), m.tie_breaks_deferred(),
                                  m.lost_master_takeovers(), m.takeovers_given_back(),
                                  m.successions()});
  return s;
}

/// The work-unit table: each unit's owner and backup (/units).
node::role_status units(group_pointer self) {
  auto& m = *self->state.member;
  node::status_table t{"units", "", {{"unit", node::column_kind::fact, ""},
                                     {"owner", node::column_kind::fact, ""},
                                     {"backup", node::column_kind::fact, ""},
                                     {"mine", node::column_kind::fact, ""}},
                       {}};
  for (unit_id u = 0; u < m.config().work_units; ++u)
    t.rows.push_back({{node::scalar(unsigned{u}), node::scalar(address_text(m.owner_of(u))),
                       node::scalar(address_text(m.backup_of(u))), node::scalar(m.owns(u))},
                      {}});
  node::role_status s;
  s.tables.push_back(std::move(t));
  return s;
}

group_actor::behavior_type group_impl(group_pointer self, group_actor_config cfg,
                                      node::event_log* events) {
  auto& st = self->state;
  st.events = events;
  for (auto& p : cfg.peers) {
    cfg.group.peers.push_back(p.id);
    st.links[p.id].address = p;
  }
  cfg.group.stream_base = std::random_device{}();  // replication streams differ per life
  st.clock = &self->clock();
  st.epoch = st.clock->now();
  st.member = std::make_unique<group_member>(cfg.self.address, cfg.identity, cfg.group);
  st.cfg = std::move(cfg);
  st.member->start(st.now());
  flush(self);
  report_links(self);  // no configured peers: nothing to wait for
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    auto i = st.by_sender.find(dm.source);
    if (i == st.by_sender.end()) return;
    auto& l = st.links[i->second];
    st.events->add(severity::warning, "peer_link_lost",
                   {{"peer", l.address.name}, {"reason", self->home_system().render(dm.reason)}});
    l.handle = nullptr;
    l.next_attempt = st.now() + time_ms{st.cfg.reconnect_ms};
    st.by_sender.erase(i);
    schedule_tick(self);
  });
  st.ticks.insert(st.now());  // the first tick, at once
  self->send(self, tick_atom::value);
  return {
    [=](const protocol::hello& h) {
      auto& st = self->state;
      auto sender = caf::actor_cast<group_actor>(self->current_sender());
      auto i = st.links.find(h.address);
      if (i == st.links.end() && st.cfg.accept_discovered && h.address != no_node &&
          h.address != st.cfg.self.address && h.version == st.cfg.self.version) {
        i = st.links.emplace(h.address, link{}).first;
        i->second.address = {h.name, h.address, 0};  // it dialled us: we never dial it back
        st.events->add(severity::info, "peer_discovered",
                       {{"peer", h.name}, {"address", policy::format_ipv4(h.address)}, {"by", "hello"}});
      }
      if (i == st.links.end() || i->second.address.name != h.name || h.version != st.cfg.self.version) {
        st.events->add(severity::warning, "peer_refused",
                       {{"stage", "hello"}, {"peer", h.name}, {"address", policy::format_ipv4(h.address)},
                        {"reason", "not a configured peer of this group"}});
        return;
      }
      if (!sender) return;
      if (!i->second.handle) attach(self, i->second, sender);  // answers with our hello
      else st.by_sender[sender.address()] = h.address;
    },
    [=](const join_request& m) { deliver(self, m); },
    [=](const join_reply& m) { deliver(self, m); },
    [=](const exit_request& m) { deliver(self, m); },
    [=](const master_offer& m) { deliver(self, m); },
    [=](const other_master_exists& m) { deliver(self, m); },
    [=](const master_keepalive& m) { deliver(self, m); },
    [=](const client_keepalive& m) { deliver(self, m); },
    [=](const work_assign& m) { deliver(self, m); },
    [=](const work_assign_ack& m) { deliver(self, m); },
    [=](const work_deassign& m) { deliver(self, m); },
    [=](const work_deassign_done& m) { deliver(self, m); },
    [=](const state_delta& m) { deliver(self, m); },
    [=](const state_ack& m) { deliver(self, m); },
    [=](const state_handover& m) { deliver(self, m); },
    [=](tick_atom) {
      auto& st = self->state;
      if (!st.ticks.empty()) st.ticks.erase(st.ticks.begin());  // this one
      ++st.ticks_run;
      st.member->on_tick(st.now());
      flush(self);
      reconnect_due(self);
      schedule_tick(self);
    },
    [=](protocol::discover_atom, const std::string& name, std::uint32_t address,
        std::uint16_t port) {
      auto& st = self->state;
      if (!st.cfg.accept_discovered || address == st.cfg.self.address || st.links.count(address))
        return;
      st.links[address].address = {name, address, port};
      st.events->add(severity::info, "peer_discovered",
                     {{"peer", name}, {"address", policy::format_ipv4(address)}, {"by", "beacon"}});
      reconnect_due(self);
    },
    [=](protocol::replicate_atom, unit_id unit, state_bytes& state) {
      auto& st = self->state;
      // Refused (false) when the unit is no longer ours: the role learns that from revoke.
      st.member->update_essential(unit, std::move(state), st.now());
      flush(self);
    },
    [=](protocol::replicate_atom, unit_id unit, std::uint8_t kind, state_bytes& state) {
      auto& st = self->state;
      // Refused (false) when the unit is no longer ours or the kind is unknown.
      st.member->replicate(unit, static_cast<portion_kind>(kind), std::move(state), st.now());
      flush(self);
    },
    [=](get_atom) { return status(self); },
    [=](units_atom) { return units(self); },
    [=](protocol::move_atom, unit_id unit, const std::string& to) { return move_unit(self, unit, to); },
    [=](protocol::drain_atom) {
      // Leaving hands every owned unit to the remaining members (their backups take over).
      auto& st = self->state;
      auto owned = st.member->owned_units().size();
      st.member->stop(st.now());
      flush(self);
      st.events->add(severity::info, "drained", {{"units_given_up", std::to_string(owned)}});
      return nlohmann::json{{"drained", true}, {"units_given_up", owned}}.dump();
    },
  };
}

}  // namespace

group_actor spawn_group_actor(caf::actor_system& sys, group_actor_config cfg,
                              node::event_log& events) {
  if (cfg.own_thread) return sys.spawn<caf::detached>(group_impl, std::move(cfg), &events);
  return sys.spawn(group_impl, std::move(cfg), &events);
}

}  // namespace baton::group
