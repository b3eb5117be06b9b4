// The "rim" section of the node policy (document 000). Schema in rim_policy.hpp.

#include "policy/rim_section.hpp"

#include <tuple>

#include "policy/fields.hpp"
#include "policy/origin_url.hpp"
#include "policy/rule_list.hpp"

namespace baton::policy {

using detail::field;

namespace {
constexpr const char* move_names[] = {"stay", "masquerade", "funnel", "handoff"};
}

const char* to_string(rim_move m) noexcept { return move_names[static_cast<std::size_t>(m)]; }

auto fields(const rim_reaction& x) {
  return std::make_tuple(field("on_loss", x.on_loss), field("loss_pct", x.loss_pct), field("samples", x.samples),
                         field("dwell_ms", x.dwell_ms), field("icmp_errors", x.icmp_errors),
                         field("chain", x.chain).when(!x.chain.empty()));
}
auto fields(const rim_manage& x) { return std::make_tuple(field("rules", x.rules), field("interval_ms", x.interval_ms)); }
bool operator==(const rim_reaction& x, const rim_reaction& y) { return detail::equal_fields(x, y); }
bool operator==(const rim_manage& x, const rim_manage& y) { return detail::equal_fields(x, y); }

auto fields(const rim_section& x) {
  return std::make_tuple(field("content", x.content).when(!x.content.empty()),
                         field("origin", x.origin).when(!x.origin.empty()), field("chunk_bytes", x.chunk_bytes),
                         field("cache_bytes", x.cache_bytes), field("origin_timeout_ms", x.origin_timeout_ms),
                         field("service_port", x.service_port), field("port", x.port),
                         field("uplink", x.uplink), field("tun", x.tun), field("route_table", x.route_table),
                         field("handoff_timeout_ms", x.handoff_timeout_ms), field("max_flows", x.max_flows), field("mss", x.mss),
                         field("manage", x.manage).when(!x.manage.rules.empty()));
}

bool operator==(const rim_section& x, const rim_section& y) { return detail::equal_fields(x, y); }

namespace detail {

rim_reaction parse_rim_reaction(const value_ref& v, const policy& out) {
  v.expect_object({"on_loss", "loss_pct", "samples", "dwell_ms", "icmp_errors", "chain"});
  rim_reaction r;
  if (auto x = v.find("on_loss")) r.on_loss = static_cast<rim_move>(one_of(*x, move_names, "a rim move"));
  if (auto x = v.find("loss_pct")) {
    if (!x->value().is_number()) x->fail("expected a number, got " + describe(x->value()));
    r.loss_pct = x->value().get<double>();
    if (!(r.loss_pct > 0 && r.loss_pct <= 100)) x->fail(describe(x->value()) + " is not a percentage above 0");
  }
  if (auto x = v.find("samples")) r.samples = static_cast<std::uint32_t>(x->as_uint(1, 1000));
  if (auto x = v.find("dwell_ms")) r.dwell_ms = static_cast<std::uint32_t>(x->as_uint(0, 3600000));
  if (auto x = v.find("icmp_errors")) r.icmp_errors = static_cast<std::uint32_t>(x->as_uint(1, 1000000));
  if (auto x = v.find("chain")) {
    const std::size_t n = x->expect_array();
    if (n == 0 || n > 8) x->fail("a chain has 1 to 8 masqueraders");
    for (std::size_t i = 0; i < n; ++i) {
      auto hop = x->at(i);
      std::string name = hop.as_string();
      // Every rim host loads the same profiles: a hop is a peer or the host itself.
      bool known = name == out.identity.name;
      for (const auto& p : out.peers) known = known || p.name == name;
      if (!known) hop.fail(describe(hop.value()) + " is not /identity/name nor one of /peers (the rim's members)");
      for (const auto& seen : r.chain)
        if (seen == name) hop.fail(describe(hop.value()) + " is in the chain twice");
      r.chain.push_back(std::move(name));
    }
  }
  return r;
}

void parse_rim(const value_ref& v, policy& out) {
  v.expect_object({"content", "origin", "chunk_bytes", "cache_bytes", "origin_timeout_ms", "service_port", "port",
                   "uplink", "tun", "route_table", "handoff_timeout_ms", "max_flows", "mss", "manage"});
  rim_section s;
  if (auto content = v.find("content")) {
    s.content = content->as_string();
    if (s.content.empty() || s.content[0] != '/') content->fail(describe(content->value()) + " is not an absolute path");
  }
  if (auto origin = v.find("origin")) {
    s.origin = origin->as_string();
    http_origin parsed;
    const std::string why = parse_http_origin(s.origin, parsed);
    if (!why.empty()) origin->fail(describe(origin->value()) + " " + why);
  }
  if (s.content.empty() && s.origin.empty())
    v.fail("a rim host needs \"content\" (a local copy), \"origin\" (an HTTP server to fetch from), or both");
  if (auto x = v.find("chunk_bytes")) s.chunk_bytes = static_cast<std::uint32_t>(x->as_uint(64u << 10, 64u << 20));
  if (auto x = v.find("cache_bytes")) {
    s.cache_bytes = x->as_uint(0, 1ull << 40);
    // Two chunks at least: one being written while the next is fetched.
    if (s.cache_bytes < 2ull * s.chunk_bytes)
      x->fail(describe(x->value()) + " holds fewer than two chunks of " + std::to_string(s.chunk_bytes) + " bytes");
  }
  if (auto x = v.find("origin_timeout_ms")) s.origin_timeout_ms = static_cast<std::uint32_t>(x->as_uint(100, 600000));
  auto interface_name = [](const value_ref& x) {
    std::string name = x.as_string();
    if (name.empty() || name.size() > 15) x.fail(describe(x.value()) + " is not an interface name");
    return name;
  };
  s.uplink = interface_name(v.get("uplink"));
  if (auto x = v.find("tun")) s.tun = interface_name(*x);
  if (s.tun == s.uplink) v.get("tun").fail("the TUN device cannot be the uplink \"" + s.uplink + "\"");
  auto port = [](const value_ref& x) { return static_cast<std::uint16_t>(x.as_uint(1, 65535)); };
  if (auto x = v.find("service_port")) s.service_port = port(*x);
  if (auto x = v.find("port")) s.port = port(*x);
  if (s.port == s.service_port)
    v.get("port").fail("rim links and the service cannot share port " + std::to_string(s.port));
  if (auto x = v.find("route_table")) {
    // It and the next one (masquerade exits) are used; 253-255 are the kernel's default, main, local.
    s.route_table = static_cast<std::uint32_t>(x->as_uint(1, 0xfffffff0u));
    if (s.route_table + 1 >= 253 && s.route_table <= 255)
      x->fail(describe(x->value()) + " collides with the kernel's reserved tables 253-255 (it uses this one and the next)");
  }
  if (auto x = v.find("handoff_timeout_ms")) s.handoff_timeout_ms = static_cast<std::uint32_t>(x->as_uint(10, 60000));
  if (auto x = v.find("max_flows")) s.max_flows = static_cast<std::uint32_t>(x->as_uint(1, 65536));
  if (auto x = v.find("mss")) {
    s.mss = static_cast<std::uint32_t>(x->as_uint(0, 65495));
    if (s.mss != 0 && s.mss < 536) x->fail(describe(x->value()) + " is below TCP's minimum MSS 536 (0: the kernel's)");
  }
  if (auto m = v.find("manage")) {
    m->expect_object({"rules", "interval_ms"});
    s.manage.rules = parse_rule_list(m->get("rules"), out.profiles);
    if (auto x = m->find("interval_ms")) s.manage.interval_ms = static_cast<std::uint32_t>(x->as_uint(50, 60000));
  }
  if (out.identity.certificate.empty())
    v.fail("rim hosts hand flows to each other over TLS with mutual certificates: the node needs "
           "/identity/certificate, key and ca");
  out.rim = std::move(s);
}

json rim_reaction_json(const rim_reaction& r) { return write_json(r); }

json rim_json(const policy& p) { return write_json(*p.rim); }

void rim_text(const policy& p, std::string& out) {
  const auto& s = *p.rim;
  std::string l = "rim";
  l.resize(11, ' ');
  std::string source = s.content.empty() ? std::string() : "content " + s.content;
  if (!s.origin.empty())
    source += (source.empty() ? "" : ", else ") + std::string("origin ") + s.origin + " in chunks of " +
              std::to_string(s.chunk_bytes) + " bytes (cache " + std::to_string(s.cache_bytes) + " bytes, timeout " +
              std::to_string(s.origin_timeout_ms) + " ms)";
  out += l + source + " served on port " + std::to_string(s.service_port) + "; links on port " +
         std::to_string(s.port) + "; uplink " + s.uplink + ", TUN " + s.tun + " (table " +
         std::to_string(s.route_table) + "); hand-off timeout " + std::to_string(s.handoff_timeout_ms) +
         " ms, at most " + std::to_string(s.max_flows) + " flows, MSS " +
         (s.mss ? std::to_string(s.mss) : std::string("the kernel's")) + "\n";
  if (s.manage.rules.empty()) {
    out += std::string(11, ' ') + "no management object (flows move only when asked)\n";
    return;
  }
  out += std::string(11, ' ') + "management object: reports every " + std::to_string(s.manage.interval_ms) + " ms\n";
  for (std::size_t i = 0; i < s.manage.rules.size(); ++i) {
    const rule& r = s.manage.rules.rules()[i];
    out += std::string(11, ' ') + "manage " + std::to_string(i) + " " + r.name + ": " + s.manage.rules.describe(i) +
           " -> " + r.profile + "\n";
  }
}

}  // namespace detail
}  // namespace baton::policy
