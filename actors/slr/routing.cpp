// Document 001, Figure 9: recomputing the tunnel routing table. See routing.hpp.

#include "actors/slr/routing.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <set>

namespace baton::slr {

double cost_of(const policy::slr_function& f, double load, double route_cost) noexcept {
  switch (f.kind) {
    case policy::slr_function_kind::least_load: return load;
    case policy::slr_function_kind::lowest_cost: return route_cost;
    case policy::slr_function_kind::weighted_sum: break;
  }
  return f.load_weight * load + f.cost_weight * route_cost;
}

bool hours_contain(const policy::slr_time_rule& r, int hour) noexcept {
  if (r.from_hour < r.to_hour) return hour >= r.from_hour && hour < r.to_hour;
  return hour >= r.from_hour || hour < r.to_hour;  // wraps past midnight
}

int local_hour(std::chrono::system_clock::time_point wall) noexcept {
  std::time_t t = std::chrono::system_clock::to_time_t(wall);
  std::tm tm{};
  if (::localtime_r(&t, &tm) == nullptr) return 0;
  return tm.tm_hour;
}

routing_table::routing_table(const policy::slr_section& config) : config_(config) {}

void routing_table::reconfigure(const policy::slr_section& config) { config_ = config; }

std::size_t routing_table::update(const advertisement& a, std::chrono::steady_clock::time_point now) {
  node_state state;
  state.next_hop = a.next_hop;
  state.received = now;
  std::size_t ignored = 0;
  for (const auto& [net, load] : a.loads) {
    if (net.length > 32 || !std::isfinite(load)) {
      ++ignored;
      continue;
    }
    subnet clean = net;
    if (clean.length == 0) clean.prefix = 0;
    else clean.prefix &= ~std::uint32_t{0} << (32 - clean.length);
    bool repeated = false;
    for (const auto& e : state.loads) repeated = repeated || e.first == clean;
    if (repeated) {
      ++ignored;
      continue;
    }
    state.loads.emplace_back(clean, load);
  }
  std::sort(state.loads.begin(), state.loads.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  nodes_[a.from] = std::move(state);
  return ignored;
}

void routing_table::forget(const std::string& from) { nodes_.erase(from); }

const policy::slr_function& routing_table::function_for(const subnet& net, int hour) const noexcept {
  for (const auto& r : config_.time_of_day)
    if (hours_contain(r, hour) && (!r.subnet || r.subnet->covers(net))) return r.function;
  return config_.function;
}

double routing_table::route_cost(std::uint32_t next_hop) const noexcept {
  for (const auto& c : config_.route_costs)
    if (c.next_hop == next_hop) return c.cost;
  return 1.0;
}

namespace {

// Largest remainder: integers proportional to `raw` summing to weight_total (raw sums > 0).
std::vector<std::uint32_t> scale_weights(const std::vector<double>& raw) {
  double sum = 0;
  for (double x : raw) sum += x;
  std::vector<std::uint32_t> out(raw.size(), 0);
  std::vector<std::pair<double, std::size_t>> remainder;
  std::uint32_t given = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    double exact = raw[i] / sum * weight_total;
    out[i] = static_cast<std::uint32_t>(std::floor(exact));
    given += out[i];
    remainder.emplace_back(exact - out[i], i);
  }
  // Biggest remainders first; on a tie the earlier (cheaper) candidate.
  std::sort(remainder.begin(), remainder.end(), [](const auto& x, const auto& y) {
    return x.first != y.first ? x.first > y.first : x.second < y.second;
  });
  for (std::size_t k = 0; given < weight_total && k < remainder.size(); ++k, ++given)
    ++out[remainder[k].second];
  return out;
}

double aggregate_of(policy::slr_aggregate g, const std::vector<routing_table::choice>& c) {
  switch (g) {
    case policy::slr_aggregate::min: {
      double m = c.front().load;
      for (const auto& x : c) m = std::min(m, x.load);
      return m;
    }
    case policy::slr_aggregate::mean: {
      double sum = 0;
      for (const auto& x : c) sum += x.load;
      return sum / static_cast<double>(c.size());
    }
    case policy::slr_aggregate::weighted_mean: break;
  }
  // Weights 1 / r. A node at route cost 0 has infinite weight: then only such nodes count.
  double sum = 0, weights = 0, free_sum = 0;
  std::size_t free_count = 0;
  for (const auto& x : c) {
    if (x.route_cost <= 0) {
      free_sum += x.load;
      ++free_count;
      continue;
    }
    sum += x.load / x.route_cost;
    weights += 1.0 / x.route_cost;
  }
  if (free_count > 0) return free_sum / static_cast<double>(free_count);
  return sum / weights;
}

}  // namespace

std::vector<routing_table::subnet_route> routing_table::recompute(
    std::chrono::steady_clock::time_point now, std::chrono::system_clock::time_point wall) {
  // Expiry first: a node that stopped reporting stops getting new connections.
  const auto expiry = std::chrono::milliseconds(config_.expiry_ms);
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    if (now - it->second.received > expiry) it = nodes_.erase(it);
    else ++it;
  }

  // 9100: every virtual subnet some node has information for.
  std::set<subnet> nets;
  for (const auto& [name, state] : nodes_)
    for (const auto& e : state.loads) nets.insert(e.first);

  const int hour = local_hour(wall);
  decltype(listed_) listed;
  std::vector<subnet_route> table;
  table.reserve(nets.size());
  for (const subnet& net : nets) {
    subnet_route row;
    row.net = net;
    const policy::slr_function& f = function_for(net, hour);
    for (const auto& [name, state] : nodes_) {
      // The node's most specific advertised prefix that covers this subnet, if any.
      const std::pair<subnet, double>* best = nullptr;
      for (const auto& e : state.loads)
        if (e.first.covers(net) && (best == nullptr || e.first.length > best->first.length)) best = &e;
      if (best == nullptr) continue;  // s_kj undefined: not a candidate
      choice c;
      c.next_hop = state.next_hop;
      c.from = name;
      c.load = best->second;
      c.route_cost = route_cost(state.next_hop);  // 9200
      c.cost = cost_of(f, c.load, c.route_cost);  // 9300
      row.candidates.push_back(std::move(c));
    }
    std::sort(row.candidates.begin(), row.candidates.end(), [](const choice& x, const choice& y) {
      return x.cost != y.cost ? x.cost < y.cost : x.from < y.from;
    });

    row.aggregate = aggregate_of(config_.aggregate, row.candidates) + config_.aggregate_cost;  // 9320

    std::vector<double> raw(row.candidates.size(), 0.0);
    if (config_.selection == policy::slr_selection::lowest) {
      // The document's choice: the lowest cost; equal lowest costs split the connections.
      const double lowest = row.candidates.front().cost;
      for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = row.candidates[i].cost == lowest ? 1.0 : 0.0;
    } else {
      for (std::size_t i = 0; i < raw.size(); ++i)
        raw[i] = 1.0 / (config_.epsilon + std::max(row.candidates[i].cost, 0.0));
    }
    std::vector<std::uint32_t> weights = scale_weights(raw);
    std::vector<choice> kept;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      if (weights[i] == 0) continue;  // gets no new connection this interval
      row.candidates[i].weight = weights[i];
      kept.push_back(std::move(row.candidates[i]));
    }
    row.candidates = std::move(kept);
    for (auto& c : row.candidates) {
      auto key = std::make_pair(net, c.from);
      auto prev = listed_.find(key);
      c.load_since = prev != listed_.end() && prev->second.first == c.load ? prev->second.second : now;
      listed.emplace(std::move(key), std::make_pair(c.load, c.load_since));
    }
    table.push_back(std::move(row));
  }
  listed_ = std::move(listed);
  return table;
}

std::vector<std::pair<subnet, double>> upward(const std::vector<routing_table::subnet_route>& table) {
  std::vector<std::pair<subnet, double>> out;
  out.reserve(table.size());
  for (const auto& row : table)
    if (!row.candidates.empty()) out.emplace_back(row.net, row.aggregate);
  return out;
}

std::vector<double> expected_shares(const routing_table::subnet_route& route) {
  double total = 0;
  for (const auto& c : route.candidates) total += c.weight;
  std::vector<double> out;
  if (total <= 0) return out;
  for (const auto& c : route.candidates) out.push_back(c.weight / total);
  return out;
}

const routing_table::subnet_route* longest_match(const std::vector<routing_table::subnet_route>& table,
                                                 std::uint32_t address) noexcept {
  const routing_table::subnet_route* best = nullptr;
  for (const auto& row : table)
    if (row.net.contains(address) && (best == nullptr || row.net.length > best->net.length)) best = &row;
  return best;
}

}  // namespace baton::slr
