#pragma once
// The rim's origin (document 000's host "D"): "http://A.B.C.D[:PORT][/prefix]", the HTTP server
// rim hosts fetch an object from by range when they hold no local copy of it. Plain HTTP only,
// and an IPv4 address only: the service thread must never block, and a name would need a
// resolver (getaddrinfo blocks).

#include <cstdint>
#include <string>
#include <string_view>

namespace baton::policy {

struct http_origin {
  std::uint32_t address = 0;  // host order
  std::uint16_t port = 80;
  std::string prefix = "/";   // ends with '/': an object's URL path is prefix + name
};

/// Parses `url` into `out`; "" on success, otherwise why not (the reason names the part at fault).
/// A prefix without a trailing '/' gets one; a query, fragment or user part is refused.
std::string parse_http_origin(std::string_view url, http_origin& out);

}  // namespace baton::policy
