// Figure 9's table: F variants, lowest vs spread weights, G variants, expiry, time of day,
// overlapping subnets.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "actors/slr/routing.hpp"

using namespace baton;
using namespace baton::slr;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

subnet prefix_of(const char* text) {
  unsigned a, b, c, d, len;
  REQUIRE(std::sscanf(text, "%u.%u.%u.%u/%u", &a, &b, &c, &d, &len) == 5);
  return subnet{(a << 24) | (b << 16) | (c << 8) | d, static_cast<std::uint8_t>(len)};
}
std::uint32_t ip(unsigned a, unsigned b, unsigned c, unsigned d) { return (a << 24) | (b << 16) | (c << 8) | d; }

// A wall-clock time at local hour `hour`, minute 30 of a winter day (no DST change near it).
std::chrono::system_clock::time_point wall_at(int hour) {
  std::tm tm{};
  tm.tm_year = 2025 - 1900;
  tm.tm_mon = 0;
  tm.tm_mday = 15;
  tm.tm_hour = hour;
  tm.tm_min = 30;
  tm.tm_isdst = -1;
  return std::chrono::system_clock::from_time_t(std::mktime(&tm));
}

policy::slr_function weighted(double a, double b) {
  return {policy::slr_function_kind::weighted_sum, a, b};
}
policy::slr_function kind(policy::slr_function_kind k) { return {k, 1.0, 0.0}; }

struct node {
  const char* name;
  std::uint32_t next_hop;
  std::vector<std::pair<subnet, double>> loads;
};

const clock_type::time_point t0{};

std::vector<routing_table::subnet_route> table_of(const policy::slr_section& cfg, const std::vector<node>& nodes,
                                                  int hour = 12) {
  routing_table t(cfg);
  for (const auto& n : nodes) t.update({n.name, n.next_hop, n.loads}, t0);
  return t.recompute(t0, wall_at(hour));
}

std::uint32_t weight_sum(const routing_table::subnet_route& r) {
  std::uint32_t s = 0;
  for (const auto& c : r.candidates) s += c.weight;
  return s;
}

}  // namespace

TEST_CASE("F decides which lower node is cheapest") {
  // A: light load, far away; B: heavy load, near.
  const subnet v = prefix_of("10.200.0.0/24");
  const std::vector<node> nodes = {{"A", ip(10, 0, 1, 1), {{v, 0.2}}}, {"B", ip(10, 0, 1, 2), {{v, 0.8}}}};
  struct row {
    const char* name;
    policy::slr_function f;
    const char* cheapest;
    double cost_a, cost_b;
  };
  const std::vector<row> rows = {
      {"least_load: m = s", kind(policy::slr_function_kind::least_load), "A", 0.2, 0.8},
      {"lowest_cost: m = r", kind(policy::slr_function_kind::lowest_cost), "B", 5.0, 1.0},
      {"weighted_sum 1 s + 1 r", weighted(1, 1), "B", 5.2, 1.8},
      {"weighted_sum 10 s + 0.1 r", weighted(10, 0.1), "A", 2.5, 8.1},
      {"weighted_sum default (s only)", weighted(1, 0), "A", 0.2, 0.8},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    policy::slr_section cfg;
    cfg.function = r.f;
    cfg.selection = policy::slr_selection::lowest;
    cfg.route_costs = {{ip(10, 0, 1, 1), 5.0}};  // B keeps the default cost 1
    auto table = table_of(cfg, nodes);
    REQUIRE(table.size() == 1);
    REQUIRE(table[0].candidates.size() == 1);  // lowest: everything to the argmin, the rest omitted
    CHECK(table[0].candidates[0].from == r.cheapest);
    CHECK(table[0].candidates[0].weight == weight_total);
    // Both costs through spread, which keeps every candidate.
    cfg.selection = policy::slr_selection::spread;
    table = table_of(cfg, nodes);
    REQUIRE(table[0].candidates.size() == 2);
    for (const auto& c : table[0].candidates) {
      CAPTURE(c.from);
      CHECK(c.cost == doctest::Approx(c.from == "A" ? r.cost_a : r.cost_b));
      CHECK(c.route_cost == (c.from == "A" ? 5.0 : 1.0));
    }
    CHECK(table[0].candidates[0].from == r.cheapest);  // lowest cost first
  }
}

TEST_CASE("lowest and spread weights, and the shares they predict") {
  const subnet v = prefix_of("10.200.0.0/24");
  struct row {
    const char* name;
    policy::slr_selection selection;
    double epsilon;
    std::vector<double> loads;  // least_load, so m = s; candidate i is "n<i>"
  };
  const std::vector<row> rows = {
      {"spread 1 2 4", policy::slr_selection::spread, 0.01, {1, 2, 4}},
      {"spread equal", policy::slr_selection::spread, 0.01, {3, 3, 3}},
      {"spread with an idle node", policy::slr_selection::spread, 0.5, {0, 1}},
      {"spread one node", policy::slr_selection::spread, 0.01, {7}},
      {"spread negative load counts as 0", policy::slr_selection::spread, 1.0, {-2, 1}},
      {"lowest 1 2 4", policy::slr_selection::lowest, 0.01, {1, 2, 4}},
      {"lowest tie splits", policy::slr_selection::lowest, 0.01, {2, 1, 1}},
      {"lowest three-way tie", policy::slr_selection::lowest, 0.01, {5, 5, 5}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    policy::slr_section cfg;
    cfg.function = kind(policy::slr_function_kind::least_load);
    cfg.selection = r.selection;
    cfg.epsilon = r.epsilon;
    std::vector<node> nodes;
    for (std::size_t i = 0; i < r.loads.size(); ++i)
      nodes.push_back({nullptr, ip(10, 0, 1, static_cast<unsigned>(i + 1)), {{v, r.loads[i]}}});
    std::vector<std::string> names;
    for (std::size_t i = 0; i < nodes.size(); ++i) names.push_back("n" + std::to_string(i));
    routing_table t(cfg);
    for (std::size_t i = 0; i < nodes.size(); ++i) t.update({names[i], nodes[i].next_hop, nodes[i].loads}, t0);
    auto table = t.recompute(t0, wall_at(12));
    REQUIRE(table.size() == 1);
    const auto& route = table[0];
    CHECK(weight_sum(route) == weight_total);

    // The shares the document's rule predicts, computed here from the loads alone.
    std::vector<double> want(r.loads.size(), 0.0);
    double total = 0;
    if (r.selection == policy::slr_selection::spread) {
      for (std::size_t i = 0; i < want.size(); ++i) total += want[i] = 1.0 / (r.epsilon + std::max(r.loads[i], 0.0));
    } else {
      double lowest = r.loads[0];
      for (double x : r.loads) lowest = std::min(lowest, x);
      for (std::size_t i = 0; i < want.size(); ++i) total += want[i] = r.loads[i] == lowest ? 1.0 : 0.0;
    }
    for (double& w : want) w /= total;

    auto shares = expected_shares(route);
    REQUIRE(shares.size() == route.candidates.size());
    double share_sum = 0;
    for (std::size_t k = 0; k < shares.size(); ++k) {
      const auto& c = route.candidates[k];
      std::size_t i = static_cast<std::size_t>(std::stoi(c.from.substr(1)));
      CAPTURE(c.from);
      CHECK(c.weight > 0);
      CHECK(shares[k] == doctest::Approx(want[i]).epsilon(0.0002));
      share_sum += shares[k];
      if (k > 0) CHECK(route.candidates[k - 1].cost <= c.cost);
    }
    CHECK(share_sum == doctest::Approx(1.0));
    // Every candidate the rule gives a share to is listed; no one else is.
    std::size_t positive = 0;
    for (double w : want) positive += w * weight_total >= 0.5 ? 1 : 0;
    CHECK(route.candidates.size() == positive);
  }
}

TEST_CASE("G aggregates a subnet's loads for the level above") {
  const subnet v = prefix_of("10.200.0.0/24");
  // loads 0.2 at route cost 1 and 0.6 at route cost 3
  const std::vector<node> nodes = {{"A", ip(10, 0, 1, 1), {{v, 0.2}}}, {"B", ip(10, 0, 1, 2), {{v, 0.6}}}};
  struct row {
    const char* name;
    policy::slr_aggregate g;
    double aggregate_cost;
    double b_route_cost;
    double expected;
  };
  const std::vector<row> rows = {
      {"min", policy::slr_aggregate::min, 0, 3, 0.2},
      {"mean", policy::slr_aggregate::mean, 0, 3, 0.4},
      {"weighted_mean by 1/r", policy::slr_aggregate::weighted_mean, 0, 3, (0.2 / 1 + 0.6 / 3) / (1 + 1.0 / 3)},
      {"weighted_mean, equal costs = mean", policy::slr_aggregate::weighted_mean, 0, 1, 0.4},
      {"weighted_mean, a free route dominates", policy::slr_aggregate::weighted_mean, 0, 0, 0.6},
      {"min plus own cost", policy::slr_aggregate::min, 0.5, 3, 0.7},
      {"mean plus own cost", policy::slr_aggregate::mean, 1.0, 3, 1.4},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    policy::slr_section cfg;
    cfg.aggregate = r.g;
    cfg.aggregate_cost = r.aggregate_cost;
    cfg.route_costs = {{ip(10, 0, 1, 2), r.b_route_cost}};
    auto table = table_of(cfg, nodes);
    REQUIRE(table.size() == 1);
    CHECK(table[0].aggregate == doctest::Approx(r.expected));
    auto up = upward(table);
    REQUIRE(up.size() == 1);
    CHECK(up[0].first == v);
    CHECK(up[0].second == doctest::Approx(r.expected));
  }
}

TEST_CASE("a stopped host gets no new connection once its state expires") {
  const subnet v = prefix_of("10.200.0.0/24");
  policy::slr_section cfg;
  cfg.update_interval_ms = 500;
  cfg.expiry_ms = 1500;
  cfg.selection = policy::slr_selection::spread;
  routing_table t(cfg);
  t.update({"A", ip(10, 0, 1, 1), {{v, 0.1}}}, t0);                       // A stops after this
  t.update({"B", ip(10, 0, 1, 2), {{v, 0.9}}}, t0 + milliseconds(1000));  // B keeps reporting
  struct row {
    const char* name;
    int at_ms;
    std::vector<std::string> candidates;
  };
  const std::vector<row> rows = {
      {"both fresh", 1400, {"A", "B"}},
      {"A exactly at expiry is kept", 1500, {"A", "B"}},
      {"A expired", 1501, {"B"}},
      {"B expired too", 2501, {}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    auto table = t.recompute(t0 + milliseconds(r.at_ms), wall_at(12));
    std::vector<std::string> got;
    if (!table.empty())
      for (const auto& c : table[0].candidates) got.push_back(c.from);
    CHECK(got == r.candidates);
    CHECK(t.node_count() == r.candidates.size());
    CHECK(upward(table).size() == (r.candidates.empty() ? 0u : 1u));
  }
  // A comes back: its new state counts again.
  t.update({"A", ip(10, 0, 1, 1), {{v, 0.1}}}, t0 + milliseconds(3000));
  auto table = t.recompute(t0 + milliseconds(3100), wall_at(12));
  REQUIRE(table.size() == 1);
  CHECK(table[0].candidates.at(0).from == "A");
}

TEST_CASE("time-of-day rules choose F by the local hour") {
  const subnet web = prefix_of("10.200.1.0/24");
  const subnet audio = prefix_of("10.200.2.0/24");
  policy::slr_section cfg;
  cfg.selection = policy::slr_selection::lowest;
  cfg.function = weighted(1, 1);
  // 08-18: least load; 22-06 (across midnight): lowest route cost; 00-24 for audio: least load.
  cfg.time_of_day = {{8, 18, std::nullopt, kind(policy::slr_function_kind::least_load)},
                     {22, 6, std::nullopt, kind(policy::slr_function_kind::lowest_cost)},
                     {0, 24, audio, kind(policy::slr_function_kind::least_load)}};
  cfg.route_costs = {{ip(10, 0, 1, 1), 5.0}};
  // A: s 0.1, r 5 (m = 5.1 under the default); B: s 0.9, r 1 (m = 1.9). C serves audio only.
  const std::vector<node> nodes = {{"A", ip(10, 0, 1, 1), {{web, 0.1}}},
                                   {"B", ip(10, 0, 1, 2), {{web, 0.9}}},
                                   {"C", ip(10, 0, 1, 3), {{audio, 0.4}}},
                                   {"D", ip(10, 0, 1, 4), {{audio, 0.3}}}};
  struct row {
    int hour;
    policy::slr_function_kind web_f;
    const char* web_choice;
  };
  const std::vector<row> rows = {
      {0, policy::slr_function_kind::lowest_cost, "B"},   {5, policy::slr_function_kind::lowest_cost, "B"},
      {6, policy::slr_function_kind::weighted_sum, "B"},  {7, policy::slr_function_kind::weighted_sum, "B"},
      {8, policy::slr_function_kind::least_load, "A"},    {12, policy::slr_function_kind::least_load, "A"},
      {17, policy::slr_function_kind::least_load, "A"},   {18, policy::slr_function_kind::weighted_sum, "B"},
      {21, policy::slr_function_kind::weighted_sum, "B"}, {22, policy::slr_function_kind::lowest_cost, "B"},
      {23, policy::slr_function_kind::lowest_cost, "B"},
  };
  routing_table t(cfg);
  for (const auto& n : nodes) t.update({n.name, n.next_hop, n.loads}, t0);
  for (const auto& r : rows) {
    CAPTURE(r.hour);
    CHECK(local_hour(wall_at(r.hour)) == r.hour);
    CHECK(t.function_for(web, r.hour).kind == r.web_f);
    auto table = t.recompute(t0, wall_at(r.hour));
    const auto* w = longest_match(table, ip(10, 200, 1, 9));
    REQUIRE(w != nullptr);
    CHECK(w->candidates.at(0).from == r.web_choice);
    // Audio: the subnet rule applies only outside 08-18 and 22-06 (earlier rules win); D has the lower load
    // and C the lower route cost... both cost 1, so under lowest_cost they tie and share.
    const auto* a = longest_match(table, ip(10, 200, 2, 9));
    REQUIRE(a != nullptr);
    if (r.web_f == policy::slr_function_kind::lowest_cost) CHECK(a->candidates.size() == 2);
    else CHECK(a->candidates.at(0).from == "D");
  }
  // The subnet-restricted rule applies to audio at 06-08 and 18-22 only, and never to web.
  CHECK(t.function_for(audio, 7).kind == policy::slr_function_kind::least_load);
  CHECK(t.function_for(web, 7).kind == policy::slr_function_kind::weighted_sum);
}

TEST_CASE("hour ranges, including ranges across midnight") {
  struct row {
    int from, to, hour;
    bool in;
  };
  const std::vector<row> rows = {{8, 18, 7, false}, {8, 18, 8, true},   {8, 18, 17, true}, {8, 18, 18, false},
                                 {22, 6, 21, false}, {22, 6, 22, true}, {22, 6, 0, true},  {22, 6, 5, true},
                                 {22, 6, 6, false},  {0, 24, 0, true},  {0, 24, 23, true}, {23, 24, 23, true},
                                 {23, 24, 0, false}, {0, 1, 0, true},   {0, 1, 1, false}};
  for (const auto& r : rows) {
    CAPTURE(r.from);
    CAPTURE(r.to);
    CAPTURE(r.hour);
    policy::slr_time_rule rule;
    rule.from_hour = static_cast<std::uint8_t>(r.from);
    rule.to_hour = static_cast<std::uint8_t>(r.to);
    CHECK(hours_contain(rule, r.hour) == r.in);
  }
}

TEST_CASE("overlapping subnets: covering prefixes are candidates, lookups take the longest prefix") {
  policy::slr_section cfg;
  cfg.function = kind(policy::slr_function_kind::least_load);
  cfg.selection = policy::slr_selection::spread;
  const subnet wide = prefix_of("10.200.0.0/16");
  const subnet narrow = prefix_of("10.200.1.0/24");
  const subnet other = prefix_of("10.201.0.0/24");
  // A serves the whole /16 (and says the /24 part is busier); B serves only the /24; C another subnet.
  const std::vector<node> nodes = {{"A", ip(10, 0, 1, 1), {{wide, 0.5}, {narrow, 0.9}}},
                                   {"B", ip(10, 0, 1, 2), {{narrow, 0.1}}},
                                   {"C", ip(10, 0, 1, 3), {{other, 0.3}}}};
  auto table = table_of(cfg, nodes);
  REQUIRE(table.size() == 3);
  auto names = [](const routing_table::subnet_route* r) {
    std::vector<std::string> out;
    for (const auto& c : r->candidates) out.push_back(c.from + "=" + std::to_string(c.load).substr(0, 3));
    return out;
  };
  struct row {
    const char* name;
    std::uint32_t address;
    const char* subnet;  // nullptr: no route
    std::vector<std::string> candidates;
  };
  const std::vector<row> rows = {
      {"inside the /24: both, A with its /24 load", ip(10, 200, 1, 7), "10.200.1.0/24", {"B=0.1", "A=0.9"}},
      {"inside the /16 only: A alone (B has no state for it)", ip(10, 200, 2, 1), "10.200.0.0/16", {"A=0.5"}},
      {"the other subnet: C alone", ip(10, 201, 0, 9), "10.201.0.0/24", {"C=0.3"}},
      {"nobody serves it", ip(10, 202, 0, 1), nullptr, {}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    const auto* m = longest_match(table, r.address);
    if (r.subnet == nullptr) {
      CHECK(m == nullptr);
      continue;
    }
    REQUIRE(m != nullptr);
    CHECK(m->net == prefix_of(r.subnet));
    CHECK(names(m) == r.candidates);
  }
}

TEST_CASE("advertisements: replace, forget, and what is ignored") {
  policy::slr_section cfg;
  routing_table t(cfg);
  const subnet v = prefix_of("10.200.0.0/24");
  // host bits cleared; NaN, infinite, /33 and a repeat ignored
  std::size_t ignored = t.update({"A", ip(10, 0, 1, 1),
                                  {{subnet{ip(10, 200, 0, 77), 24}, 0.3},
                                   {prefix_of("10.9.0.0/24"), std::nan("")},
                                   {prefix_of("10.8.0.0/24"), HUGE_VAL},
                                   {subnet{ip(10, 7, 0, 0), 33}, 0.1},
                                   {v, 0.8}}},
                                 t0);
  CHECK(ignored == 4);
  auto table = t.recompute(t0, wall_at(12));
  REQUIRE(table.size() == 1);
  CHECK(table[0].net == v);
  CHECK(table[0].candidates.at(0).load == 0.3);
  CHECK(table[0].candidates.at(0).next_hop == ip(10, 0, 1, 1));

  // A new state replaces the old one entirely: the subnet it no longer lists is gone.
  const subnet w = prefix_of("10.200.5.0/24");
  CHECK(t.update({"A", ip(10, 0, 1, 9), {{w, 0.4}}}, t0) == 0);
  table = t.recompute(t0, wall_at(12));
  REQUIRE(table.size() == 1);
  CHECK(table[0].net == w);
  CHECK(table[0].candidates.at(0).next_hop == ip(10, 0, 1, 9));

  t.update({"B", ip(10, 0, 1, 2), {{w, 0.2}}}, t0);
  t.forget("A");
  table = t.recompute(t0, wall_at(12));
  REQUIRE(table.size() == 1);
  REQUIRE(table[0].candidates.size() == 1);
  CHECK(table[0].candidates[0].from == "B");
  t.forget("B");
  CHECK(t.recompute(t0, wall_at(12)).empty());
  CHECK(expected_shares(routing_table::subnet_route{}).empty());
}

TEST_CASE("load_since: when the table first listed a candidate with its current load") {
  policy::slr_section cfg;
  cfg.expiry_ms = 60000;
  routing_table t(cfg);
  const subnet v = prefix_of("10.200.0.0/24");
  struct step {
    int at_ms;
    double load_a, load_b;
    int since_a_ms, since_b_ms;  // expected load_since of A and B after this recompute
  };
  const step steps[] = {
    {0, 0.5, 0.5, 0, 0},        // both first listed now
    {500, 0.5, 0.5, 0, 0},      // nothing changed: the stamps stay
    {1000, 0.7, 0.5, 1000, 0},  // A's load changed: A's stamp moves, B's stays
    {1500, 0.7, 0.5, 1000, 0},
    {2000, 0.5, 0.9, 2000, 2000},
  };
  for (const auto& s : steps) {
    CAPTURE(s.at_ms);
    const auto now = t0 + milliseconds(s.at_ms);
    t.update({"A", ip(10, 0, 1, 1), {{v, s.load_a}}}, now);
    t.update({"B", ip(10, 0, 1, 2), {{v, s.load_b}}}, now);
    auto table = t.recompute(now, wall_at(12));
    REQUIRE(table.size() == 1);
    for (const auto& c : table[0].candidates) {
      CAPTURE(c.from);
      CHECK(c.load_since == t0 + milliseconds(c.from == "A" ? s.since_a_ms : s.since_b_ms));
    }
  }
  // A node that left and came back with the same load is listed anew.
  t.forget("A");
  t.recompute(t0 + milliseconds(2500), wall_at(12));
  t.update({"A", ip(10, 0, 1, 1), {{v, 0.5}}}, t0 + milliseconds(3000));
  auto table = t.recompute(t0 + milliseconds(3000), wall_at(12));
  for (const auto& c : table[0].candidates)
    if (c.from == "A") CHECK(c.load_since == t0 + milliseconds(3000));
}
