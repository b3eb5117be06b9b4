// Loading valid policies: typed values and defaults, the example policies, rendering as text and
// normalized JSON, and the round trip load -> normalized JSON -> load.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/policy.hpp"
#include "policy/render.hpp"

using namespace baton::policy;

namespace {

const char* minimal = R"({"identity": {"name": "solo", "address": "192.0.2.1"}, "roles": ["passthrough"]})";

// Every section and every criterion form, including trees the normalizer must keep apart
// (an AND whose children are not in key order, an OR of ANDs, repeated kinds).
const char* everything = R"({
  "identity": {"name": "hub-1", "address": "10.20.0.11", "certificate": "c.pem", "key": "c.key", "ca": "ca.pem"},
  "roles": ["cluster", "pep", "slr"],
  "console": "10.20.0.11:9100",
  "peers": [{"name": "hub-2", "address": "10.20.0.12", "port": 7400},
            {"name": "hub-3", "address": "10.20.0.13", "port": 7401, "console": "10.20.0.13:9100"}],
  "timers": {"master_watchdog_ms": 300, "master_offer_ms": 150, "rebalance_ms": 5000, "k": 7200, "work_units": 4096},
  "group": {"peers": ["hub-3", "hub-2"], "discovery_broadcast": true, "successor_takeover": false},
  "io": {"backend": "af_packet", "interfaces": ["lan0", "wan0"], "mode": "passthrough",
         "ipip": {"encap": true, "decap": true, "local": "10.20.0.11", "remote": "192.0.2.50"}, "clamp_mss": false},
  "profiles": [
    {"name": "unspoofed"},
    {"name": "fast", "spoof": true, "three_way_handshake": false, "priority": 3, "disposition": "discard",
     "mss": 1400, "compress": true, "encrypt": true},
    {"name": "drop", "action": "drop"}],
  "rules": [
    {"name": "a", "all": [{"port": 80}, {"dst": "10.0.0.0/8"}], "profile": "fast"},
    {"name": "b", "any": [{"protocol": "udp", "port": 53}, {"protocol": 132}], "profile": "unspoofed"},
    {"name": "c", "all": [{"any": [{"port": 1}, {"port": 2}]}, {"any": [{"port": 3}, {"port": 4}]}], "profile": "drop"},
    {"name": "d", "src": "0.0.0.0/0", "dst": "10.9.8.7", "tcp_options": [8, "mss", 30], "dscp": {"value": 8, "mask": 24}, "profile": "fast"},
    {"name": "e", "all": [{"src_port": 0}], "any": [{"dst_port": 9}, {"all": [{"dscp": 1}, {"dscp": {"value": 0, "mask": 0}}]}], "profile": "fast"},
    {"name": "f", "all": [{"src": "1.0.0.0/8", "all": [{"dst": "2.0.0.0/8"}, {"protocol": "icmp"}]}], "profile": "drop"},
    {"name": "rest", "default": true, "profile": "unspoofed"}],
  "pep": {"rules": [
    {"name": "ftp-data", "protocol": "tcp", "src_port": 20, "profile": "unspoofed"},
    {"name": "rest", "default": true, "profile": "fast"}]}
})";

std::vector<std::filesystem::path> example_policies() {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(std::string(BATON_SOURCE_DIR) + "/deploy/examples"))
    if (e.path().extension() == ".json") out.push_back(e.path());
  return out;
}

}  // namespace

TEST_CASE("a minimal policy gets the documents' defaults") {
  policy p = load_policy_text(minimal);
  CHECK(p.identity.name == "solo");
  CHECK(p.identity.address == 0xc0000201u);
  CHECK(p.identity.certificate.empty());
  REQUIRE(p.roles.size() == 1);
  CHECK(p.roles[0] == role::passthrough);
  CHECK(p.has_role(role::passthrough));
  CHECK_FALSE(p.has_role(role::pep));
  CHECK(to_string(p.console) == "127.0.0.1:9000");
  CHECK(p.peers.empty());
  // Document 004: 200 ms master watchdog, 100 ms master offer, K = 3600, 1024 work units.
  CHECK(p.timers.master_watchdog_ms == 200);
  CHECK(p.timers.master_offer_ms == 100);
  CHECK(p.timers.rebalance_ms == 2000);
  CHECK(p.timers.k == 3600);
  CHECK(p.timers.work_units == 1024);
  CHECK(p.group.peers.empty());
  CHECK_FALSE(p.group.discovery_broadcast);
  // Issue 14's departures from document 004 are on unless the policy turns them off.
  CHECK(p.group.backup_takeover);
  CHECK(p.group.successor_takeover);
  CHECK(p.io.backend == io_backend::memory);
  CHECK(p.io.clamp_mss);  // tunnels must not black-hole the peers' default MSS
  CHECK(p.io.mode == io_mode::passthrough);
  CHECK_FALSE(p.io.ipip.encap);
  CHECK(p.profiles.empty());
  CHECK(p.rules.empty());
  CHECK_FALSE(p.pep.has_value());
}

TEST_CASE("every section is read into its typed form") {
  policy p = load_policy_text(everything);
  CHECK(p.identity.certificate == "c.pem");
  CHECK(p.identity.key == "c.key");
  CHECK(p.identity.ca == "ca.pem");
  CHECK(p.roles == std::vector<role>{role::cluster, role::pep, role::slr});
  CHECK(p.console.address == 0x0a14000bu);
  CHECK(p.console.port == 9100);
  REQUIRE(p.peers.size() == 2);
  CHECK(p.peers[1].name == "hub-3");
  CHECK(to_string(p.peers[1].at) == "10.20.0.13:7401");
  CHECK(p.peers[1].console == "10.20.0.13:9100");
  CHECK(p.peers[0].console.empty());
  REQUIRE(p.find_peer("hub-2") != nullptr);
  CHECK(p.find_peer("hub-2")->at.port == 7400);
  CHECK(p.find_peer("hub-9") == nullptr);
  CHECK(p.timers.master_watchdog_ms == 300);
  CHECK(p.timers.work_units == 4096);
  CHECK(p.group.peers == std::vector<std::string>{"hub-3", "hub-2"});
  CHECK(p.group.discovery_broadcast);
  CHECK(p.group.backup_takeover);
  CHECK_FALSE(p.group.successor_takeover);
  CHECK(p.io.backend == io_backend::af_packet);
  REQUIRE(p.io.interfaces.size() == 2);
  CHECK(p.io.interfaces[0].name == "lan0");
  CHECK(p.io.interfaces[1].name == "wan0");
  CHECK(p.io.ipip.encap);
  CHECK(p.io.ipip.remote == 0xc0000232u);
  CHECK_FALSE(p.io.clamp_mss);
  REQUIRE(p.profiles.size() == 3);
  const profile* fast = p.find_profile("fast");
  REQUIRE(fast != nullptr);
  CHECK(fast->spoof);
  CHECK_FALSE(fast->three_way_handshake);
  CHECK(fast->priority == 3);
  CHECK(fast->disposition == profile_disposition::discard);
  CHECK(fast->mss == 1400);
  CHECK(fast->compress);
  CHECK(fast->encrypt);
  CHECK(p.find_profile("unspoofed")->three_way_handshake);  // on unless said otherwise
  CHECK(p.find_profile("drop")->action == profile_action::drop);
  CHECK(p.rules.size() == 7);
  CHECK(p.rules.rules()[0].profile_index == 1);
  REQUIRE(p.pep.has_value());
  CHECK(p.pep->rules.size() == 2);
  CHECK(p.pep->rules.rules()[1].profile == "fast");
}

TEST_CASE("af_xdp is an I/O backend, for the section and per interface") {
  policy p = load_policy_text(R"({"identity": {"name": "x", "address": "10.0.0.1"}, "roles": ["passthrough"],
    "io": {"backend": "af_xdp", "interfaces": ["eth0", {"name": "eth1", "kind": "af_packet"}]}})");
  CHECK(p.io.backend == io_backend::af_xdp);
  CHECK(std::string(to_string(p.io.backend)) == "af_xdp");
  REQUIRE(p.io.interfaces.size() == 2);
  CHECK_FALSE(p.io.interfaces[0].kind.has_value());
  CHECK(p.io.interfaces[1].kind == io_backend::af_packet);
  CHECK(load_policy_text(to_json_string(p)) == p);
}

TEST_CASE("load -> normalized JSON -> load gives the same policy") {
  std::vector<std::pair<std::string, std::string>> docs = {{"minimal", minimal}, {"everything", everything}};
  for (const auto& path : example_policies()) {
    std::ifstream in(path);
    docs.emplace_back(path.filename().string(), std::string(std::istreambuf_iterator<char>(in), {}));
  }
  for (const auto& doc : docs) {
    const std::string& name = doc.first;  // not a binding: CAPTURE's lambda captures it (clang)
    const std::string& text = doc.second;
    CAPTURE(name);
    policy first = load_policy_text(text);
    nlohmann::json normal = to_json(first);
    policy second = load_policy(normal);
    CHECK(second == first);
    CHECK(to_json(second) == normal);  // normalizing is idempotent
    CHECK(to_text(second) == to_text(first));
    // The string form parses back too.
    CHECK(load_policy_text(to_json_string(first)) == first);
  }
}

TEST_CASE("normalized JSON writes defaults and canonical forms") {
  policy p = load_policy_text(everything);
  nlohmann::json j = to_json(p);
  CHECK(j["console"] == "10.20.0.11:9100");
  CHECK(j["profiles"][0] == nlohmann::json::parse(R"({"name": "unspoofed", "action": "forward", "spoof": false,
      "three_way_handshake": true, "priority": 0, "disposition": "forward", "mss": 0, "compress": false, "encrypt": false})"));
  // a bare address becomes /32, option kinds become names in kind order, protocol numbers stay numbers
  CHECK(j["rules"][3] == nlohmann::json::parse(R"({"name": "d", "src": "0.0.0.0/0", "dst": "10.9.8.7/32",
      "tcp_options": ["mss", "timestamp", 30], "dscp": {"value": 8, "mask": 24}, "profile": "fast"})"));
  // an AND whose parts are not in key order keeps its explicit list
  CHECK(j["rules"][0] == nlohmann::json::parse(R"({"name": "a", "all": [{"port": 80}, {"dst": "10.0.0.0/8"}], "profile": "fast"})"));
  CHECK(j["rules"][6] == nlohmann::json::parse(R"({"name": "rest", "default": true, "profile": "unspoofed"})"));
  CHECK(j["pep"]["rules"][0] == nlohmann::json::parse(R"({"name": "ftp-data", "protocol": "tcp", "src_port": 20, "profile": "unspoofed"})"));
  CHECK_FALSE(to_json(load_policy_text(minimal)).contains("pep"));
}

TEST_CASE("the text form lists every section") {
  policy p = load_policy_text(everything);
  std::string text = to_text(p);
  CAPTURE(text);
  const char* expected[] = {
      "identity   hub-1 10.20.0.11 port 4790\n",
      "           certificate c.pem, key c.key, ca ca.pem\n",
      "roles      cluster, pep, slr\n",
      "console    10.20.0.11:9100\n",
      "peers      hub-2 10.20.0.12:7400\n",
      "           hub-3 10.20.0.13:7401 console 10.20.0.13:9100\n",
      "timers     master watchdog 300 ms, master offer 150 ms, rebalance 5000 ms, K 7200, work units 4096\n",
      "group      peers hub-3, hub-2; discovery broadcast on; quorum 1; successor take-over off\n",
      "io         backend af_packet, interfaces lan0, wan0, mode passthrough; ipip encap 10.20.0.11 -> 192.0.2.50; ipip decap at 10.20.0.11; tunnelled SYNs keep their MSS\n",
      "profiles   unspoofed: forward, priority 0\n",
      "           fast: forward, spoof (three-way handshake off, disposition discard), priority 3, mss 1400, compress, encrypt\n",
      "rules      0 a: port 80 and dst 10.0.0.0/8 -> fast\n",
      "           1 b: (port 53 and protocol udp) or protocol 132 -> unspoofed\n",
      "           6 rest: default -> unspoofed\n",
      "pep rules  0 ftp-data: protocol tcp and src_port 20 -> unspoofed\n",
  };
  for (const char* line : expected) {
    INFO(std::string(line));
    CHECK(text.find(line) != std::string::npos);
  }
}

TEST_CASE("every example policy in deploy/examples loads") {
  auto paths = example_policies();
  CHECK(paths.size() >= 2);
  bool saw_passthrough = false;
  for (const auto& path : paths) {
    CAPTURE(path.string());
    policy p;
    CHECK_NOTHROW(p = load_policy_file(path.string()));
    if (path.filename() == "passthrough.json") {
      saw_passthrough = true;
      CHECK(p.roles == std::vector<role>{role::passthrough});
      CHECK(to_string(p.console) == "127.0.0.1:9000");
      CHECK_FALSE(p.rules.empty());
    }
  }
  CHECK(saw_passthrough);
}

TEST_CASE("section names come in parse order") {
  auto names = section_names();
  std::vector<std::string> got(names.begin(), names.end());
  CHECK(got == std::vector<std::string>{"identity", "roles", "console", "console_auth", "peers", "timers", "group", "io",
                                        "profiles", "rules", "pep", "cluster", "slr", "shaping", "replica", "rim"});
}
