#pragma once
// The "console_auth" section's types: how the console (the introspection API and web page) is
// protected. Kept apart from policy.hpp, which holds one member for them. Parsed in
// console_auth_section.cpp.
//
// "console_auth": {
//   "tls": true,                   serve the console over TLS with /identity/certificate and key.
//                                  Default: false on loopback, and on any other address TLS is
//                                  mandatory (false there is an error)
//   "client_certificates": true,   a client certificate signed by /identity/ca (the group's CA)
//                                  authenticates a client (default true; needs /identity/ca)
//   "token_file": "/etc/baton/console.token"
//                                  a bearer token (the file's first line, at least 16 characters)
//                                  that authenticates a client: "Authorization: Bearer TOKEN"
// }
// A console with TLS (and a loopback one with a token file) answers 401 to a request that brings
// neither a verified client certificate nor the token; the page's own files are open.
// A console not on loopback needs a certificate and key, and at least one way to authenticate
// (client certificates with a CA, or a token file): otherwise the policy is refused.

#include <string>

namespace baton::policy {

struct console_auth_section {
  bool tls = false;
  bool client_certificates = true;
  std::string token_file;  // empty: no token
};

bool operator==(const console_auth_section& x, const console_auth_section& y);

struct policy;

/// Whether the console speaks TLS: asked for in /console_auth/tls, or not on loopback.
bool console_tls(const policy& p) noexcept;
/// Whether a verified client certificate authenticates (TLS, client_certificates, a CA).
bool console_client_certificates(const policy& p) noexcept;
/// Whether console requests must authenticate: whenever the console has TLS or a token file.
bool console_auth_required(const policy& p) noexcept;
/// One line for the start-up event: how the console is protected, e.g.
/// "TLS; client certificate from /identity/ca or bearer token" or "plain HTTP on loopback".
std::string console_protection(const policy& p);

}  // namespace baton::policy
