#include "actors/group/replication.hpp"

namespace baton::group {

void owned_state::mark(unit_id u, entry& e) {
  if (e.backup != no_node) pending_.insert(u);
}

void owned_state::set_initial(unit_id u, state_bytes data) {
  auto& e = entries_[u];
  e.has_initial = true;
  e.initial = std::move(data);
  e.initial_acked = false;
  e.initial_sent = false;
  mark(u, e);
}

void owned_state::set_essential(unit_id u, state_bytes data) {
  auto& e = entries_[u];
  e.essential = std::move(data);
  ++e.version;
  mark(u, e);
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
  e.initial_acked = false;
  e.initial_sent = false;
  e.sent_version = 0;
  e.acked_version = 0;
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
  if (ack.initial) {
    e.initial_acked = true;
  } else if (ack.version > e.acked_version && ack.version <= e.version) {
    e.acked_version = ack.version;
  }
  const bool initial_done = !e.has_initial || e.initial_acked;
  if (initial_done && e.acked_version >= e.version) pending_.erase(u);
}

void owned_state::adopt(unit_id u, const unit_state& s) {
  auto& e = entries_[u];
  const node_id backup = e.backup;
  e = entry{};
  e.backup = backup;
  e.has_initial = s.has_initial;
  e.initial = s.initial;
  e.essential = s.essential;
  e.version = s.essential.empty() && s.version == 0 ? 0 : 1;
  mark(u, e);
}

void owned_state::erase(unit_id u) {
  entries_.erase(u);
  pending_.erase(u);
}

std::optional<unit_state> owned_state::get(unit_id u, node_id self) const {
  auto it = entries_.find(u);
  if (it == entries_.end()) return std::nullopt;
  const auto& e = it->second;
  return unit_state{self, e.version, e.has_initial, e.initial, e.essential};
}

bool owned_state::collect_entry(unit_id u, entry& e, time_ms now, time_ms resend,
                                std::vector<std::pair<node_id, message>>& out) {
  if (e.backup == no_node) return false;
  const bool due = now - e.last_sent >= resend;
  bool sent = false;
  if (e.has_initial && !e.initial_acked && (!e.initial_sent || due)) {
    out.emplace_back(e.backup, state_initial{u, e.initial});
    e.initial_sent = true;
    sent = true;
  }
  if (e.version > e.acked_version && (e.sent_version < e.version || due)) {
    out.emplace_back(e.backup, state_essential{u, e.version, e.essential});
    e.sent_version = e.version;
    sent = true;
  }
  if (sent) e.last_sent = now;
  return (e.has_initial && !e.initial_acked) || e.version > e.acked_version;
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

state_ack replica_store::on_initial(node_id from, const state_initial& m) {
  auto& r = replicas_[m.unit];
  if (r.owner != from) r = unit_state{from, 0, false, {}, {}};
  r.has_initial = true;
  r.initial = m.data;
  return state_ack{m.unit, true, 0};
}

state_ack replica_store::on_essential(node_id from, const state_essential& m) {
  auto& r = replicas_[m.unit];
  if (r.owner != from) r = unit_state{from, 0, false, {}, {}};
  if (m.version > r.version) {
    r.version = m.version;
    r.essential = m.data;
  }
  return state_ack{m.unit, false, r.version};
}

void replica_store::on_handover(node_id from, const state_handover& m) {
  handovers_[m.unit] = unit_state{from, m.version, m.has_initial, m.initial, m.essential};
}

std::optional<unit_state> replica_store::take(unit_id u, node_id previous_owner, bool& handover) {
  auto r = replicas_.find(u);
  auto h = handovers_.find(u);
  std::optional<unit_state> out;
  handover = false;
  if (r != replicas_.end() && h != handovers_.end()) {
    const auto& rs = r->second;
    const auto& hs = h->second;
    bool use_handover;
    if (rs.owner == hs.owner) {
      use_handover = hs.version >= rs.version;
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
    out = r->second;
  }
  if (r != replicas_.end()) replicas_.erase(r);
  if (h != handovers_.end()) handovers_.erase(h);
  return out;
}

const unit_state* replica_store::replica(unit_id u) const {
  auto it = replicas_.find(u);
  return it == replicas_.end() ? nullptr : &it->second;
}

const unit_state* replica_store::handover(unit_id u) const {
  auto it = handovers_.find(u);
  return it == handovers_.end() ? nullptr : &it->second;
}

std::vector<unit_id> replica_store::replica_units() const {
  std::vector<unit_id> out;
  out.reserve(replicas_.size());
  for (const auto& [u, r] : replicas_) out.push_back(u);
  return out;
}

}  // namespace baton::group
