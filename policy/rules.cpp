#include "policy/rules.hpp"

#include <tuple>

namespace baton::policy {

const char* to_string(criterion_kind k) noexcept {
  switch (k) {
    case criterion_kind::src: return "src";
    case criterion_kind::dst: return "dst";
    case criterion_kind::protocol: return "protocol";
    case criterion_kind::port: return "port";
    case criterion_kind::src_port: return "src_port";
    case criterion_kind::dst_port: return "dst_port";
    case criterion_kind::tcp_options: return "tcp_options";
    case criterion_kind::dscp: return "dscp";
    case criterion_kind::all: return "all";
    case criterion_kind::any: return "any";
  }
  return "?";
}

bool operator==(const criterion& x, const criterion& y) noexcept {
  return std::tie(x.kind, x.a, x.b, x.bits) == std::tie(y.kind, y.a, y.b, y.bits);
}

const char* protocol_name(std::uint8_t p) noexcept {
  switch (p) {
    case 1: return "icmp";
    case 4: return "ipip";
    case 6: return "tcp";
    case 17: return "udp";
    default: return nullptr;
  }
}

const char* tcp_option_name(std::uint8_t k) noexcept {
  // RFC 793 (mss), RFC 7323 (wscale, timestamp), RFC 2018 (sack_permitted, sack).
  switch (k) {
    case 2: return "mss";
    case 3: return "wscale";
    case 4: return "sack_permitted";
    case 5: return "sack";
    case 8: return "timestamp";
    default: return nullptr;
  }
}

std::string format_ipv4(std::uint32_t a) {
  return std::to_string(a >> 24) + '.' + std::to_string((a >> 16) & 0xff) + '.' +
         std::to_string((a >> 8) & 0xff) + '.' + std::to_string(a & 0xff);
}

std::string format_endpoint(std::uint32_t address, std::uint16_t port) {
  return format_ipv4(address) + ":" + std::to_string(port);
}

int prefix_length(std::uint32_t mask) noexcept {
  int n = 0;
  while (n < 32 && (mask & (0x80000000u >> n)) != 0) ++n;
  return n;
}

// --- matching: the data path ---------------------------------------------------------------

bool rule_set::eval(std::uint32_t n, const match_fields& f) const noexcept {
  const criterion& c = nodes_[n];
  switch (c.kind) {
    case criterion_kind::src: return (f.src & c.b) == c.a;
    case criterion_kind::dst: return (f.dst & c.b) == c.a;
    case criterion_kind::protocol: return f.protocol == c.a;
    case criterion_kind::port: return c.a == 0 || f.src_port == c.a || f.dst_port == c.a;
    case criterion_kind::src_port: return c.a == 0 || f.src_port == c.a;
    case criterion_kind::dst_port: return c.a == 0 || f.dst_port == c.a;
    case criterion_kind::tcp_options: return (f.tcp_options & c.bits) == c.bits;
    case criterion_kind::dscp: return (f.dscp & c.b) == c.a;
    case criterion_kind::all:
      for (std::uint32_t i = c.a; i < c.a + c.b; ++i)
        if (!eval(children_[i], f)) return false;
      return true;
    case criterion_kind::any:
      for (std::uint32_t i = c.a; i < c.a + c.b; ++i)
        if (eval(children_[i], f)) return true;
      return false;
  }
  return false;
}

std::size_t rule_set::match_index(const match_fields& f) const noexcept {
  // The loader guarantees the last rule is the default, so the loop always returns.
  const std::size_t n = rules_.size();
  for (std::size_t i = 0; i + 1 < n; ++i)
    if (eval(rules_[i].root, f)) return i;
  return n - 1;
}

std::size_t rule_set::find(const std::string& name) const noexcept {
  for (std::size_t i = 0; i < rules_.size(); ++i)
    if (rules_[i].name == name) return i;
  return rules_.size();
}

// --- comparison ------------------------------------------------------------------------------

bool rule_set::same_tree(std::uint32_t n, const rule_set& o, std::uint32_t m) const {
  const criterion& x = nodes_[n];
  const criterion& y = o.nodes_[m];
  if (x.kind != y.kind) return false;
  if (x.kind != criterion_kind::all && x.kind != criterion_kind::any) return x == y;
  if (x.b != y.b) return false;
  for (std::uint32_t i = 0; i < x.b; ++i)
    if (!same_tree(children_[x.a + i], o, o.children_[y.a + i])) return false;
  return true;
}

bool rule_set::same_rule(std::size_t i, const rule_set& o, std::size_t j) const {
  const rule& x = rules_[i];
  const rule& y = o.rules_[j];
  if (x.name != y.name || x.profile != y.profile || x.is_default != y.is_default) return false;
  return x.is_default || same_tree(x.root, o, y.root);
}

bool operator==(const rule_set& x, const rule_set& y) {
  if (x.rules_.size() != y.rules_.size()) return false;
  for (std::size_t i = 0; i < x.rules_.size(); ++i) {
    if (!x.same_rule(i, y, i) || x.rules_[i].profile_index != y.rules_[i].profile_index)
      return false;
  }
  return true;
}

// --- text ------------------------------------------------------------------------------------

void rule_set::describe_node(std::uint32_t n, bool nested, std::string& out) const {
  const criterion& c = nodes_[n];
  switch (c.kind) {
    case criterion_kind::src:
    case criterion_kind::dst:
      out += to_string(c.kind);
      out += ' ' + format_ipv4(c.a) + '/' + std::to_string(prefix_length(c.b));
      return;
    case criterion_kind::protocol: {
      const char* name = protocol_name(static_cast<std::uint8_t>(c.a));
      out += "protocol ";
      out += name ? name : std::to_string(c.a);
      return;
    }
    case criterion_kind::port:
    case criterion_kind::src_port:
    case criterion_kind::dst_port:
      out += to_string(c.kind);
      out += c.a == 0 ? std::string(" any") : ' ' + std::to_string(c.a);
      return;
    case criterion_kind::tcp_options: {
      out += "tcp_options";
      for (int k = 0; k < 64; ++k) {
        if ((c.bits & (std::uint64_t{1} << k)) == 0) continue;
        const char* name = tcp_option_name(static_cast<std::uint8_t>(k));
        out += ' ';
        out += name ? name : std::to_string(k);
      }
      return;
    }
    case criterion_kind::dscp:
      out += "dscp " + std::to_string(c.a);
      if (c.b != 0x3f) out += "/0x" + std::string(1, "0123456789abcdef"[c.b >> 4]) +
                              "0123456789abcdef"[c.b & 0xf];
      return;
    case criterion_kind::all:
    case criterion_kind::any: {
      const char* join = c.kind == criterion_kind::all ? " and " : " or ";
      if (nested) out += '(';
      for (std::uint32_t i = 0; i < c.b; ++i) {
        if (i) out += join;
        describe_node(children_[c.a + i], true, out);
      }
      if (nested) out += ')';
      return;
    }
  }
}

std::string rule_set::describe(std::size_t i) const {
  const rule& r = rules_[i];
  if (r.is_default) return "default";
  std::string out;
  describe_node(r.root, false, out);
  return out;
}

}  // namespace baton::policy
