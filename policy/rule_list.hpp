#pragma once
// Internal to policy/: the one parser of rule lists, shared by the top-level "rules" and every
// role section that selects ("pep": {"rules": [...]}, later SLR routing, replica eligibility...),
// so errors carry the pointer of wherever the list sits (/pep/rules/3/dst).
//
// A rule list is an array of rule objects, applied in order, first match wins:
//   {"name": "web", "profile": "bulk", <criteria>}
//   {"name": "rest", "default": true, "profile": "unspoofed"}     the default: last, no criteria
// Criteria (several keys in one object are ANDed):
//   "src" / "dst":   "10.1.0.0/16" or "10.1.2.3" (= /32); host bits outside the mask are refused
//   "protocol":      "tcp" | "udp" | "icmp" | "ipip" | 0..255
//   "port":          0..65535, matches source OR destination port; 0 = any
//   "src_port" / "dst_port": 0..65535; 0 = any
//   "tcp_options":   ["mss", "wscale", "sack_permitted", "sack", "timestamp", or a kind 0..62]:
//                    all listed options present
//   "dscp":          0..63, or {"value": 0..63, "mask": 0..63} matching (dscp & mask) == value
//   "all": [criteria objects]   AND;   "any": [criteria objects]   OR;   nested up to 8 levels
// A non-empty list must end with the default rule; every rule's profile must be defined.

#include <vector>

#include "policy/policy.hpp"
#include "policy/reader.hpp"

namespace baton::policy::detail {

/// Parses and compiles the rule list at `list`, resolving profile names against `profiles`.
/// Throws policy_error naming the offending value.
rule_set parse_rule_list(const value_ref& list, const std::vector<profile>& profiles);

/// The normalized JSON array of a rule set; parse_rule_list of it gives an equal set.
json rule_list_to_json(const rule_set& rules);

}  // namespace baton::policy::detail
