// The "pep" section (policy/pep_policy.hpp): defaults, the peer map, and errors with their
// JSON pointers.

#include <doctest/doctest.h>

#include <array>
#include <string>

#include <nlohmann/json.hpp>

#include "policy/policy.hpp"
#include "policy/render.hpp"

using namespace baton::policy;

namespace {

std::string doc(const std::string& pep, bool certificate = true) {
  return std::string(R"({"identity": {"name": "branch", "address": "192.168.50.1")") +
         (certificate ? R"(, "certificate": "b.pem", "key": "b.key", "ca": "ca.pem")" : "") +
         R"(}, "roles": ["pep"], "profiles": [{"name": "spoofed", "spoof": true}, {"name": "plain"}],
         "pep": )" + pep + "}";
}

constexpr const char* rules = R"("rules": [{"name": "ssh", "protocol": "tcp", "port": 22, "profile": "plain"},
                                            {"name": "rest", "default": true, "profile": "spoofed"}])";

}  // namespace

TEST_CASE("a pep section with its peer map loads, with the defaults written out") {
  auto p = load_policy_text(doc(std::string("{") + rules + R"(, "lan": "eth0",
      "peers": [{"name": "hub", "address": "192.168.50.2", "prefixes": ["10.2.0.0/16", "10.2.3.0/24"]},
                {"name": "dc", "address": "192.168.60.2", "port": 7500, "prefixes": ["10.3.0.0/16"]}]})"));
  REQUIRE(p.pep);
  const auto& s = *p.pep;
  CHECK(s.lan == "eth0");
  CHECK(s.listen_port == 7401);
  CHECK(s.backbone_port == 7400);
  CHECK(s.keepalive_ms == 250);
  CHECK(s.congestion == "bbr");
  CHECK(s.priority_weights == std::array<std::uint32_t, 3>{1, 2, 4});
  CHECK(s.unsent_ms == 2);  // on: the backlog waits in the priority queues, not in the kernel
  CHECK(s.peers[0].rate_mbit == 0);  // not paced unless the link's rate is given
  REQUIRE(s.peers.size() == 2);
  CHECK(s.peers[0].port == 7400);
  CHECK(s.peers[1].port == 7500);
  REQUIRE(s.peer_for(0x0a020305) != nullptr);  // 10.2.3.5
  CHECK(s.peer_for(0x0a020305)->peer == "hub");
  CHECK(s.peer_for(0x0a030001)->peer == "dc");
  CHECK(s.peer_for(0x0a040001) == nullptr);
  // The normalized JSON loads back to the same policy.
  CHECK(load_policy(to_json(p)) == p);
}

TEST_CASE("a peer's WAN paths and a profile's path preference load and round-trip (document 003's PSK)") {
  const std::string text = R"({"identity": {"name": "branch", "address": "192.168.50.1", "certificate": "b.pem",
      "key": "b.key", "ca": "ca.pem"}, "roles": ["pep"],
      "profiles": [{"name": "fast", "spoof": true, "paths": ["fibre", "lte"]}, {"name": "any", "spoof": true}],
      "pep": {"rules": [{"name": "rest", "default": true, "profile": "any"}], "lan": "eth0",
        "peers": [{"name": "hub", "address": "192.168.50.2", "prefixes": ["10.2.0.0/16"], "revert": false,
                   "paths": [{"name": "fibre", "local": "192.168.50.1", "address": "192.168.50.2", "rate_mbit": 100, "cost": 1},
                             {"name": "lte", "address": "192.168.51.2", "cost": 5}]},
                  {"name": "dc", "address": "192.168.60.2", "prefixes": ["10.3.0.0/16"], "rate_mbit": 50}]}})";
  auto p = load_policy_text(text);
  REQUIRE(p.pep);
  const auto& hub = p.pep->peers[0];
  REQUIRE(hub.paths.size() == 2);
  CHECK(hub.paths[0].name == "fibre");
  CHECK(hub.paths[0].local == 0xc0a83201u);
  CHECK(hub.paths[0].address == 0xc0a83202u);
  CHECK(hub.paths[0].rate_mbit == 100);
  CHECK(hub.paths[0].cost == 1);
  CHECK(hub.paths[1].local == 0);
  CHECK(hub.paths[1].rate_mbit == 0);
  CHECK(hub.paths[1].cost == 5);
  CHECK_FALSE(hub.revert);
  CHECK(p.pep->peers[1].paths.empty());
  CHECK(p.pep->peers[1].rate_mbit == 50);  // a peer without paths: its link's rate (the backbone is paced below it)
  CHECK(hub.rate_mbit == 0);
  CHECK(p.pep->peers[1].revert);
  REQUIRE(p.find_profile("fast"));
  CHECK(p.find_profile("fast")->paths == std::vector<std::string>{"fibre", "lte"});
  CHECK(p.find_profile("any")->paths.empty());
  CHECK(load_policy(to_json(p)) == p);
  auto q = load_policy_text(text);
  q.pep->peers[0].paths[1].cost = 6;
  CHECK_FALSE(q == p);
}

TEST_CASE("priority weights, the unsent bound and the top priority's backbones load and round-trip") {
  struct row {
    const char* what;
    const char* extra;
    std::array<std::uint32_t, 3> weights;
    std::uint32_t unsent_ms;
    bool top_backbone;
  };
  const row rows[] = {
    {"defaults (2 ms unsent, one backbone for every priority)", "", {1, 2, 4}, 2, false},
    {"all equal, socket unbounded", R"(, "priority_weights": [1, 1, 1], "unsent_ms": 0)", {1, 1, 1}, 0, false},
    {"largest weights", R"(, "priority_weights": [1000, 1, 500], "unsent_ms": 1000)", {1000, 1, 500}, 1000, false},
    {"priority 3 on backbones of its own", R"(, "top_backbone": true)", {1, 2, 4}, 2, true},
    {"top_backbone written out as false", R"(, "top_backbone": false)", {1, 2, 4}, 2, false},
  };
  for (const auto& x : rows) {
    CAPTURE(x.what);
    auto p = load_policy_text(doc(std::string("{") + rules + x.extra + "}"));
    REQUIRE(p.pep);
    CHECK(p.pep->priority_weights == x.weights);
    CHECK(p.pep->unsent_ms == x.unsent_ms);
    CHECK(p.pep->top_backbone == x.top_backbone);
    CHECK(load_policy(to_json(p)) == p);
  }
}

TEST_CASE("pep section errors name their JSON pointer") {
  struct row {
    const char* what;
    std::string text;
    const char* pointer;
    const char* reason;
  };
  const std::string r = rules;
  const row rows[] = {
    {"unknown key", doc("{" + r + R"(, "lann": "eth0"})"), "/pep/lann", "unknown key"},
    {"bad prefix", doc("{" + r + R"(, "peers": [{"name": "hub", "address": "192.168.50.2", "prefixes": ["10.2.0.0/33"]}]})"),
     "/pep/peers/0/prefixes/0", "is not an IPv4 prefix"},
    {"host bits", doc("{" + r + R"(, "peers": [{"name": "hub", "address": "192.168.50.2", "prefixes": ["10.2.0.1/16"]}]})"),
     "/pep/peers/0/prefixes/0", "host bits"},
    {"no prefixes", doc("{" + r + R"(, "peers": [{"name": "hub", "address": "192.168.50.2", "prefixes": []}]})"),
     "/pep/peers/0/prefixes", "at least one"},
    {"duplicate peer", doc("{" + r + R"(, "peers": [{"name": "hub", "address": "1.1.1.1", "prefixes": ["10.0.0.0/8"]},
                                                    {"name": "hub", "address": "1.1.1.2", "prefixes": ["11.0.0.0/8"]}]})"),
     "/pep/peers/1/name", "duplicate"},
    {"peers without a certificate", doc("{" + r + R"(, "peers": [{"name": "hub", "address": "1.1.1.1", "prefixes": ["10.0.0.0/8"]}]})", false),
     "/pep/peers", "certificate"},
    {"unknown congestion control", doc("{" + r + R"(, "congestion": "vegas"})"), "/pep/congestion", "not a congestion control"},
    {"timeout below the keepalive", doc("{" + r + R"(, "keepalive_ms": 500, "backbone_timeout_ms": 400})"),
     "/pep/backbone_timeout_ms", "must exceed keepalive_ms"},
    {"same ports", doc("{" + r + R"(, "listen_port": 7400})"), "/pep/listen_port", "cannot share"},
    {"window too small", doc("{" + r + R"(, "window_kbyte": 1})"), "/pep/window_kbyte", ""},
    {"too few priority weights", doc("{" + r + R"(, "priority_weights": [1, 2]})"), "/pep/priority_weights",
     "one weight for each of priorities 0..2"},
    {"priority weights not a list", doc("{" + r + R"(, "priority_weights": 4})"), "/pep/priority_weights",
     "expected an array"},
    {"priority weight 0", doc("{" + r + R"(, "priority_weights": [1, 0, 4]})"), "/pep/priority_weights/1", ""},
    {"priority weight too large", doc("{" + r + R"(, "priority_weights": [1, 2, 1001]})"),
     "/pep/priority_weights/2", ""},
    {"unsent_ms too large", doc("{" + r + R"(, "unsent_ms": 5000})"), "/pep/unsent_ms", ""},
    {"top_backbone not a boolean", doc("{" + r + R"(, "top_backbone": "yes"})"), "/pep/top_backbone", ""},
    {"empty paths", doc("{" + r + R"(, "peers": [{"name": "hub", "address": "1.1.1.1", "prefixes": ["10.0.0.0/8"], "paths": []}]})"),
     "/pep/peers/0/paths", "at least one path"},
    {"path without an address", doc("{" + r + R"(, "peers": [{"name": "hub", "address": "1.1.1.1", "prefixes": ["10.0.0.0/8"],
        "paths": [{"name": "a", "address": "1.1.1.1"}, {"name": "b"}]}]})"),
     "/pep/peers/0/paths/1", "address"},
    {"duplicate path", doc("{" + r + R"(, "peers": [{"name": "hub", "address": "1.1.1.1", "prefixes": ["10.0.0.0/8"],
        "paths": [{"name": "a", "address": "1.1.1.1"}, {"name": "a", "address": "1.1.2.1"}]}]})"),
     "/pep/peers/0/paths/1/name", "duplicate path"},
    {"same path twice", doc("{" + r + R"(, "peers": [{"name": "hub", "address": "1.1.1.1", "prefixes": ["10.0.0.0/8"],
        "paths": [{"name": "a", "address": "1.1.1.1"}, {"name": "b", "address": "1.1.1.1"}]}]})"),
     "/pep/peers/0/paths/1/address", "already goes"},
    {"bad path address", doc("{" + r + R"(, "peers": [{"name": "hub", "address": "1.1.1.1", "prefixes": ["10.0.0.0/8"],
        "paths": [{"name": "a", "address": "1.1.1"}]}]})"),
     "/pep/peers/0/paths/0/address", ""},
    {"peer rate not a number", doc("{" + r + R"(, "peers": [{"name": "hub", "address": "1.1.1.1", "prefixes": ["10.0.0.0/8"],
        "rate_mbit": "fast"}]})"),
     "/pep/peers/0/rate_mbit", ""},
    {"peer rate negative", doc("{" + r + R"(, "peers": [{"name": "hub", "address": "1.1.1.1", "prefixes": ["10.0.0.0/8"],
        "rate_mbit": -10}]})"),
     "/pep/peers/0/rate_mbit", ""},
    {"path rate too large", doc("{" + r + R"(, "peers": [{"name": "hub", "address": "1.1.1.1", "prefixes": ["10.0.0.0/8"],
        "paths": [{"name": "a", "address": "1.1.1.1", "rate_mbit": 2000000}]}]})"),
     "/pep/peers/0/paths/0/rate_mbit", ""},
    {"unknown path key", doc("{" + r + R"(, "peers": [{"name": "hub", "address": "1.1.1.1", "prefixes": ["10.0.0.0/8"],
        "paths": [{"name": "a", "address": "1.1.1.1", "latency": 3}]}]})"),
     "/pep/peers/0/paths/0/latency", "unknown key"},
    {"revert not a boolean", doc("{" + r + R"(, "peers": [{"name": "hub", "address": "1.1.1.1", "prefixes": ["10.0.0.0/8"],
        "revert": "yes"}]})"),
     "/pep/peers/0/revert", ""},
    {"empty members", doc("{" + r + R"(, "peers": [{"name": "hub", "address": "1.1.1.1", "prefixes": ["10.0.0.0/8"],
        "members": []}]})"),
     "/pep/peers/0/members", "at least one member"},
    {"member not an address", doc("{" + r + R"(, "peers": [{"name": "hub", "address": "1.1.1.1", "prefixes": ["10.0.0.0/8"],
        "members": ["1.1.1.1", "1.1.1"]}]})"),
     "/pep/peers/0/members/1", ""},
    {"member twice", doc("{" + r + R"(, "peers": [{"name": "hub", "address": "1.1.1.1", "prefixes": ["10.0.0.0/8"],
        "members": ["1.1.1.2", "1.1.1.2"]}]})"),
     "/pep/peers/0/members/1", "listed twice"},
    {"members and paths", doc("{" + r + R"(, "peers": [{"name": "hub", "address": "1.1.1.1", "prefixes": ["10.0.0.0/8"],
        "paths": [{"name": "a", "address": "1.1.1.1"}], "members": ["1.1.1.2"]}]})"),
     "/pep/peers/0/members", "not both"},
    {"group not a boolean", doc("{" + r + R"(, "group": 1})"), "/pep/group", ""},
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

TEST_CASE("hub PEP groups: a hub member's group flag and a branch's list of members load and round-trip") {
  auto hub = load_policy_text(doc(std::string("{") + rules + R"(, "lan": "eth1", "group": true})"));
  REQUIRE(hub.pep);
  CHECK(hub.pep->group);
  CHECK(load_policy(to_json(hub)) == hub);
  auto plain = load_policy_text(doc(std::string("{") + rules + "}"));
  CHECK_FALSE(plain.pep->group);  // off by default
  auto branch = load_policy_text(doc(std::string("{") + rules + R"(, "lan": "eth1",
      "peers": [{"name": "hub", "address": "192.168.60.11", "prefixes": ["10.2.0.0/24"],
                 "members": ["192.168.60.11", "192.168.60.12", "192.168.60.13"]}]})"));
  const auto& peer = branch.pep->peers.at(0);
  CHECK(peer.members == std::vector<std::uint32_t>{0xc0a83c0bu, 0xc0a83c0cu, 0xc0a83c0du});
  CHECK(load_policy(to_json(branch)) == branch);
  auto other = branch;
  other.pep->peers[0].members.pop_back();
  CHECK_FALSE(other == branch);
}

TEST_CASE("a profile's paths must name paths of a PEP peer") {
  auto with = [](const std::string& paths) {
    return std::string(R"({"identity": {"name": "branch", "address": "192.168.50.1", "certificate": "b.pem",
        "key": "b.key", "ca": "ca.pem"}, "roles": ["pep"], "profiles": [{"name": "x"}, {"name": "p", "spoof": true, "paths": )") +
           paths + R"(}], "pep": {"rules": [{"name": "rest", "default": true, "profile": "p"}],
        "peers": [{"name": "hub", "address": "1.1.1.1", "prefixes": ["10.0.0.0/8"],
                   "paths": [{"name": "fibre", "address": "1.1.1.1"}, {"name": "lte", "address": "1.1.2.1"}]}]}})";
  };
  struct row {
    const char* what;
    const char* paths;
    const char* pointer;  // "" = loads
    const char* reason;
  };
  const row rows[] = {
    {"both known", R"(["lte", "fibre"])", "", ""},
    {"an unknown path", R"(["fibre", "satellite"])", "/profiles/1/paths/1", "no path of a PEP peer"},
    {"listed twice", R"(["fibre", "fibre"])", "/profiles/1/paths/1", "listed twice"},
    {"not a list", R"("fibre")", "/profiles/1/paths", "expected an array"},
  };
  for (const auto& x : rows) {
    CAPTURE(x.what);
    if (!*x.pointer) {
      CHECK_NOTHROW(load_policy_text(with(x.paths)));
      continue;
    }
    try {
      load_policy_text(with(x.paths));
      FAIL("loaded");
    } catch (const policy_error& e) {
      CHECK(e.pointer() == x.pointer);
      CHECK(std::string(e.what()).find(x.reason) != std::string::npos);
    }
  }
}

TEST_CASE("encrypt is for spoofed connections: an unspoofed one would cross the WAN in clear") {
  auto with_profiles = [](const std::string& profiles) {
    return std::string(R"({"identity": {"name": "branch", "address": "192.168.50.1", "certificate": "b.pem",
        "key": "b.key", "ca": "ca.pem"}, "roles": ["pep"], "profiles": )") + profiles +
           R"(, "pep": {"rules": [{"name": "rest", "default": true, "profile": "p"}]}})";
  };
  struct row {
    const char* what;
    const char* profiles;
    const char* pointer;  // "" = loads
  };
  const row rows[] = {
    {"spoofed and encrypted", R"([{"name": "p", "spoof": true, "encrypt": true, "compress": true}])", ""},
    {"encrypted, not spoofed", R"([{"name": "p", "encrypt": true}])", "/profiles/0/encrypt"},
    {"encrypted, spoof false", R"([{"name": "x"}, {"name": "p", "spoof": false, "encrypt": true}])",
     "/profiles/1/encrypt"},
    {"dropped traffic crosses nothing", R"([{"name": "p", "action": "drop", "encrypt": true}])", ""},
    {"compress alone", R"([{"name": "p", "spoof": true, "compress": true}])", ""},
  };
  for (const auto& x : rows) {
    CAPTURE(x.what);
    if (!*x.pointer) {
      CHECK_NOTHROW(load_policy_text(with_profiles(x.profiles)));
      continue;
    }
    try {
      load_policy_text(with_profiles(x.profiles));
      FAIL("loaded");
    } catch (const policy_error& e) {
      CHECK(e.pointer() == x.pointer);
      CHECK(std::string(e.what()).find("in clear") != std::string::npos);
    }
  }
}
