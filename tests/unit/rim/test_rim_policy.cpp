// The "rim" section (policy/rim_policy.hpp): defaults, and errors with their JSON pointers.

#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "policy/origin_url.hpp"
#include "policy/policy.hpp"
#include "policy/render.hpp"

using namespace baton::policy;

namespace {

std::string doc(const std::string& rim, bool certificate = true) {
  return std::string(R"({"identity": {"name": "a", "address": "10.41.1.2")") +
         (certificate ? R"(, "certificate": "a.pem", "key": "a.key", "ca": "ca.pem")" : "") +
         R"(}, "roles": ["rim"], "rim": )" + rim + "}";
}

}  // namespace

TEST_CASE("a rim section loads with its defaults written out") {
  auto p = load_policy_text(doc(R"({"content": "/srv/rim", "uplink": "eth0"})"));
  REQUIRE(p.rim);
  CHECK(p.rim->service_port == 8080);
  CHECK(p.rim->port == 7410);
  CHECK(p.rim->tun == "rim0");
  CHECK(p.rim->route_table == 7410);
  CHECK(p.rim->handoff_timeout_ms == 1000);
  CHECK(p.rim->mss == 1440);
  CHECK(load_policy(to_json(p)) == p);
}

TEST_CASE("a rim host without a local copy fetches from its origin") {
  auto p = load_policy_text(doc(R"({"origin": "http://10.41.5.2:8000/files", "uplink": "eth0"})"));
  REQUIRE(p.rim);
  CHECK(p.rim->content.empty());
  CHECK(p.rim->origin == "http://10.41.5.2:8000/files");
  CHECK(p.rim->chunk_bytes == 1u << 20);
  CHECK(p.rim->cache_bytes == 64ull << 20);
  CHECK(p.rim->origin_timeout_ms == 5000);
  CHECK(load_policy(to_json(p)) == p);
  http_origin o;
  CHECK(parse_http_origin(p.rim->origin, o) == "");
  CHECK(o.address == 0x0a290502);
  CHECK(o.port == 8000);
  CHECK(o.prefix == "/files/");
  CHECK(parse_http_origin("http://10.0.0.1", o) == "");
  CHECK(o.port == 80);
  CHECK(o.prefix == "/");
  auto both = load_policy_text(doc(R"({"content": "/srv", "origin": "http://10.0.0.1/", "uplink": "eth0"})"));
  CHECK(both.rim->content == "/srv");
  CHECK(load_policy(to_json(both)) == both);
}

TEST_CASE("rim section errors name their JSON pointer") {
  struct row {
    const char* what;
    std::string text;
    const char* pointer;
    const char* reason;
  };
  const row rows[] = {
    {"neither content nor origin", doc(R"({"uplink": "eth0"})"), "/rim", "\"content\" (a local copy), \"origin\""},
    {"an https origin", doc(R"({"origin": "https://10.0.0.9/", "uplink": "eth0"})"), "/rim/origin", "http://"},
    {"an origin named, not addressed", doc(R"({"origin": "http://d.example:8000/", "uplink": "eth0"})"), "/rim/origin",
     "IPv4 address"},
    {"an origin on port 0", doc(R"({"origin": "http://10.0.0.9:0/", "uplink": "eth0"})"), "/rim/origin", "1-65535"},
    {"an origin with a bad port", doc(R"({"origin": "http://10.0.0.9:80x/", "uplink": "eth0"})"), "/rim/origin",
     "valid port"},
    {"an origin with a query", doc(R"({"origin": "http://10.0.0.9/files?x=1", "uplink": "eth0"})"), "/rim/origin",
     "not allowed"},
    {"an origin with a user", doc(R"({"origin": "http://u@10.0.0.9/", "uplink": "eth0"})"), "/rim/origin", "user part"},
    {"a tiny chunk", doc(R"({"origin": "http://10.0.0.9/", "uplink": "eth0", "chunk_bytes": 1000})"), "/rim/chunk_bytes",
     "65536"},
    {"a cache below two chunks", doc(R"({"origin": "http://10.0.0.9/", "uplink": "eth0", "cache_bytes": 1048576})"),
     "/rim/cache_bytes", "fewer than two chunks"},
    {"a zero origin timeout", doc(R"({"origin": "http://10.0.0.9/", "uplink": "eth0", "origin_timeout_ms": 0})"),
     "/rim/origin_timeout_ms", "100"},
    {"relative content", doc(R"({"content": "srv", "uplink": "eth0"})"), "/rim/content", "absolute path"},
    {"no uplink", doc(R"({"content": "/srv"})"), "/rim", "uplink"},
    {"a reserved routing table", doc(R"({"content": "/srv", "uplink": "eth0", "route_table": 254})"), "/rim/route_table",
     "reserved tables"},
    {"long interface name", doc(R"({"content": "/srv", "uplink": "a-very-long-interface"})"), "/rim/uplink",
     "interface name"},
    {"tun is the uplink", doc(R"({"content": "/srv", "uplink": "eth0", "tun": "eth0"})"), "/rim/tun", "cannot be"},
    {"same ports", doc(R"({"content": "/srv", "uplink": "eth0", "port": 8080})"), "/rim/port", "cannot share"},
    {"mss below 536", doc(R"({"content": "/srv", "uplink": "eth0", "mss": 100})"), "/rim/mss", "536"},
    {"unknown key", doc(R"({"content": "/srv", "uplink": "eth0", "uplinks": "eth1"})"), "/rim/uplinks", "unknown key"},
    {"no certificate", doc(R"({"content": "/srv", "uplink": "eth0"})", false), "/rim", "certificate"},
  };
  for (const auto& x : rows) {
    CAPTURE(x.what);
    try {
      load_policy_text(x.text);
      FAIL("loaded");
    } catch (const policy_error& e) {
      CHECK(e.pointer() == x.pointer);
      CHECK(std::string(e.what()).find(x.reason) != std::string::npos);
    }
  }
}

TEST_CASE("the rim's management rules and a profile's rim reaction load, round-trip, and name their errors") {
  const std::string profiles = R"("profiles": [{"name": "move", "rim": {"on_loss": "handoff", "loss_pct": 2.5,
      "samples": 4, "dwell_ms": 3000}}],)";
  auto with = [&](const std::string& profile_list, const std::string& manage) {
    return std::string(R"({"identity": {"name": "a", "address": "10.41.1.2", "certificate": "a.pem", "key": "a.key",
        "ca": "ca.pem"}, "roles": ["rim"], )") + profile_list +
           R"( "rim": {"content": "/srv", "uplink": "eth0", "manage": )" + manage + "}}";
  };
  auto p = load_policy_text(with(profiles, R"({"rules": [{"name": "all", "default": true, "profile": "move"}]})"));
  REQUIRE(p.rim);
  CHECK(p.rim->manage.interval_ms == 500);
  CHECK(p.rim->manage.rules.size() == 1);
  CHECK(p.profiles[0].rim.on_loss == rim_move::handoff);
  CHECK(p.profiles[0].rim.loss_pct == doctest::Approx(2.5));
  CHECK(p.profiles[0].rim.samples == 4);
  CHECK(p.profiles[0].rim.icmp_errors == 3);
  CHECK(load_policy(to_json(p)) == p);
  CHECK(to_text(p).find("management object") != std::string::npos);

  // A chain names the rim's members: its peers and the host itself (every host loads the same profiles).
  auto chained = load_policy_text(with(R"("peers": [{"name": "c", "address": "10.41.2.2", "port": 4790}],
      "profiles": [{"name": "move", "rim": {"on_loss": "masquerade", "chain": ["c", "a"]}}],)",
                                       R"({"rules": [{"name": "all", "default": true, "profile": "move"}]})"));
  CHECK(chained.profiles[0].rim.chain == std::vector<std::string>{"c", "a"});
  CHECK(load_policy(to_json(chained)) == chained);
  CHECK(to_text(chained).find("through c -> a") != std::string::npos);

  struct row {
    const char* what;
    std::string text;
    const char* pointer;
    const char* reason;
  };
  const std::string rules = R"({"rules": [{"name": "all", "default": true, "profile": "move"}]})";
  const row rows[] = {
    {"unknown move", with(R"("profiles": [{"name": "move", "rim": {"on_loss": "jump"}}],)", rules),
     "/profiles/0/rim/on_loss", "masquerade"},
    {"loss as text", with(R"("profiles": [{"name": "move", "rim": {"loss_pct": "2"}}],)", rules),
     "/profiles/0/rim/loss_pct", "number"},
    {"loss of zero", with(R"("profiles": [{"name": "move", "rim": {"loss_pct": 0}}],)", rules),
     "/profiles/0/rim/loss_pct", "percentage"},
    {"zero samples", with(R"("profiles": [{"name": "move", "rim": {"samples": 0}}],)", rules),
     "/profiles/0/rim/samples", "range"},
    {"unknown profile", with(profiles, R"({"rules": [{"name": "all", "default": true, "profile": "nope"}]})"),
     "/rim/manage/rules/0/profile", "nope"},
    {"interval too short", with(profiles, R"({"rules": [{"name": "all", "default": true, "profile": "move"}], "interval_ms": 5})"),
     "/rim/manage/interval_ms", "range"},
    {"no rules", with(profiles, R"({"interval_ms": 500})"), "/rim/manage", "rules"},
    {"a chain host not in /peers", with(R"("peers": [{"name": "c", "address": "10.41.2.2", "port": 4790}],
        "profiles": [{"name": "move", "rim": {"chain": ["c", "x"]}}],)", rules),
     "/profiles/0/rim/chain/1", "nor one of /peers"},
    {"a chain host twice", with(R"("peers": [{"name": "c", "address": "10.41.2.2", "port": 4790}],
        "profiles": [{"name": "move", "rim": {"chain": ["c", "c"]}}],)", rules),
     "/profiles/0/rim/chain/1", "twice"},
    {"an empty chain", with(R"("profiles": [{"name": "move", "rim": {"chain": []}}],)", rules),
     "/profiles/0/rim/chain", "1 to 8"},
  };
  for (const auto& x : rows) {
    CAPTURE(x.what);
    try {
      load_policy_text(x.text);
      FAIL("loaded");
    } catch (const policy_error& e) {
      CHECK(e.pointer() == x.pointer);
      CHECK(std::string(e.what()).find(x.reason) != std::string::npos);
    }
  }
}
