#pragma once
// What a role or runtime actor answers to (get_atom): its status as a struct, never as JSON text
// (STYLE habit 13: typed seams, JSON only at the edge). One generic shape for every role, so the
// console renders any of them without knowing the role: facts (named scalars), counter groups
// (the X-macro counter lists of net/io/counter_list.hpp, each entry with its help), labelled
// counter families (drops by reason, flows by next hop) and tables (links, routes, ports), whose
// rows may carry nested tables. actors/console/status_render.hpp turns a role_status into the
// JSON of /counters and /<role> and into /metrics; (flows_atom, limit) answers a flow_list, which
// it renders for /flows.
//
// Names are paths: "a.b" puts a fact, group, family or table inside the JSON object "a". A group
// named "" puts its counters at the top of the status.
//
// Plain C++ (no CAF): the actors send these as local messages (actors/runtime/status_message.hpp).

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "net/flow/flow_key.hpp"
#include "net/io/counter_list.hpp"

namespace baton::node {

/// A fact or a table cell.
using status_scalar = std::variant<bool, std::int64_t, std::uint64_t, double, std::string>;

/// The scalar for a value, without std::variant's surprises (a string literal is text, an int
/// is a signed integer).
inline status_scalar scalar(bool v) { return status_scalar{std::in_place_type<bool>, v}; }
inline status_scalar scalar(int v) { return status_scalar{std::in_place_type<std::int64_t>, v}; }
inline status_scalar scalar(long v) { return status_scalar{std::in_place_type<std::int64_t>, v}; }
inline status_scalar scalar(long long v) { return status_scalar{std::in_place_type<std::int64_t>, v}; }
inline status_scalar scalar(unsigned v) { return status_scalar{std::in_place_type<std::uint64_t>, v}; }
inline status_scalar scalar(unsigned long v) { return status_scalar{std::in_place_type<std::uint64_t>, v}; }
inline status_scalar scalar(unsigned long long v) { return status_scalar{std::in_place_type<std::uint64_t>, v}; }
inline status_scalar scalar(double v) { return status_scalar{std::in_place_type<double>, v}; }
inline status_scalar scalar(std::string v) { return status_scalar{std::in_place_type<std::string>, std::move(v)}; }
inline status_scalar scalar(const char* v) { return status_scalar{std::in_place_type<std::string>, v}; }

struct status_fact {
  std::string name;
  status_scalar value;
};

/// One counter list's values (net/io/counter_list.hpp), under `name`.
struct counter_group {
  std::string name;
  std::vector<net::counter_value> counters;
};

/// A counter (or gauge) with one label: drops by reason, new flows by next hop.
struct counter_family {
  std::string name;
  std::string help;
  net::counter_kind kind = net::counter_kind::counter;
  std::string label;  // the Prometheus label name ("reason"); JSON: an object keyed by its values
  std::vector<std::pair<std::string, std::uint64_t>> values;
};

enum class column_kind : std::uint8_t {
  key,      // names the row (a port, a link); the Prometheus label of the row's numbers
  fact,     // JSON only
  counter,  // JSON and /metrics (counter)
  gauge,    // JSON and /metrics (gauge)
};

struct status_column {
  std::string name;
  column_kind kind = column_kind::fact;
  std::string help;  // counters and gauges: their help line
};

struct status_table;

/// One row: a cell per column, and any nested tables (JSON only: row[nested.name] = [...]).
struct status_row {
  std::vector<status_scalar> cells;
  std::vector<status_table> nested;
};

/// A table: JSON renders it as an array of objects (one per row, keyed by column name).
struct status_table {
  std::string name;
  std::string label;  // the Prometheus label name its key column becomes ("port")
  std::vector<status_column> columns;
  std::vector<status_row> rows;

  /// Appends a column per entry of a counter list (net/io/counter_list.hpp), from a copy
  /// struct's for_each().
  template <class Counters>
  status_table& counter_columns() {
    Counters{}.for_each([&](const net::counter_value& c) {
      columns.push_back({c.name,
                         c.kind == net::counter_kind::gauge ? column_kind::gauge
                                                            : column_kind::counter,
                         c.help});
    });
    return *this;
  }
};

/// Appends the values of a counter list to a row, in list order (matching counter_columns()).
template <class Counters>
void append_counters(status_row& row, const Counters& c) {
  c.for_each([&](const net::counter_value& v) { row.cells.push_back(scalar(v.value)); });
}

struct role_status {
  std::vector<status_fact> facts;
  std::vector<counter_group> counters;
  std::vector<counter_family> families;
  std::vector<status_table> tables;

  /// Builders, so a status reads like its JSON.
  role_status& fact(std::string name, status_scalar value) {
    facts.push_back({std::move(name), std::move(value)});
    return *this;
  }
  /// Adds a counter list's values as group `name` (one X-macro struct: net/io/counter_list.hpp).
  template <class Counters>
  role_status& group(std::string name, const Counters& c) {
    counter_group g{std::move(name), {}};
    c.for_each([&](const net::counter_value& v) { g.counters.push_back(v); });
    counters.push_back(std::move(g));
    return *this;
  }
};

/// One flow as /flows lists it: the cluster's (client key, backend, unit, TCP state, age) or an
/// SLR's pinned flow (key, next hop, origin).
struct flow_row {
  net::flow_key key;            // client -> service (cluster IP / virtual address)
  std::uint32_t to_addr = 0;    // the backend (cluster) or next hop (slr)
  std::uint16_t to_port = 0;    // the backend's port; 0 for an SLR's next hop
  std::uint16_t snat_port = 0;  // cluster with source NAT; 0: none
  std::int64_t unit = -1;       // cluster: the work unit; -1: none
  std::string state;            // flow_state name ("tcp_established", "udp", ...)
  std::string origin;           // slr: chosen, shortcut, recovered, advertised, replicated
  std::int64_t age_ms = -1;     // since created here; -1: not known
  std::int64_t idle_ms = -1;    // since its last datagram; -1: not known
};

/// A role's flows, as it answers (flows_atom, limit).
struct flow_list {
  std::string role;                 // "cluster", "slr"
  std::vector<flow_row> flows;      // at most the limit asked for
  std::uint64_t total = 0;          // flows the role carries now
};

}  // namespace baton::node
