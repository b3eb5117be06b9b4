#pragma once
// Internal to policy/: the "console_auth" section, schema in console_auth_policy.hpp.

#include <string>

#include "policy/policy.hpp"
#include "policy/reader.hpp"

namespace baton::policy::detail {

void parse_console_auth(const value_ref& v, policy& out);
json console_auth_json(const policy& p);
void console_auth_text(const policy& p, std::string& out);

/// The checks that need the whole policy (the console address, the identity's files): a console
/// not on loopback must have TLS, a certificate and key, and a way to authenticate clients.
/// Throws policy_error naming the pointer to fix. Called once every section is parsed.
void check_console_auth(const policy& p);

}  // namespace baton::policy::detail
