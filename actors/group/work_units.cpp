#include "actors/group/work_units.hpp"

#include <algorithm>
#include <limits>

namespace baton::group {

namespace {

bool is_member(const std::vector<node_id>& members, node_id n) {
  return n != no_node && std::find(members.begin(), members.end(), n) != members.end();
}

// Lowest count wins, then lowest id (std::map iterates ascending).
node_id min_of(const std::map<node_id, std::uint32_t>& counts, node_id exclude = no_node) {
  node_id best = no_node;
  std::uint32_t best_count = std::numeric_limits<std::uint32_t>::max();
  for (const auto& [id, c] : counts) {
    if (id == exclude) continue;
    if (c < best_count) {
      best = id;
      best_count = c;
    }
  }
  return best;
}

}  // namespace

work_table::work_table(std::uint32_t units) : records_(units) {}

void work_table::assign(unit_id u, node_id owner, bool acked) noexcept {
  auto& r = records_[u];
  r.owner = owner;
  r.acked = acked && owner != no_node;
  r.move_target = no_node;
  r.move_tries = 0;
  r.move_requested = false;
  r.pinned = false;  // a new owner by failover or assignment: rebalancing may move it again
  if (r.backup == owner) r.backup = no_node;
  r.last_sent = time_ms{-1000000};
  ++version_;
}

void work_table::set_backup(unit_id u, node_id backup) noexcept {
  if (records_[u].backup == backup) return;
  records_[u].backup = backup;
  ++version_;
}

bool work_table::ack(unit_id u, node_id from) noexcept {
  auto& r = records_[u];
  if (r.owner != from || from == no_node) return false;
  r.acked = true;
  return true;
}

std::map<node_id, std::uint32_t> work_table::loads(const std::vector<node_id>& members) const {
  std::map<node_id, std::uint32_t> out;
  for (auto m : members) out[m] = 0;
  for (const auto& r : records_) {
    const node_id counted = r.move_target != no_node ? r.move_target : r.owner;
    auto it = out.find(counted);
    if (it != out.end()) ++it->second;
  }
  return out;
}

node_id work_table::least_loaded(const std::vector<node_id>& members) const {
  return min_of(loads(members));
}

node_id work_table::choose_backup(unit_id u, const std::vector<node_id>& members) const {
  std::map<node_id, std::uint32_t> counts;
  for (auto m : members) counts[m] = 0;
  for (const auto& r : records_) {
    auto it = counts.find(r.backup);
    if (it != counts.end()) ++it->second;
  }
  return min_of(counts, records_[u].owner);
}

std::vector<unit_id> work_table::fail_member(node_id failed, const std::vector<node_id>& members) {
  std::vector<unit_id> changed;
  bool dirty = false;
  for (unit_id u = 0; u < size(); ++u) {
    auto& r = records_[u];
    if (r.owner == failed) {
      const bool backup_alive = r.backup != failed && is_member(members, r.backup);
      r.owner = backup_alive ? r.backup : no_node;
      r.backup = no_node;
      r.acked = false;
      r.move_target = no_node;
      r.move_tries = 0;
      r.last_sent = time_ms{-1000000};
      changed.push_back(u);
      dirty = true;
    } else if (r.move_target == failed) {
      abort_move(u);
    }
    if (r.backup == failed) {
      r.backup = no_node;
      dirty = true;
    }
  }
  if (dirty) ++version_;
  return changed;
}

std::vector<unit_id> work_table::assign_unassigned(const std::vector<node_id>& members,
                                                   const std::map<unit_id, node_id>& claims,
                                                   const std::set<unit_id>& hold) {
  std::vector<unit_id> assigned;
  if (members.empty()) return assigned;
  auto counts = loads(members);
  for (unit_id u = 0; u < size(); ++u) {
    if (records_[u].owner != no_node || hold.count(u)) continue;
    node_id owner = no_node;
    auto c = claims.find(u);
    if (c != claims.end() && counts.count(c->second)) owner = c->second;
    if (owner == no_node) owner = min_of(counts);
    assign(u, owner, false);
    ++counts[owner];
    assigned.push_back(u);
  }
  return assigned;
}

std::vector<unit_id> work_table::repair_backups(const std::vector<node_id>& members) {
  std::vector<unit_id> changed;
  std::map<node_id, std::uint32_t> counts;
  for (auto m : members) counts[m] = 0;
  for (const auto& r : records_) {
    auto it = counts.find(r.backup);
    if (it != counts.end() && r.backup != r.owner) ++it->second;
  }
  for (unit_id u = 0; u < size(); ++u) {
    auto& r = records_[u];
    if (r.owner == no_node) continue;
    if (r.backup != no_node && r.backup != r.owner && counts.count(r.backup)) continue;
    const node_id b = min_of(counts, r.owner);
    if (b == r.backup) continue;
    r.backup = b;
    if (b != no_node) ++counts[b];
    changed.push_back(u);
  }
  if (!changed.empty()) ++version_;
  return changed;
}

std::vector<unit_move> work_table::plan_rebalance(const std::vector<node_id>& members,
                                                  std::uint32_t max_moves, time_ms deadline) {
  std::vector<unit_move> moves;
  if (members.size() < 2) return moves;
  auto counts = loads(members);
  while (max_moves == 0 || moves.size() < max_moves) {
    // Most loaded K (highest id on ties), least loaded J (lowest id on ties).
    node_id k = no_node, j = no_node;
    std::uint32_t kc = 0, jc = std::numeric_limits<std::uint32_t>::max();
    for (const auto& [id, c] : counts) {
      if (c >= kc) { k = id; kc = c; }
      if (c < jc) { j = id; jc = c; }
    }
    // "would moving 1 work unit from most loaded (K) to least loaded (J) have any effect?"
    if (k == j || kc < jc + 2) break;
    unit_id pick = size();
    for (unit_id u = 0; u < size(); ++u) {
      const auto& r = records_[u];
      if (r.owner == k && r.acked && r.move_target == no_node && !r.pinned) {
        pick = u;
        break;
      }
    }
    if (pick == size()) break;  // K's units are all in flux; try again next round
    start_move(pick, j, deadline, false);
    --counts[k];
    ++counts[j];
    moves.push_back(unit_move{pick, k, j});
  }
  return moves;
}

void work_table::start_move(unit_id u, node_id to, time_ms deadline, bool requested) noexcept {
  auto& r = records_[u];
  r.move_target = to;
  r.move_deadline = deadline;
  r.move_tries = 0;
  r.move_requested = requested;
}

bool work_table::finish_move(unit_id u, node_id target, const std::vector<node_id>& members) {
  auto& r = records_[u];
  if (r.move_target == no_node || r.move_target != target) return false;
  const node_id old_backup = r.backup;
  const bool requested = r.move_requested;
  assign(u, target, false);
  records_[u].pinned = requested;
  if (old_backup == target || old_backup == no_node) {
    records_[u].backup = choose_backup(u, members);
  } else {
    records_[u].backup = old_backup;
  }
  ++version_;
  return true;
}

void work_table::abort_move(unit_id u) noexcept {
  auto& r = records_[u];
  r.move_target = no_node;
  r.move_tries = 0;
  r.move_requested = false;
  r.acked = false;  // the owner handed the unit over; it must confirm taking it back
  r.last_sent = time_ms{-1000000};
}

void work_table::retry_move(unit_id u, time_ms deadline) noexcept {
  records_[u].move_deadline = deadline;
  ++records_[u].move_tries;
}

std::vector<node_id> work_table::owners() const {
  std::vector<node_id> out;
  out.reserve(records_.size());
  for (const auto& r : records_) out.push_back(r.owner);
  return out;
}

std::vector<node_id> work_table::backups() const {
  std::vector<node_id> out;
  out.reserve(records_.size());
  for (const auto& r : records_) out.push_back(r.backup);
  return out;
}

std::uint32_t load_spread(const std::map<node_id, std::uint32_t>& loads) noexcept {
  if (loads.empty()) return 0;
  std::uint32_t lo = std::numeric_limits<std::uint32_t>::max(), hi = 0;
  for (const auto& [id, c] : loads) {
    lo = std::min(lo, c);
    hi = std::max(hi, c);
  }
  return hi - lo;
}

}  // namespace baton::group
