// The "rim" section of the node policy (document 000). Schema in rim_policy.hpp.

#include "policy/rim_section.hpp"

#include <tuple>

#include "policy/fields.hpp"
#include "policy/origin_url.hpp"

namespace baton::policy {

using detail::field;

auto fields(const rim_section& x) {
  return std::make_tuple(field("content", x.content).when(!x.content.empty()),
                         field("origin", x.origin).when(!x.origin.empty()), field("chunk_bytes", x.chunk_bytes),
                         field("cache_bytes", x.cache_bytes), field("origin_timeout_ms", x.origin_timeout_ms),
                         field("service_port", x.service_port), field("port", x.port),
                         field("uplink", x.uplink), field("tun", x.tun), field("route_table", x.route_table),
                         field("handoff_timeout_ms", x.handoff_timeout_ms), field("max_flows", x.max_flows), field("mss", x.mss));
}

bool operator==(const rim_section& x, const rim_section& y) { return detail::equal_fields(x, y); }

namespace detail {

void parse_rim(const value_ref& v, policy& out) {
  v.expect_object({"content", "origin", "chunk_bytes", "cache_bytes", "origin_timeout_ms", "service_port", "port", "uplink", "tun", "route_table", "handoff_timeout_ms",
                   "max_flows", "mss"});
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
  if (out.identity.certificate.empty())
    v.fail("rim hosts hand flows to each other over TLS with mutual certificates: the node needs "
           "/identity/certificate, key and ca");
  out.rim = std::move(s);
}

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
}

}  // namespace detail
}  // namespace baton::policy
