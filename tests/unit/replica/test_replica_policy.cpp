// The "replica" policy section (document 002): a full section loads, renders and round-trips; the
// server gateway's fan-out table comes from it; malformed sections name their pointer.

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/policy.hpp"
#include "policy/render.hpp"

using namespace baton::policy;

namespace {

std::string doc(const std::string& body, const std::string& roles = R"(["server_gateway"])") {
  return R"({"identity": {"name": "sgw", "address": "10.2.0.2"}, "roles": )" + roles +
         R"(, "profiles": [{"name": "web", "action": "forward"}, {"name": "origin-only", "action": "drop"}], )" +
         R"("replica": {)" + body + "}}";
}

const char* servers = R"("servers": [{"address": "10.3.0.2", "replicas": [
      {"name": "r1", "address": "10.4.1.2"}, {"name": "r2", "address": "10.4.2.2", "state": "busy"}]}])";
const char* gateways = R"("client_gateways": [{"address": "10.2.0.1", "clients": "10.1.0.0/24"}])";

struct bad_row {
  const char* name;
  std::string text;
  const char* pointer;
  const char* reason;
};

}  // namespace

TEST_CASE("a full replica section loads, renders and round-trips") {
  const std::string text = doc(std::string(R"("configuration": "C", )") + servers + ", " + gateways +
                               R"(, "max_fanout": 2, "pending_ms": 3000,
                                  "rules": [{"name": "static", "dst_port": 80, "profile": "web"},
                                            {"name": "rest", "default": true, "profile": "origin-only"}])");
  policy p = load_policy_text(text);
  REQUIRE(p.replica.has_value());
  const auto& s = *p.replica;
  CHECK(s.configuration == replica_config::c);
  REQUIRE(s.servers.size() == 1);
  REQUIRE(s.servers[0].replicas.size() == 2);
  CHECK(s.servers[0].replicas[1].state == replica_state::busy);
  CHECK(s.servers[0].ports == std::vector<std::uint16_t>{80});
  REQUIRE(s.client_gateways.size() == 1);
  CHECK(s.client_gateways[0].clients_length == 24);
  CHECK(s.max_fanout == 2);
  CHECK(s.pending_ms == 3000);
  CHECK(s.rules.size() == 2);
  nlohmann::json j = to_json(p);
  CHECK(j["replica"]["configuration"] == "C");
  CHECK(j["replica"]["client_gateways"][0]["clients"] == "10.1.0.0/24");
  CHECK(load_policy(j) == p);
  CHECK(to_json(load_policy(j)) == j);
  const std::string t = to_text(p);
  CAPTURE(t);
  CHECK(t.find("server 10.3.0.2 -> r1 10.4.1.2 (active), r2 10.4.2.2 (busy)") != std::string::npos);
  std::string changed = text;
  changed.replace(changed.find("\"busy\""), 6, "\"dead\"");
  CHECK_FALSE(load_policy_text(changed) == p);
}

TEST_CASE("replica section defaults; a client gateway needs no servers") {
  policy p = load_policy_text(doc("", R"(["client_gateway"])"));
  REQUIRE(p.replica);
  CHECK(p.replica->configuration == replica_config::a);
  CHECK(p.replica->ports == std::vector<std::uint16_t>{80});
  CHECK(p.replica->max_fanout == 4);
  CHECK(p.replica->state == replica_state::active);
  CHECK(p.replica->bad_options == replica_bad_options::drop);
  CHECK(p.replica->report_interval_ms == 500);
  CHECK(p.replica->dead_after_ms == 600);
}

TEST_CASE("replica section: bad_options and the dead-marking time") {
  struct row {
    const char* name;
    std::string body;
    replica_bad_options bad_options;
    std::uint32_t dead_after_ms;
  };
  const row rows[] = {
    {"pass", R"("bad_options": "pass")", replica_bad_options::pass, 600},
    {"drop", R"("bad_options": "drop")", replica_bad_options::drop, 600},
    {"one report interval and a fifth", R"("report_interval_ms": 250)", replica_bad_options::drop, 300},
    {"a short interval still has a grace", R"("report_interval_ms": 10)", replica_bad_options::drop, 12},
    {"dead_after_ms said", R"("report_interval_ms": 250, "dead_after_ms": 400)", replica_bad_options::drop, 400},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    policy p = load_policy_text(doc(r.body, R"(["client_gateway"])"));
    REQUIRE(p.replica);
    CHECK(p.replica->bad_options == r.bad_options);
    CHECK(p.replica->dead_after_ms == r.dead_after_ms);
    nlohmann::json j = to_json(p);
    CHECK(j["replica"]["bad_options"] == to_string(r.bad_options));
    CHECK(load_policy(j) == p);
  }
  CHECK(to_text(load_policy_text(doc(R"("bad_options": "pass")", R"(["client_gateway"])")))
          .find("bad TCP options: pass") != std::string::npos);
}

TEST_CASE("malformed replica sections are refused with pointer and reason") {
  const std::vector<bad_row> rows = {
    {"unknown key", doc(std::string(servers) + ", " + gateways + R"(, "fanout": 2)"), "/replica/fanout", "unknown key"},
    {"bad configuration", doc(std::string(R"("configuration": "D", )") + servers + ", " + gateways),
     "/replica/configuration", R"("D" is not a configuration (A, B, C))"},
    {"server gateway without replicas", doc(gateways), "/replica", "needs a server with at least one replica"},
    {"server gateway without client gateways", doc(servers), "/replica",
     "needs the client gateways whose tags it accepts"},
    {"replica state", doc(R"("servers": [{"address": "10.3.0.2", "replicas": [{"name": "r1", "address": "10.4.1.2", "state": "sleepy"}]}], )" + std::string(gateways)),
     "/replica/servers/0/replicas/0/state", "is not a replica state"},
    {"replica with the server's address", doc(R"("servers": [{"address": "10.3.0.2", "replicas": [{"name": "r1", "address": "10.3.0.2"}]}], )" + std::string(gateways)),
     "/replica/servers/0/replicas/0/address", "cannot have its server's address"},
    {"clients with host bits", doc(std::string(servers) + R"(, "client_gateways": [{"address": "10.2.0.1", "clients": "10.1.0.1/24"}])"),
     "/replica/client_gateways/0/clients", "host bits"},
    {"fan-out 0", doc(std::string(servers) + ", " + gateways + R"(, "max_fanout": 0)"), "/replica/max_fanout", "out of range"},
    {"replica host without servers", doc("", R"(["replica"])"), "/replica", "missing required key \"servers\""},
    {"duplicate port", doc(R"("ports": [80, 80])", R"(["client_gateway"])"), "/replica/ports/1", "duplicate port 80"},
    {"bad_options not a choice", doc(R"("bad_options": "accept")", R"(["client_gateway"])"), "/replica/bad_options",
     R"("accept" is not a bad_options choice (drop, pass))"},
    {"bad_options not a string", doc(R"("bad_options": true)", R"(["client_gateway"])"), "/replica/bad_options", "expected a string"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CAPTURE(r.text);
    try {
      load_policy_text(r.text);
      FAIL("loaded");
    } catch (const policy_error& e) {
      CHECK(e.pointer() == r.pointer);
      CHECK_MESSAGE(e.reason().find(r.reason) != std::string::npos, e.what());
    }
  }
}
