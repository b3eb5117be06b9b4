#pragma once
// The "replica" section's types (document 002: client gateway, server gateway, replica), kept
// apart from policy.hpp, which holds one member for them. Parsed in replica_section.cpp.
//
// "replica": {
//   "configuration": "A" | "B" | "C",                     default "A"; every node of a lab agrees
//   "servers": [{"address": "10.3.0.2", "ports": [80],
//                "replicas": [{"name": "r1", "address": "10.4.1.2", "state": "active"}]}],
//                                                         server gateway: whom to fan out to;
//                                                         replica: the servers it stands in for
//   "client_gateways": [{"address": "10.2.0.1", "clients": "10.1.0.0/24"}],
//                                                         server gateway: tags it accepts
//   "ports": [80],                                        client gateway: start packets tagged
//   "max_fanout": 4,                                      copies per start packet, 1..64
//   "rules": [...],                                       server gateway: which tagged start
//                                                         packets are replicatable (profile
//                                                         action "forward"; "drop": origin only)
//   "table_capacity": 65536, "pending_ms": 5000, "idle_ms": 120000,
//   "state": "active" | "busy" | "dead",                  replica: its own health
//   "bad_options": "drop" | "pass",                       client and server gateway: a TCP
//                                                         segment whose options do not walk is
//                                                         dropped by the packet loop (counted
//                                                         malformed, bad_option_length) or
//                                                         reaches the stage and passes untagged
//                                                         (counted bad_options); default "drop"
//   "report_interval_ms": 500,                            replica: how often it reports
//   "server_gateways": [{"address": "10.2.0.2", "port": 4793}],  replica: whom it reports to (TLS:
//                                                         the node needs /identity/certificate)
//   "report_port": 4793,                                  server gateway: where reports arrive
//                                                         (listens only with a certificate)
//   "dead_after_ms": 600,                                 server gateway: a replica that reported
//                                                         and then fell silent this long is dead
//                                                         (default report_interval_ms plus a
//                                                         fifth of it: one missed report and a
//                                                         grace for jitter)
//   "busy_above": 0                                       replica: report busy above this many
//                                                         connections (0: never)
// }

#include <cstdint>
#include <string>
#include <vector>

#include "policy/rules.hpp"

namespace baton::policy {

enum class replica_config : std::uint8_t { a, b, c };
enum class replica_state : std::uint8_t { active, busy, dead };
enum class replica_bad_options : std::uint8_t { drop, pass };
const char* to_string(replica_config x) noexcept;
const char* to_string(replica_state x) noexcept;
const char* to_string(replica_bad_options x) noexcept;

/// The server gateway's default dead_after_ms for a report interval: one interval and a grace of
/// a fifth of it (at least 1 ms).
constexpr std::uint32_t default_dead_after_ms(std::uint32_t report_interval_ms) noexcept {
  return report_interval_ms + (report_interval_ms / 5 > 0 ? report_interval_ms / 5 : 1);
}

struct replica_member {
  std::string name;
  std::uint32_t address = 0;
  replica_state state = replica_state::active;
};

struct replica_server {
  std::uint32_t address = 0;
  std::vector<std::uint16_t> ports;  // informational for now: the ports its replicas serve
  std::vector<replica_member> replicas;
};

struct replica_gateway {
  std::uint32_t address = 0;
  std::uint32_t clients_prefix = 0;
  std::uint8_t clients_length = 0;
};

inline constexpr std::uint16_t default_report_port = 4793;

struct replica_gateway_link {
  std::uint32_t address = 0;
  std::uint16_t port = default_report_port;
};

struct replica_section {
  replica_config configuration = replica_config::a;
  std::vector<replica_server> servers;
  std::vector<replica_gateway> client_gateways;
  std::vector<std::uint16_t> ports{80};
  std::uint32_t max_fanout = 4;
  rule_set rules;
  std::uint32_t table_capacity = 65536;
  std::uint32_t pending_ms = 5000;
  std::uint32_t idle_ms = 120000;
  replica_state state = replica_state::active;
  replica_bad_options bad_options = replica_bad_options::drop;
  std::uint32_t report_interval_ms = 500;
  std::vector<replica_gateway_link> server_gateways;
  std::uint16_t report_port = default_report_port;
  std::uint32_t dead_after_ms = default_dead_after_ms(500);
  std::uint32_t busy_above = 0;
};

bool operator==(const replica_member& x, const replica_member& y) noexcept;
bool operator==(const replica_server& x, const replica_server& y) noexcept;
bool operator==(const replica_gateway& x, const replica_gateway& y) noexcept;
bool operator==(const replica_gateway_link& x, const replica_gateway_link& y) noexcept;
bool operator==(const replica_section& x, const replica_section& y);

}  // namespace baton::policy
