// The reload diff: which sections changed, and added / removed / changed names where cheap.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/diff.hpp"
#include "policy/policy.hpp"
#include "policy/render.hpp"

using namespace baton::policy;

namespace {

using names = std::vector<std::string>;

// The base policy; each row swaps some sections for others ("" = keep the base section).
struct parts {
  std::string identity = R"({"name": "n1", "address": "10.0.0.1"})";
  std::string roles = R"(["cluster", "pep"])";
  std::string peers = R"([{"name": "a", "address": "10.0.0.2", "port": 7000},
                          {"name": "b", "address": "10.0.0.3", "port": 7000}])";
  std::string timers = R"({})";
  std::string group = R"({"peers": ["a", "b"]})";
  std::string profiles = R"([{"name": "p", "priority": 1}, {"name": "q"}])";
  std::string rules = R"([{"name": "ssh", "port": 22, "profile": "p"},
                          {"name": "web", "port": 80, "profile": "q"},
                          {"name": "rest", "default": true, "profile": "q"}])";
  std::string pep;  // empty: no pep section

  std::string text() const {
    std::string t = "{\"identity\": " + identity + ", \"roles\": " + roles + ", \"peers\": " + peers +
                    ", \"timers\": " + timers + ", \"group\": " + group + ", \"profiles\": " + profiles +
                    ", \"rules\": " + rules;
    if (!pep.empty()) t += ", \"pep\": " + pep;
    return t + "}";
  }
};

}  // namespace

TEST_CASE("the reload diff names the changed sections and names") {
  struct row {
    const char* name;
    parts changed;
    names sections;
    name_changes peers, profiles, rules, pep_rules;
  };
  std::vector<row> rows;
  {
    row r{"no change", {}, {}, {}, {}, {}, {}};
    rows.push_back(r);
  }
  {
    row r{"peer added", {}, {"peers"}, {}, {}, {}, {}};
    r.changed.peers = R"([{"name": "a", "address": "10.0.0.2", "port": 7000},
                          {"name": "b", "address": "10.0.0.3", "port": 7000},
                          {"name": "c", "address": "10.0.0.4", "port": 7000}])";
    r.peers.added = {"c"};
    rows.push_back(r);
  }
  {
    row r{"peer removed and another moved", {}, {"peers", "group"}, {}, {}, {}, {}};
    r.changed.peers = R"([{"name": "b", "address": "10.0.0.3", "port": 7001}])";
    r.changed.group = R"({"peers": ["b"]})";
    r.peers.removed = {"a"};
    r.peers.changed = {"b"};
    rows.push_back(r);
  }
  {
    row r{"timers only", {}, {"timers"}, {}, {}, {}, {}};
    r.changed.timers = R"({"master_watchdog_ms": 500})";
    rows.push_back(r);
  }
  {
    row r{"timers written out at their defaults are no change", {}, {}, {}, {}, {}, {}};
    r.changed.timers = R"({"master_watchdog_ms": 200, "k": 3600})";
    rows.push_back(r);
  }
  {
    row r{"a rule's criteria changed", {}, {"rules"}, {}, {}, {}, {}};
    r.changed.rules = R"([{"name": "ssh", "port": 2222, "profile": "p"},
                          {"name": "web", "port": 80, "profile": "q"},
                          {"name": "rest", "default": true, "profile": "q"}])";
    r.rules.changed = {"ssh"};
    rows.push_back(r);
  }
  {
    row r{"a rule's profile changed", {}, {"rules"}, {}, {}, {}, {}};
    r.changed.rules = R"([{"name": "ssh", "port": 22, "profile": "p"},
                          {"name": "web", "port": 80, "profile": "p"},
                          {"name": "rest", "default": true, "profile": "q"}])";
    r.rules.changed = {"web"};
    rows.push_back(r);
  }
  {
    row r{"same criteria written differently", {}, {}, {}, {}, {}, {}};
    r.changed.rules = R"([{"name": "ssh", "all": [{"port": 22}], "profile": "p"},
                          {"name": "web", "any": [{"port": 80}], "profile": "q"},
                          {"name": "rest", "default": true, "profile": "q"}])";
    rows.push_back(r);
  }
  {
    row r{"rules reordered", {}, {"rules"}, {}, {}, {}, {}};
    r.changed.rules = R"([{"name": "web", "port": 80, "profile": "q"},
                          {"name": "ssh", "port": 22, "profile": "p"},
                          {"name": "rest", "default": true, "profile": "q"}])";
    r.rules.reordered = true;
    rows.push_back(r);
  }
  {
    row r{"rule added and removed", {}, {"rules"}, {}, {}, {}, {}};
    r.changed.rules = R"([{"name": "ssh", "port": 22, "profile": "p"},
                          {"name": "dns", "protocol": "udp", "port": 53, "profile": "p"},
                          {"name": "rest", "default": true, "profile": "q"}])";
    r.rules.added = {"dns"};
    r.rules.removed = {"web"};
    rows.push_back(r);
  }
  {
    row r{"profile parameters changed", {}, {"profiles"}, {}, {}, {}, {}};
    r.changed.profiles = R"([{"name": "p", "priority": 2}, {"name": "q"}])";
    r.profiles.changed = {"p"};
    rows.push_back(r);
  }
  {
    row r{"profile added", {}, {"profiles"}, {}, {}, {}, {}};
    r.changed.profiles = R"([{"name": "p", "priority": 1}, {"name": "q"}, {"name": "x", "action": "drop"}])";
    r.profiles.added = {"x"};
    rows.push_back(r);
  }
  {
    row r{"pep section added", {}, {"pep"}, {}, {}, {}, {}};
    r.changed.pep = R"({"rules": [{"name": "ftp", "port": 21, "profile": "p"}, {"default": true, "profile": "q"}]})";
    r.pep_rules.added = {"ftp", "default"};
    rows.push_back(r);
  }
  {
    row r{"roles and rules together", {}, {"roles", "rules"}, {}, {}, {}, {}};
    r.changed.roles = R"(["cluster"])";
    r.changed.rules = R"([{"name": "ssh", "port": 22, "profile": "p"},
                          {"name": "rest", "default": true, "profile": "q"}])";
    r.rules.removed = {"web"};
    rows.push_back(r);
  }
  {
    row r{"identity", {}, {"identity"}, {}, {}, {}, {}};
    r.changed.identity = R"({"name": "n1", "address": "10.0.0.9"})";
    rows.push_back(r);
  }

  const policy base = load_policy_text(parts{}.text());
  for (const auto& r : rows) {
    INFO(std::string(r.name));
    policy next = load_policy_text(r.changed.text());
    policy_diff d = diff_policies(base, next);
    CHECK(d.sections == r.sections);
    CHECK(d.empty() == r.sections.empty());
    CHECK((base == next) == r.sections.empty());
    for (const auto& s : r.sections) CHECK(d.changed(s));
    auto same = [](const name_changes& got, const name_changes& want) {
      CHECK(got.added == want.added);
      CHECK(got.removed == want.removed);
      CHECK(got.changed == want.changed);
      CHECK(got.reordered == want.reordered);
    };
    same(d.peers, r.peers);
    same(d.profiles, r.profiles);
    same(d.rules, r.rules);
    same(d.pep_rules, r.pep_rules);
  }
}

TEST_CASE("the diff as text") {
  parts a, b;
  b.rules = R"([{"name": "web", "port": 8080, "profile": "q"},
                {"name": "dns", "port": 53, "profile": "p"},
                {"name": "rest", "default": true, "profile": "q"}])";
  b.timers = R"({"rebalance_ms": 1000})";
  policy_diff d = diff_policies(load_policy_text(a.text()), load_policy_text(b.text()));
  CHECK(to_string(d) == "timers: changed\nrules: added dns; removed ssh; changed web");
  CHECK(to_string(diff_policies(load_policy_text(a.text()), load_policy_text(a.text()))) == "no change");
}

namespace {

// Every section with every field given, so each row below can change exactly one field.
const char* every_field = R"({
  "identity": {"name": "n1", "address": "10.0.0.1", "port": 4790, "certificate": "c.pem", "key": "c.key", "ca": "ca.pem"},
  "roles": ["cluster", "pep", "slr"],
  "console": "127.0.0.1:9000",
  "peers": [{"name": "a", "address": "10.0.0.2", "port": 7000}, {"name": "b", "address": "10.0.0.3", "port": 7000}],
  "timers": {"master_watchdog_ms": 200, "master_offer_ms": 100, "rebalance_ms": 2000, "k": 3600, "work_units": 1024},
  "group": {"peers": ["a"], "discovery_broadcast": false, "quorum": 1, "backup_takeover": true,
            "successor_takeover": true},
  "io": {"backend": "af_packet", "mode": "passthrough",
         "interfaces": [{"name": "eth0", "kind": "af_packet", "next_hop": "10.0.0.254", "promiscuous": false}, "eth1"],
         "ipip": {"encap": true, "decap": false, "local": "10.0.0.1", "remote": "10.9.0.1"}},
  "profiles": [{"name": "p", "action": "forward", "spoof": true, "three_way_handshake": true, "priority": 1,
                "disposition": "forward", "mss": 1400, "compress": false, "encrypt": false},
               {"name": "q"}, {"name": "spare"}],
  "rules": [{"name": "web", "port": 80, "profile": "p"}, {"name": "rest", "default": true, "profile": "q"}],
  "pep": {"rules": [{"name": "ftp", "port": 21, "profile": "p"}, {"name": "rest", "default": true, "profile": "q"}]},
  "cluster": {"ip": "10.1.0.1", "inside_ip": "10.2.0.1", "mac": "02:ba:70:00:00:01", "traffic": "unicast_mac",
              "outside": "eth0", "inside": "eth1", "router": "10.1.0.254", "mode": "nat", "hash": "document",
              "services": [{"port": 80, "backends": [{"address": "10.2.0.10", "port": 8080}]}]},
  "slr": {"level": "site", "virtual_subnets": ["10.200.0.0/24"], "tunnel_address": "10.0.1.1", "port": 4792,
          "upper": [{"name": "up", "address": "10.0.0.3", "port": 4792}],
          "neighbors": [{"name": "nb", "address": "10.0.0.7", "port": 4792}],
          "update_interval_ms": 500, "expiry_ms": 1500, "selection": "spread", "epsilon": 0.01,
          "function": {"kind": "weighted_sum", "load_weight": 1, "cost_weight": 0.5},
          "time_of_day": [{"hours": "08-18", "subnet": "10.200.0.0/25", "function": {"kind": "least_load"}}],
          "aggregate": "min", "aggregate_cost": 0, "route_costs": {"10.0.1.3": 2}, "shortcuts": true,
          "flow_capacity": 65536, "load": {"source": "command", "command": "echo 1", "command_timeout_ms": 1000},
          "progress_timeout_ms": 1000, "hot_spare": {"address": "10.0.0.9", "mac": "02:ba:70:00:00:09"}},
  "shaping": {"interface": "eth1", "rate_mbit": 20, "burst_kbyte": 64,
              "classes": [{"name": "web", "source": "10.200.1.0/24", "share": 20}], "default_share": 1}
})";

}  // namespace

TEST_CASE("a reload that changes any one field reports its section changed") {
  using nlohmann::json;
  struct row {
    const char* pointer;  // the value a reload changes
    const char* value;    // its new value, as JSON text
    const char* section;
    std::vector<std::pair<const char*, const char*>> both = {};  // set in the old and new policy first
  };
  const std::vector<row> rows = {
      {"/identity/name", R"("n9")", "identity"},
      {"/identity/address", R"("10.0.0.99")", "identity"},
      {"/identity/port", "4791", "identity"},
      {"/identity/certificate", R"("d.pem")", "identity"},
      {"/identity/key", R"("d.key")", "identity"},
      {"/identity/ca", R"("ca2.pem")", "identity"},
      {"/roles", R"(["cluster", "pep", "slr", "rim"])", "roles"},
      {"/console", R"("127.0.0.1:9001")", "console"},
      {"/console", R"("127.0.0.2:9000")", "console"},
      {"/peers/1/name", R"("c")", "peers"},
      {"/peers/1/address", R"("10.0.0.4")", "peers"},
      {"/peers/1/port", "7001", "peers"},
      {"/timers/master_watchdog_ms", "300", "timers"},
      {"/timers/master_offer_ms", "150", "timers"},
      {"/timers/rebalance_ms", "3000", "timers"},
      {"/timers/k", "7200", "timers"},
      {"/timers/work_units", "2048", "timers"},
      {"/group/peers", R"(["a", "b"])", "group"},
      {"/group/discovery_broadcast", "true", "group"},
      {"/group/quorum", "2", "group"},
      {"/group/backup_takeover", "false", "group"},
      {"/group/successor_takeover", "false", "group"},
      {"/io/backend", R"("tun")", "io"},
      {"/io/interfaces/1", R"("eth2")", "io"},
      {"/io/interfaces/0/kind", R"("raw")", "io"},
      {"/io/interfaces/0/next_hop", R"("10.0.0.253")", "io"},
      {"/io/interfaces/0/promiscuous", "true", "io"},
      {"/io/ipip/encap", "false", "io"},
      {"/io/ipip/decap", "true", "io"},
      {"/io/ipip/local", R"("10.0.0.2")", "io"},
      {"/io/ipip/remote", R"("10.9.0.2")", "io"},
      {"/profiles/2/name", R"("other")", "profiles"},
      {"/profiles/0/action", R"("drop")", "profiles"},
      {"/profiles/0/spoof", "false", "profiles"},
      {"/profiles/0/three_way_handshake", "false", "profiles"},
      {"/profiles/0/priority", "2", "profiles"},
      {"/profiles/0/disposition", R"("discard")", "profiles"},
      {"/profiles/0/mss", "1300", "profiles"},
      {"/profiles/0/compress", "true", "profiles"},
      {"/profiles/0/encrypt", "true", "profiles"},
      {"/rules/0/name", R"("www")", "rules"},
      {"/rules/0/port", "8080", "rules"},
      {"/rules/0/profile", R"("q")", "rules"},
      {"/pep/rules/0/port", "20", "pep"},
      {"/pep/rules/0/profile", R"("q")", "pep"},
      {"/cluster/ip", R"("10.1.0.2")", "cluster"},
      {"/cluster/inside_ip", R"("10.2.0.2")", "cluster"},
      {"/cluster/mac", R"("02:ba:70:00:00:02")", "cluster"},
      {"/cluster/traffic", R"("forwarding")", "cluster"},
      {"/cluster/outside", R"("eth2")", "cluster"},
      {"/cluster/inside", R"("eth3")", "cluster"},
      {"/cluster/router", R"("10.1.0.253")", "cluster"},
      {"/cluster/mode", R"("dsr")", "cluster"},
      {"/cluster/hash", R"("mixed")", "cluster"},
      {"/cluster/services/0/port", "81", "cluster"},
      {"/cluster/services/0/protocol", R"("udp")", "cluster"},
      {"/cluster/services/0/backends/0/address", R"("10.2.0.11")", "cluster"},
      {"/cluster/services/0/backends/0/port", "8081", "cluster"},
      {"/slr/level", R"("system")", "slr"},
      {"/slr/virtual_subnets/0", R"("10.200.0.0/23")", "slr"},
      {"/slr/tunnel_address", R"("10.0.1.2")", "slr"},
      {"/slr/port", "4793", "slr"},
      {"/slr/upper/0/name", R"("up2")", "slr"},
      {"/slr/upper/0/address", R"("10.0.0.4")", "slr"},
      {"/slr/upper/0/port", "4794", "slr"},
      {"/slr/neighbors/0/name", R"("nb2")", "slr"},
      {"/slr/neighbors/0/address", R"("10.0.0.8")", "slr"},
      {"/slr/neighbors/0/port", "4794", "slr"},
      {"/slr/update_interval_ms", "400", "slr"},
      {"/slr/expiry_ms", "2000", "slr"},
      {"/slr/selection", R"("lowest")", "slr"},
      {"/slr/epsilon", "0.02", "slr"},
      {"/slr/function/kind", R"("least_load")", "slr", {{"/slr/function", R"({"kind": "weighted_sum"})"}}},
      {"/slr/function/load_weight", "2", "slr"},
      {"/slr/function/cost_weight", "1", "slr"},
      {"/slr/time_of_day/0/hours", R"("09-18")", "slr"},
      {"/slr/time_of_day/0/hours", R"("08-17")", "slr"},
      {"/slr/time_of_day/0/subnet", R"("10.200.0.128/25")", "slr"},
      {"/slr/time_of_day/0/function/kind", R"("lowest_cost")", "slr"},
      {"/slr/aggregate", R"("mean")", "slr"},
      {"/slr/aggregate_cost", "0.5", "slr"},
      {"/slr/route_costs", R"({"10.0.1.4": 2})", "slr"},
      {"/slr/route_costs/10.0.1.3", "3", "slr"},
      {"/slr/shortcuts", "false", "slr"},
      {"/slr/flow_capacity", "1000", "slr"},
      {"/slr/load/source", R"("cpu")", "slr", {{"/slr/load", R"({"source": "connections"})"}}},
      {"/slr/load/command", R"("echo 2")", "slr"},
      {"/slr/load/command_timeout_ms", "2000", "slr"},
      {"/slr/load/value", "0.5", "slr", {{"/slr/load", R"({"source": "static", "value": 0.3})"}}},
      {"/slr/progress_timeout_ms", "2000", "slr"},
      {"/slr/hot_spare/address", R"("10.0.0.10")", "slr"},
      {"/slr/hot_spare/mac", R"("02:ba:70:00:00:0a")", "slr"},
      {"/shaping/interface", R"("eth2")", "shaping"},
      {"/shaping/rate_mbit", "30", "shaping"},
      {"/shaping/burst_kbyte", "32", "shaping"},
      {"/shaping/classes/0/name", R"("www")", "shaping"},
      {"/shaping/classes/0/source", R"("10.200.2.0/24")", "shaping"},
      {"/shaping/classes/0/share", "30", "shaping"},
      {"/shaping/default_share", "2", "shaping"},
  };
  const json every = json::parse(every_field);
  for (const auto& r : rows) {
    CAPTURE(std::string(r.pointer));
    CAPTURE(std::string(r.value));
    json old_doc = every;
    for (const auto& [pointer, value] : r.both) old_doc[json::json_pointer(pointer)] = json::parse(value);
    json new_doc = old_doc;
    new_doc[json::json_pointer(r.pointer)] = json::parse(r.value);
    policy before = load_policy(old_doc);
    policy after = load_policy(new_doc);
    policy_diff d = diff_policies(before, after);
    CHECK(d.sections == names{r.section});
    CHECK_FALSE(before == after);
    // The changed value is written out: the normalized JSON loads back to the same policy.
    CHECK(load_policy(to_json(after)) == after);
    CHECK(to_json(after) != to_json(before));
  }
}
