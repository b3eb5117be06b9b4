#include "policy/rule_list.hpp"

#include <string_view>

namespace baton::policy {

using detail::describe;
using detail::json;
using detail::value_ref;

namespace {

constexpr int max_nesting = 8;

constexpr std::string_view criteria_keys[] = {"src",      "dst",         "protocol", "port",
                                              "src_port", "dst_port",    "tcp_options",
                                              "dscp",     "all",         "any"};

bool is_criterion_key(std::string_view k) {
  for (auto c : criteria_keys)
    if (c == k) return true;
  return false;
}

struct named_number {
  const char* name;
  std::uint8_t value;
};
constexpr named_number protocols[] = {{"icmp", 1}, {"ipip", 4}, {"tcp", 6}, {"udp", 17}};
constexpr named_number tcp_options[] = {
    {"mss", 2}, {"wscale", 3}, {"sack_permitted", 4}, {"sack", 5}, {"timestamp", 8}};

// Largest TCP option kind with a bit of its own in packet_fields::tcp_options (63 is shared by
// every kind >= 63, so matching on it would be ambiguous).
constexpr std::uint64_t max_tcp_option_kind = 62;

}  // namespace

/// Builds a rule_set node by node. Friend of rule_set.
class rule_compiler {
 public:
  explicit rule_compiler(const std::vector<profile>& profiles) : profiles_(profiles) {}

  rule_set compile(const value_ref& list) {
    std::size_t n = list.expect_array();
    for (std::size_t i = 0; i < n; ++i) add_rule(list.at(i), i + 1 == n);
    if (n > 0 && !out_.rules_.back().is_default) {
      list.fail("no default rule: end the list with "
                "{\"name\": \"default\", \"default\": true, \"profile\": ...}");
    }
    return std::move(out_);
  }

 private:
  void add_rule(const value_ref& r, bool last) {
    r.expect_object({"name", "profile", "default", "src", "dst", "protocol", "port", "src_port",
                     "dst_port", "tcp_options", "dscp", "all", "any"});
    rule out;
    if (auto d = r.find("default")) {
      out.is_default = d->as_bool();
      if (out.is_default && !last) d->fail("the default rule must be the last rule");
    }
    if (auto name = r.find("name")) {
      out.name = name->as_name();
    } else if (out.is_default) {
      out.name = "default";
    } else {
      r.fail("missing required key \"name\"");
    }
    for (std::size_t i = 0; i < out_.rules_.size(); ++i) {
      if (out_.rules_[i].name == out.name) {
        auto at = r.find("name");
        (at ? *at : r).fail("duplicate rule name \"" + out.name + "\" (rule " +
                            std::to_string(i) + " has it)");
      }
    }
    auto profile_ref = r.get("profile");
    out.profile = profile_ref.as_name();
    out.profile_index = profiles_.size();
    for (std::size_t i = 0; i < profiles_.size(); ++i)
      if (profiles_[i].name == out.profile) out.profile_index = i;
    if (out.profile_index == profiles_.size())
      profile_ref.fail("undefined profile \"" + out.profile + "\"");

    if (out.is_default) {
      for (auto it = r.value().begin(); it != r.value().end(); ++it) {
        if (is_criterion_key(it.key())) r.get(it.key()).fail("the default rule takes no criteria");
      }
    } else {
      bool any_criterion = false;
      for (auto it = r.value().begin(); it != r.value().end(); ++it)
        any_criterion = any_criterion || is_criterion_key(it.key());
      if (!any_criterion)
        r.fail("a rule needs at least one criterion (or \"default\": true)");
      out.root = compile_object(r, 0);
    }
    out_.rules_.push_back(std::move(out));
  }

  // An object of criteria keys: one key compiles to its own node, several to their AND.
  std::uint32_t compile_object(const value_ref& obj, int depth) {
    std::vector<std::uint32_t> parts;
    for (auto it = obj.value().begin(); it != obj.value().end(); ++it) {
      if (is_criterion_key(it.key())) parts.push_back(compile_key(obj.get(it.key()), it.key(), depth));
    }
    if (parts.size() == 1) return parts[0];
    return add_composite(criterion_kind::all, parts);
  }

  std::uint32_t compile_key(const value_ref& v, const std::string& key, int depth) {
    criterion c;
    if (key == "src" || key == "dst") {
      c.kind = key == "src" ? criterion_kind::src : criterion_kind::dst;
      std::string s = v.as_string();
      auto p = detail::parse_prefix(s);
      if (!p) v.fail(describe(v.value()) + " is not an IPv4 prefix");
      if (p->host_bits) {
        v.fail(describe(v.value()) + " has host bits set outside the mask (the network is " +
               format_ipv4(p->address) + '/' + std::to_string(prefix_length(p->mask)) + ")");
      }
      c.a = p->address;
      c.b = p->mask;
    } else if (key == "protocol") {
      c.kind = criterion_kind::protocol;
      c.a = named_or_number(v, protocols, 255,
                            "is not a protocol (tcp, udp, icmp, ipip or a number 0..255)");
    } else if (key == "port" || key == "src_port" || key == "dst_port") {
      c.kind = key == "port"       ? criterion_kind::port
               : key == "src_port" ? criterion_kind::src_port
                                   : criterion_kind::dst_port;
      c.a = static_cast<std::uint32_t>(v.as_uint(0, 65535));
    } else if (key == "tcp_options") {
      c.kind = criterion_kind::tcp_options;
      std::size_t n = v.expect_array();
      if (n == 0) v.fail("an empty list of TCP options");
      for (std::size_t i = 0; i < n; ++i) {
        auto kind = named_or_number(v.at(i), tcp_options, max_tcp_option_kind,
                                    "is not a TCP option (mss, wscale, sack_permitted, sack, "
                                    "timestamp or a kind 0..62)");
        c.bits |= tcp_option_bit(static_cast<std::uint8_t>(kind));
      }
    } else if (key == "dscp") {
      c.kind = criterion_kind::dscp;
      if (v.value().is_object()) {
        v.expect_object({"value", "mask"});
        auto value = v.get("value");
        c.a = static_cast<std::uint32_t>(value.as_uint(0, 63));
        c.b = 63;
        if (auto mask = v.find("mask")) c.b = static_cast<std::uint32_t>(mask->as_uint(0, 63));
        if ((c.a & ~c.b) != 0)
          value.fail(std::to_string(c.a) + " has bits outside the mask " + std::to_string(c.b));
      } else {
        c.a = static_cast<std::uint32_t>(v.as_uint(0, 63));
        c.b = 63;
      }
    } else {  // all / any
      if (depth >= max_nesting) v.fail("nesting deeper than " + std::to_string(max_nesting) + " levels");
      std::size_t n = v.expect_array();
      if (n == 0) v.fail("expected a non-empty array of criteria objects");
      std::vector<std::uint32_t> parts;
      for (std::size_t i = 0; i < n; ++i) {
        value_ref item = v.at(i);
        item.expect_object({"src", "dst", "protocol", "port", "src_port", "dst_port",
                            "tcp_options", "dscp", "all", "any"});
        if (item.value().empty()) item.fail("an empty criteria object");
        parts.push_back(compile_object(item, depth + 1));
      }
      // A one-element list is its element: keeps the compiled form canonical for round trips.
      if (parts.size() == 1) return parts[0];
      return add_composite(key == "all" ? criterion_kind::all : criterion_kind::any, parts);
    }
    return add_node(c);
  }

  template <std::size_t N>
  std::uint32_t named_or_number(const value_ref& v, const named_number (&names)[N],
                                std::uint64_t max, const char* what) {
    if (v.value().is_string()) {
      std::string s = v.value().get<std::string>();
      for (const auto& n : names)
        if (s == n.name) return n.value;
      v.fail(describe(v.value()) + ' ' + what);
    }
    if (!v.value().is_number()) v.fail(describe(v.value()) + ' ' + what);
    return static_cast<std::uint32_t>(v.as_uint(0, max));
  }

  std::uint32_t add_node(const criterion& c) {
    out_.nodes_.push_back(c);
    return static_cast<std::uint32_t>(out_.nodes_.size() - 1);
  }

  std::uint32_t add_composite(criterion_kind kind, const std::vector<std::uint32_t>& parts) {
    criterion c;
    c.kind = kind;
    c.a = static_cast<std::uint32_t>(out_.children_.size());
    c.b = static_cast<std::uint32_t>(parts.size());
    out_.children_.insert(out_.children_.end(), parts.begin(), parts.end());
    return add_node(c);
  }

  const std::vector<profile>& profiles_;
  rule_set out_;
};

namespace detail {

rule_set parse_rule_list(const value_ref& list, const std::vector<profile>& profiles) {
  return rule_compiler(profiles).compile(list);
}

namespace {

// Rendering mirrors compilation: compile(render(n)) == n for every node compile can produce.
const char* key_for(const criterion& c) { return to_string(c.kind); }

json object_for(const rule_set& rs, std::uint32_t n);

json value_for(const rule_set& rs, std::uint32_t n) {
  const criterion& c = rs.nodes()[n];
  switch (c.kind) {
    case criterion_kind::src:
    case criterion_kind::dst:
      return format_ipv4(c.a) + '/' + std::to_string(prefix_length(c.b));
    case criterion_kind::protocol:
      if (const char* name = protocol_name(static_cast<std::uint8_t>(c.a))) return name;
      return c.a;
    case criterion_kind::port:
    case criterion_kind::src_port:
    case criterion_kind::dst_port:
      return c.a;
    case criterion_kind::tcp_options: {
      json list = json::array();
      for (unsigned k = 0; k < 64; ++k) {
        if ((c.bits & (std::uint64_t{1} << k)) == 0) continue;
        if (const char* name = tcp_option_name(static_cast<std::uint8_t>(k))) list.push_back(name);
        else list.push_back(k);
      }
      return list;
    }
    case criterion_kind::dscp:
      if (c.b == 63) return c.a;
      return json{{"value", c.a}, {"mask", c.b}};
    case criterion_kind::all:
    case criterion_kind::any: {
      json list = json::array();
      for (std::uint32_t i = 0; i < c.b; ++i) list.push_back(object_for(rs, rs.children()[c.a + i]));
      return list;
    }
  }
  return nullptr;
}

json object_for(const rule_set& rs, std::uint32_t n) {
  const criterion& c = rs.nodes()[n];
  json out = json::object();
  if (c.kind == criterion_kind::all) {
    // Several keys in one object compile to an AND in key order (JSON objects are sorted here),
    // so merge the children into one object only when that gives back the same order.
    bool mergeable = true;
    std::string_view previous;
    for (std::uint32_t i = 0; i < c.b && mergeable; ++i) {
      std::string_view k = key_for(rs.nodes()[rs.children()[c.a + i]]);
      mergeable = i == 0 || previous < k;
      previous = k;
    }
    if (mergeable) {
      for (std::uint32_t i = 0; i < c.b; ++i) {
        std::uint32_t child = rs.children()[c.a + i];
        out[key_for(rs.nodes()[child])] = value_for(rs, child);
      }
      return out;
    }
  }
  out[key_for(c)] = value_for(rs, n);
  return out;
}

}  // namespace

json rule_list_to_json(const rule_set& rs) {
  json list = json::array();
  for (const rule& r : rs.rules()) {
    json item = r.is_default ? json::object() : object_for(rs, r.root);
    item["name"] = r.name;
    if (r.is_default) item["default"] = true;
    item["profile"] = r.profile;
    list.push_back(std::move(item));
  }
  return list;
}

}  // namespace detail
}  // namespace baton::policy
