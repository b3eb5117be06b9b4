#include "group_sim.hpp"

#include <algorithm>
#include <set>

namespace baton::group::sim {

state_bytes encode_counter(std::uint64_t v) {
  state_bytes b(8);
  for (int i = 0; i < 8; ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * i));
  return b;
}

std::uint64_t decode_counter(const state_bytes& b) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < b.size() && i < 8; ++i) v |= static_cast<std::uint64_t>(b[i]) << (8 * i);
  return v;
}

namespace {
state_bytes initial_of(unit_id u) {
  const std::string s = "init:" + std::to_string(u);
  return state_bytes(s.begin(), s.end());
}
}  // namespace

state_bytes encode_checkpoint(std::uint64_t counter, const state_bytes& initial) {
  state_bytes b = encode_counter(counter);
  b.insert(b.end(), initial.begin(), initial.end());
  return b;
}

model_state fold_portions(const std::vector<state_portion>& portions) {
  model_state m;
  bool have_counter = false;
  for (const auto& p : portions) {
    switch (p.kind) {
      case portion_kind::checkpoint:
        m = model_state{};
        if (p.data.size() < 8) {
          m.consistent = false;
          return m;
        }
        m.counter = decode_counter(p.data);
        m.has_initial = p.data.size() > 8;
        m.initial.assign(p.data.begin() + 8, p.data.end());
        have_counter = true;
        break;
      case portion_kind::initial:
        m.has_initial = true;
        m.initial = p.data;
        break;
      case portion_kind::essential: {
        const auto v = decode_counter(p.data);
        // The model's essential deltas count up by one: a gap or a reordering shows here.
        if (have_counter ? v != m.counter + 1 : v != 0) m.consistent = false;
        m.counter = v;
        have_counter = true;
        break;
      }
    }
  }
  return m;
}

group_sim::group_sim(sim_config cfg, hooks_factory hooks)
    : cfg_(std::move(cfg)), hooks_(std::move(hooks)), nodes_(cfg_.nodes), rng_(cfg_.seed) {
  cfg_.group.peers.clear();
  for (std::size_t i = 0; i < nodes_.size(); ++i) cfg_.group.peers.push_back(address(i));
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    nodes_[i].member = make_member(i);
    nodes_[i].link_delay = cfg_.link_delay;
  }
}

std::unique_ptr<group_member> group_sim::make_member(std::size_t i) const {
  return std::make_unique<group_member>(
      address(i), i < cfg_.identities.size() ? cfg_.identities[i] : "node-" + std::to_string(i + 1),
      cfg_.group, hooks_ ? hooks_(i) : group_hooks{});
}

void group_sim::restart(std::size_t i) {
  kill(i);
  nodes_[i].member = make_member(i);
  nodes_[i].stopped_at.clear();
  nodes_[i].has_initial.clear();
  nodes_[i].stopped_with_initial.clear();
  start(i);
}

std::optional<std::size_t> group_sim::index_of(node_id a) const noexcept {
  const node_id base = 10u << 24;
  if (a <= base || a > base + nodes_.size()) return std::nullopt;
  return static_cast<std::size_t>(a - base - 1);
}

void group_sim::start(std::size_t i) {
  auto& n = nodes_[i];
  n.alive = true;
  n.started = true;
  n.links_at = n.link_delay == time_ms::max() ? time_ms::max() : now_ + n.link_delay;
  n.links_reported = false;
  n.member->start(now_);
  drain(i);
  report_links(i);
}

void group_sim::report_links(std::size_t i) {
  auto& n = nodes_[i];
  if (n.links_reported || now_ < n.links_at) return;
  n.links_reported = true;
  n.member->on_links_up(now_);
  drain(i);
}

void group_sim::start_all() {
  for (std::size_t i = 0; i < nodes_.size(); ++i) start(i);
}

void group_sim::kill(std::size_t i) {
  nodes_[i].alive = false;
  nodes_[i].counters.clear();
}

void group_sim::partition(const std::vector<std::vector<std::size_t>>& groups) {
  for (auto& n : nodes_) n.partition = -1;
  int g = 0;
  for (const auto& grp : groups) {
    for (auto i : grp) nodes_[i].partition = g;
    ++g;
  }
  for (auto& n : nodes_)
    if (n.partition < 0) n.partition = 1000 + static_cast<int>(&n - nodes_.data());
}

void group_sim::heal() {
  for (auto& n : nodes_) n.partition = 0;
}

bool group_sim::connected(std::size_t a, std::size_t b) const noexcept {
  return nodes_[a].partition == nodes_[b].partition && now_ >= nodes_[a].links_at &&
         now_ >= nodes_[b].links_at;
}

void group_sim::transmit(std::size_t from, node_id to, const message& m) {
  std::vector<std::size_t> dests;
  if (to == broadcast) {
    for (std::size_t j = 0; j < nodes_.size(); ++j)
      if (j != from) dests.push_back(j);
  } else if (auto j = index_of(to)) {
    dests.push_back(*j);
  }
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::uniform_int_distribution<long> delay(cfg_.min_delay.count(), cfg_.max_delay.count());
  for (auto j : dests) {
    ++sent_;
    if (const auto* ka = std::get_if<master_keepalive>(&m)) {
      ++keepalives_;
      keepalive_table_entries_ += ka->owners.size() + ka->backups.size();
    }
    const bool lost = coin(rng_) < cfg_.loss;
    const time_ms at = now_ + time_ms{delay(rng_)};
    if (lost || !connected(from, j)) {
      ++dropped_;
      continue;
    }
    const auto s = seq_++;
    queue_.emplace(std::make_pair(at, s), in_flight{at, s, from, j, m});
  }
}

void group_sim::drain(std::size_t i) {
  auto& n = nodes_[i];
  // Events first: the role model may register state, which produces more messages.
  for (int rounds = 0; rounds < 8; ++rounds) {
    auto evs = n.member->take_events();
    if (evs.empty()) break;
    for (auto& e : evs) {
      react(i, e);
      n.log.push_back(std::move(e));
    }
  }
  for (auto& o : n.member->take_outbox()) transmit(i, o.to, o.msg);
  // Whatever the node was just asked (a message, a test's call, the role) may bring a timer
  // forward; due now or past: ticked in this step (tick_when_due).
  n.next_tick = std::min(n.next_tick, n.member->next_due(now_));
}

void group_sim::react(std::size_t i, const event& e) {
  auto& n = nodes_[i];
  auto& m = *n.member;
  if (const auto* a = std::get_if<unit_assigned>(&e)) {
    n.counters[a->unit] = 0;
    n.has_initial[a->unit] = true;
    m.replicate(a->unit, portion_kind::initial, initial_of(a->unit), now_);
    m.replicate(a->unit, portion_kind::essential, encode_counter(0), now_);
  } else if (const auto* c = std::get_if<checkpoint_wanted>(&e)) {
    auto it = n.counters.find(c->unit);
    if (it != n.counters.end()) {
      ++checkpoints_;
      m.replicate(c->unit, portion_kind::checkpoint,
                  encode_checkpoint(it->second, n.has_initial[c->unit] ? initial_of(c->unit)
                                                                      : state_bytes{}),
                  now_);
    }
  } else if (const auto* t = std::get_if<take_over_unit>(&e)) {
    const model_state st = fold_portions(t->portions);
    if (!st.consistent)
      violations_.push_back("unit " + std::to_string(t->unit) +
                            " taken over with portions out of order or with a gap");
    const std::uint64_t v = st.counter;
    n.counters[t->unit] = v;
    takeovers_.push_back(takeover_record{i, t->unit, t->from, t->handover, v, now_});
    if (t->handover) {
      // A unit moved on purpose (or came back when a move was given up): the new owner must
      // continue exactly where the old one stopped.
      auto j = index_of(t->from);
      if (j) {
        const auto& stopped = nodes_[*j].stopped_at;
        auto it = stopped.find(t->unit);
        if (it == stopped.end()) {
          violations_.push_back("unit " + std::to_string(t->unit) + " handed over by node " +
                                std::to_string(*j) + " which never stopped it");
        } else if (it->second != v) {
          violations_.push_back("unit " + std::to_string(t->unit) + " continued at " +
                                std::to_string(v) + " but node " + std::to_string(*j) +
                                " stopped at " + std::to_string(it->second));
        }
      }
      const bool giver_had_initial = j && nodes_[*j].stopped_with_initial.count(t->unit) &&
                                     nodes_[*j].stopped_with_initial.at(t->unit);
      if (giver_had_initial && (!st.has_initial || st.initial != initial_of(t->unit)))
        violations_.push_back("unit " + std::to_string(t->unit) +
                              " handed over without its initial state");
    }
    if (st.has_initial && st.initial != initial_of(t->unit))
      violations_.push_back("unit " + std::to_string(t->unit) + " taken over with a wrong initial state");
    n.has_initial[t->unit] = st.has_initial;
    n.stopped_at.erase(t->unit);
  } else if (const auto* r = std::get_if<unit_revoked>(&e)) {
    auto it = n.counters.find(r->unit);
    if (it != n.counters.end()) {
      if (r->handing_over) {
        n.stopped_at[r->unit] = it->second;
        n.stopped_with_initial[r->unit] = n.has_initial[r->unit];
      }
      n.counters.erase(it);
    }
  }
}

void group_sim::role_updates(std::size_t i) {
  auto& n = nodes_[i];
  if (!cfg_.state_updates || cfg_.state_period.count() <= 0) return;
  if (now_.count() % cfg_.state_period.count() != 0) return;
  const auto slot = static_cast<unit_id>((now_.count() / cfg_.state_period.count()) % 8);
  for (auto& [u, v] : n.counters) {
    if (u % 8 != slot || !n.member->owns(u)) continue;
    ++v;
    n.member->replicate(u, portion_kind::essential, encode_counter(v), now_);
  }
}

void group_sim::step() {
  now_ += time_ms{1};
  while (!queue_.empty() && queue_.begin()->first.first <= now_) {
    auto f = std::move(queue_.begin()->second);
    queue_.erase(queue_.begin());
    if (!nodes_[f.to].alive || !connected(f.from, f.to)) {
      ++dropped_;
      continue;
    }
    if (const auto* r = std::get_if<join_reply>(&f.msg)) nodes_[f.to].replies.push_back(r->result);
    nodes_[f.to].member->on_message(address(f.from), f.msg, now_);
    drain(f.to);  // also brings the node's next tick forward when the message made one due
  }
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i].alive) continue;
    auto& n = nodes_[i];
    report_links(i);
    if (!cfg_.tick_when_due || now_ >= n.next_tick) {
      n.member->on_tick(now_);
      ++ticks_;
      drain(i);
    }
    role_updates(i);
    drain(i);
    // As the group actor does after every call: the next tick when something is next due.
    const time_ms due = n.member->next_due(now_);
    n.next_tick = due <= now_ ? now_ + time_ms{1} : due;
  }
}

void group_sim::stall(time_ms d) {
  now_ += d;
  // The timers first: in the group actor the tick was queued when due, before the messages
  // that arrived during the stall.
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i].alive) continue;
    nodes_[i].member->on_tick(now_);
    ++ticks_;
    drain(i);
  }
  now_ -= time_ms{1};  // step() advances to now_ + 1 and delivers what is queued
  step();
}

void group_sim::run_for(time_ms d) {
  const auto end = now_ + d;
  while (now_ < end) step();
}

bool group_sim::run_until(const std::function<bool()>& done, time_ms limit) {
  const auto end = now_ + limit;
  while (now_ < end) {
    step();
    if (done()) return true;
  }
  return false;
}

bool group_sim::run_until_stable(time_ms stable, time_ms limit) {
  const auto end = now_ + limit;
  std::optional<time_ms> since;
  while (now_ < end) {
    step();
    if (converged()) {
      if (!since) since = now_;
      if (now_ - *since >= stable) return true;
    } else {
      since.reset();
    }
  }
  return false;
}

std::vector<std::size_t> group_sim::masters() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].alive && nodes_[i].member->is_master()) out.push_back(i);
  return out;
}

bool group_sim::converged(std::string* why) const {
  auto fail = [&](std::string s) {
    if (why) *why = std::move(s);
    return false;
  };
  const auto ms = masters();
  if (ms.size() != 1) return fail(std::to_string(ms.size()) + " masters");
  const auto& master = *nodes_[ms[0]].member;
  std::set<node_id> live, listed;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i].alive) continue;
    live.insert(address(i));
    if (nodes_[i].member->master() != master.self())
      return fail("node " + std::to_string(i) + " is " +
                  phase_name(nodes_[i].member->current_phase()) + " and not with the master");
  }
  for (const auto& e : master.members()) listed.insert(e.id);
  if (live != listed) return fail("member list differs from the live nodes");
  const auto* table = master.table();
  for (unit_id u = 0; u < master.config().work_units; ++u) {
    std::size_t owners = 0;
    std::size_t owner = 0;
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i].alive && nodes_[i].member->owns(u)) {
        ++owners;
        owner = i;
      }
    if (owners != 1)
      return fail("unit " + std::to_string(u) + " has " + std::to_string(owners) + " owners");
    const auto& r = table->at(u);
    if (r.owner != address(owner) || !r.acked)
      return fail("unit " + std::to_string(u) + " not confirmed in the master's table");
  }
  return true;
}

std::size_t group_sim::doubly_owned_units() const {
  std::size_t n = 0;
  const auto units = cfg_.group.work_units;
  for (unit_id u = 0; u < units; ++u) {
    std::size_t owners = 0;
    for (const auto& s : nodes_)
      if (s.alive && s.member->owns(u)) ++owners;
    if (owners > 1) ++n;
  }
  return n;
}

std::map<std::size_t, std::uint32_t> group_sim::loads() const {
  std::map<std::size_t, std::uint32_t> out;
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].alive) out[i] = static_cast<std::uint32_t>(nodes_[i].member->owned_units().size());
  return out;
}

std::optional<std::uint64_t> group_sim::counter(std::size_t i, unit_id u) const {
  auto it = nodes_[i].counters.find(u);
  if (it == nodes_[i].counters.end()) return std::nullopt;
  return it->second;
}

}  // namespace baton::group::sim
