#include "actors/console/status_render.hpp"

#include <algorithm>
#include <stdexcept>
#include <type_traits>
#include <variant>

#include "policy/rules.hpp"

namespace baton::console {
namespace {

using nlohmann::json;

/// The slot `path` ("a.b.c") names under `root`, making the objects on the way.
json& at_path(json& root, const std::string& path) {
  json* at = &root;
  std::size_t from = 0;
  for (;;) {
    const auto dot = path.find('.', from);
    at = &(*at)[path.substr(from, dot == std::string::npos ? std::string::npos : dot - from)];
    if (dot == std::string::npos) return *at;
    from = dot + 1;
  }
}

json to_json(const node::status_scalar& v) {
  return std::visit([](const auto& x) { return json(x); }, v);
}

std::string to_text(const node::status_scalar& v) {
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  return to_json(v).dump();
}

double to_number(const node::status_scalar& v) {
  return std::visit(
    [](const auto& x) -> double {
      using T = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<T, std::string>) return 0;
      else return static_cast<double>(x);
    },
    v);
}

json table_json(const node::status_table& t) {
  json rows = json::array();
  for (const auto& r : t.rows) {
    json row = json::object();
    for (std::size_t i = 0; i < t.columns.size() && i < r.cells.size(); ++i)
      row[t.columns[i].name] = to_json(r.cells[i]);
    for (const auto& n : r.nested) row[n.name] = table_json(n);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string underscored(std::string s) {
  for (auto& c : s)
    if (c == '.') c = '_';
  return s;
}

std::string metric_name(const std::string& source, const std::string& path, const std::string& name,
                        net::counter_kind kind) {
  std::string out = "baton_" + source;
  if (!path.empty()) out += "_" + underscored(path);
  out += "_" + name;
  if (kind == net::counter_kind::counter) out += "_total";
  return out;
}

metric_type type_of(net::counter_kind k) {
  return k == net::counter_kind::gauge ? metric_type::gauge : metric_type::counter;
}

std::string endpoint(std::uint32_t addr, std::uint16_t port) {
  return policy::format_ipv4(addr) + ":" + std::to_string(port);
}

std::string protocol_name(std::uint8_t p) {
  switch (p) {
    case 1: return "icmp";
    case 6: return "tcp";
    case 17: return "udp";
    default: return std::to_string(p);
  }
}

}  // namespace

json status_json(const node::role_status& s) {
  json j = json::object();
  for (const auto& f : s.facts) at_path(j, f.name) = to_json(f.value);
  for (const auto& g : s.counters) {
    json& at = g.name.empty() ? j : at_path(j, g.name);
    if (!at.is_object()) at = json::object();
    for (const auto& c : g.counters) at[c.name] = c.value;
  }
  for (const auto& f : s.families) {
    json& at = at_path(j, f.name);
    at = json::object();
    for (const auto& [label, n] : f.values) at[label] = n;
  }
  for (const auto& t : s.tables) at_path(j, t.name) = table_json(t);
  return j;
}

json merge_status(const std::vector<json>& statuses) {
  if (statuses.empty()) return json::object();
  const auto all = [&](auto pred) {
    return std::all_of(statuses.begin(), statuses.end(), pred);
  };
  if (all([](const json& x) { return x.is_object(); })) {
    json out = json::object();
    std::vector<std::string> keys;  // in order of first appearance
    for (const auto& s : statuses)
      for (auto it = s.begin(); it != s.end(); ++it)
        if (std::find(keys.begin(), keys.end(), it.key()) == keys.end()) keys.push_back(it.key());
    for (const auto& k : keys) {
      std::vector<json> values;
      for (const auto& s : statuses)
        if (s.contains(k)) values.push_back(s[k]);
      out[k] = values.size() == 1 ? values[0] : merge_status(values);
    }
    return out;
  }
  if (all([](const json& x) { return x.is_array(); })) {
    json out = json::array();
    for (const auto& s : statuses)
      for (const auto& x : s) out.push_back(x);
    return out;
  }
  if (all([&](const json& x) { return x == statuses[0]; })) return statuses[0];
  return json(statuses);
}

std::string counter_metric_name(const std::string& source, const std::string& group,
                                const net::counter_value& c) {
  return metric_name(source, group, c.name, c.kind);
}

void status_metrics(const std::string& source, const node::role_status& s,
                    std::vector<metric_family>& out) {
  for (const auto& g : s.counters)
    for (const auto& c : g.counters) {
      metric_family fam{counter_metric_name(source, g.name, c), c.help, type_of(c.kind), {}};
      fam.add({}, static_cast<double>(c.value));
      out.push_back(std::move(fam));
    }
  for (const auto& f : s.families) {
    metric_family fam{metric_name(source, "", underscored(f.name), f.kind), f.help, type_of(f.kind), {}};
    for (const auto& [label, n] : f.values) fam.add({{f.label, label}}, static_cast<double>(n));
    out.push_back(std::move(fam));
  }
  for (const auto& t : s.tables) {
    std::size_t key = t.columns.size();
    for (std::size_t i = 0; i < t.columns.size() && key == t.columns.size(); ++i)
      if (t.columns[i].kind == node::column_kind::key) key = i;
    const std::string label = !t.label.empty() ? t.label
                              : key < t.columns.size() ? t.columns[key].name
                                                        : std::string("row");
    for (std::size_t col = 0; col < t.columns.size(); ++col) {
      const auto& c = t.columns[col];
      if (c.kind != node::column_kind::counter && c.kind != node::column_kind::gauge) continue;
      const auto kind = c.kind == node::column_kind::gauge ? net::counter_kind::gauge
                                                           : net::counter_kind::counter;
      metric_family fam{metric_name(source, t.name, c.name, kind), c.help, type_of(kind), {}};
      for (std::size_t r = 0; r < t.rows.size(); ++r) {
        const auto& row = t.rows[r];
        if (col >= row.cells.size()) continue;
        const std::string key_text =
          key < row.cells.size() ? to_text(row.cells[key]) : std::to_string(r);
        fam.add({{label, key_text}}, to_number(row.cells[col]));
      }
      out.push_back(std::move(fam));
    }
  }
}

std::size_t flows_limit(const std::optional<std::string>& param) {
  if (!param) return flows_default_limit;
  std::size_t used = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(*param, &used);
  } catch (const std::exception&) {
    throw std::invalid_argument("limit must be a number");
  }
  if (used != param->size() || param->empty() || (*param)[0] == '-')
    throw std::invalid_argument("limit must be a number");
  if (n < 1) return 1;
  return n > flows_max_limit ? flows_max_limit : static_cast<std::size_t>(n);
}

json flows_json(const std::vector<node::flow_list>& lists, std::size_t limit) {
  json flows = json::array();
  json roles = json::array();
  json with_state = json::array();
  bool truncated = false;
  for (const auto& l : lists) {
    with_state.push_back(l.role);
    std::size_t listed = 0;
    for (const auto& f : l.flows) {
      if (flows.size() >= limit) break;
      json row = {{"role", l.role},
                  {"protocol", protocol_name(f.key.protocol)},
                  {"client", endpoint(f.key.src_addr, f.key.src_port)},
                  {"service", endpoint(f.key.dst_addr, f.key.dst_port)},
                  {"state", f.state}};
      if (f.origin.empty()) {
        row["backend"] = endpoint(f.to_addr, f.to_port);
        if (f.unit >= 0) row["unit"] = f.unit;
        if (f.snat_port != 0) row["snat_port"] = f.snat_port;
      } else {
        row["next_hop"] = policy::format_ipv4(f.to_addr);
        row["origin"] = f.origin;
      }
      if (f.age_ms >= 0) row["age_ms"] = f.age_ms;
      if (f.idle_ms >= 0) row["idle_ms"] = f.idle_ms;
      flows.push_back(std::move(row));
      ++listed;
    }
    truncated = truncated || listed < l.total;
    roles.push_back({{"role", l.role}, {"total", l.total}, {"listed", listed}});
  }
  return {{"flows", std::move(flows)}, {"limit", limit}, {"truncated", truncated},
          {"roles", std::move(roles)}, {"roles_with_flow_state", std::move(with_state)}};
}

}  // namespace baton::console
