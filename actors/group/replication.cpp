#include "actors/group/replication.hpp"

#include <tuple>

namespace baton::group {

namespace {

bool is_kind(portion_kind k) noexcept {
  return k == portion_kind::checkpoint || k == portion_kind::initial ||
         k == portion_kind::essential;
}

}  // namespace

std::size_t unit_log::bytes() const noexcept {
  std::size_t n = 0;
  for (const auto& p : portions) n += p.data.size();
  return n;
}

// ---------------------------------------------------------------- owner

owned_state::owned_state(const group_config& cfg) : bounds_(cfg) {}

void owned_state::mark(unit_id u, const entry& e) {
  if (e.backup != no_node && e.acked < e.log.last) pending_.insert(u);
}

void owned_state::new_stream(entry& e) {
  e.log.stream = (std::uint64_t{bounds_.stream_base} << 32) + ++streams_;
  // Renumber the log 1..n: it starts with a checkpoint or from empty state, so it is a valid
  // stream start.
  std::uint64_t seq = 0;
  for (auto& p : e.log.portions) p.sequence = ++seq;
  e.log.last = seq;
  e.acked = 0;
  e.sent = 0;
  e.last_sent = time_ms{-1000000};
}

bool owned_state::compaction_wanted(entry& e) {
  std::size_t checkpoint_bytes = 0;
  if (!e.log.portions.empty() && e.log.portions.front().kind == portion_kind::checkpoint)
    checkpoint_bytes = e.log.portions.front().data.size();
  if (!compaction_due(bounds_, checkpoint_bytes, e.delta_bytes, e.deltas)) return false;
  if (e.asked && e.delta_bytes < 2 * e.asked_at_bytes) return false;
  e.asked = true;
  e.asked_at_bytes = e.delta_bytes;
  return true;
}

bool owned_state::add(unit_id u, portion_kind kind, state_bytes data) {
  auto& e = entries_[u];
  if (e.log.stream == 0) new_stream(e);
  if (kind == portion_kind::checkpoint) {
    e.log.portions.clear();
    e.delta_bytes = 0;
    e.deltas = 0;
    e.asked = false;
    e.asked_at_bytes = 0;
  } else {
    e.delta_bytes += data.size();
    ++e.deltas;
  }
  e.log.portions.push_back(state_portion{++e.log.last, kind, std::move(data)});
  mark(u, e);
  return kind != portion_kind::checkpoint && compaction_wanted(e);
}

void owned_state::set_backup(unit_id u, node_id backup) {
  auto it = entries_.find(u);
  if (it == entries_.end()) {
    if (backup == no_node) return;
    it = entries_.emplace(u, entry{}).first;
  }
  auto& e = it->second;
  if (e.backup == backup) return;
  e.backup = backup;
  e.acked = 0;
  e.sent = 0;
  e.last_sent = time_ms{-1000000};
  if (backup == no_node) {
    pending_.erase(u);
  } else {
    mark(u, e);
  }
}

void owned_state::on_ack(unit_id u, node_id from, const state_ack& ack) {
  auto it = entries_.find(u);
  if (it == entries_.end() || it->second.backup != from || from == no_node) return;
  auto& e = it->second;
  if (ack.stream != e.log.stream) {
    // The backup holds none of this stream (it lost it, or has not got its start yet): the log
    // goes again from its start at the next collect.
    e.acked = 0;
    e.sent = 0;
    e.last_sent = time_ms{-1000000};
  } else if (ack.sequence > e.log.last) {
    // More than we ever sent: the backup holds an earlier life's stream under our number.
    new_stream(e);
  } else if (ack.sequence > e.acked) {
    e.acked = ack.sequence;
  }
  if (e.acked >= e.log.last) {
    pending_.erase(u);
  } else {
    mark(u, e);
  }
}

bool owned_state::adopt(unit_id u, const std::vector<state_portion>& portions) {
  auto& e = entries_[u];
  const node_id backup = e.backup;
  e = entry{};
  e.backup = backup;
  for (const auto& p : portions) {
    if (!is_kind(p.kind)) continue;
    if (p.kind == portion_kind::checkpoint) {
      e.log.portions.clear();
      e.delta_bytes = 0;
      e.deltas = 0;
    } else {
      e.delta_bytes += p.data.size();
      ++e.deltas;
    }
    e.log.portions.push_back(p);
  }
  new_stream(e);
  mark(u, e);
  return e.deltas > 0;
}

void owned_state::restart_stream(unit_id u) {
  auto it = entries_.find(u);
  if (it == entries_.end()) return;
  new_stream(it->second);
  mark(u, it->second);
}

void owned_state::erase(unit_id u) {
  entries_.erase(u);
  pending_.erase(u);
}

std::optional<unit_log> owned_state::get(unit_id u, node_id self) const {
  auto it = entries_.find(u);
  if (it == entries_.end()) return std::nullopt;
  unit_log out = it->second.log;
  out.owner = self;
  return out;
}

bool owned_state::collect_entry(unit_id u, entry& e, time_ms now, time_ms resend,
                                std::vector<std::pair<node_id, message>>& out) {
  if (e.backup == no_node || e.acked >= e.log.last) return false;
  const bool due = now - e.last_sent >= resend;
  if (!due && e.sent >= e.log.last) return true;  // in flight, not yet due again
  // Due: everything unacknowledged; otherwise only what was never sent.
  const std::uint64_t from = due ? e.acked + 1 : e.sent + 1;
  state_delta d;
  d.unit = u;
  d.stream = e.log.stream;
  for (const auto& p : e.log.portions)
    if (p.sequence >= from) d.portions.push_back(p);
  if (!d.portions.empty()) {
    out.emplace_back(e.backup, std::move(d));
    if (due) e.last_sent = now;
  }
  e.sent = e.log.last;
  return true;
}

time_ms owned_state::next_due(time_ms resend) const noexcept {
  time_ms due = time_ms::max();
  for (unit_id u : pending_) {
    auto it = entries_.find(u);
    if (it == entries_.end()) return time_ms::min();  // collect() drops it: look at once
    const entry& e = it->second;
    if (e.backup == no_node || e.acked >= e.log.last) return time_ms::min();
    if (e.sent < e.log.last) return time_ms::min();
    due = std::min(due, e.last_sent + resend);
  }
  return due;
}

void owned_state::collect(time_ms now, time_ms resend,
                          std::vector<std::pair<node_id, message>>& out) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto eit = entries_.find(*it);
    if (eit != entries_.end() && collect_entry(*it, eit->second, now, resend, out)) {
      ++it;
    } else {
      it = pending_.erase(it);
    }
  }
}

void owned_state::collect_unit(unit_id u, time_ms now, time_ms resend,
                               std::vector<std::pair<node_id, message>>& out) {
  auto eit = entries_.find(u);
  if (eit == entries_.end()) return;
  if (!collect_entry(u, eit->second, now, resend, out)) pending_.erase(u);
}

// ---------------------------------------------------------------- backup

void replica_store::apply(held& h, const state_portion& p) {
  auto& log = h.log;
  if (p.sequence <= log.last) return;  // a duplicate (a resend, or older than a checkpoint)
  if (p.kind == portion_kind::checkpoint) {
    log.portions.clear();
  } else if (p.sequence != log.last + 1) {
    if (p.sequence - log.last <= reorder_window) h.ahead.emplace(p.sequence, p);
    return;
  }
  log.portions.push_back(p);
  log.last = p.sequence;
  // What waited for this one, and anything a checkpoint made obsolete.
  while (!h.ahead.empty()) {
    auto first = h.ahead.begin();
    if (first->first <= log.last) {
      h.ahead.erase(first);
    } else if (first->first == log.last + 1 || first->second.kind == portion_kind::checkpoint) {
      if (first->second.kind == portion_kind::checkpoint) log.portions.clear();
      log.portions.push_back(std::move(first->second));
      log.last = first->first;
      h.ahead.erase(first);
    } else {
      break;
    }
  }
}

state_ack replica_store::on_delta(node_id from, const state_delta& m) {
  auto it = replicas_.find(m.unit);
  for (const auto& p : m.portions) {
    if (!is_kind(p.kind) || p.sequence == 0) continue;
    const bool ours = it != replicas_.end() && it->second.log.owner == from &&
                      it->second.log.stream == m.stream;
    if (!ours) {
      // Only a stream's start may replace what is held: a checkpoint, or sequence 1 (from empty).
      if (p.kind != portion_kind::checkpoint && p.sequence != 1) continue;
      it = replicas_.insert_or_assign(m.unit, held{}).first;
      it->second.log.owner = from;
      it->second.log.stream = m.stream;
    }
    apply(it->second, p);
  }
  if (it == replicas_.end() || it->second.log.owner != from) return state_ack{m.unit, 0, 0};
  return state_ack{m.unit, it->second.log.stream, it->second.log.last};
}

void replica_store::on_handover(node_id from, const state_handover& m) {
  unit_log log;
  log.owner = from;
  log.stream = m.stream;
  for (const auto& p : m.portions) {
    if (!is_kind(p.kind)) continue;
    if (p.kind == portion_kind::checkpoint) log.portions.clear();
    log.portions.push_back(p);
    log.last = p.sequence;
  }
  handovers_[m.unit] = std::move(log);
}

std::optional<unit_log> replica_store::take(unit_id u, node_id previous_owner, bool& handover) {
  auto r = replicas_.find(u);
  auto h = handovers_.find(u);
  std::optional<unit_log> out;
  handover = false;
  if (r != replicas_.end() && h != handovers_.end()) {
    const auto& rs = r->second.log;
    const auto& hs = h->second;
    bool use_handover;
    if (rs.owner == hs.owner) {
      use_handover = std::tie(hs.stream, hs.last) >= std::tie(rs.stream, rs.last);
    } else if (rs.owner == previous_owner) {
      use_handover = false;
    } else {
      use_handover = true;
    }
    out = use_handover ? hs : rs;
    handover = use_handover;
  } else if (h != handovers_.end()) {
    out = h->second;
    handover = true;
  } else if (r != replicas_.end()) {
    out = r->second.log;
  }
  if (r != replicas_.end()) replicas_.erase(r);
  if (h != handovers_.end()) handovers_.erase(h);
  return out;
}

const unit_log* replica_store::replica(unit_id u) const {
  auto it = replicas_.find(u);
  return it == replicas_.end() ? nullptr : &it->second.log;
}

const unit_log* replica_store::handover(unit_id u) const {
  auto it = handovers_.find(u);
  return it == handovers_.end() ? nullptr : &it->second;
}

std::vector<unit_id> replica_store::replica_units() const {
  std::vector<unit_id> out;
  out.reserve(replicas_.size());
  for (const auto& [u, r] : replicas_) out.push_back(u);
  return out;
}

std::size_t replica_store::replica_bytes(unit_id u) const noexcept {
  auto it = replicas_.find(u);
  return it == replicas_.end() ? 0 : it->second.log.bytes();
}

}  // namespace baton::group
