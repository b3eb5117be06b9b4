// The "pep" section of the node policy (document 003). Schema in pep_policy.hpp.

#include "policy/pep_section.hpp"

#include <tuple>

#include "policy/fields.hpp"
#include "policy/policy_error.hpp"
#include "policy/rule_list.hpp"
#include "policy/rules.hpp"

namespace baton::policy {

namespace {

using detail::field;
using detail::json;

json prefix_json(const pep_prefix& p) { return format_ipv4(p.address) + "/" + std::to_string(p.length); }

json ipv4_list(const std::vector<std::uint32_t>& list) {
  json out = json::array();
  for (auto a : list) out.push_back(format_ipv4(a));
  return out;
}

json prefixes_json(const std::vector<pep_prefix>& list) {
  json out = json::array();
  for (const auto& p : list) out.push_back(prefix_json(p));
  return out;
}

/// The congestion controls this kernel offers (DESIGN §3); a name outside the list would fail
/// only when the backbone opens.
constexpr const char* congestion_names[] = {"bbr", "cubic", "reno"};

}  // namespace

auto fields(const pep_prefix& x) { return std::make_tuple(field("address", x.address), field("length", x.length)); }
auto fields(const pep_path& x) {
  return std::make_tuple(field("name", x.name), field("local", x.local, detail::ipv4).when(x.local != 0),
                         field("address", x.address, detail::ipv4), field("rate_mbit", x.rate_mbit),
                         field("cost", x.cost));
}
auto fields(const pep_peer& x) {
  return std::make_tuple(field("name", x.peer), field("address", x.address, detail::ipv4), field("port", x.port),
                         field("prefixes", x.prefixes, prefixes_json), field("paths", x.paths).when(!x.paths.empty()),
                         field("revert", x.revert).when(!x.revert), field("rate_mbit", x.rate_mbit).when(x.rate_mbit != 0),
                         field("members", x.members, ipv4_list).when(!x.members.empty()));
}
auto fields(const pep_section& x) {
  return std::make_tuple(field("rules", x.rules), field("lan", x.lan).when(!x.lan.empty()),
                         field("listen_port", x.listen_port), field("backbone_port", x.backbone_port),
                         field("queue", x.queue), field("peers", x.peers),
                         field("max_connections", x.max_connections), field("keepalive_ms", x.keepalive_ms),
                         field("backbone_timeout_ms", x.backbone_timeout_ms),
                         field("connect_timeout_ms", x.connect_timeout_ms),
                         field("user_timeout_ms", x.user_timeout_ms), field("window_kbyte", x.window_kbyte),
                         field("buffer_kbyte", x.buffer_kbyte), field("congestion", x.congestion),
                         field("redial_ms", x.redial_ms), field("redundant_kbyte", x.redundant_kbyte),
                         field("priority_weights", x.priority_weights,
                               [](const auto& w) { return json(std::vector<std::uint32_t>(w.begin(), w.end())); }),
                         field("unsent_ms", x.unsent_ms), field("group", x.group).when(x.group),
                         field("top_backbone", x.top_backbone).when(x.top_backbone));
}

using detail::equal_fields;
bool operator==(const pep_prefix& x, const pep_prefix& y) noexcept { return equal_fields(x, y); }
bool operator==(const pep_path& x, const pep_path& y) noexcept { return equal_fields(x, y); }
bool operator==(const pep_peer& x, const pep_peer& y) noexcept { return equal_fields(x, y); }
bool operator==(const pep_section& x, const pep_section& y) { return equal_fields(x, y); }

namespace detail {

void parse_pep(const value_ref& v, policy& out) {
  v.expect_object({"rules", "lan", "listen_port", "backbone_port", "queue", "peers", "max_connections",
                   "keepalive_ms", "backbone_timeout_ms", "connect_timeout_ms", "user_timeout_ms",
                   "window_kbyte", "buffer_kbyte", "congestion", "redial_ms", "redundant_kbyte",
                   "priority_weights", "unsent_ms", "group", "top_backbone"});
  pep_section s;
  s.rules = parse_rule_list(v.get("rules"), out.profiles);
  if (auto x = v.find("lan")) {
    s.lan = x->as_string();
    if (s.lan.empty() || s.lan.size() > 15) x->fail(describe(x->value()) + " is not an interface name");
  }
  auto port = [](const value_ref& x) { return static_cast<std::uint16_t>(x.as_uint(1, 65535)); };
  if (auto x = v.find("listen_port")) s.listen_port = port(*x);
  if (auto x = v.find("backbone_port")) s.backbone_port = port(*x);
  if (s.listen_port == s.backbone_port)
    v.get("listen_port").fail("the listener and the backbone cannot share port " + std::to_string(s.listen_port));
  if (auto x = v.find("queue")) s.queue = static_cast<std::uint16_t>(x->as_uint(0, 65535));
  if (auto list = v.find("peers")) {
    const std::size_t n = list->expect_array();
    for (std::size_t i = 0; i < n; ++i) {
      auto item = list->at(i);
      item.expect_object({"name", "address", "port", "prefixes", "paths", "revert", "members", "rate_mbit"});
      pep_peer pp;
      auto name = item.get("name");
      pp.peer = name.as_name();
      for (const auto& other : s.peers)
        if (other.peer == pp.peer) name.fail("duplicate PEP peer \"" + pp.peer + "\"");
      pp.address = item.get("address").as_ipv4();
      if (auto x = item.find("port")) pp.port = port(*x);
      auto prefixes = item.get("prefixes");
      const std::size_t m = prefixes.expect_array();
      if (m == 0) prefixes.fail("at least one destination prefix");
      for (std::size_t j = 0; j < m; ++j) {
        auto x = prefixes.at(j);
        auto p = parse_prefix(x.as_string());
        if (!p) x.fail(describe(x.value()) + " is not an IPv4 prefix");
        if (p->host_bits) x.fail(describe(x.value()) + " has host bits set outside the mask");
        pp.prefixes.push_back({p->address, static_cast<std::uint8_t>(prefix_length(p->mask))});
      }
      if (auto paths = item.find("paths")) {
        const std::size_t k = paths->expect_array();
        if (k == 0) paths->fail("at least one path (or leave \"paths\" out: one path, \"address\")");
        for (std::size_t j = 0; j < k; ++j) {
          auto x = paths->at(j);
          x.expect_object({"name", "local", "address", "rate_mbit", "cost"});
          pep_path path;
          auto pname = x.get("name");
          path.name = pname.as_name();
          for (const auto& other : pp.paths)
            if (other.name == path.name) pname.fail("duplicate path \"" + path.name + "\" of peer \"" + pp.peer + "\"");
          if (auto y = x.find("local")) path.local = y->as_ipv4();
          path.address = x.get("address").as_ipv4();
          for (const auto& other : pp.paths)
            if (other.address == path.address && other.local == path.local)
              x.get("address").fail("path \"" + other.name + "\" already goes from the same local address to " +
                                    format_ipv4(path.address));
          if (auto y = x.find("rate_mbit")) path.rate_mbit = static_cast<std::uint32_t>(y->as_uint(0, 1000000));
          if (auto y = x.find("cost")) path.cost = static_cast<std::uint32_t>(y->as_uint(0, 1000000));
          pp.paths.push_back(std::move(path));
        }
      }
      if (auto x = item.find("revert")) pp.revert = x->as_bool();
      if (auto members = item.find("members")) {
        const std::size_t k = members->expect_array();
        if (k == 0) members->fail("at least one member address (or leave \"members\" out: one address)");
        if (!pp.paths.empty())
          members->fail("a peer lists either WAN paths or group members, not both");
        for (std::size_t j = 0; j < k; ++j) {
          auto x = members->at(j);
          const std::uint32_t a = x.as_ipv4();
          for (auto other : pp.members)
            if (other == a) x.fail("member " + format_ipv4(a) + " is listed twice");
          pp.members.push_back(a);
        }
      }
      if (auto x = item.find("rate_mbit")) pp.rate_mbit = static_cast<std::uint32_t>(x->as_uint(0, 1000000));
      s.peers.push_back(std::move(pp));
    }
    if (n > 0 && out.identity.certificate.empty())
      list->fail("backbones are TLS with mutual certificates: the node needs /identity/certificate, key and ca");
  }
  if (auto x = v.find("max_connections")) s.max_connections = static_cast<std::uint32_t>(x->as_uint(1, 65534));
  if (auto x = v.find("keepalive_ms")) s.keepalive_ms = static_cast<std::uint32_t>(x->as_uint(10, 600000));
  if (auto x = v.find("backbone_timeout_ms"))
    s.backbone_timeout_ms = static_cast<std::uint32_t>(x->as_uint(50, 3600000));
  if (s.backbone_timeout_ms <= s.keepalive_ms)
    (v.find("backbone_timeout_ms") ? *v.find("backbone_timeout_ms") : v)
        .fail("backbone_timeout_ms " + std::to_string(s.backbone_timeout_ms) + " must exceed keepalive_ms " +
              std::to_string(s.keepalive_ms));
  if (auto x = v.find("connect_timeout_ms"))
    s.connect_timeout_ms = static_cast<std::uint32_t>(x->as_uint(100, 600000));
  if (auto x = v.find("user_timeout_ms")) s.user_timeout_ms = static_cast<std::uint32_t>(x->as_uint(100, 3600000));
  if (auto x = v.find("window_kbyte")) s.window_kbyte = static_cast<std::uint32_t>(x->as_uint(16, 1u << 20));
  if (auto x = v.find("buffer_kbyte")) s.buffer_kbyte = static_cast<std::uint32_t>(x->as_uint(64, 1u << 20));
  if (auto x = v.find("congestion")) s.congestion = congestion_names[one_of(*x, congestion_names, "a congestion control")];
  if (auto x = v.find("redial_ms")) s.redial_ms = static_cast<std::uint32_t>(x->as_uint(10, 600000));
  if (auto x = v.find("redundant_kbyte")) s.redundant_kbyte = static_cast<std::uint32_t>(x->as_uint(0, 1u << 20));
  if (auto list = v.find("priority_weights")) {
    const std::size_t n = list->expect_array();
    if (n != s.priority_weights.size())
      list->fail("one weight for each of priorities 0.." + std::to_string(s.priority_weights.size() - 1) +
                 " (the top priority, " + std::to_string(s.priority_weights.size()) + ", is strict): " +
                 std::to_string(n) + " given");
    for (std::size_t i = 0; i < n; ++i)
      s.priority_weights[i] = static_cast<std::uint32_t>(list->at(i).as_uint(1, 1000));
  }
  if (auto x = v.find("unsent_ms")) s.unsent_ms = static_cast<std::uint32_t>(x->as_uint(0, 1000));
  if (auto x = v.find("group")) s.group = x->as_bool();
  if (auto x = v.find("top_backbone")) s.top_backbone = x->as_bool();
  // A profile's paths (parsed before this section) must each name a path of some peer.
  for (std::size_t i = 0; i < out.profiles.size(); ++i)
    for (std::size_t j = 0; j < out.profiles[i].paths.size(); ++j) {
      const std::string& name = out.profiles[i].paths[j];
      bool known = false;
      for (const auto& pp : s.peers)
        for (const auto& path : pp.paths) known = known || path.name == name;
      if (!known)
        throw policy_error("/profiles/" + std::to_string(i) + "/paths/" + std::to_string(j),
                           "\"" + name + "\" is no path of a PEP peer (/pep/peers/*/paths/*/name)");
    }
  out.pep = std::move(s);
}

json pep_json(const policy& p) { return write_json(*p.pep); }

void pep_text(const policy& p, std::string& out) {
  const auto& s = *p.pep;
  auto line = [&](const std::string& label, const std::string& text) {
    std::string l = label;
    l.resize(11, ' ');
    out += l + text + '\n';
  };
  if (!s.lan.empty() || !s.peers.empty()) {
    line("pep", "lan " + (s.lan.empty() ? std::string("(none)") : s.lan) + ", listener " +
                    std::to_string(s.listen_port) + ", backbone " + std::to_string(s.backbone_port) + " (" +
                    s.congestion + "), NFQUEUE " + std::to_string(s.queue) + ", at most " +
                    std::to_string(s.max_connections) + " spoofed connections");
    line("", "keepalive " + std::to_string(s.keepalive_ms) + " ms, backbone dead after " +
                 std::to_string(s.backbone_timeout_ms) + " ms, window " + std::to_string(s.window_kbyte) + " KiB");
    if (s.group) line("", "one member of a hub PEP group: serves the branches whose work unit it owns");
    line("", "priority 3 first, then 2/1/0 by weights " + std::to_string(s.priority_weights[2]) + "/" +
                 std::to_string(s.priority_weights[1]) + "/" + std::to_string(s.priority_weights[0]) +
                 ", unsent in the backbone socket " +
                 (s.unsent_ms ? "at most " + std::to_string(s.unsent_ms) + " ms" : std::string("unbounded")));
    if (s.top_backbone) line("", "priority 3 on backbones of its own (one per path)");
    for (const auto& pp : s.peers) {
      std::string prefixes;
      for (const auto& x : pp.prefixes) prefixes += (prefixes.empty() ? "" : ", ") + prefix_json(x).get<std::string>();
      line("", "peer " + pp.peer + " " + format_ipv4(pp.address) + ":" + std::to_string(pp.port) + " for " + prefixes +
                   (pp.rate_mbit ? ", paced below " + std::to_string(pp.rate_mbit) + " Mbit/s" : std::string()));
      if (!pp.members.empty()) {
        std::string m;
        for (auto a : pp.members) m += (m.empty() ? "" : ", ") + format_ipv4(a);
        line("", "  a PEP group, members " + m);
      }
      for (const auto& path : pp.paths)
        line("", "  path " + path.name + " " + (path.local ? format_ipv4(path.local) : std::string("*")) + " -> " +
                     format_ipv4(path.address) + ", " + std::to_string(path.rate_mbit) + " Mbit/s, cost " +
                     std::to_string(path.cost) + (pp.revert ? "" : " (no revert)"));
    }
  }
  if (s.rules.empty()) line("pep rules", "none");
  for (std::size_t i = 0; i < s.rules.size(); ++i) {
    const rule& r = s.rules.rules()[i];
    line(i == 0 ? "pep rules" : "", std::to_string(i) + " " + r.name + ": " + s.rules.describe(i) + " -> " + r.profile);
  }
}

}  // namespace detail
}  // namespace baton::policy
