// The rim origin's URL. See origin_url.hpp.

#include "policy/origin_url.hpp"

#include "policy/reader.hpp"

namespace baton::policy {

std::string parse_http_origin(std::string_view url, http_origin& out) {
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, scheme.size()) != scheme) return "is not an http:// URL (only plain HTTP origins are fetched from)";
  std::string_view rest = url.substr(scheme.size());
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) return "has a user part (none is sent)";
  http_origin o;
  const auto colon = authority.find(':');
  if (colon != std::string_view::npos) {
    std::string_view p = authority.substr(colon + 1);
    std::uint32_t port = 0;
    if (p.empty() || p.size() > 5) return "has no valid port after ':'";
    for (char c : p) {
      if (c < '0' || c > '9') return "has no valid port after ':'";
      port = port * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (port == 0 || port > 65535) return "has a port outside 1-65535";
    o.port = static_cast<std::uint16_t>(port);
    authority = authority.substr(0, colon);
  }
  auto address = detail::parse_ipv4(authority);
  if (!address) return "does not name its host by an IPv4 address (names are not resolved: it would block)";
  o.address = *address;
  for (char c : path) {
    // The prefix goes into request lines as it is: no spaces, controls, query or fragment.
    if (c <= ' ' || c == 0x7f || c == '?' || c == '#' || c == '%') return "has a path with a character not allowed here";
  }
  o.prefix = std::string(path);
  if (o.prefix.back() != '/') o.prefix += '/';
  out = std::move(o);
  return {};
}

}  // namespace baton::policy
