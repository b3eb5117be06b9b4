// The "console_auth" section of the node policy. Schema in console_auth_policy.hpp.

#include "policy/console_auth_section.hpp"

#include <algorithm>
#include <tuple>

#include "policy/fields.hpp"

namespace baton::policy {

using detail::field;

auto fields(const console_auth_section& x) {
  return std::make_tuple(field("tls", x.tls), field("client_certificates", x.client_certificates),
                         field("token_file", x.token_file).when(!x.token_file.empty()));
}

bool operator==(const console_auth_section& x, const console_auth_section& y) {
  return detail::equal_fields(x, y);
}

namespace {

bool loopback(const policy& p) noexcept { return (p.console.address >> 24) == 127; }

}  // namespace

bool console_tls(const policy& p) noexcept {
  return !loopback(p) || (p.console_auth && p.console_auth->tls);
}

bool console_client_certificates(const policy& p) noexcept {
  return console_tls(p) && !p.identity.ca.empty() &&
         (!p.console_auth || p.console_auth->client_certificates);
}

bool console_auth_required(const policy& p) noexcept {
  return console_tls(p) || (p.console_auth && !p.console_auth->token_file.empty());
}

std::string console_protection(const policy& p) {
  if (!console_auth_required(p)) return "plain HTTP on loopback, no authentication";
  std::string ways;
  if (console_client_certificates(p)) ways = "a client certificate signed by " + p.identity.ca;
  if (p.console_auth && !p.console_auth->token_file.empty())
    ways += std::string(ways.empty() ? "" : " or ") + "the bearer token from " + p.console_auth->token_file;
  return std::string(console_tls(p) ? "TLS with " + p.identity.certificate : "plain HTTP on loopback") +
         "; clients need " + ways;
}

namespace detail {

void parse_console_auth(const value_ref& v, policy& out) {
  v.expect_object({"tls", "client_certificates", "token_file"});
  console_auth_section s;
  if (auto x = v.find("tls")) s.tls = x->as_bool();
  if (auto x = v.find("client_certificates")) s.client_certificates = x->as_bool();
  if (auto x = v.find("token_file")) {
    s.token_file = x->as_string();
    if (s.token_file.empty() || s.token_file[0] != '/')
      x->fail(describe(x->value()) + " is not an absolute path");
  }
  // /console is parsed before this section.
  if (!s.tls && v.has("tls") && !loopback(out))
    v.get("tls").fail("the console on " + to_string(out.console) +
                      " is not on loopback: it must use TLS (false is allowed only on 127.0.0.0/8)");
  if (!loopback(out)) s.tls = true;  // written out as it is: a reload compares what runs
  out.console_auth = std::move(s);
}

json console_auth_json(const policy& p) { return write_json(*p.console_auth); }

void console_auth_text(const policy& p, std::string& out) {
  std::string l = "console_auth";
  l.resize(std::max<std::size_t>(l.size() + 1, 11), ' ');
  out += l + console_protection(p) + "\n";
}

void check_console_auth(const policy& p) {
  if (!console_tls(p) && !console_auth_required(p)) return;
  const std::string console = "the console on " + to_string(p.console);
  const std::string why = loopback(p) ? " (/console_auth/tls asks for TLS)" : " (it is not on loopback)";
  if (console_tls(p) && (p.identity.certificate.empty() || p.identity.key.empty()))
    throw policy_error(p.identity.certificate.empty() ? "/identity/certificate" : "/identity/key",
                       console + " uses TLS with this node's certificate" + why +
                         ": give /identity/certificate and /identity/key");
  const bool token = p.console_auth && !p.console_auth->token_file.empty();
  if (console_tls(p) && !token && !console_client_certificates(p)) {
    if (p.console_auth && !p.console_auth->client_certificates)
      throw policy_error("/console_auth/client_certificates",
                         console + " must authenticate its clients" + why +
                           ": with client certificates off it needs /console_auth/token_file");
    throw policy_error(p.console_auth ? "/console_auth" : "/identity/ca",
                       console + " must authenticate its clients" + why +
                         ": give /identity/ca (client certificates from the group's CA) or "
                         "/console_auth/token_file");
  }
}

}  // namespace detail
}  // namespace baton::policy
