#include "actors/group/group_view.hpp"

#include <algorithm>

#include "actors/group/group_member.hpp"

namespace baton::group {

group_view view_of(const group_member& m) {
  group_view v;
  v.self = m.self();
  v.master = m.master();
  v.is_master = m.is_master();
  for (auto& e : m.members()) v.members.push_back(e.id);
  std::sort(v.members.begin(), v.members.end());
  const auto units = m.config().work_units;
  v.owners.resize(units, no_node);
  v.backups.resize(units, no_node);
  for (unit_id u = 0; u < units; ++u) {
    v.owners[u] = m.owner_of(u);
    v.backups[u] = m.backup_of(u);
  }
  if (const auto* table = m.table()) {
    v.acked.resize(units, 0);
    for (unit_id u = 0; u < units && table->valid(u); ++u) v.acked[u] = table->at(u).acked ? 1 : 0;
  }
  return v;
}

}  // namespace baton::group
