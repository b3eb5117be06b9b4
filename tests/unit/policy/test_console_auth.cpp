// The "console_auth" section: a console off loopback needs TLS, the node's certificate and a way
// to authenticate clients, and every refusal names the pointer to fix.

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "policy/policy.hpp"
#include "policy/render.hpp"

using namespace baton::policy;

namespace {

const char* with_certs =
  R"("identity": {"name": "n1", "address": "10.0.0.1", "certificate": "/c/n1.pem", "key": "/c/n1.key", "ca": "/c/ca.pem"})";
const char* without_ca =
  R"("identity": {"name": "n1", "address": "10.0.0.1", "certificate": "/c/n1.pem", "key": "/c/n1.key"})";
const char* bare = R"("identity": {"name": "n1", "address": "10.0.0.1"})";

std::string doc(const char* identity, const std::string& console, const std::string& extra = "") {
  return std::string("{") + identity + R"(, "roles": ["passthrough"], "console": ")" + console + "\"" +
         (extra.empty() ? "" : ", " + extra) + "}";
}

}  // namespace

TEST_CASE("console_auth: what each console needs, and the pointer when it lacks it") {
  struct row {
    const char* name;
    std::string text;
    const char* pointer;  // nullptr: accepted
    const char* reason;   // a substring of the reason
    bool tls;
    bool client_certificates;
    bool auth_required;
  };
  const std::vector<row> rows = {
    {"loopback, nothing asked: plain and open", doc(bare, "127.0.0.1:9000"), nullptr, "", false, false, false},
    {"loopback with a token: plain, token needed",
     doc(bare, "127.0.0.1:9000", R"("console_auth": {"token_file": "/etc/t"})"), nullptr, "", false, false, true},
    {"loopback asking for TLS with the node's certificates",
     doc(with_certs, "127.0.0.1:9000", R"("console_auth": {"tls": true})"), nullptr, "", true, true, true},
    {"off loopback with certificate, key and CA: TLS and client certificates",
     doc(with_certs, "10.0.0.1:9000"), nullptr, "", true, true, true},
    {"off loopback, no CA but a token",
     doc(without_ca, "10.0.0.1:9000", R"("console_auth": {"token_file": "/etc/t"})"), nullptr, "", true, false, true},
    {"off loopback without a certificate", doc(bare, "10.0.0.1:9000"), "/identity/certificate",
     "uses TLS with this node's certificate (it is not on loopback)", false, false, false},
    {"off loopback with TLS turned off",
     doc(with_certs, "10.0.0.1:9000", R"("console_auth": {"tls": false})"), "/console_auth/tls",
     "must use TLS", false, false, false},
    {"off loopback, no CA and no token", doc(without_ca, "10.0.0.1:9000"), "/identity/ca",
     "must authenticate its clients", false, false, false},
    {"off loopback, client certificates off and no token",
     doc(with_certs, "10.0.0.1:9000", R"("console_auth": {"client_certificates": false})"),
     "/console_auth/client_certificates", "needs /console_auth/token_file", false, false, false},
    {"TLS on loopback without a certificate",
     doc(bare, "127.0.0.1:9000", R"("console_auth": {"tls": true, "token_file": "/etc/t"})"),
     "/identity/certificate", "(/console_auth/tls asks for TLS)", false, false, false},
    {"a relative token file", doc(with_certs, "10.0.0.1:9000", R"("console_auth": {"token_file": "t"})"),
     "/console_auth/token_file", "is not an absolute path", false, false, false},
    {"an unknown key", doc(with_certs, "10.0.0.1:9000", R"("console_auth": {"token": "abc"})"),
     "/console_auth/token", "unknown key", false, false, false},
    {"tls not a boolean", doc(with_certs, "10.0.0.1:9000", R"("console_auth": {"tls": "yes"})"),
     "/console_auth/tls", "", false, false, false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    if (!r.pointer) {
      policy p;
      REQUIRE_NOTHROW(p = load_policy_text(r.text));
      CHECK(console_tls(p) == r.tls);
      CHECK(console_client_certificates(p) == r.client_certificates);
      CHECK(console_auth_required(p) == r.auth_required);
      // The section survives rendering and loading again.
      CHECK(load_policy_text(to_json_string(p)) == p);
      continue;
    }
    try {
      load_policy_text(r.text);
      FAIL("accepted");
    } catch (const policy_error& e) {
      CHECK(e.pointer() == r.pointer);
      CHECK(e.reason().find(r.reason) != std::string::npos);
    }
  }
}

TEST_CASE("console_auth: the start-up line says how the console is protected, never the token") {
  auto p = load_policy_text(doc(with_certs, "10.0.0.1:9000", R"("console_auth": {"token_file": "/etc/t"})"));
  auto line = console_protection(p);
  CHECK(line == "TLS with /c/n1.pem; clients need a client certificate signed by /c/ca.pem or the "
                "bearer token from /etc/t");
  CHECK(console_protection(load_policy_text(doc(bare, "127.0.0.1:9000"))) ==
        "plain HTTP on loopback, no authentication");
}
