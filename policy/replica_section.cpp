// The "replica" section of the node policy (document 002). Schema in replica_policy.hpp.

#include "policy/replica_section.hpp"

#include <tuple>

#include "policy/fields.hpp"
#include "policy/rule_list.hpp"
#include "policy/rules.hpp"

namespace baton::policy {

namespace {
constexpr const char* config_names[] = {"A", "B", "C"};
constexpr const char* state_names[] = {"active", "busy", "dead"};
constexpr const char* bad_options_names[] = {"drop", "pass"};
}  // namespace

const char* to_string(replica_config x) noexcept { return config_names[static_cast<std::size_t>(x)]; }
const char* to_string(replica_state x) noexcept { return state_names[static_cast<std::size_t>(x)]; }
const char* to_string(replica_bad_options x) noexcept {
  return bad_options_names[static_cast<std::size_t>(x)];
}

namespace {

using detail::field;
using detail::ipv4;
using detail::json;

json clients_json(std::tuple<const std::uint32_t&, const std::uint8_t&> c) {
  return format_ipv4(std::get<0>(c)) + "/" + std::to_string(std::get<1>(c));
}

}  // namespace

auto fields(const replica_member& x) {
  return std::make_tuple(field("name", x.name), field("address", x.address, ipv4), field("state", x.state));
}
auto fields(const replica_server& x) {
  return std::make_tuple(field("address", x.address, ipv4), field("ports", x.ports),
                         field("replicas", x.replicas));
}
auto fields(const replica_gateway& x) {
  return std::make_tuple(field("address", x.address, ipv4),
                         field("clients", std::tie(x.clients_prefix, x.clients_length), clients_json));
}
auto fields(const replica_gateway_link& x) {
  return std::make_tuple(field("address", x.address, ipv4), field("port", x.port));
}
auto fields(const replica_section& x) {
  return std::make_tuple(field("configuration", x.configuration), field("servers", x.servers),
                         field("client_gateways", x.client_gateways), field("ports", x.ports),
                         field("max_fanout", x.max_fanout), field("rules", x.rules),
                         field("table_capacity", x.table_capacity), field("pending_ms", x.pending_ms),
                         field("idle_ms", x.idle_ms),
                         field("state", x.state), field("bad_options", x.bad_options),
                         field("report_interval_ms", x.report_interval_ms),
                         field("server_gateways", x.server_gateways), field("report_port", x.report_port),
                         field("dead_after_ms", x.dead_after_ms), field("busy_above", x.busy_above));
}

using detail::equal_fields;
bool operator==(const replica_member& x, const replica_member& y) noexcept { return equal_fields(x, y); }
bool operator==(const replica_server& x, const replica_server& y) noexcept { return equal_fields(x, y); }
bool operator==(const replica_gateway& x, const replica_gateway& y) noexcept { return equal_fields(x, y); }
bool operator==(const replica_gateway_link& x, const replica_gateway_link& y) noexcept { return equal_fields(x, y); }
bool operator==(const replica_section& x, const replica_section& y) { return equal_fields(x, y); }

namespace detail {

namespace {

std::vector<std::uint16_t> parse_ports(const value_ref& list) {
  std::vector<std::uint16_t> out;
  const std::size_t n = list.expect_array();
  if (n == 0) list.fail("at least one port");
  for (std::size_t i = 0; i < n; ++i) {
    auto item = list.at(i);
    auto port = static_cast<std::uint16_t>(item.as_uint(1, 65535));
    for (auto p : out)
      if (p == port) item.fail("duplicate port " + std::to_string(port));
    out.push_back(port);
  }
  return out;
}

}  // namespace

void parse_replica(const value_ref& v, policy& out) {
  v.expect_object({"configuration", "servers", "client_gateways", "ports", "max_fanout", "rules",
                   "table_capacity", "pending_ms", "idle_ms", "state", "bad_options",
                   "report_interval_ms", "server_gateways", "report_port", "dead_after_ms", "busy_above"});
  replica_section s;
  if (auto x = v.find("configuration"))
    s.configuration = static_cast<replica_config>(one_of(*x, config_names, "a configuration"));
  std::vector<std::uint32_t> replica_addresses;
  if (auto list = v.find("servers")) {
    const std::size_t n = list->expect_array();
    for (std::size_t i = 0; i < n; ++i) {
      auto item = list->at(i);
      item.expect_object({"address", "ports", "replicas"});
      replica_server srv;
      srv.address = item.get("address").as_ipv4();
      for (const auto& other : s.servers)
        if (other.address == srv.address)
          item.get("address").fail("duplicate server " + format_ipv4(srv.address));
      srv.ports = {80};
      if (auto ports = item.find("ports")) srv.ports = parse_ports(*ports);
      if (auto reps = item.find("replicas")) {
        const std::size_t m = reps->expect_array();
        for (std::size_t j = 0; j < m; ++j) {
          auto r = reps->at(j);
          r.expect_object({"name", "address", "state"});
          replica_member member;
          member.name = r.get("name").as_name();
          member.address = r.get("address").as_ipv4();
          if (member.address == srv.address)
            r.get("address").fail("a replica cannot have its server's address");
          for (const auto& other : srv.replicas)
            if (other.address == member.address || other.name == member.name)
              r.fail("duplicate replica " + member.name + " " + format_ipv4(member.address));
          if (auto st = r.find("state"))
            member.state = static_cast<replica_state>(one_of(*st, state_names, "a replica state"));
          srv.replicas.push_back(std::move(member));
        }
      }
      s.servers.push_back(std::move(srv));
    }
  }
  if (auto list = v.find("client_gateways")) {
    const std::size_t n = list->expect_array();
    for (std::size_t i = 0; i < n; ++i) {
      auto item = list->at(i);
      item.expect_object({"address", "clients"});
      replica_gateway g;
      g.address = item.get("address").as_ipv4();
      auto clients = item.get("clients");
      auto p = parse_prefix(clients.as_string());
      if (!p) clients.fail(describe(clients.value()) + " is not an IPv4 prefix");
      if (p->host_bits) clients.fail(describe(clients.value()) + " has host bits set outside the mask");
      g.clients_prefix = p->address;
      g.clients_length = static_cast<std::uint8_t>(prefix_length(p->mask));
      s.client_gateways.push_back(g);
    }
  }
  if (auto x = v.find("ports")) s.ports = parse_ports(*x);
  if (auto x = v.find("max_fanout")) s.max_fanout = static_cast<std::uint32_t>(x->as_uint(1, 64));
  if (auto x = v.find("rules")) s.rules = parse_rule_list(*x, out.profiles);
  if (auto x = v.find("table_capacity"))
    s.table_capacity = static_cast<std::uint32_t>(x->as_uint(1, 1u << 22));
  if (auto x = v.find("pending_ms")) s.pending_ms = static_cast<std::uint32_t>(x->as_uint(100, 600000));
  if (auto x = v.find("idle_ms")) s.idle_ms = static_cast<std::uint32_t>(x->as_uint(1000, 86400000));
  if (auto x = v.find("state")) s.state = static_cast<replica_state>(one_of(*x, state_names, "a replica state"));
  if (auto x = v.find("bad_options"))
    s.bad_options = static_cast<replica_bad_options>(one_of(*x, bad_options_names, "a bad_options choice"));
  if (auto x = v.find("report_interval_ms"))
    s.report_interval_ms = static_cast<std::uint32_t>(x->as_uint(10, 3600000));
  s.dead_after_ms = default_dead_after_ms(s.report_interval_ms);
  if (auto x = v.find("dead_after_ms")) s.dead_after_ms = static_cast<std::uint32_t>(x->as_uint(10, 3u * 3600000u));
  if (auto x = v.find("busy_above")) s.busy_above = static_cast<std::uint32_t>(x->as_uint(0, 1u << 30));
  if (auto x = v.find("report_port")) s.report_port = static_cast<std::uint16_t>(x->as_uint(1, 65535));
  if (auto list = v.find("server_gateways")) {
    const std::size_t n = list->expect_array();
    for (std::size_t i = 0; i < n; ++i) {
      auto item = list->at(i);
      item.expect_object({"address", "port"});
      replica_gateway_link l;
      l.address = item.get("address").as_ipv4();
      if (auto port = item.find("port")) l.port = static_cast<std::uint16_t>(port->as_uint(1, 65535));
      s.server_gateways.push_back(l);
    }
    if (n > 0 && out.identity.certificate.empty())
      list->fail("reports go over TLS: the node needs /identity/certificate, key and ca");
  }

  // What each role needs from the section.
  if (out.has_role(role::server_gateway)) {
    bool any_replica = false;
    for (const auto& srv : s.servers) any_replica = any_replica || !srv.replicas.empty();
    if (!any_replica)
      (v.find("servers") ? *v.find("servers") : v)
          .fail("a server gateway needs a server with at least one replica");
    if (s.client_gateways.empty())
      (v.find("client_gateways") ? *v.find("client_gateways") : v)
          .fail("a server gateway needs the client gateways whose tags it accepts");
  }
  if (out.has_role(role::replica) && s.servers.empty())
    v.fail("missing required key \"servers\" (the servers this replica stands in for)");
  out.replica = std::move(s);
}

json replica_json(const policy& p) { return write_json(*p.replica); }

void replica_text(const policy& p, std::string& out) {
  const auto& s = *p.replica;
  auto line = [&](const std::string& label, const std::string& text) {
    std::string l = label;
    l.resize(11, ' ');
    out += l + text + '\n';
  };
  std::string reports;
  for (const auto& g : s.server_gateways) reports += (reports.empty() ? "" : ", ") + format_ipv4(g.address) + ":" + std::to_string(g.port);
  line("replica", std::string("configuration ") + to_string(s.configuration) + ", fan-out <= " +
                      std::to_string(s.max_fanout) + ", table " + std::to_string(s.table_capacity) +
                      ", state " + to_string(s.state) + ", bad TCP options: " + to_string(s.bad_options));
  line("", "reports every " + std::to_string(s.report_interval_ms) + " ms" +
               (reports.empty() ? "" : " to " + reports) + "; listens on " + std::to_string(s.report_port) +
               ", dead after " + std::to_string(s.dead_after_ms) + " ms silent");
  for (const auto& srv : s.servers) {
    std::string reps;
    for (const auto& r : srv.replicas)
      reps += (reps.empty() ? "" : ", ") + r.name + " " + format_ipv4(r.address) + " (" + to_string(r.state) + ")";
    line("", "server " + format_ipv4(srv.address) + " -> " + (reps.empty() ? "no replicas" : reps));
  }
  for (const auto& g : s.client_gateways)
    line("", "client gateway " + format_ipv4(g.address) + " for " + format_ipv4(g.clients_prefix) + "/" +
                 std::to_string(g.clients_length));
}

}  // namespace detail
}  // namespace baton::policy
