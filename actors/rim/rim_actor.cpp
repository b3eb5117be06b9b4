// The rim host's actor. See rim_actor.hpp.

#include "actors/rim/rim_actor.hpp"

#include <arpa/inet.h>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "actors/group/group_actor.hpp"
#include "actors/group/group_view.hpp"
#include "actors/protocol/atoms.hpp"
#include "actors/protocol/rim.hpp"
#include "actors/rim/management.hpp"
#include "actors/rim/service.hpp"
#include "actors/runtime/event_log.hpp"
#include "actors/runtime/io_runtime.hpp"
#include "actors/runtime/on_loop.hpp"
#include "actors/runtime/policy_ptr.hpp"
#include "actors/runtime/status_message.hpp"
#include "actors/runtime/tls_dial.hpp"
#include "net/rim/path_status.hpp"
#include "net/rim/rim_rules.hpp"
#include "net/rim/rim_stage.hpp"
#include "policy/rules.hpp"

namespace baton::rim {
namespace {

using node::column_kind;
using node::scalar;
using protocol::rim_flow;
using flow_id = std::tuple<std::uint32_t, std::uint16_t, std::uint32_t, std::uint16_t>;

using linger_atom = caf::atom_constant<caf::atom("linger")>;  // a flow's after-life ended
using dial_atom = caf::atom_constant<caf::atom("dial")>;      // (re)dial a member's rim link
using manage_atom = caf::atom_constant<caf::atom("manage")>;  // report (and, on the master, decide)

flow_id id_of(const rim_flow& f) { return {f.client_address, f.client_port, f.service_address, f.service_port}; }
net::rim_flow_key key_of(const rim_flow& f) {
  return {f.client_address, f.client_port, f.service_address, f.service_port};
}
rim_flow flow_of(const flow_id& id) { return {std::get<0>(id), std::get<1>(id), std::get<2>(id), std::get<3>(id)}; }

std::optional<std::uint32_t> parse_ipv4(const std::string& s) {
  in_addr a{};
  if (::inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string text(const rim_flow& f) {
  return policy::format_endpoint(f.client_address, f.client_port) + " -> " + policy::format_endpoint(f.service_address, f.service_port);
}

/// How long the owner keeps forwarding (and the holder keeps injecting) after a flow ends: the
/// client's last ACKs and a retransmitted FIN still arrive at the owner.
constexpr std::chrono::seconds after_life{30};

#define BATON_RIM_ACTOR_COUNTERS(COUNTER, GAUGE)                                             \
  COUNTER(handoffs_asked, "hand-offs asked for (console or management object)")             \
  COUNTER(handoffs_done, "hand-offs this host gave and the taker took")                      \
  COUNTER(handoffs_failed, "hand-offs that did not happen: refused, no answer, or local error") \
  COUNTER(takes, "flows this host took from another rim host")                               \
  COUNTER(takes_refused, "takes this host refused (content, socket, limit)")                 \
  COUNTER(refused_non_members, "rim messages from hosts that are not members (dropped)")     \
  COUNTER(holder_updates, "owner: a flow's packets redirected to its new holder")            \
  COUNTER(masquerades, "flows whose segments other rim hosts now send (masquerade, funnel-cast)") \
  COUNTER(masquerades_failed, "masquerades that did not start (a masquerader refused, a rule)") \
  COUNTER(relays_taken, "flows this host agreed to send or relay for another rim host")       \
  COUNTER(unexpected_messages, "messages the rim actor has no handler for (dropped)")          \
  COUNTER(taken_back, "owner: flows taken back from a holder that died (TCP_REPAIR from the client's last segment)") \
  COUNTER(take_back_failed, "owner: flows whose dead holder left nothing to take back from (the client gets a reset)") \
  COUNTER(reports_sent, "reports of this host's flows sent to the management object")         \
  COUNTER(reports_received, "master: reports the management object received")                 \
  COUNTER(decisions, "master: moves the management object decided")                          \
  COUNTER(decisions_failed, "master: decided moves whose host did not carry them out")          \
  COUNTER(commands_done, "management commands this host carried out")                        \
  COUNTER(commands_refused, "management commands refused (not from the master, unknown flow)") \
  GAUGE(links, "rim members this host has a link to")

BATON_COUNTER_STRUCT(rim_actor_counters, BATON_RIM_ACTOR_COUNTERS)

struct handoff_record {
  std::string flow, from, to, outcome;
  double ms = 0;  // asked -> taken (or failed)
};

struct rim_state {
  static inline const char* name = "rim";
  node::policy_ptr policy;
  node::event_log* events = nullptr;
  std::shared_ptr<service> svc;
  std::shared_ptr<node::io_runtime> io;
  net::rim_stage* stage = nullptr;
  net::rim_rules_config rules;
  std::map<std::uint32_t, std::string> member_names;  // /peers: the rim's other members
  std::map<std::uint32_t, caf::actor> links;
  std::map<flow_id, std::uint32_t> forwarded;  // owner: flow -> holder
  std::set<flow_id> held;                      // holder: flows owned elsewhere, held here
  struct exit_path {
    std::vector<std::uint32_t> hops;  // the masqueraders, first to last (the last one sends)
    bool funnel = false;              // a copy goes this way; the segment also leaves here
  };
  std::map<flow_id, exit_path> exits;          // sender: flows whose segments others send
  std::map<flow_id, std::uint32_t> relays;     // masquerader: flow -> next hop (0: send it)
  rim_actor_counters counters;
  std::deque<handoff_record> recent;
  std::uint32_t self_address = 0;
  // The group's master runs the management object; every host reports to it.
  std::uint32_t master = 0;
  bool is_master = false;
  std::unique_ptr<management_object> manage;  // while this host is the master
  std::map<flow_id, std::chrono::steady_clock::time_point> moved;  // flows here: last taken or exit change
  // Owner: its own hand-off of each flow it gave away (no queue bytes), and the sequence number of
  // the byte at that hand-off's position: enough to take the flow back if its holder dies.
  struct given_flow {
    protocol::rim_take take;
    std::uint32_t seq_anchor = 0;
  };
  std::map<flow_id, given_flow> given;
  std::set<std::uint32_t> group_members;  // the group's last member list (a holder leaving it died)
  struct decision_record {
    std::string flow, move, target, reason, outcome;
  };
  std::deque<decision_record> decisions;
};
using rim_actor_type = caf::stateful_actor<rim_state>;

/// Runs `work(service&)` on the service's thread and `then(result)` in the actor.
template <class Work, class Then>
void on_service(rim_actor_type* self, Work work, Then then) {
  auto svc = self->state.svc;
  node::on_loop(self, *svc, [svc, work] { return work(*svc); }, std::move(then));
}

/// The stage's tables from the actor's, published on the loop; `then` runs once it took them.
template <class Then>
void publish_tables(rim_actor_type* self, Then then) {
  auto& st = self->state;
  net::rim_tables t;
  for (auto& [id, holder] : st.forwarded) t.forwarded.push_back({key_of(flow_of(id)), holder});
  for (auto& id : st.held) t.held.push_back(key_of(flow_of(id)));
  for (auto& [address, name] : st.member_names) t.members.push_back(address);
  for (auto& [id, path] : st.exits) t.exits.push_back({key_of(flow_of(id)), path.hops.front()});
  for (auto& [id, next] : st.relays) t.relays.push_back({key_of(flow_of(id)), next});
  auto* stage = st.stage;
  // table_slot::publish waits for the loop to leave its batch: never on an actor's worker, and
  // never on the loop thread itself: a thread of its own, a few microseconds long.
  node::on_loop(self, *st.svc, [stage, t = std::move(t)]() mutable { stage->publish(std::move(t)); }, std::move(then));
}

void remember(rim_actor_type* self, handoff_record r) {
  auto& q = self->state.recent;
  q.push_back(std::move(r));
  while (q.size() > 32) q.pop_front();
}

std::string json_error(const std::string& why) {
  return nlohmann::json{{"error", why}}.dump();
}

bool is_member(rim_actor_type* self, std::uint32_t address) { return self->state.member_names.count(address) > 0; }

std::string name_of(rim_actor_type* self, std::uint32_t address) {
  if (address == self->state.self_address) return self->state.policy->identity.name;
  auto it = self->state.member_names.find(address);
  return it != self->state.member_names.end() ? it->second : policy::format_ipv4(address);
}

void dial(rim_actor_type* self, std::uint32_t address) {
  node::dial_tls(
    self, address, self->state.policy->rim->port, {},
    [=](caf::strong_actor_ptr ptr) {
      auto peer = caf::actor_cast<caf::actor>(ptr);
      self->state.links[address] = peer;
      self->state.counters.links = self->state.links.size();
      self->send(peer, protocol::rim_hello{self->state.policy->identity.name, self->state.self_address,
                                           caf::actor_cast<caf::actor>(self)});
      self->monitor(peer);
    },
    [=](const std::string& reason, bool) {
      self->state.events->add(node::severity::warning, "rim_link_failed",
                              {{"member", name_of(self, address)}, {"reason", reason}});
      self->delayed_send(self, std::chrono::seconds(1), dial_atom::value, address);
    });
}

/// The taker's side: the flow's packets are let in first (a holder injects them; the owner stops
/// dropping them while the new socket is still frozen), then the socket leaves repair mode and
/// sends, and the owner is told to forward here. So the client's answers to the first segments
/// the new socket sends find it: a lost ACK would cost the new socket an initial RTO (1 s).
caf::result<protocol::rim_taken> take(rim_actor_type* self, protocol::rim_take t) {
  auto& st = self->state;
  auto rp = self->make_response_promise<protocol::rim_taken>();
  const bool own = t.flow.service_address == st.self_address;
  const auto id = id_of(t.flow);
  auto restore = [=]() mutable {
    on_service(
      self,
      [t, own](service& s) {
        return s.take(t, !own, [&] {
          if (own) net::undrop_flow(key_of(t.flow));
        });
      },
      [=](std::string why) mutable {
        auto& st = self->state;
        if (!why.empty()) {
          ++st.counters.takes_refused;
          st.events->add(node::severity::warning, "rim_take_refused",
                         {{"flow", text(t.flow)}, {"from", name_of(self, t.from)}, {"reason", why}});
          if (!own && st.held.erase(id)) publish_tables(self, [] {});
          rp.deliver(protocol::rim_taken{t.flow, st.self_address, false, why});
          return;
        }
        ++st.counters.takes;
        st.moved[id] = std::chrono::steady_clock::now();
        if (own) {
          // Back home: the kernel's socket has it again; stop forwarding.
          st.forwarded.erase(id);
          st.given.erase(id);
          publish_tables(self, [] {});
        } else {
          auto owner = st.links.find(t.flow.service_address);
          if (owner != st.links.end()) self->send(owner->second, protocol::rim_holder{t.flow, st.self_address});
        }
        st.events->add(node::severity::info, "rim_taken",
                       {{"flow", text(t.flow)}, {"from", name_of(self, t.from)}, {"position", std::to_string(t.position)}});
        rp.deliver(protocol::rim_taken{t.flow, st.self_address, true, ""});
      });
  };
  if (own) {
    restore();
  } else {
    // Nothing is forwarded here before the owner hears from us, so injecting early resets nothing.
    st.held.insert(id);
    publish_tables(self, restore);
  }
  return rp;
}

/// Tells the flow's owner where to forward its packets now (a message to it, or our own table).
void point_owner(rim_actor_type* self, const rim_flow& flow, std::uint32_t holder) {
  auto& st = self->state;
  if (flow.service_address == st.self_address) {
    st.forwarded[id_of(flow)] = holder;
    publish_tables(self, [] {});
    return;
  }
  auto owner = st.links.find(flow.service_address);
  if (owner != st.links.end()) self->send(owner->second, protocol::rim_holder{flow, holder});
}

/// The flow's packets reach this host's socket again: the owner stops forwarding and dropping
/// them, a holder injects them again (and, when the owner was already pointed elsewhere, points
/// it back here).
void let_packets_in(rim_actor_type* self, const rim_flow& flow, bool owner_pointed_away) {
  auto& st = self->state;
  if (flow.service_address == st.self_address) {
    st.forwarded.erase(id_of(flow));
    publish_tables(self, [flow] { net::undrop_flow(key_of(flow)); });
  } else {
    st.held.insert(id_of(flow));
    publish_tables(self, [] {});
    if (owner_pointed_away) point_owner(self, flow, st.self_address);
  }
}

/// The giver's packets come back: the flow carries on here (a hand-off that did not happen).
void resume_here(rim_actor_type* self, const rim_flow& flow) {
  on_service(self, [flow](service& s) { s.release(flow, false); return 0; }, [](int) {});
  let_packets_in(self, flow, true);
}

/// The giver's side, once the flow's packets no longer reach its socket: freeze, ask the taker,
/// and forget the socket (taken) or carry on (refused, no answer).
void give(rim_actor_type* self, rim_flow flow, std::uint32_t target, caf::actor taker,
          caf::response_promise rp, std::chrono::steady_clock::time_point started) {
  auto fail = [=](std::string why) mutable {
    ++self->state.counters.handoffs_failed;
    rp.deliver(json_error(why));
  };
  on_service(
    self, [flow](service& s) { std::pair<std::string, protocol::rim_take> out; out.first = s.freeze(flow, out.second); return out; },
    [=](std::pair<std::string, protocol::rim_take> frozen) mutable {
      auto& st = self->state;
      const double frozen_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
      if (!frozen.first.empty()) {
        // freeze() thawed it already; the owner was not pointed away yet.
        let_packets_in(self, flow, false);
        return fail(frozen.first);
      }
      // The owner forwards to the taker before the take leaves: the client's answer to the
      // taker's first segments must not go to the giver, whose socket is gone (a lost ACK costs
      // the new socket its initial RTO of 1 s). The taker drops what comes before it holds.
      point_owner(self, flow, target);
      self->request(taker, std::chrono::milliseconds(st.policy->rim->handoff_timeout_ms), frozen.second)
        .then(
          [=](const protocol::rim_taken& r) mutable {
            auto& st = self->state;
            const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
            if (!r.taken) {
              resume_here(self, flow);
              remember(self, {text(flow), st.policy->identity.name, name_of(self, r.holder), "refused: " + r.reason, ms});
              return fail("refused by the taker: " + r.reason);
            }
            on_service(self, [flow](service& s) { s.release(flow, true); return 0; }, [](int) {});
            ++st.counters.handoffs_done;
            if (flow.service_address == st.self_address) {
              rim_state::given_flow g{frozen.second, 0};
              g.seq_anchor = g.take.socket.send_seq + g.take.refill;
              g.take.socket.send_queue.clear();
              g.take.socket.receive_queue.clear();
              st.given[id_of(flow)] = std::move(g);
            }
            remember(self, {text(flow), st.policy->identity.name, name_of(self, r.holder), "taken", ms});
            st.events->add(node::severity::info, "rim_handed_off",
                           {{"flow", text(flow)}, {"to", name_of(self, r.holder)}, {"ms", std::to_string(ms)},
                            {"frozen_at_ms", std::to_string(frozen_ms)},
                            {"send_seq", std::to_string(frozen.second.socket.send_seq)},
                            {"sent_unacked", std::to_string(frozen.second.refill)},
                            {"unsent", std::to_string(frozen.second.socket.unsent)},
                            {"position", std::to_string(frozen.second.position)}});
            rp.deliver(nlohmann::json{{"flow", text(flow)}, {"to", name_of(self, r.holder)}, {"ms", ms}}.dump());
          },
          [=](caf::error& err) mutable {
            // No answer: the taker may be gone; the flow carries on here.
            resume_here(self, flow);
            const std::string why = self->home_system().render(err);
            remember(self, {text(flow), self->state.policy->identity.name, name_of(self, target), "no answer: " + why, 0});
            fail("no answer from the taker: " + why);
          });
    });
}

/// A masquerader forgets a flow. A request like every rim_relay (its answer, true, must not
/// arrive as an unexpected message); `then()` runs on the answer or its failure.
template <class Then>
void tell_relay_off(rim_actor_type* self, const caf::actor& hop, const rim_flow& flow, Then then) {
  self->request(hop, std::chrono::seconds(2), protocol::rim_relay{flow, self->state.self_address, 0, false})
    .then([=](bool) mutable { then(); }, [=](caf::error&) mutable { then(); });
}

std::string path_text(rim_actor_type* self, const rim_state::exit_path& p) {
  std::string out = p.funnel ? "funnel-cast via " : "masqueraded via ";
  for (std::size_t i = 0; i < p.hops.size(); ++i) out += (i ? " -> " : "") + name_of(self, p.hops[i]);
  return out;
}

/// Ends a masquerade here: the segments leave from this host again first, then the
/// masqueraders forget the flow; `then()` runs once they all answered (or failed to), so a new
/// path set up afterwards is not undone by a late "off".
template <class Then>
void stop_masquerade(rim_actor_type* self, const rim_flow& flow, Then then) {
  auto& st = self->state;
  auto it = st.exits.find(id_of(flow));
  if (it == st.exits.end()) {
    then();
    return;
  }
  const auto path = it->second;
  st.exits.erase(it);
  st.moved[id_of(flow)] = std::chrono::steady_clock::now();
  st.events->add(node::severity::info, "rim_masquerade_ended", {{"flow", text(flow)}});
  auto done = std::make_shared<Then>(std::move(then));
  on_service(self, [flow, funnel = path.funnel](service&) {
               funnel ? net::funnel_flow(key_of(flow), false) : net::masquerade_flow(key_of(flow), false);
               return 0;
             },
             [=](int) {
               publish_tables(self, [=] {
                 std::vector<caf::actor> hops;
                 for (auto hop : path.hops)
                   if (auto l = self->state.links.find(hop); l != self->state.links.end()) hops.push_back(l->second);
                 if (hops.empty()) return (*done)();
                 auto remaining = std::make_shared<std::size_t>(hops.size());
                 for (auto& hop : hops)
                   tell_relay_off(self, hop, flow, [=] { if (--*remaining == 0) (*done)(); });
               });
             });
}

void stop_masquerade(rim_actor_type* self, const rim_flow& flow) {
  stop_masquerade(self, flow, [] {});
}

/// The linked rim member called `name` (its name or address), or 0 with the reason in `why`.
std::uint32_t linked_member(rim_actor_type* self, const std::string& name, std::string& why) {
  for (auto& [address, n] : self->state.member_names)
    if (n == name || policy::format_ipv4(address) == name) {
      if (self->state.links.count(address)) return address;
      why = "no link to " + name + " now";
      return 0;
    }
  why = "\"" + name + "\" is not a rim member";
  return 0;
}

/// Finds the connection served here whose client is `client` ("address:port"): `then(flow)` in
/// the actor, or `fail(reason)`.
template <class Fail, class Then>
void find_served(rim_actor_type* self, const std::string& client, Fail fail, Then then) {
  const auto colon = client.rfind(':');
  auto address = parse_ipv4(client.substr(0, colon == std::string::npos ? 0 : colon));
  std::uint16_t port = 0;
  try {
    port = static_cast<std::uint16_t>(std::stoul(client.substr(colon + 1)));
  } catch (...) {
  }
  if (!address || port == 0) return fail("flow must be the client's address:port");
  const std::uint32_t client_address = *address;
  on_service(
    self,
    [client_address, port](service& s) {
      std::optional<rim_flow> found;
      for (auto& c : s.snapshot().connections)
        if (c.flow.client_address == client_address && c.flow.client_port == port) found = c.flow;
      return found;
    },
    [=](std::optional<rim_flow> found) mutable {
      if (!found) return fail("no connection from " + policy::format_endpoint(client_address, port) + " here");
      then(*found);
    });
}

/// Masquerade or funnel-cast of a flow served here through `hops` (a reflector chain when more
/// than one): every masquerader is told first (rim_relay, answered), then this host's table and
/// kernel rule send the segments their way.
void start_masquerade(rim_actor_type* self, rim_flow flow, std::vector<std::uint32_t> hops, bool funnel,
                      caf::response_promise rp) {
  auto& st = self->state;
  auto remaining = std::make_shared<std::size_t>(hops.size());
  auto failed = std::make_shared<bool>(false);
  for (std::size_t i = 0; i < hops.size(); ++i) {
    const std::uint32_t next = i + 1 < hops.size() ? hops[i + 1] : 0;
    auto link = st.links.find(hops[i]);
    self->request(link->second, std::chrono::milliseconds(st.policy->rim->handoff_timeout_ms),
                  protocol::rim_relay{flow, st.self_address, next, true})
      .then(
        [=](bool ok) mutable {
          if (!ok) *failed = true;
          if (--*remaining > 0) return;
          if (*failed) {
            ++self->state.counters.masquerades_failed;
            for (auto hop : hops)
              if (auto l = self->state.links.find(hop); l != self->state.links.end())
                tell_relay_off(self, l->second, flow, [] {});
            rp.deliver(json_error("a masquerader refused the flow"));
            return;
          }
          self->state.exits[id_of(flow)] = {hops, funnel};
          publish_tables(self, [=]() mutable {
            on_service(self, [flow, funnel](service&) {
                         try {
                           funnel ? net::funnel_flow(key_of(flow), true) : net::masquerade_flow(key_of(flow), true);
                           return std::string();
                         } catch (const std::exception& e) {
                           return std::string(e.what());
                         }
                       },
                       [=](std::string why) mutable {
                         auto& st = self->state;
                         if (!why.empty()) {
                           stop_masquerade(self, flow);
                           ++st.counters.masquerades_failed;
                           rp.deliver(json_error(why));
                           return;
                         }
                         ++st.counters.masquerades;
                         st.moved[id_of(flow)] = std::chrono::steady_clock::now();
                         const auto& path = st.exits[id_of(flow)];
                         remember(self, {text(flow), st.policy->identity.name, path_text(self, path), "in place", 0});
                         st.events->add(node::severity::info, "rim_masquerade",
                                        {{"flow", text(flow)}, {"path", path_text(self, path)}});
                         rp.deliver(nlohmann::json{{"flow", text(flow)}, {"path", path_text(self, path)}}.dump());
                       });
          });
        },
        [=](caf::error& err) mutable {
          *failed = true;
          if (--*remaining == 0) {
            ++self->state.counters.masquerades_failed;
            rp.deliver(json_error("a masquerader did not answer: " + self->home_system().render(err)));
          }
        });
  }
}

/// The console's masquerade: `client` "address:port" of a connection served here, `via` the
/// masqueraders by name or address, comma-separated, `mode` "masquerade", "funnel" or "off".
caf::result<std::string> masquerade(rim_actor_type* self, const std::string& client, const std::string& via,
                                    const std::string& mode) {
  auto rp = self->make_response_promise<std::string>();
  auto fail = [=](std::string why) mutable {
    ++self->state.counters.masquerades_failed;
    rp.deliver(json_error(why));
  };
  if (mode != "masquerade" && mode != "funnel" && mode != "off") {
    fail("mode must be masquerade, funnel or off");
    return rp;
  }
  std::vector<std::uint32_t> hops;
  std::size_t start = 0;
  while (mode != "off" && start <= via.size()) {
    const auto comma = via.find(',', start);
    std::string why;
    const std::uint32_t hop =
        linked_member(self, via.substr(start, comma == std::string::npos ? std::string::npos : comma - start), why);
    if (hop == 0) {
      fail(why);
      return rp;
    }
    hops.push_back(hop);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  find_served(self, client, fail, [=](rim_flow found) mutable {
      const rim_flow flow = found;
      stop_masquerade(self, flow, [=]() mutable {
        if (mode == "off") {
          rp.deliver(nlohmann::json{{"flow", text(flow)}, {"path", "direct"}}.dump());
          return;
        }
        start_masquerade(self, flow, hops, mode == "funnel", rp);
      });
    });
  return rp;
}

/// The giver's side, asked by the console: `client` is "address:port" of a connection served
/// here, `to` a member's name or address.
caf::result<std::string> hand_off(rim_actor_type* self, const std::string& client, const std::string& to) {
  auto& st = self->state;
  ++st.counters.handoffs_asked;
  auto rp = self->make_response_promise<std::string>();
  auto fail = [=](std::string why) mutable {
    ++self->state.counters.handoffs_failed;
    rp.deliver(json_error(why));
  };
  std::string why;
  const std::uint32_t target = linked_member(self, to, why);
  if (target == 0) {
    fail(why);
    return rp;
  }
  auto taker = st.links[target];
  const auto started = std::chrono::steady_clock::now();
  find_served(self, client, fail, [=](rim_flow found) mutable {
      auto& st = self->state;
      const rim_flow flow = found;
      stop_masquerade(self, flow);  // its new holder sends it itself
      // First the flow's packets stop reaching the socket: once it is gone, the kernel would
      // answer them with a reset in the owner's name.
      if (flow.service_address == st.self_address) {
        try {
          net::drop_flow(key_of(flow));
        } catch (const std::exception& e) {
          return fail(e.what());
        }
        give(self, flow, target, taker, rp, started);
      } else {
        st.held.erase(id_of(flow));
        publish_tables(self, [=]() mutable { give(self, flow, target, taker, rp, started); });
      }
    });
  return rp;
}


// ---- the management object (management.hpp) -------------------------------------------------

time_ms now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const char* move_text(policy::rim_move m) {
  return m == policy::rim_move::stay ? "direct" : policy::to_string(m);
}

void remember_decision(rim_actor_type* self, rim_state::decision_record r) {
  auto& q = self->state.decisions;
  q.push_back(std::move(r));
  while (q.size() > 32) q.pop_front();
}

/// The master: the decisions due now go to the hosts whose sockets send the flows; each outcome
/// is an event with the decision's reason.
void decide(rim_actor_type* self) {
  auto& st = self->state;
  if (!st.manage) return;
  std::vector<std::uint32_t> available{st.self_address};
  for (auto& [address, link] : st.links) available.push_back(address);
  for (auto& n : st.manage->notes())
    st.events->add(node::severity::info, "rim_management_note", {{"flow", text(n.flow)}, {"reason", n.text}});
  for (auto& d : st.manage->decide(available, now_ms())) {
    ++st.counters.decisions;
    // A reflector chain reads as its hops, first to last.
    std::string target = d.chain.empty() ? name_of(self, d.target) : std::string();
    for (auto hop : d.chain) target += (target.empty() ? "" : " -> ") + name_of(self, hop);
    st.events->add(node::severity::info, "rim_decision",
                   {{"flow", text(d.flow)}, {"host", name_of(self, d.sender)}, {"move", move_text(d.move)},
                    {"target", target}, {"reason", d.reason}});
    caf::actor host;
    if (d.sender == st.self_address) host = caf::actor_cast<caf::actor>(self);
    else if (auto l = st.links.find(d.sender); l != st.links.end()) host = l->second;
    auto finish = [=](bool ok, std::string outcome) {
      auto& st = self->state;
      if (!ok) ++st.counters.decisions_failed;
      if (st.manage) st.manage->done(d, ok, now_ms());
      remember_decision(self, {text(d.flow), move_text(d.move), target, d.reason, outcome});
      st.events->add(ok ? node::severity::info : node::severity::warning, "rim_decision_done",
                     {{"flow", text(d.flow)}, {"move", move_text(d.move)}, {"target", target},
                      {"outcome", outcome}});
    };
    if (!host) {
      finish(false, "no link to " + name_of(self, d.sender));
      continue;
    }
    const auto timeout = std::chrono::milliseconds(3 * st.policy->rim->handoff_timeout_ms + 2000);
    self->request(host, timeout, protocol::rim_command{d.flow, st.self_address, static_cast<std::uint8_t>(d.move),
                                                       d.target, d.chain, d.reason})
      .then(
        [=](const std::string& answer) {
          const auto j = nlohmann::json::parse(answer, nullptr, false);
          const bool ok = j.is_object() && !j.contains("error");
          finish(ok, ok ? "done" : j.is_object() ? j.value("error", answer) : answer);
        },
        [=](caf::error& err) { finish(false, "no answer: " + self->home_system().render(err)); });
  }
}

/// Every host, each interval: its flows' TCP counters, its ICMP errors and load, to the master
/// (or into its own management object when it is the master).
void report(rim_actor_type* self) {
  on_service(
    self,
    [](service& s) {
      protocol::rim_report r;
      r.flows = s.tcp_reports();
      const auto icmp = net::read_icmp_errors();
      r.icmp_unreachable = icmp.unreachable;
      r.icmp_time_exceeded = icmp.time_exceeded;
      r.icmp_source_quench = icmp.source_quench;
      r.load_permille = net::load_permille();
      return r;
    },
    [=](protocol::rim_report r) {
      auto& st = self->state;
      r.host = st.self_address;
      const auto now = std::chrono::steady_clock::now();
      for (auto& f : r.flows) {
        if (auto e = st.exits.find(id_of(f.flow)); e != st.exits.end()) {
          f.exit = e->second.funnel ? 2 : 1;
          f.via = e->second.hops.front();
        }
        auto m = st.moved.find(id_of(f.flow));
        f.moved_ms_ago = m == st.moved.end()
                             ? ~0u
                             : static_cast<std::uint32_t>(
                                   std::chrono::duration_cast<std::chrono::milliseconds>(now - m->second).count());
      }
      if (st.is_master && st.manage) {
        ++st.counters.reports_received;
        st.manage->on_report(r, now_ms());
        decide(self);
        return;
      }
      auto master = st.links.find(st.master);
      if (master == st.links.end()) return;  // no master yet, or no link to it: the next interval
      ++st.counters.reports_sent;
      self->send(master->second, std::move(r));
    });
}

/// A host carries out the master's decision with the console's own requests.
caf::result<std::string> command(rim_actor_type* self, const protocol::rim_command& c) {
  auto& st = self->state;
  if (c.from != st.master || !(c.from == st.self_address || st.links.count(c.from))) {
    ++st.counters.commands_refused;
    st.events->add(node::severity::warning, "rim_refused", {{"from", policy::format_ipv4(c.from)},
                                                             {"reason", "a management command not from the master"}});
    return json_error("not from the rim's master");
  }
  ++st.counters.commands_done;
  const std::string client = policy::format_endpoint(c.flow.client_address, c.flow.client_port);
  std::string target = policy::format_ipv4(c.target);
  if (!c.chain.empty() && c.move != static_cast<std::uint8_t>(policy::rim_move::handoff)) {
    target.clear();
    for (auto hop : c.chain) target += (target.empty() ? "" : ",") + policy::format_ipv4(hop);
  }
  switch (static_cast<policy::rim_move>(c.move)) {
    case policy::rim_move::handoff: return hand_off(self, client, target);
    case policy::rim_move::masquerade: return masquerade(self, client, target, "masquerade");
    case policy::rim_move::funnel: return masquerade(self, client, target, "funnel");
    case policy::rim_move::stay: return masquerade(self, client, "", "off");
  }
  ++st.counters.commands_refused;
  return json_error("unknown move " + std::to_string(c.move));
}

/// The owner's packets of `flow` go to its own kernel again (no socket there: the client's next
/// segment is answered with a reset in the owner's name, a clean end instead of a silent hang).
void stop_forwarding(rim_actor_type* self, const rim_flow& flow) {
  auto& st = self->state;
  st.forwarded.erase(id_of(flow));
  st.given.erase(id_of(flow));
  publish_tables(self, [flow] { net::undrop_flow(key_of(flow)); });
}

/// The owner takes a flow back from its holder, which died: the socket is re-created here from
/// the owner's own hand-off of it, rewound to the client's last acknowledgement that passed
/// through here (reverse-flow forwarding saw every one), with the client's window of the response
/// refilled as sent (service::take_back). Nothing to take it back from: the client gets a reset.
void take_back(rim_actor_type* self, rim_flow flow, std::uint32_t holder) {
  auto& st = self->state;
  auto* stage = st.stage;
  const auto key = key_of(flow);
  auto fail = [=](const std::string& why) {
    auto& st = self->state;
    ++st.counters.take_back_failed;
    st.events->add(node::severity::warning, "rim_take_back_failed",
                   {{"flow", text(flow)}, {"holder", name_of(self, holder)}, {"reason", why + ": the client gets a reset"}});
    stop_forwarding(self, flow);
  };
  auto g = st.given.find(id_of(flow));
  if (g == st.given.end() || !stage) return fail("this host did not give it away itself");
  node::on_loop(
    self, *st.io,
    [stage, key] {
      std::pair<bool, net::rim_client_mark> out;
      out.first = stage->client_mark(key, out.second);
      return out;
    },
    [=](std::pair<bool, net::rim_client_mark> found) {
      auto& st = self->state;
      auto g = st.given.find(id_of(flow));
      if (g == st.given.end()) return;  // ended meanwhile
      if (!found.first) return fail("no segment of the client seen since the hand-off");
      const auto& m = found.second;
      protocol::rim_take t = g->second.take;
      const auto advance = static_cast<std::int32_t>(m.ack - g->second.seq_anchor);
      if (advance < 0 && static_cast<std::uint64_t>(-static_cast<std::int64_t>(advance)) > t.position)
        return fail("the client's acknowledgement is before the hand-off's start");
      t.position = static_cast<std::uint64_t>(static_cast<std::int64_t>(t.position) + advance);
      t.from = st.self_address;
      auto& s = t.socket;
      s.send_seq = m.ack;
      s.unsent = 0;
      s.receive_seq = m.seq_end;
      s.snd_wl1 = m.seq_end;
      s.rcv_wup = m.seq_end;
      s.snd_wnd = std::uint32_t{m.window} << (s.wscale ? s.snd_wscale : 0);
      // PAWS: the client drops segments older than the last timestamp it saw from the holder,
      // which is at most a few seconds past the one it echoed last.
      if (s.timestamps && m.timestamps) s.timestamp = m.ts_ecr + 10000;
      const std::uint32_t window = std::max<std::uint32_t>(s.snd_wnd, 65535);
      on_service(
        self, [t, window, key](service& svc) { return svc.take_back(t, window, [&] { net::undrop_flow(key); }); },
        [=](std::string why) {
          auto& st = self->state;
          if (!why.empty()) return fail(why);
          ++st.counters.taken_back;
          st.forwarded.erase(id_of(flow));
          st.given.erase(id_of(flow));
          st.moved[id_of(flow)] = std::chrono::steady_clock::now();
          publish_tables(self, [] {});
          st.events->add(node::severity::info, "rim_taken_back",
                         {{"flow", text(flow)}, {"holder", name_of(self, holder)},
                          {"reason", "its holder left the group (dead)"}, {"acknowledged", std::to_string(m.ack)},
                          {"position", std::to_string(t.position)}});
        });
    });
}

/// The group says who the master is: the management object runs there (and starts empty on a
/// new master: the hosts' next reports rebuild it, and each flow's dwell comes with them).
void apply_view(rim_actor_type* self, const group::group_view& v) {
  auto& st = self->state;
  // A holder that left the group is dead: its flows come back to their owner.
  std::set<std::uint32_t> now_members(v.members.begin(), v.members.end());
  if (!now_members.empty()) {
    std::vector<std::pair<rim_flow, std::uint32_t>> orphans;
    for (auto& [id, holder] : st.forwarded)
      if (st.group_members.count(holder) && !now_members.count(holder)) orphans.push_back({flow_of(id), holder});
    st.group_members = std::move(now_members);
    for (auto& [flow, holder] : orphans) take_back(self, flow, holder);
  }
  const bool was = st.is_master;
  st.master = v.master;
  st.is_master = v.is_master;
  if (st.is_master && !was && !st.policy->rim->manage.rules.empty()) {
    st.manage = std::make_unique<management_object>(st.policy);
    st.events->add(node::severity::info, "rim_management_started", {{"reason", "this host is the group's master"}});
  } else if (!st.is_master && was && st.manage) {
    st.manage.reset();
    st.events->add(node::severity::info, "rim_management_stopped",
                   {{"reason", "the group's master is " + name_of(self, v.master) + " now"}});
  }
}

node::role_status status_of(rim_actor_type* self, const service_snapshot& s) {
  auto& st = self->state;
  node::role_status out;
  out.fact("members", scalar(static_cast<std::uint64_t>(st.member_names.size() + 1)));
  out.fact("last_freeze_us", scalar(s.last_freeze_us));
  out.fact("last_restore_us", scalar(s.last_restore_us));
  out.group("rim", st.counters);
  out.group("service", s.counters);
  out.group("origin", s.origin);
  if (st.stage) out.group("reverse_flow", st.stage->counters());
  node::status_table m{"members", "member", {{"member", column_kind::key, ""}, {"address", column_kind::fact, ""},
                                              {"linked", column_kind::fact, ""}}, {}};
  for (auto& [address, name] : st.member_names)
    m.rows.push_back({{scalar(name), scalar(policy::format_ipv4(address)), scalar(st.links.count(address) > 0)}, {}});
  out.tables.push_back(std::move(m));
  node::status_table f{"flows", "", {{"flow", column_kind::fact, ""}, {"content", column_kind::fact, ""},
                                      {"position", column_kind::fact, ""}, {"total", column_kind::fact, ""},
                                      {"sender", column_kind::fact, ""}, {"taken", column_kind::fact, ""},
                                      {"path", column_kind::fact, ""}}, {}};
  for (auto& c : s.connections) {
    auto e = st.exits.find(id_of(c.flow));
    f.rows.push_back({{scalar(text(c.flow)), scalar(c.content), scalar(c.position), scalar(c.total),
                       scalar(st.policy->identity.name), scalar(c.taken),
                       scalar(e == st.exits.end() ? std::string("direct") : path_text(self, e->second))}, {}});
  }
  for (auto& [id, holder] : st.forwarded)
    f.rows.push_back({{scalar(text(flow_of(id))), scalar(""), scalar(std::uint64_t{0}), scalar(std::uint64_t{0}),
                       scalar(name_of(self, holder)), scalar(false), scalar("held elsewhere")}, {}});
  for (auto& [id, next] : st.relays)
    f.rows.push_back({{scalar(text(flow_of(id))), scalar(""), scalar(std::uint64_t{0}), scalar(std::uint64_t{0}),
                       scalar(next == 0 ? st.policy->identity.name : name_of(self, next)), scalar(false),
                       scalar(next == 0 ? std::string("sent here for its owner") : "relayed to " + name_of(self, next))},
                      {}});
  out.tables.push_back(std::move(f));
  node::status_table d{"handoffs", "", {{"flow", column_kind::fact, ""}, {"from", column_kind::fact, ""},
                                         {"to", column_kind::fact, ""}, {"outcome", column_kind::fact, ""},
                                         {"ms", column_kind::fact, ""}}, {}};
  for (auto& r : st.recent)
    d.rows.push_back({{scalar(r.flow), scalar(r.from), scalar(r.to), scalar(r.outcome), scalar(r.ms)}, {}});
  out.tables.push_back(std::move(d));
  out.fact("master", scalar(st.master ? name_of(self, st.master) : std::string("none")));
  out.fact("management", scalar(std::string(st.manage ? "running here"
                                            : st.policy->rim->manage.rules.empty() ? "off (no manage rules)"
                                                                                 : "on the master")));
  if (!st.manage) return out;
  node::status_table mf{"managed_flows", "", {{"flow", column_kind::fact, ""}, {"sender", column_kind::fact, ""},
                                               {"path", column_kind::fact, ""}, {"loss_pct", column_kind::fact, ""},
                                               {"rtt_us", column_kind::fact, ""}, {"bad_run", column_kind::fact, ""},
                                               {"good_run", column_kind::fact, ""}, {"profile", column_kind::fact, ""},
                                               {"pending", column_kind::fact, ""}}, {}};
  for (auto& f : st.manage->flows()) {
    const std::string path = f.exit == 0 ? "direct" : std::string(f.exit == 1 ? "masqueraded via " : "funnel-cast via ") + name_of(self, f.via);
    mf.rows.push_back({{scalar(text(f.flow)), scalar(name_of(self, f.sender)), scalar(path), scalar(f.loss_pct),
                        scalar(static_cast<std::uint64_t>(f.rtt_us)), scalar(static_cast<std::uint64_t>(f.bad_run)),
                        scalar(static_cast<std::uint64_t>(f.good_run)), scalar(f.profile), scalar(f.pending)}, {}});
  }
  out.tables.push_back(std::move(mf));
  node::status_table mh{"managed_hosts", "", {{"host", column_kind::fact, ""}, {"loss_pct", column_kind::fact, ""},
                                               {"load_permille", column_kind::fact, ""}, {"icmp_errors", column_kind::fact, ""}}, {}};
  for (auto& h : st.manage->hosts(now_ms()))
    mh.rows.push_back({{scalar(name_of(self, h.host)), scalar(h.loss_pct), scalar(static_cast<std::uint64_t>(h.load_permille)),
                        scalar(h.icmp_errors)}, {}});
  out.tables.push_back(std::move(mh));
  node::status_table md{"decisions", "", {{"flow", column_kind::fact, ""}, {"move", column_kind::fact, ""},
                                           {"target", column_kind::fact, ""}, {"reason", column_kind::fact, ""},
                                           {"outcome", column_kind::fact, ""}}, {}};
  for (auto& r : st.decisions)
    md.rows.push_back({{scalar(r.flow), scalar(r.move), scalar(r.target), scalar(r.reason), scalar(r.outcome)}, {}});
  out.tables.push_back(std::move(md));
  return out;
}

caf::behavior rim_impl(rim_actor_type* self, node::policy_ptr p, std::shared_ptr<service> svc,
                       std::shared_ptr<node::io_runtime> io, node::event_log* events) {
  auto& st = self->state;
  st.policy = p;
  st.events = events;
  st.svc = svc;
  st.io = io;
  st.stage = io->stage<net::rim_stage>();
  st.self_address = p->identity.address;
  st.rules = {p->rim->tun, p->rim->route_table};
  for (auto& peer : p->peers)
    if (peer.at.address != st.self_address) st.member_names[peer.at.address] = peer.name;
  self->attach_functor([svc, rules = st.rules, events, &sys = self->home_system()](const caf::error& reason) {
    if (reason) events->add(node::severity::error, "rim_actor_exited", {{"reason", sys.render(reason)}});
    svc->stop();
    net::remove_rim_rules(rules);
  });
  publish_tables(self, [] {});
  // One link per pair: the lower address dials (tls_dial.hpp).
  for (auto& [address, name] : st.member_names)
    if (node::dials(st.self_address, address)) dial(self, address);
  // A stray message is counted and dropped: the rim actor does not quit over one (CAF's default
  // would end it, and with it every flow this host serves).
  self->set_default_handler([=](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
    ++self->state.counters.unexpected_messages;
    self->state.events->add(node::severity::warning, "rim_unexpected_message",
                            {{"message", caf::to_string(x.content())}});
    return caf::message{};
  });
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    for (auto it = st.links.begin(); it != st.links.end(); ++it)
      if (it->second.address() == dm.source) {
        const auto address = it->first;
        st.links.erase(it);
        st.events->add(node::severity::warning, "rim_link_lost", {{"member", name_of(self, address)}});
        if (node::dials(st.self_address, address)) self->delayed_send(self, std::chrono::seconds(1), dial_atom::value, address);
        break;
      }
    st.counters.links = st.links.size();
  });
  self->send(self, protocol::tick_atom::value);
  if (!p->rim->manage.rules.empty()) self->send(self, manage_atom::value);
  return {
    [=](node::loop_atom, node::loop_reply& k) { k(); },
    // The group (the rim is the node's group: /peers): its view says who runs the management
    // object. The rim takes no work units; their events are acknowledged and ignored.
    [=](protocol::group_atom, const group::group_actor&) {},
    [=](const group::group_view& v) { apply_view(self, v); },
    [=](protocol::assign_atom, group::unit_id) {},
    [=](protocol::revoke_atom, group::unit_id, bool) {},
    [=](protocol::takeover_atom, group::unit_id, group::state_bytes&) {},
    [=](protocol::takeover_atom, group::unit_id, std::vector<group::state_portion>&) {},
    [=](group::checkpoint_atom, group::unit_id) {},
    [=](protocol::units_atom) { return node::unit_flows{}; },
    [=](manage_atom) {
      report(self);
      self->delayed_send(self, std::chrono::milliseconds(self->state.policy->rim->manage.interval_ms),
                         manage_atom::value);
    },
    [=](protocol::rim_report& r) {
      auto& st = self->state;
      if (!is_member(self, r.host) || !st.links.count(r.host)) {
        ++st.counters.refused_non_members;
        return;
      }
      if (!st.manage) return;  // no longer the master: the host learns it from the group
      ++st.counters.reports_received;
      st.manage->on_report(r, now_ms());
    },
    [=](const protocol::rim_command& c) { return command(self, c); },
    [=](dial_atom, std::uint32_t address) {
      if (!self->state.links.count(address)) dial(self, address);
    },
    [=](const protocol::rim_hello& h) {
      auto& st = self->state;
      if (!is_member(self, h.address) || !h.rim) {
        ++st.counters.refused_non_members;
        st.events->add(node::severity::warning, "rim_refused", {{"from", h.name}, {"reason", "not a rim member"}});
        return;
      }
      st.links[h.address] = h.rim;
      st.counters.links = st.links.size();
      self->monitor(h.rim);
    },
    [=](protocol::rim_take& t) -> caf::result<protocol::rim_taken> {
      auto& st = self->state;
      if (!is_member(self, t.from) || !st.links.count(t.from)) {
        ++st.counters.refused_non_members;
        st.events->add(node::severity::warning, "rim_refused", {{"from", policy::format_ipv4(t.from)},
                                                                 {"reason", "take from a host that is not a rim member"}});
        return protocol::rim_taken{t.flow, st.self_address, false, "not a rim member"};
      }
      return take(self, std::move(t));
    },
    [=](const protocol::rim_holder& h) {
      auto& st = self->state;
      const auto id = id_of(h.flow);
      if (h.flow.service_address != st.self_address) return;  // not ours to forward
      if (h.holder == 0) {
        // It ended at its holder: keep forwarding its last packets for a while, then forget it.
        if (st.forwarded.count(id))
          self->delayed_send(self, after_life, linger_atom::value, h.flow.client_address, h.flow.client_port,
                             h.flow.service_address, h.flow.service_port);
        return;
      }
      if (!is_member(self, h.holder)) {
        ++st.counters.refused_non_members;
        return;
      }
      st.forwarded[id] = h.holder;
      ++st.counters.holder_updates;
      publish_tables(self, [] {});
    },
    [=](handoff_atom, const std::string& client, const std::string& to) { return hand_off(self, client, to); },
    [=](masquerade_atom, const std::string& client, const std::string& via, const std::string& mode) {
      return masquerade(self, client, via, mode);
    },
    [=](const protocol::rim_relay& r) -> caf::result<bool> {
      auto& st = self->state;
      if (!is_member(self, r.from) || !st.links.count(r.from) || (r.next != 0 && !is_member(self, r.next))) {
        ++st.counters.refused_non_members;
        st.events->add(node::severity::warning, "rim_refused", {{"from", policy::format_ipv4(r.from)},
                                                                 {"reason", "relay asked by or to a host that is not a rim member"}});
        return false;
      }
      const auto id = id_of(r.flow);
      if (r.on) {
        st.relays[id] = r.next;
        ++st.counters.relays_taken;
      } else if (!st.relays.erase(id)) {
        return true;
      }
      auto rp = self->make_response_promise<bool>();
      publish_tables(self, [rp]() mutable { rp.deliver(true); });
      return rp;
    },
    [=](linger_atom, std::uint32_t a, std::uint16_t ap, std::uint32_t b, std::uint16_t bp) {
      // A flow's after-life is over: forget its forwarding (owner) or injection (holder).
      auto& st = self->state;
      const flow_id id{a, ap, b, bp};
      const bool was_forwarded = st.forwarded.erase(id) > 0;
      st.given.erase(id);
      const bool was_held = st.held.erase(id) > 0;
      if (!was_forwarded && !was_held) return;
      publish_tables(self, [flow = flow_of(id), was_forwarded] {
        if (was_forwarded) net::undrop_flow(key_of(flow));
      });
    },
    [=](protocol::tick_atom) {
      // Flows that ended here: the owner's forwarding and a holder's injection live on a while.
      on_service(self, [](service& s) { return s.ended(); },
                 [=](std::vector<rim_flow> ended) {
                   auto& st = self->state;
                   for (auto& f : ended) {
                     stop_masquerade(self, f);
                     st.moved.erase(id_of(f));
                     if (f.service_address != st.self_address) {
                       auto owner = st.links.find(f.service_address);
                       if (owner != st.links.end()) self->send(owner->second, protocol::rim_holder{f, 0});
                     }
                     self->delayed_send(self, after_life, linger_atom::value, f.client_address, f.client_port,
                                        f.service_address, f.service_port);
                   }
                 });
      self->delayed_send(self, std::chrono::milliseconds(500), protocol::tick_atom::value);
    },
    [=](protocol::get_atom) {
      auto rp = self->make_response_promise<node::role_status>();
      on_service(self, [](service& s) { return s.snapshot(); },
                 [=](service_snapshot s) mutable { rp.deliver(status_of(self, s)); });
      return rp;
    },
    [=](node::flows_atom, std::uint32_t limit) {
      auto rp = self->make_response_promise<node::flow_list>();
      on_service(self, [](service& s) { return s.snapshot(); },
                 [=](service_snapshot s) mutable {
                   node::flow_list out{"rim", {}, s.connections.size()};
                   for (auto& c : s.connections) {
                     if (out.flows.size() >= limit) break;
                     node::flow_row r;
                     r.key.src_addr = c.flow.client_address;
                     r.key.src_port = c.flow.client_port;
                     r.key.dst_addr = c.flow.service_address;
                     r.key.dst_port = c.flow.service_port;
                     r.key.protocol = 6;
                     r.state = c.frozen ? "frozen" : "sending";
                     r.origin = c.taken ? "taken from another rim host" : "served";
                     out.flows.push_back(std::move(r));
                   }
                   rp.deliver(std::move(out));
                 });
      return rp;
    },
    [=](protocol::reload_atom, const node::policy_ptr& next) {
      // The rim section's settings are read at start; a change needs a restart.
      if (next->rim && *next->rim == *self->state.policy->rim) return std::string("applied (no change)");
      return std::string("the rim section changed: restart batond to apply it");
    },
  };
}

}  // namespace

caf::actor spawn_rim_actor(caf::actor_system& sys, std::shared_ptr<node::io_runtime> io, node::event_log& events,
                           const policy::policy& p) {
  service_config c;
  c.address = p.identity.address;
  c.port = p.rim->service_port;
  c.content = p.rim->content;
  c.max_flows = p.rim->max_flows;
  c.mss = p.rim->mss;
  c.origin = origin_settings_of(p);
  c.log = [&events](const std::string& name, const std::string& detail) {
    events.add(node::severity::warning, name, {{"detail", detail}});
  };
  auto svc = std::make_shared<service>(c);
  svc->start();
  return sys.spawn(rim_impl, std::make_shared<const policy::policy>(p), svc, std::move(io), &events);
}

}  // namespace baton::rim
