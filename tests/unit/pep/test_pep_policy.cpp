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
  CHECK(s.unsent_ms == 0);  // off until the keepalive silence it caused in lab.pep is understood
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

TEST_CASE("priority weights and the unsent bound load and round-trip") {
  struct row {
    const char* what;
    const char* extra;
    std::array<std::uint32_t, 3> weights;
    std::uint32_t unsent_ms;
  };
  const row rows[] = {
    {"defaults (socket unbounded)", "", {1, 2, 4}, 0},
    {"all equal, 2 ms unsent", R"(, "priority_weights": [1, 1, 1], "unsent_ms": 2)", {1, 1, 1}, 2},
    {"largest weights", R"(, "priority_weights": [1000, 1, 500], "unsent_ms": 1000)", {1000, 1, 500}, 1000},
  };
  for (const auto& x : rows) {
    CAPTURE(x.what);
    auto p = load_policy_text(doc(std::string("{") + rules + x.extra + "}"));
    REQUIRE(p.pep);
    CHECK(p.pep->priority_weights == x.weights);
    CHECK(p.pep->unsent_ms == x.unsent_ms);
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
