#pragma once
// What the node policy says about the console's protection, as the server's and the /peer
// client's options: one place that turns /console_auth and /identity into TLS files, the token and
// the rule of who must authenticate. No Asio, no CAF.

#include <string>
#include <vector>

#include "actors/console/http_client.hpp"
#include "actors/console/http_server.hpp"
#include "policy/policy.hpp"

namespace baton::console {

/// Sets `options.tls` and `options.auth` for `p`'s console: TLS with the node's certificate, key
/// and (with client certificates) CA; authentication required as policy::console_auth_required
/// says, with the token read from /console_auth/token_file; `open_paths` answered to anyone (the
/// page's own files, so a browser can load the page that asks for the token). Throws
/// policy::policy_error("/console_auth/token_file", why) when the token file cannot be used (the
/// reason never quotes the token), and ("/identity", why) when the certificate, key or CA does not
/// load.
void apply_console_policy(const policy::policy& p, std::vector<std::string> open_paths,
                          server_options& options);

/// How this node reaches a peer's console at `console` ("HOST:PORT") for /peer: a console off
/// loopback is TLS (the policy makes it so), reached with this node's certificate as the client
/// certificate and checked against this node's CA (the group's). Plain HTTP otherwise.
client_options peer_console_client(const policy::policy& p, const std::string& console);

}  // namespace baton::console
