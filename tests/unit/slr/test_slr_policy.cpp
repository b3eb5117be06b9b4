// The "slr" and "shaping" policy sections: a full section round-trips, defaults are the
// documented ones, and malformed sections are refused with pointer and reason.

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/policy.hpp"
#include "policy/render.hpp"

using namespace baton::policy;

namespace {

std::string doc(const std::string& sections, const std::string& roles = R"(["slr"])") {
  return R"({"identity": {"name": "n1", "address": "10.0.0.1"}, "roles": )" + roles + ", " + sections + "}";
}
std::string slr(const std::string& body, const std::string& roles = R"(["slr"])") {
  return doc(R"("slr": {)" + body + "}", roles);
}
std::string host(const std::string& body) {
  return slr(R"("level": "host", "virtual_subnets": ["10.200.0.0/24"])" + (body.empty() ? "" : ", " + body),
             R"(["host_agent"])");
}
std::string site(const std::string& body) {
  return slr(R"("level": "site")" + (body.empty() ? "" : ", " + body));
}
std::string shaping(const std::string& body) { return doc(R"("shaping": {"interface": "eth1", )" + body + "}"); }

const char* full_slr = R"({
  "identity": {"name": "site-a", "address": "10.0.0.2"},
  "roles": ["slr"],
  "slr": {
    "level": "site",
    "virtual_subnets": ["10.200.0.0/24", "10.201.0.0/16"],
    "tunnel_address": "10.0.1.2",
    "upper": [{"name": "sys-a", "address": "10.0.0.3"}, {"name": "sys-b", "address": "10.0.0.4", "port": 4791}],
    "neighbors": [{"name": "site-b", "address": "10.0.0.7"}],
    "update_interval_ms": 250, "expiry_ms": 1000,
    "selection": "lowest", "epsilon": 0.5,
    "function": {"kind": "weighted_sum", "load_weight": 2, "cost_weight": 0.5},
    "time_of_day": [{"hours": "08-18", "function": {"kind": "least_load"}},
                    {"hours": "22-6", "subnet": "10.201.0.0/16", "function": {"kind": "lowest_cost"}}],
    "aggregate": "weighted_mean", "aggregate_cost": 0.25,
    "route_costs": {"10.0.1.3": 2.0, "10.0.1.4": 0},
    "shortcuts": false, "flow_capacity": 1000,
    "progress_timeout_ms": 750,
    "hot_spare": {"address": "10.0.0.9", "mac": "02:ba:70:00:00:09"}
  },
  "shaping": {"interface": "eth1", "rate_mbit": 20, "burst_kbyte": 32,
              "classes": [{"name": "web-x", "source": "10.200.1.0/24", "share": 20},
                          {"name": "audio-y", "source": "10.200.2.0/24", "share": 30}],
              "default_share": 2}
})";

struct bad_row {
  const char* name;
  std::string text;
  const char* pointer;
  const char* reason;
};

}  // namespace

TEST_CASE("a full slr and shaping section loads, renders and round-trips") {
  policy p = load_policy_text(full_slr);
  REQUIRE(p.slr.has_value());
  const auto& s = *p.slr;
  CHECK(s.level == slr_level::site);
  REQUIRE(s.virtual_subnets.size() == 2);
  CHECK(to_string(s.virtual_subnets[1]) == "10.201.0.0/16");
  CHECK(s.tunnel_address == 0x0a000102u);
  REQUIRE(s.upper.size() == 2);
  CHECK(s.upper[1].name == "sys-b");
  CHECK(s.upper[0].port == default_slr_port);
  CHECK(s.upper[1].port == 4791);
  REQUIRE(s.neighbors.size() == 1);
  CHECK(s.neighbors[0].name == "site-b");
  CHECK(s.update_interval_ms == 250);
  CHECK(s.expiry_ms == 1000);
  CHECK(s.selection == slr_selection::lowest);
  CHECK(s.epsilon == 0.5);
  CHECK(s.function.kind == slr_function_kind::weighted_sum);
  CHECK(s.function.load_weight == 2);
  CHECK(s.function.cost_weight == 0.5);
  REQUIRE(s.time_of_day.size() == 2);
  CHECK(s.time_of_day[1].from_hour == 22);
  CHECK(s.time_of_day[1].to_hour == 6);
  REQUIRE(s.time_of_day[1].subnet.has_value());
  CHECK(s.aggregate == slr_aggregate::weighted_mean);
  REQUIRE(s.route_costs.size() == 2);
  CHECK(s.route_costs[1].cost == 0);
  CHECK_FALSE(s.shortcuts);
  CHECK(s.flow_capacity == 1000);
  CHECK(s.progress_timeout_ms == 750);
  REQUIRE(s.hot_spare.has_value());
  CHECK(s.hot_spare->mac == "02:ba:70:00:00:09");
  REQUIRE(p.shaping.has_value());
  CHECK(p.shaping->classes.size() == 2);
  CHECK(p.shaping->classes[1].share == 30);
  CHECK(p.shaping->default_share == 2);

  nlohmann::json j = to_json(p);
  CHECK(j["slr"]["time_of_day"][1]["hours"] == "22-06");
  CHECK(load_policy(j) == p);
  CHECK(to_json(load_policy(j)) == j);
  CHECK(load_policy_text(to_json_string(p)) == p);

  std::string text = to_text(p);
  CAPTURE(text);
  for (const char* want : {"slr        level site, tunnel 10.0.1.2, listens on 4792, virtual subnets 10.200.0.0/24, 10.201.0.0/16\n",
                           "           upper sys-a 10.0.0.3:4792, sys-b 10.0.0.4:4791; neighbors site-b 10.0.0.7:4792; update every 250 ms, expiry 1000 ms\n",
                           "           hours 22-06 for 10.201.0.0/16: F lowest_cost (m = r)\n",
                           "           route cost 10.0.1.3 = 2\n",
                           "shaping    eth1 20 Mbit/s, burst 32 KB, default share 2\n",
                           "           audio-y: 10.200.2.0/24 share 30\n"})
    CHECK(text.find(want) != std::string::npos);

  // A changed share is a changed section.
  std::string changed = full_slr;
  changed.replace(changed.find("\"share\": 30"), 11, "\"share\": 31");
  CHECK_FALSE(load_policy_text(changed) == p);
}

TEST_CASE("slr defaults") {
  policy p = load_policy_text(host(""));
  REQUIRE(p.slr.has_value());
  const auto& s = *p.slr;
  CHECK(s.level == slr_level::host);
  CHECK(s.tunnel_address == 0x0a000001u);  // identity.address
  CHECK(s.update_interval_ms == 500);
  CHECK(s.expiry_ms == 1500);
  CHECK(s.selection == slr_selection::spread);
  CHECK(s.function.kind == slr_function_kind::weighted_sum);
  CHECK(s.function.load_weight == 1.0);
  CHECK(s.function.cost_weight == 0.0);
  CHECK(s.aggregate == slr_aggregate::min);
  CHECK(s.shortcuts);
  CHECK(s.flow_capacity == 65536);
  CHECK(s.load.source == load_source::connections);
  CHECK(s.progress_timeout_ms == 1000);
  CHECK_FALSE(s.hot_spare.has_value());
  // expiry follows the interval when not given
  CHECK(load_policy_text(host(R"("update_interval_ms": 200)")).slr->expiry_ms == 600);
  // the load sources
  auto cmd = load_policy_text(host(R"("load": {"source": "command", "command": "cat /tmp/x"})")).slr->load;
  CHECK(cmd.source == load_source::command);
  CHECK(cmd.command == "cat /tmp/x");
  CHECK(cmd.command_timeout_ms == 1000);
  auto fixed = load_policy_text(host(R"("load": {"source": "static", "value": 0.3})")).slr->load;
  CHECK(fixed.source == load_source::fixed);
  CHECK(fixed.value == 0.3);
  CHECK_FALSE(load_policy_text(doc(R"("peers": [])")).slr.has_value());
}

TEST_CASE("malformed slr and shaping sections are refused with pointer and reason") {
  const std::vector<bad_row> rows = {
      {"unknown level", slr(R"("level": "campus")"), "/slr/level", R"("campus" is not an SLR level (network, system, site, host))"},
      {"missing level", slr(R"("virtual_subnets": [])"), "/slr", R"(missing required key "level")"},
      {"host level without the host_agent role", slr(R"("level": "host", "virtual_subnets": ["10.1.0.0/16"])"),
       "/slr/level", "needs the role \"host_agent\""},
      {"site level without the slr role", slr(R"("level": "site")", R"(["host_agent"])"), "/slr/level",
       "needs the role \"slr\""},
      {"unknown key", site(R"("updates_ms": 5)"), "/slr/updates_ms", "unknown key"},
      {"bad prefix", site(R"("virtual_subnets": ["10.200.0.0/24", "10.200.0.0/33"])"), "/slr/virtual_subnets/1",
       R"("10.200.0.0/33" is not an IPv4 prefix)"},
      {"prefix with host bits", site(R"("virtual_subnets": ["10.200.0.1/24"])"), "/slr/virtual_subnets/0",
       "host bits set outside the mask (the network is 10.200.0.0/24)"},
      {"duplicate subnet", site(R"("virtual_subnets": ["10.200.0.0/24", "10.200.0.0/24"])"),
       "/slr/virtual_subnets/1", "duplicate virtual subnet 10.200.0.0/24"},
      {"host agent without subnets", slr(R"("level": "host")", R"(["host_agent"])"), "/slr",
       R"(missing required key "virtual_subnets")"},
      {"host agent with an empty list", slr(R"("level": "host", "virtual_subnets": [])", R"(["host_agent"])"),
       "/slr/virtual_subnets", "at least one virtual subnet"},
      {"bad tunnel address", site(R"("tunnel_address": "10.0.0")"), "/slr/tunnel_address", "is not an IPv4 address"},
      {"upper without address", site(R"("upper": [{"name": "sys-a"}])"), "/slr/upper/0",
       R"(missing required key "address")"},
      {"upper bad name", site(R"("upper": [{"name": "sys a", "address": "10.0.0.3"}])"), "/slr/upper/0/name",
       "is not a name"},
      {"duplicate upper", site(R"("upper": [{"name": "a", "address": "10.0.0.3"}, {"name": "a", "address": "10.0.0.4"}])"),
       "/slr/upper/1/name", "duplicate upper SLR \"a\""},
      {"duplicate upper address and port", site(R"("upper": [{"name": "a", "address": "10.0.0.3"}, {"name": "b", "address": "10.0.0.3", "port": 4792}])"),
       "/slr/upper/1", "duplicate upper SLR address 10.0.0.3:4792"},
      {"upper port 0", site(R"("upper": [{"name": "a", "address": "10.0.0.3", "port": 0}])"), "/slr/upper/0/port",
       "0 is out of range 1..65535"},
      {"neighbor bad address", site(R"("neighbors": [{"name": "b", "address": "10.0.0.300"}])"),
       "/slr/neighbors/0/address", "is not an IPv4 address"},
      {"neighbor unknown key", site(R"("neighbors": [{"name": "b", "address": "10.0.0.3", "cost": 1}])"),
       "/slr/neighbors/0/cost", "unknown key"},
      {"interval 0", site(R"("update_interval_ms": 0)"), "/slr/update_interval_ms", "0 is out of range"},
      {"expiry not after interval", site(R"("update_interval_ms": 500, "expiry_ms": 500)"), "/slr/expiry_ms",
       "must be longer than update_interval_ms 500"},
      {"unknown selection", site(R"("selection": "random")"), "/slr/selection", "is not a selection mode (spread, lowest)"},
      {"epsilon 0", site(R"("epsilon": 0)"), "/slr/epsilon", "epsilon must be above 0"},
      {"epsilon as string", site(R"("epsilon": "0.1")"), "/slr/epsilon", "expected a number"},
      {"unknown function", site(R"("function": {"kind": "random"})"), "/slr/function/kind", "is not a cost function"},
      {"function without kind", site(R"("function": {"load_weight": 1})"), "/slr/function",
       R"(missing required key "kind")"},
      {"negative weight", site(R"("function": {"kind": "weighted_sum", "cost_weight": -1})"),
       "/slr/function/cost_weight", "-1 is out of range"},
      {"both weights 0", site(R"("function": {"kind": "weighted_sum", "load_weight": 0})"), "/slr/function",
       "both 0"},
      {"weight on least_load", site(R"("function": {"kind": "least_load", "load_weight": 2})"),
       "/slr/function/load_weight", "applies to weighted_sum only"},
      {"hours 25-3", site(R"("time_of_day": [{"hours": "25-3", "function": {"kind": "least_load"}}])"),
       "/slr/time_of_day/0/hours", "the first hour must be 0..23"},
      {"hours 08-25", site(R"("time_of_day": [{"hours": "08-25", "function": {"kind": "least_load"}}])"),
       "/slr/time_of_day/0/hours", "the second hour must be 1..24"},
      {"hours empty range", site(R"("time_of_day": [{"hours": "08-08", "function": {"kind": "least_load"}}])"),
       "/slr/time_of_day/0/hours", "an empty range"},
      {"hours without dash", site(R"("time_of_day": [{"hours": "0818", "function": {"kind": "least_load"}}])"),
       "/slr/time_of_day/0/hours", "is not an hour range"},
      {"hours with letters", site(R"("time_of_day": [{"hours": "8am-6pm", "function": {"kind": "least_load"}}])"),
       "/slr/time_of_day/0/hours", "is not an hour"},
      {"time rule without function", site(R"("time_of_day": [{"hours": "08-18"}])"), "/slr/time_of_day/0",
       R"(missing required key "function")"},
      {"time rule bad subnet", site(R"("time_of_day": [{"hours": "08-18", "subnet": "10.0.0.0/99", "function": {"kind": "least_load"}}])"),
       "/slr/time_of_day/0/subnet", "is not an IPv4 prefix"},
      {"time rule nested bad function", site(R"("time_of_day": [{"hours": "08-18", "function": {"kind": "lowest_cost", "cost_weight": 1}}])"),
       "/slr/time_of_day/0/function/cost_weight", "applies to weighted_sum only"},
      {"unknown aggregate", site(R"("aggregate": "max")"), "/slr/aggregate", "is not an aggregation function (min, mean, weighted_mean)"},
      {"route cost key not an address", site(R"("route_costs": {"sys-a": 2})"), "/slr/route_costs/sys-a",
       "is not an IPv4 address"},
      {"route cost key with a slash", site(R"("route_costs": {"10.0.0.0/8": 2})"), "/slr/route_costs/10.0.0.0~18",
       "is not an IPv4 address"},
      {"negative route cost", site(R"("route_costs": {"10.0.0.3": -1})"), "/slr/route_costs/10.0.0.3",
       "-1 is out of range"},
      {"route costs as list", site(R"("route_costs": [1])"), "/slr/route_costs", "expected an object"},
      {"flow capacity 0", site(R"("flow_capacity": 0)"), "/slr/flow_capacity", "0 is out of range"},
      {"shortcuts not bool", site(R"("shortcuts": 1)"), "/slr/shortcuts", "expected true or false"},
      {"unknown load source", host(R"("load": {"source": "memory"})"), "/slr/load/source",
       "is not a load source (connections, cpu, command, static)"},
      {"command without command", host(R"("load": {"source": "command"})"), "/slr/load",
       R"(missing required key "command")"},
      {"empty command", host(R"("load": {"source": "command", "command": "  "})"), "/slr/load/command",
       "an empty command"},
      {"command with a value", host(R"("load": {"source": "cpu", "value": 1})"), "/slr/load/value",
       "applies to the source \"static\" only"},
      {"static without value", host(R"("load": {"source": "static"})"), "/slr/load", R"(missing required key "value")"},
      {"command on cpu", host(R"("load": {"source": "cpu", "command": "x"})"), "/slr/load/command",
       "applies to the source \"command\" only"},
      {"progress timeout 0", host(R"("progress_timeout_ms": 0)"), "/slr/progress_timeout_ms", "0 is out of range"},
      {"hot spare bad mac", site(R"("hot_spare": {"address": "10.0.0.9", "mac": "02:ba:70"})"), "/slr/hot_spare/mac",
       "is not a MAC address"},
      {"hot spare without address", site(R"("hot_spare": {"mac": "02:ba:70:00:00:09"})"), "/slr/hot_spare",
       R"(missing required key "address")"},
      // shaping
      {"share 0", shaping(R"("rate_mbit": 20, "classes": [{"name": "web-x", "source": "10.200.1.0/24", "share": 0}])"),
       "/shaping/classes/0/share", "0 is out of range 1..1000000"},
      {"class bad prefix", shaping(R"("rate_mbit": 20, "classes": [{"name": "web-x", "source": "10.200.1.0/40", "share": 1}])"),
       "/shaping/classes/0/source", "is not an IPv4 prefix"},
      {"duplicate class name", shaping(R"("rate_mbit": 20, "classes": [{"name": "a", "source": "10.1.0.0/16", "share": 1}, {"name": "a", "source": "10.2.0.0/16", "share": 1}])"),
       "/shaping/classes/1/name", "duplicate class name \"a\""},
      {"duplicate class source", shaping(R"("rate_mbit": 20, "classes": [{"name": "a", "source": "10.1.0.0/16", "share": 1}, {"name": "b", "source": "10.1.0.0/16", "share": 1}])"),
       "/shaping/classes/1/source", "duplicate class source 10.1.0.0/16"},
      {"rate 0", shaping(R"("rate_mbit": 0)"), "/shaping/rate_mbit", "rate_mbit must be above 0"},
      {"rate missing", shaping(R"("burst_kbyte": 10)"), "/shaping", R"(missing required key "rate_mbit")"},
      {"default share 0", shaping(R"("rate_mbit": 1, "default_share": 0)"), "/shaping/default_share", "0 is out of range"},
      {"shaping unknown key", shaping(R"("rate_mbit": 1, "ceil": 2)"), "/shaping/ceil", "unknown key"},
      {"bad interface", doc(R"("shaping": {"interface": "a/b", "rate_mbit": 1})"), "/shaping/interface",
       "is not an interface name"},
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
