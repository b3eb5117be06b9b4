// Node-to-node TLS: a peer whose certificate does not chain to our CA is refused, the refusal is
// observed with its reason, and a refused handshake does not disturb links that are up.

#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "actors/runtime/node_config.hpp"
#include "actors/runtime/tls_watch.hpp"

using namespace baton::node;

namespace {

using echo_actor = caf::typed_actor<caf::replies_to<int>::with<int>>;

// Takes an argument: CAF 0.17's spawn of an argument-less function dereferences an empty
// shared_ptr<tuple<>> in its headers, which UBSan reports.
echo_actor::behavior_type echo(int factor) {
  return {[factor](int x) { return x * factor; }};
}

/// Certificates made by the project's own script: CA "good" with nodes a and b, and an unrelated
/// CA "rogue" with node r.
struct certs {
  std::string dir;
  certs() {
    char tmpl[] = "/tmp/baton-tls-XXXXXX";
    dir = mkdtemp(tmpl);
    std::string script = std::string(BATON_SOURCE_DIR) + "/deploy/make-certs.sh";
    REQUIRE(std::system((script + " " + dir + "/good a b >/dev/null").c_str()) == 0);
    REQUIRE(std::system((script + " " + dir + "/rogue --ca rogue r >/dev/null").c_str()) == 0);
  }
  ~certs() { std::system(("rm -rf " + dir).c_str()); }
  tls_files node(const std::string& ca_dir, const std::string& name, const std::string& trust) {
    return {dir + "/" + ca_dir + "/" + name + ".pem", dir + "/" + ca_dir + "/" + name + ".key",
            dir + "/" + trust + "/ca.pem"};
  }
};

int ask(caf::actor_system& sys, const echo_actor& h, int x) {
  caf::scoped_actor self{sys};
  int result = -1;
  self->request(h, std::chrono::seconds(5), x)
    .receive([&](int r) { result = r; }, [&](caf::error&) { result = -2; });
  return result;
}

}  // namespace

TEST_CASE("a peer certified by another CA is refused and the refusal is observed") {
  certs c;
  std::mutex m;
  std::condition_variable changed;
  std::vector<tls_refusal> seen;
  on_tls_refusal([&](const tls_refusal& r) {
    std::lock_guard<std::mutex> g{m};
    seen.push_back(r);
    changed.notify_all();
  });
  auto refused_before = tls_refusals();

  node_config server_cfg{c.node("good", "a", "good")};
  caf::actor_system server{server_cfg};
  auto service = server.spawn(echo, 2);
  auto port = caf::openssl::publish(service, 0, "127.0.0.1");
  REQUIRE(port);

  node_config good_cfg{c.node("good", "b", "good")};
  caf::actor_system good{good_cfg};
  auto link = caf::openssl::remote_actor<echo_actor>(good, "127.0.0.1", *port);
  REQUIRE(link);
  CHECK(ask(good, *link, 21) == 42);

  struct row {
    const char* name;
    const char* cert_ca;  // who signed the client's certificate
    const char* trust;    // which CA the client trusts
    const char* server_reason;  // what the server reports, when it is the side that refuses
  };
  const row rows[] = {
    {"rogue certificate, trusts our CA", "rogue", "good", "unable to get local issuer certificate"},
    {"rogue certificate, trusts only its own CA", "rogue", "rogue", "peer sent alert"},
  };
  for (auto& r : rows) {
    std::string name = r.name;
    CAPTURE(name);
    {
      std::lock_guard<std::mutex> g{m};
      seen.clear();
    }
    node_config rogue_cfg{c.node(r.cert_ca, "r", r.trust)};
    caf::actor_system rogue{rogue_cfg};
    auto attempt = caf::openssl::remote_actor<echo_actor>(rogue, "127.0.0.1", *port);
    CHECK_FALSE(attempt);
    // The server reports an incoming refusal with the reason; it may process the handshake's end
    // after the client has given up, so wait for the report (bounded).
    std::unique_lock<std::mutex> g{m};
    bool server_saw = changed.wait_for(g, std::chrono::seconds(10), [&] {
      for (auto& s : seen)
        if (s.direction == "incoming" && s.reason.find(r.server_reason) != std::string::npos)
          return true;
      return false;
    });
    CHECK(server_saw);
  }
  CHECK(tls_refusals() >= refused_before + 2);

  // The link that was up before the refusals still carries messages (a refused handshake once left
  // errors in OpenSSL's per-thread queue that made CAF close healthy links on the same thread).
  CHECK(ask(good, *link, 50) == 100);

  on_tls_refusal({});
  caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
}
