#pragma once
// Internal to policy/: the table of top-level sections. Each section is a row of functions: parse
// it, say whether it is present, render it as JSON and as text, compare it. Loading, rendering and
// the reload diff walk this table, so a role adds its section (a struct member in policy, the
// functions, one row) without touching the others. A section's JSON and comparison come from its
// struct's field list (policy/fields.hpp).

#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.hpp"
#include "policy/reader.hpp"

namespace baton::policy::detail {

struct section_entry {
  std::string_view name;
  bool required;
  /// Parses the section's value into `out`; sections earlier in the table are already parsed.
  void (*parse)(const value_ref& value, policy& out);
  /// Whether the section is written out (optional role sections are only when configured).
  bool (*present)(const policy& p);
  json (*to_json)(const policy& p);
  /// Appends the section's text, each line starting with the section label column.
  void (*to_text)(const policy& p, std::string& out);
  bool (*equal)(const policy& x, const policy& y);
};

/// The table, in parse order.
const std::vector<section_entry>& sections();

}  // namespace baton::policy::detail
