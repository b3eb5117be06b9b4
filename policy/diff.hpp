#pragma once
// The reload diff (DESIGN §5): what changed between the running policy and a newly loaded one,
// so a reload applies only that and can say what it means for live connections.

#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.hpp"

namespace baton::policy {

/// Names added, removed and changed in a named list (peers, profiles, rules). Names keep the
/// order of the list they come from (new list for added / changed, old list for removed).
struct name_changes {
  std::vector<std::string> added;
  std::vector<std::string> removed;
  std::vector<std::string> changed;   // same name, different content
  bool reordered = false;             // the names both lists share come in a different order
  bool empty() const noexcept {
    return added.empty() && removed.empty() && changed.empty() && !reordered;
  }
};

struct policy_diff {
  /// Sections whose content differs, in section order ("rules", "peers", ...). An optional role
  /// section that appears or disappears counts as changed.
  std::vector<std::string> sections;
  name_changes peers;
  name_changes profiles;
  name_changes rules;       // the top-level rules
  name_changes pep_rules;   // /pep/rules (a missing pep section counts as no rules)

  bool empty() const noexcept { return sections.empty(); }
  bool changed(std::string_view section) const noexcept;
};

/// Compares two loaded policies. Never throws except std::bad_alloc.
policy_diff diff_policies(const policy& old_policy, const policy& new_policy);

/// One line per changed section, e.g. "rules: added web2; removed ssh; changed rest";
/// "no change" when the diff is empty.
std::string to_string(const policy_diff& d);

}  // namespace baton::policy
