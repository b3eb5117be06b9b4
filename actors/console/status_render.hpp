#pragma once
// The edge where status becomes text (STYLE habit 13): a role_status (actors/runtime/
// role_status.hpp) as the JSON that /counters and /<role> serve and as /metrics families, and the
// roles' flow lists as /flows. Generic: nothing here names a role or a counter; every counter of
// every list reaches both the JSON and the Prometheus text. CAF-free.
//
// JSON: facts, groups, families and tables are placed by their dotted names ("a.b" inside the
// object "a"); a group named "" puts its counters at the top; a family is an object keyed by its
// label values; a table is an array of objects keyed by column, with nested tables under their
// own names.
//
// Prometheus, for a status from `source` ("packet_io", "cluster", "slr", ...), dots becoming
// underscores:
//   group counter    baton_<source>[_<group>]_<counter>_total   (a gauge: no _total)
//   family           baton_<source>_<family>_total{<label>="<value>"}
//   table column     baton_<source>_<table>_<column>_total{<table label>="<key cell>"}
//                    for counter and gauge columns; facts and nested tables are JSON only.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "actors/console/metrics.hpp"
#include "actors/runtime/role_status.hpp"

namespace baton::console {

/// The status as JSON (see the file comment).
nlohmann::json status_json(const node::role_status& s);

/// Several statuses under one console path (role_actor::shared_route), as status_json gave them:
/// objects merge key by key, recursively; arrays (tables)
/// concatenate; a value all give alike stays; values that differ otherwise become the array of
/// them in order ("role": ["client_gateway", "server_gateway"]). One status comes back as it is;
/// none: {}.
nlohmann::json merge_status(const std::vector<nlohmann::json>& statuses);

/// The metric name of one counter of group `group` ("" for the top) in a status from `source`.
std::string counter_metric_name(const std::string& source, const std::string& group,
                                const net::counter_value& c);

/// Appends the status's families (see the file comment) to `out`. Throws std::invalid_argument
/// when a name makes an invalid metric name.
void status_metrics(const std::string& source, const node::role_status& s,
                    std::vector<metric_family>& out);

/// /flows's default and largest ?limit.
inline constexpr std::size_t flows_default_limit = 1000;
inline constexpr std::size_t flows_max_limit = 100000;

/// The limit a /flows request asks for: `param` (?limit=N) clamped to [1, flows_max_limit], the
/// default when absent. Throws std::invalid_argument when it is not a number.
std::size_t flows_limit(const std::optional<std::string>& param);

/// /flows: {"flows": [...], "limit": L, "truncated": bool, "roles": [{"role", "total",
/// "listed"}], "roles_with_flow_state": [...]}. Each flow: role, protocol, client
/// ("a.b.c.d:port"), service (the destination the client used), state, age_ms and idle_ms when
/// known; a cluster flow adds backend ("addr:port"), unit and snat_port (when source NAT); an SLR
/// flow adds next_hop and origin. At most `limit` flows in all, in the order of `lists`.
nlohmann::json flows_json(const std::vector<node::flow_list>& lists, std::size_t limit);

}  // namespace baton::console
