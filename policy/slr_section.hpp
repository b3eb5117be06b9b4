#pragma once
// Internal to policy/: the "slr" and "shaping" sections (document 001), parsed, rendered and
// compared by the functions the section table in sections.cpp lists.
//
// "slr": {
//   "level": "network" | "system" | "site" | "host",          required; host = the host agent
//   "virtual_subnets": ["10.200.0.0/24", ...],                 required (non-empty) for host
//   "tunnel_address": "10.0.0.5",                              default identity.address
//   "upper": [{"name": "sys-a", "address": "10.0.0.3", "port": 4790}],   port default 4790
//   "neighbors": [{"name": "site-b", "address": "10.0.0.7"}],           same level, for WHOHAS
//   "update_interval_ms": 500, "expiry_ms": 1500,               expiry default 3 x interval
//   "selection": "spread" | "lowest", "epsilon": 0.01,
//   "function": {"kind": "weighted_sum" | "least_load" | "lowest_cost",
//                "load_weight": 1.0, "cost_weight": 0.0},       weights for weighted_sum only
//   "time_of_day": [{"hours": "08-18", "subnet": "10.200.1.0/24", "function": {...}}],
//   "aggregate": "min" | "mean" | "weighted_mean", "aggregate_cost": 0.0,
//   "route_costs": {"10.0.1.3": 2.0},
//   "shortcuts": true, "flow_capacity": 65536,
//   "load": {"source": "connections" | "cpu" | "command" | "static",
//            "command": "...", "command_timeout_ms": 1000, "value": 0.3},
//   "progress_timeout_ms": 1000,
//   "hot_spare": {"address": "10.0.0.9", "mac": "02:ba:70:00:00:09"}
// }
// "shaping": {"interface": "eth1", "rate_mbit": 20, "burst_kbyte": 64,
//             "classes": [{"name": "web-x", "source": "10.200.1.0/24", "share": 20}],
//             "default_share": 1}

#include <string>

#include "policy/policy.hpp"
#include "policy/reader.hpp"

namespace baton::policy::detail {

/// Throw policy_error with the offending value's pointer; `out` keeps earlier sections.
void parse_slr(const value_ref& v, policy& out);
json slr_json(const policy& p);
void slr_text(const policy& p, std::string& out);

void parse_shaping(const value_ref& v, policy& out);
json shaping_json(const policy& p);
void shaping_text(const policy& p, std::string& out);

/// Reads "a.b.c.d/len" (or a bare address = /32) as a virtual subnet; refuses host bits.
virtual_subnet as_virtual_subnet(const value_ref& v);

}  // namespace baton::policy::detail
