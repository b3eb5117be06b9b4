// Counters declared once (net/io/counter_list.hpp) reach both /counters and /metrics: one row per
// X-macro list, each counter given a distinct value, rendered through the console's generic
// renderer (actors/console/status_render.hpp); every name must appear exactly once in the JSON (with
// its value) and once in the Prometheus text (HELP, TYPE and sample), and be a valid metric name.
// Then the shapes the lab tests read (tables, nested tables, families) and /flows.

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "actors/cluster/cluster_actor.hpp"
#include "actors/console/metrics.hpp"
#include "actors/console/status_render.hpp"
#include "actors/runtime/role_status.hpp"
#include "actors/slr/slr_actor.hpp"
#include "net/cluster/arp_speaker.hpp"
#include "net/cluster/cluster_stage.hpp"
#include "net/gateway/gateway_stage.hpp"
#include "net/io/packet_loop.hpp"
#include "net/io/packet_port.hpp"
#include "net/slr/slr_stage.hpp"

using namespace baton;
using nlohmann::json;

namespace {

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

struct list_row {
  std::string name;   // the list's macro
  std::string group;  // the group it is shown under ("" : the top)
  std::function<void(node::role_status&)> add;  // adds the list, every counter a distinct value
};

// Fills every counter of LIST in `x` with 1, 2, 3, ... (generated from the list itself).
#define BATON_TEST_FILL(name, help) x.name = ++n;
#define BATON_TEST_ROW(LIST, Struct, group_name)                      \
  list_row {                                                          \
    #LIST, group_name, [](node::role_status& s) {                     \
      Struct x{};                                                     \
      std::uint64_t n = 0;                                            \
      LIST(BATON_TEST_FILL, BATON_TEST_FILL)                          \
      s.group(group_name, x);                                         \
    }                                                                 \
  }

const std::vector<list_row>& every_list() {
  static const std::vector<list_row> rows{
    BATON_TEST_ROW(BATON_PORT_COUNTERS, net::port_stats, "port"),
    BATON_TEST_ROW(BATON_LOOP_SNAPSHOT_COUNTERS, net::loop_snapshot, ""),
    BATON_TEST_ROW(BATON_STAGE_COUNTERS, net::stage_stats, "stage"),
    BATON_TEST_ROW(BATON_GATEWAY_COUNTERS, net::gateway_counters, "gateway"),
    BATON_TEST_ROW(BATON_SLR_COUNTERS, net::slr_counters, "data_path"),
    BATON_TEST_ROW(BATON_FORWARDING_COUNTERS, net::forwarding_counters, "forwarding"),
    BATON_TEST_ROW(BATON_ARP_COUNTERS, net::arp_speaker_stats, "arp"),
    BATON_TEST_ROW(BATON_CLUSTER_UNIT_GAUGES, cluster::cluster_unit_gauges, "units"),
    BATON_TEST_ROW(BATON_CLUSTER_REPLICATION_COUNTERS, cluster::cluster_replication_counters,
                   "replication"),
    BATON_TEST_ROW(BATON_CLUSTER_VIEW_COUNTERS, cluster::cluster_view_counters, "views"),
    BATON_TEST_ROW(BATON_CLUSTER_ROUTE_GAUGES, cluster::cluster_route_gauges, "routes"),
    BATON_TEST_ROW(BATON_SLR_CONTROL_COUNTERS, slr::slr_control_counters, "control"),
    BATON_TEST_ROW(BATON_SLR_DATA_PATH_GAUGES, slr::slr_data_path_gauges, "data_path"),
    BATON_TEST_ROW(BATON_HOST_AGENT_COUNTERS, slr::host_agent_counters, "control"),
  };
  return rows;
}

}  // namespace

TEST_CASE("every counter of every list reaches the JSON and the Prometheus text, once") {
  for (const auto& row : every_list()) {
    CAPTURE(row.name);
    node::role_status s;
    row.add(s);
    REQUIRE(s.counters.size() == 1);
    const auto& counters = s.counters[0].counters;
    REQUIRE_FALSE(counters.empty());

    const json j = console::status_json(s);
    const json& at = row.group.empty() ? j : j.at(row.group);
    CHECK(at.size() == counters.size());  // nothing else, nothing twice

    std::vector<console::metric_family> families;
    console::status_metrics("src", s, families);
    const std::string text = console::render_prometheus(families);  // throws on a repeated name
    CHECK(families.size() == counters.size());

    std::set<std::string> names;
    std::uint64_t expected = 0;
    for (const auto& c : counters) {
      CAPTURE(c.name);
      CHECK(names.insert(c.name).second);  // no name twice in one list
      CHECK(c.value == ++expected);        // for_each visits the list in order
      CHECK(std::string(c.help).size() > 0);
      CHECK(std::string(c.help).find('\n') == std::string::npos);
      REQUIRE(at.contains(c.name));
      CHECK(at[c.name].get<std::uint64_t>() == c.value);

      const std::string metric = console::counter_metric_name("src", row.group, c);
      CHECK(console::valid_metric_name(metric));
      const bool gauge = c.kind == net::counter_kind::gauge;
      CHECK((metric.size() > 6 && metric.compare(metric.size() - 6, 6, "_total") == 0) == !gauge);
      CHECK(occurrences(text, "# TYPE " + metric + (gauge ? " gauge\n" : " counter\n")) == 1);
      CHECK(occurrences(text, "# HELP " + metric + " " + c.help + "\n") == 1);
      CHECK(occurrences(text, "\n" + metric + " " + std::to_string(c.value) + "\n") == 1);
    }
  }
}

TEST_CASE("a status built from several lists keeps every family name distinct") {
  // A cluster member's status: lists sharing a group ("forwarding": the routes and the stage's
  // counters) must not collide in the JSON or in /metrics.
  node::role_status s;
  s.group("", cluster::cluster_unit_gauges{3, 7});
  s.group("gateway", net::gateway_counters{});
  s.group("replication", cluster::cluster_replication_counters{});
  s.group("views", cluster::cluster_view_counters{});
  s.group("forwarding", cluster::cluster_route_gauges{});
  s.group("forwarding", net::forwarding_counters{});
  s.group("arp", net::arp_speaker_stats{});
  std::size_t total = 0;
  for (auto& g : s.counters) total += g.counters.size();
  std::vector<console::metric_family> families;
  console::status_metrics("cluster", s, families);
  CHECK_NOTHROW(console::render_prometheus(families));
  CHECK(families.size() == total);
  const json j = console::status_json(s);
  CHECK(j["owned_units"] == 3);
  CHECK(j["flows"] == 7);
  CHECK(j["forwarding"].size() ==
        cluster::cluster_route_gauges::counter_count + net::forwarding_counters::counter_count);
  CHECK(j["gateway"].contains("snat_collision"));
  CHECK(j["gateway"].contains("return_unknown"));
}

TEST_CASE("tables, nested tables, families and facts land where the lab tests read them") {
  node::role_status s;
  s.fact("active", node::scalar(true)).fact("shaping.interface", node::scalar("eth1"));
  s.families.push_back({"drops", "by reason", net::counter_kind::counter, "reason",
                        {{"no_route", 4}, {"malformed", 2}}});
  node::status_table ports{"ports", "port", {{"name", node::column_kind::key, ""},
                                             {"mtu", node::column_kind::fact, ""}},
                           {}};
  ports.counter_columns<net::port_stats>();
  net::port_stats p;
  p.tx_errors = 9;
  p.rx_packets = 11;
  node::status_row row{{node::scalar("eth0"), node::scalar(1500u)}, {}};
  node::append_counters(row, p);
  ports.rows.push_back(row);
  s.tables.push_back(ports);
  node::status_table routes{"routes", "subnet", {{"subnet", node::column_kind::key, ""},
                                                 {"aggregate", node::column_kind::gauge, "M"}},
                            {}};
  node::status_table candidates{"candidates", "", {{"next_hop", node::column_kind::key, ""},
                                                   {"expected_share", node::column_kind::fact, ""}},
                                {}};
  candidates.rows.push_back({{node::scalar("10.0.0.2"), node::scalar(0.25)}, {}});
  routes.rows.push_back({{node::scalar("10.9.0.0/16"), node::scalar(1.5)}, {candidates}});
  s.tables.push_back(routes);

  const json j = console::status_json(s);
  CHECK(j["active"] == true);
  CHECK(j["shaping"]["interface"] == "eth1");
  CHECK(j["drops"]["no_route"] == 4);
  CHECK(j["ports"][0]["name"] == "eth0");
  CHECK(j["ports"][0]["mtu"] == 1500);
  CHECK(j["ports"][0]["tx_errors"] == 9);
  CHECK(j["ports"][0]["rx_packets"] == 11);
  CHECK(j["routes"][0]["subnet"] == "10.9.0.0/16");
  CHECK(j["routes"][0]["candidates"][0]["expected_share"] == 0.25);

  std::vector<console::metric_family> families;
  console::status_metrics("packet_io", s, families);
  const std::string text = console::render_prometheus(families);
  CHECK(occurrences(text, "baton_packet_io_drops_total{reason=\"no_route\"} 4\n") == 1);
  CHECK(occurrences(text, "baton_packet_io_ports_tx_errors_total{port=\"eth0\"} 9\n") == 1);
  CHECK(occurrences(text, "baton_packet_io_routes_aggregate{subnet=\"10.9.0.0/16\"} 1.5\n") == 1);
  // Every counter column of the ports table is a family; facts and nested tables are not.
  CHECK(occurrences(text, "# TYPE baton_packet_io_ports_") == net::port_stats::counter_count);
  CHECK(occurrences(text, "mtu") == 0);
  CHECK(occurrences(text, "expected_share") == 0);
}

TEST_CASE("/flows lists the cluster's and the SLR's flows, at most limit in all") {
  node::flow_list cluster;
  cluster.role = "cluster";
  cluster.total = 3;
  for (std::uint16_t i = 0; i < 3; ++i) {
    node::flow_row r;
    r.key.src_addr = 0x0a000001;  // 10.0.0.1
    r.key.src_port = static_cast<std::uint16_t>(40000 + i);
    r.key.dst_addr = 0x0a000064;  // 10.0.0.100
    r.key.dst_port = 80;
    r.key.protocol = 6;
    r.to_addr = 0x0a010005;  // 10.1.0.5
    r.to_port = 8080;
    r.unit = 66 + i;
    r.state = "tcp_established";
    r.age_ms = 1200;
    r.idle_ms = 30;
    cluster.flows.push_back(r);
  }
  node::flow_list slr;
  slr.role = "slr";
  slr.total = 1;
  node::flow_row r;
  r.key.src_addr = 0xc0a80002;  // 192.168.0.2
  r.key.src_port = 5555;
  r.key.dst_addr = 0x0a090001;  // 10.9.0.1
  r.key.dst_port = 443;
  r.key.protocol = 17;
  r.to_addr = 0x0a000202;  // 10.0.2.2
  r.origin = "shortcut";
  r.state = "udp";
  r.idle_ms = 5;
  slr.flows.push_back(r);

  struct row {
    const char* name;
    std::size_t limit;
    std::size_t listed;
    bool truncated;
  };
  for (const auto& x : std::vector<row>{{"all", 1000, 4, false},
                                        {"cut in the first role", 2, 2, true},
                                        {"cut in the second role", 3, 3, true}}) {
    CAPTURE(x.name);
    const json j = console::flows_json({cluster, slr}, x.limit);
    CHECK(j["flows"].size() == x.listed);
    CHECK(j["limit"] == x.limit);
    CHECK(j["truncated"] == x.truncated);
    CHECK(j["roles_with_flow_state"] == json::array({"cluster", "slr"}));
    CHECK(j["roles"][0]["total"] == 3);
    const json& f = j["flows"][0];
    CHECK(f["role"] == "cluster");
    CHECK(f["protocol"] == "tcp");
    CHECK(f["client"] == "10.0.0.1:40000");
    CHECK(f["service"] == "10.0.0.100:80");
    CHECK(f["backend"] == "10.1.0.5:8080");
    CHECK(f["unit"] == 66);
    CHECK(f["state"] == "tcp_established");
    CHECK(f["age_ms"] == 1200);
    CHECK(f["idle_ms"] == 30);
    CHECK_FALSE(f.contains("snat_port"));
    CHECK_FALSE(f.contains("origin"));
    if (x.listed == 4) {
      const json& s = j["flows"][3];
      CHECK(s["role"] == "slr");
      CHECK(s["protocol"] == "udp");
      CHECK(s["client"] == "192.168.0.2:5555");
      CHECK(s["service"] == "10.9.0.1:443");
      CHECK(s["next_hop"] == "10.0.2.2");
      CHECK(s["origin"] == "shortcut");
      CHECK_FALSE(s.contains("backend"));
      CHECK_FALSE(s.contains("age_ms"));
    }
  }
  CHECK(console::flows_json({}, 10)["flows"].empty());
}

TEST_CASE("flows_limit reads ?limit=N") {
  CHECK(console::flows_limit(std::nullopt) == console::flows_default_limit);
  CHECK(console::flows_limit(std::string("25")) == 25);
  CHECK(console::flows_limit(std::string("0")) == 1);
  CHECK(console::flows_limit(std::string("99999999999")) == console::flows_max_limit);
  for (const char* bad : {"", "ten", "5x", "-3"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(console::flows_limit(std::string(bad)), std::invalid_argument);
  }
}

TEST_CASE("statuses sharing a path (/replicas on a node with several replica roles) merge without loss") {
  const json client = {{"role", "client_gateway"}, {"configuration", "A"},
                       {"client_gateway", {{"tagged", 3}}}, {"answers", json::array({{{"answerer", "10.4.1.2"}}})}};
  const json server = {{"role", "server_gateway"}, {"configuration", "A"}, {"server_gateway", {{"copies", 9}}},
                       {"reports", {{"reports_received", 5}}}, {"replicas", json::array({{{"name", "r1"}}})}};
  const json replica = {{"role", "replica"}, {"configuration", "A"}, {"reports", {{"reports_sent", 4}}},
                        {"answers", json::array({{{"answerer", "10.4.2.2"}}})}};
  struct row {
    const char* name;
    std::vector<json> parts;
    json expected;
  };
  const row rows[] = {
    {"none", {}, json::object()},
    {"one comes back as it is", {client}, client},
    {"two roles",
     {client, server},
     {{"role", {"client_gateway", "server_gateway"}}, {"configuration", "A"}, {"client_gateway", {{"tagged", 3}}},
      {"answers", json::array({{{"answerer", "10.4.1.2"}}})}, {"server_gateway", {{"copies", 9}}},
      {"reports", {{"reports_received", 5}}}, {"replicas", json::array({{{"name", "r1"}}})}}},
    {"groups merge by key, tables concatenate",
     {server, replica, client},
     {{"role", {"server_gateway", "replica", "client_gateway"}}, {"configuration", "A"},
      {"server_gateway", {{"copies", 9}}}, {"reports", {{"reports_received", 5}, {"reports_sent", 4}}},
      {"replicas", json::array({{{"name", "r1"}}})}, {"client_gateway", {{"tagged", 3}}},
      {"answers", json::array({{{"answerer", "10.4.2.2"}}, {{"answerer", "10.4.1.2"}}})}}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK(console::merge_status(r.parts) == r.expected);
  }
}
