// The console's HTTP server with TLS and authentication, driven by the console's own client over
// 127.0.0.1 with certificates from deploy/make-certs.sh: CA "good" (the node n, a client c) and an
// unrelated CA "rogue" (a client r).

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "actors/console/console_auth.hpp"
#include "actors/console/http_client.hpp"
#include "actors/console/http_server.hpp"

using namespace baton::console;

namespace {

const std::string token = "s3cret-console-token-0123456789";

struct certs {
  std::string dir;
  certs() {
    char tmpl[] = "/tmp/baton-console-tls-XXXXXX";
    dir = mkdtemp(tmpl);
    std::string script = std::string(BATON_SOURCE_DIR) + "/deploy/make-certs.sh";
    REQUIRE(std::system((script + " " + dir + "/good n c >/dev/null").c_str()) == 0);
    REQUIRE(std::system((script + " " + dir + "/rogue --ca rogue r >/dev/null").c_str()) == 0);
  }
  ~certs() { (void)std::system(("rm -rf " + dir).c_str()); }
  std::string file(const std::string& ca, const std::string& name) const {
    return dir + "/" + ca + "/" + name;
  }
};

// A TLS console like batond's on a non-loopback address: the node's certificate, client
// certificates from the good CA, the token, the page's own file open.
struct tls_server {
  http_server server;
  std::string node;
  explicit tls_server(const certs& c) : server("127.0.0.1:0", options(c)) {
    server.route("GET", "/actors", [](const http_request&) { return http_response::json("[1]"); });
    server.route("GET", "/", [](const http_request&) { return http_response::text("page"); });
    server.start();
    node = server.address();
  }
  static server_options options(const certs& c) {
    server_options o;
    o.tls = tls_options{c.file("good", "n.pem"), c.file("good", "n.key"), c.file("good", "ca.pem")};
    o.auth.required = true;
    o.auth.token = token;
    o.auth.open_paths = {"/"};
    return o;
  }
};

}  // namespace

TEST_CASE("a TLS console lets in a certificate from its CA or the token, and nobody else") {
  certs c;
  tls_server s(c);
  const std::string good_ca = c.file("good", "ca.pem");
  struct row {
    const char* name;
    client_options client;
    std::string path;
    std::optional<int> status;  // nullopt: no HTTP answer at all (the TLS handshake fails)
  };
  const std::vector<row> rows = {
    {"client certificate from the node's CA", {good_ca, c.file("good", "c.pem"), c.file("good", "c.key"), ""}, "/actors", 200},
    {"client certificate from another CA", {good_ca, c.file("rogue", "r.pem"), c.file("rogue", "r.key"), ""}, "/actors", std::nullopt},
    {"no certificate and no token", {good_ca, "", "", ""}, "/actors", 401},
    {"a wrong token", {good_ca, "", "", token + "x"}, "/actors", 401},
    {"a token one character short", {good_ca, "", "", token.substr(1)}, "/actors", 401},
    {"the right token", {good_ca, "", "", token}, "/actors", 200},
    {"the page's own file needs nothing", {good_ca, "", "", ""}, "/", 200},
    {"a client that does not trust the node's certificate", {c.file("rogue", "ca.pem"), "", "", token}, "/actors", std::nullopt},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    std::optional<int> got;
    std::string body, authenticate;
    try {
      auto reply = http_fetch(r.client, s.node, "GET", r.path);
      got = reply.status;
      body = reply.body;
      authenticate = reply.header("www-authenticate").value_or("");
    } catch (const http_client_error&) {
    }
    CHECK(got == r.status);
    if (got == 401) {
      CHECK(authenticate.rfind("Bearer", 0) == 0);
      CHECK(body.find(token) == std::string::npos);  // never echoes a token, not even a near one
    }
    if (got == 200 && r.path == "/actors") CHECK(body == "[1]");
  }
  CHECK(s.server.unauthorized_total() == 3);
  CHECK(s.server.tls_handshake_failures() >= 1);
  std::uint64_t answered_401 = 0;
  for (auto [status, n] : s.server.status_counts())
    if (status == 401) answered_401 = n;
  CHECK(answered_401 == 3);
  std::vector<metric_family> families;
  append_server_metrics(s.server, families);
  bool listed = false;
  for (auto& f : families) listed = listed || f.name == "baton_console_unauthorized_total";
  CHECK(listed);
}

TEST_CASE("plain HTTP to a TLS console gets no answer, is counted, and the console goes on") {
  certs c;
  tls_server s(c);
  auto failures = s.server.tls_handshake_failures();
  std::string got;
  try {
    got = http_raw_exchange(s.node, "GET /actors HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  } catch (const http_client_error& e) {
    CHECK(e.which() != http_client_error::kind::timeout);  // refused promptly, not left hanging
  }
  CHECK(got.rfind("HTTP/", 0) == std::string::npos);
  CHECK(s.server.tls_handshake_failures() == failures + 1);
  CHECK(s.server.requests_total() == 0);
  auto reply = http_fetch({c.file("good", "ca.pem"), "", "", token}, s.node, "GET", "/actors");
  CHECK(reply.status == 200);
}

TEST_CASE("a TLS console negotiates TLS 1.3 and refuses TLS 1.1") {
  certs c;
  tls_server s(c);
  // openssl s_client, when installed, as an independent client; what it says about the session.
  if (std::system("command -v openssl >/dev/null") != 0) return;
  auto session = [&](const std::string& args) {
    std::string out;
    FILE* p = popen(("openssl s_client -connect " + s.node + " " + args + " </dev/null 2>&1").c_str(), "r");
    REQUIRE(p);
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    pclose(p);
    return out;
  };
  CHECK(session("-CAfile " + c.file("good", "ca.pem")).find("New, TLSv1.3,") != std::string::npos);
  // SECLEVEL=0 lets this client offer TLS 1.1 (it would connect to a server that allowed it).
  auto old = session("-tls1_1 -cipher DEFAULT@SECLEVEL=0");
  CHECK(old.find("Cipher is ECDHE") == std::string::npos);  // no session was made
  CHECK(old.find("Cipher is (NONE)") != std::string::npos);
}

TEST_CASE("the bearer token is compared whole") {
  struct row {
    const char* name;
    std::string header;
    std::string expected;
    bool match;
  };
  const std::vector<row> rows = {
    {"exact", "Bearer abcdef", "abcdef", true},
    {"scheme in lower case", "bearer abcdef", "abcdef", true},
    {"surrounding blanks", "  Bearer   abcdef ", "abcdef", true},
    {"prefix of the token", "Bearer abcde", "abcdef", false},
    {"token plus more", "Bearer abcdefg", "abcdef", false},
    {"another scheme", "Basic abcdef", "abcdef", false},
    {"no token", "Bearer ", "abcdef", false},
    {"empty header", "", "abcdef", false},
    {"no token configured", "Bearer ", "", false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK(bearer_token_matches(r.header, r.expected) == r.match);
  }
}

TEST_CASE("a token file gives its first line and refuses short or missing tokens") {
  char tmpl[] = "/tmp/baton-token-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  auto write = [&](const std::string& name, const std::string& text) {
    std::string path = dir + "/" + name;
    FILE* f = std::fopen(path.c_str(), "w");
    std::fputs(text.c_str(), f);
    std::fclose(f);
    return path;
  };
  CHECK(read_token_file(write("ok", "0123456789abcdef\n")) == "0123456789abcdef");
  CHECK_THROWS_WITH_AS(read_token_file(write("short", "abc\n")), doctest::Contains("shorter than 16"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(read_token_file(write("empty", "\n")), doctest::Contains("empty"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(read_token_file(dir + "/none"), doctest::Contains("cannot read"),
                       std::runtime_error);
  try {
    read_token_file(write("short2", "secretish\n"));
  } catch (const std::exception& e) {
    CHECK(std::string(e.what()).find("secretish") == std::string::npos);
  }
  (void)std::system(("rm -rf " + dir).c_str());
}
