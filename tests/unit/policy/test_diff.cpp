// The reload diff: which sections changed, and added / removed / changed names where cheap.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "policy/diff.hpp"
#include "policy/policy.hpp"

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
