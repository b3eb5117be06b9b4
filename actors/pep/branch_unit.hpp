#pragma once
// Hub PEP groups (pep.group, document 003 with document 004's group substrate): which work unit a
// branch peer belongs to. Every member of the hub group computes the same unit for the same branch,
// and the member that owns the unit serves the branch's backbone. Header-only, no allocation.

#include <algorithm>
#include <cstdint>
#include <string_view>

namespace baton::pep {

/// The work unit of the branch called `name` in a group of `units` units (0 is taken as 1):
/// FNV-1a (32 bits) of the name's bytes, modulo `units`. Stable across restarts, members and
/// versions: changing it moves every branch.
inline std::uint32_t branch_unit(std::string_view name, std::uint32_t units) noexcept {
  std::uint32_t h = 2166136261u;
  for (unsigned char ch : name) {
    h ^= ch;
    h *= 16777619u;
  }
  return h % std::max<std::uint32_t>(units, 1);
}

}  // namespace baton::pep
