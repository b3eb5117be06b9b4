#pragma once
// What a role needs to know of its group, pushed to it by the group actor whenever it changes
// (instead of the role asking for the console's JSON on a timer): who the master is, the members,
// and per work unit its owner, its backup and whether the owner has acknowledged it. Plain C++;
// a local message between the group actor and its role, never sent to another node.

#include <cstdint>
#include <vector>

#include "actors/protocol/group_types.hpp"

namespace baton::group {

class group_member;

struct group_view {
  node_id self = no_node;
  node_id master = no_node;       // no_node while there is none
  bool is_master = false;
  std::vector<node_id> members;   // ascending; the master's table on the master, the last member
                                  // list it sent elsewhere
  std::vector<node_id> owners;    // per unit; no_node: unassigned (or not known here)
  std::vector<node_id> backups;   // per unit
  /// Per unit, on the master only: the owner acknowledged the assignment (its datagrams may be
  /// forwarded to it). Empty elsewhere.
  std::vector<std::uint8_t> acked;

  bool operator==(const group_view& o) const {
    return self == o.self && master == o.master && is_master == o.is_master &&
           members == o.members && owners == o.owners && backups == o.backups && acked == o.acked;
  }
  bool operator!=(const group_view& o) const { return !(*this == o); }
};

/// The view of `m` now. Allocates (control path).
group_view view_of(const group_member& m);

}  // namespace baton::group
