#pragma once
// The rule matcher of DESIGN §5 (document 003's selection rules): ordered rules, each a tree of
// criteria joined by AND / OR, first match wins, a default rule catches the rest, and every rule
// names a profile. Rules are compiled at load time into flat arrays so match() only reads them:
// no allocation, no strings, no JSON on the data path.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "policy/match_fields.hpp"

namespace baton::policy {

/// What one criterion node tests. The leaf kinds are the document's criteria; all / any are the
/// AND / OR combination operators over child nodes.
enum class criterion_kind : std::uint8_t {
  src,          // (fields.src & b) == a: source address with mask
  dst,          // (fields.dst & b) == a: destination address with mask
  protocol,     // fields.protocol == a
  port,         // a == 0 (any) or source port == a or destination port == a
  src_port,     // a == 0 (any) or source port == a
  dst_port,     // a == 0 (any) or destination port == a
  tcp_options,  // every option bit in `bits` is present in fields.tcp_options
  dscp,         // (fields.dscp & b) == a: DSCP with mask
  all,          // every child matches (children_[a .. a + b))
  any,          // at least one child matches (children_[a .. a + b))
};

/// The policy key of a criterion kind ("src", "tcp_options", "all", ...).
const char* to_string(criterion_kind k) noexcept;

/// One compiled node. Meaning of a / b / bits depends on kind (see criterion_kind).
struct criterion {
  criterion_kind kind = criterion_kind::all;
  std::uint32_t a = 0;
  std::uint32_t b = 0;
  std::uint64_t bits = 0;
};
bool operator==(const criterion& x, const criterion& y) noexcept;

/// One rule as the operator wrote it, after compilation.
struct rule {
  std::string name;
  std::string profile;             // the profile's name, as written
  std::size_t profile_index = 0;   // index of that profile in policy::profiles
  bool is_default = false;         // the catch-all; always the last rule of a set
  std::uint32_t root = 0;          // node index of the criteria tree (unused for the default)
};

class rule_compiler;  // builds rule sets (policy/rule_list.cpp)

/// An ordered, compiled rule list. A set loaded from a policy is either empty (the section had no
/// rules) or ends with exactly one default rule, so match() always has an answer.
class rule_set {
 public:
  /// True when no rules were given; match() must not be called then.
  bool empty() const noexcept { return rules_.empty(); }
  std::size_t size() const noexcept { return rules_.size(); }

  /// Index of the first rule whose criteria match `f` (the default rule if none does).
  /// Precondition: !empty(). Reads only; no allocation; safe to call from many threads.
  std::size_t match_index(const match_fields& f) const noexcept;
  /// The first matching rule (see match_index); the reference lives as long as this set.
  const rule& match(const match_fields& f) const noexcept { return rules_[match_index(f)]; }
  /// Index into policy::profiles of the first matching rule's profile.
  std::size_t match_profile(const match_fields& f) const noexcept {
    return rules_[match_index(f)].profile_index;
  }

  const std::vector<rule>& rules() const noexcept { return rules_; }
  const std::vector<criterion>& nodes() const noexcept { return nodes_; }
  /// Child node indices of all / any nodes; node n's children are children()[n.a .. n.a + n.b).
  const std::vector<std::uint32_t>& children() const noexcept { return children_; }
  /// Index of the rule called `name`, or size() when there is none.
  std::size_t find(const std::string& name) const noexcept;

  /// The criteria of rule `i` as text: `protocol tcp and (port 80 or port 443)`;
  /// "default" for the default rule. Precondition: i < size().
  std::string describe(std::size_t i) const;

  /// True when rule `i` here and rule `j` of `other` have the same name, profile and criteria
  /// (compared as trees, so node numbering does not matter).
  bool same_rule(std::size_t i, const rule_set& other, std::size_t j) const;

  friend bool operator==(const rule_set& x, const rule_set& y);
  friend bool operator!=(const rule_set& x, const rule_set& y) { return !(x == y); }

 private:
  friend class rule_compiler;
  bool eval(std::uint32_t node, const match_fields& f) const noexcept;
  bool same_tree(std::uint32_t n, const rule_set& other, std::uint32_t m) const;
  void describe_node(std::uint32_t n, bool nested, std::string& out) const;

  std::vector<rule> rules_;
  std::vector<criterion> nodes_;
  std::vector<std::uint32_t> children_;
};

/// The name the policy uses for IP protocol `p` ("tcp", "udp", "icmp", "ipip"), or nullptr.
const char* protocol_name(std::uint8_t p) noexcept;
/// The policy name of TCP option kind `k` ("mss", "wscale", "sack_permitted", "sack",
/// "timestamp"), or nullptr.
const char* tcp_option_name(std::uint8_t k) noexcept;
/// "a.b.c.d" for an address in host byte order.
std::string format_ipv4(std::uint32_t address);
/// "a.b.c.d:port" (host order, as format_ipv4).
std::string format_endpoint(std::uint32_t address, std::uint16_t port);
/// Prefix length of a contiguous mask (the number of leading one bits).
int prefix_length(std::uint32_t mask) noexcept;

}  // namespace baton::policy
