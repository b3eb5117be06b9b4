#include "actors/group/membership.hpp"

#include <algorithm>
#include <set>

namespace baton::group {

member_record* member_table::find(node_id id) noexcept {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second;
}

const member_record* member_table::find(node_id id) const noexcept {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second;
}

member_record& member_table::add(node_id id, std::string identity, time_ms now,
                                 double initial_loss, double weight) {
  member_record rec;
  rec.id = id;
  rec.identity = std::move(identity);
  rec.heard.reset(now);
  rec.loss = loss_estimator{initial_loss, weight};
  auto& slot = members_[id];
  slot = std::move(rec);
  return slot;
}

std::vector<node_id> member_table::expired(time_ms now, time_ms timeout, node_id self) const {
  std::vector<node_id> out;
  for (const auto& [id, rec] : members_)
    if (id != self && rec.heard.expired(now, timeout)) out.push_back(id);
  return out;
}

time_ms member_table::next_expiry(time_ms timeout, node_id self) const noexcept {
  time_ms due = time_ms::max();
  for (const auto& [id, rec] : members_)
    if (id != self) due = std::min(due, rec.heard.last() + timeout + time_ms{1});
  return due;
}

double member_table::worst_loss() const noexcept {
  double worst = 0.0;
  for (const auto& [id, rec] : members_) worst = std::max(worst, rec.loss.p());
  return worst;
}

std::vector<node_id> member_table::ids() const {
  std::vector<node_id> out;
  out.reserve(members_.size());
  for (const auto& [id, rec] : members_) out.push_back(id);
  return out;
}

std::vector<member_entry> member_table::entries() const {
  std::vector<member_entry> out;
  out.reserve(members_.size());
  for (const auto& [id, rec] : members_) out.push_back(member_entry{id, rec.identity, rec.load});
  return out;
}

bool join_votes::take(node_id node, pending_join& out) {
  auto it = pending_.find(node);
  if (it == pending_.end()) return false;
  out = std::move(it->second);
  pending_.erase(it);
  return true;
}

time_ms join_votes::next_deadline() const noexcept {
  time_ms due = time_ms::max();
  for (const auto& [node, p] : pending_) due = std::min(due, p.deadline);
  return due;
}

std::vector<pending_join> join_votes::take_expired(time_ms now) {
  std::vector<pending_join> out;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline <= now) {
      out.push_back(std::move(it->second));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

member_diff diff_members(const std::vector<member_entry>& before,
                         const std::vector<member_entry>& after) {
  std::set<node_id> old_ids, new_ids;
  for (const auto& m : before) old_ids.insert(m.id);
  for (const auto& m : after) new_ids.insert(m.id);
  member_diff d;
  for (const auto& m : after)
    if (!old_ids.count(m.id)) d.joined.push_back(m);
  for (const auto& m : before)
    if (!new_ids.count(m.id)) d.left.push_back(m.id);
  return d;
}

}  // namespace baton::group
