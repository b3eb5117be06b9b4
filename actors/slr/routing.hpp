#pragma once
// Document 001, Figure 9: the service level router's tunnel routing table, as plain C++ so the
// SLR actor only moves messages and the tests drive it with chosen times.
//
// Every lower-level node (an SLR one level down, or a host agent) reports its state: the virtual
// subnets it serves and a load index s for each. Periodically the SLR recomputes its table:
//   9100  list the loads s_kj per virtual subnet k from every node j whose state has not expired;
//   9200  combine them with the route cost r_j of reaching node j (policy route_costs, default 1);
//   9300  cost m_kj = F(s_kj, r_j) for every candidate, and from the costs the weights the data
//         path uses for new connections (selection "lowest": all to the lowest cost; "spread":
//         shares proportional to 1 / (epsilon + m));
//   9310/9320  M_k = G(s_k1..s_kJ, r_1..r_J) per subnet, which this SLR reports one level up.
//
// Overlapping subnets: a node that advertises 10.200.0.0/16 also serves every address of
// 10.200.1.0/24, so it is a candidate for a /24 entry advertised by another node too (with the
// load of its most specific advertised prefix that covers the entry). The data path picks the
// entry by longest prefix match (longest_match below).

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "policy/policy.hpp"

namespace baton::slr {

/// A virtual subnet (host byte order); the policy's type, so the section feeds the table as is.
using subnet = policy::virtual_subnet;

/// One lower-level node's state update: who (its name, as authenticated by the hello), its
/// tunnel address (where the data path tunnels its connections) and the load per virtual subnet.
struct advertisement {
  std::string from;
  std::uint32_t next_hop = 0;
  std::vector<std::pair<subnet, double>> loads;
};

/// The weights of one subnet's candidates add up to this (the data path's weighted rendezvous
/// hash then sends that many ten-thousandths of the new connections to each).
inline constexpr std::uint32_t weight_total = 10000;

class routing_table {
 public:
  /// Copies what it needs from `config` (F, time-of-day rules, selection, epsilon, G and
  /// aggregate_cost, route costs, expiry). Never throws except std::bad_alloc.
  explicit routing_table(const policy::slr_section& config);

  /// Applies a changed policy (reload); the nodes' states are kept.
  void reconfigure(const policy::slr_section& config);

  /// Step 9100's input: replaces `a.from`'s previous state with `a`, received at `now`.
  /// Entries with a non-finite load or a prefix length above 32 are ignored, as is a repeated
  /// subnet within one advertisement (the first counts); host bits past the length are cleared.
  /// Returns the number of entries ignored, for the caller to log and count.
  std::size_t update(const advertisement& a, std::chrono::steady_clock::time_point now);

  /// Node `from` is gone (link lost, hello refused): its state is dropped at once.
  void forget(const std::string& from);

  /// One candidate next hop of a subnet.
  struct choice {
    std::uint32_t next_hop = 0;  // tunnel address of the lower node
    std::string from;            // its name
    double cost = 0;             // m = F(s, r)
    std::uint32_t weight = 0;    // share of new connections, out of weight_total; always > 0
    double load = 0;             // s
    double route_cost = 1;       // r
    /// When this table first listed this candidate for this subnet with this load (the
    /// recompute's `now`): how long a load change took to reach this level, measured here.
    std::chrono::steady_clock::time_point load_since;
  };
  /// One row of the table.
  struct subnet_route {
    subnet net;
    std::vector<choice> candidates;  // those that get new connections, lowest cost first
    double aggregate = 0;            // M_k = G(...) + aggregate_cost
  };

  /// Steps 9100-9300 and 9310/9320 at steady time `now` and wall-clock time `wall` (its local
  /// hour picks the time-of-day rule). First drops every state older than the expiry (a stopped
  /// node therefore gets no new connection once its last state expires). Returns one row per
  /// virtual subnet some live node advertises, ordered by subnet; a node that advertised no
  /// prefix covering a subnet is not among its candidates. Weights of a row sum to weight_total.
  std::vector<subnet_route> recompute(std::chrono::steady_clock::time_point now,
                                      std::chrono::system_clock::time_point wall);

  /// The F that applies to `net` at local hour `hour` (0..23): the first time-of-day rule whose
  /// hours contain `hour` and whose subnet (if any) covers `net`, else the default function.
  /// The reference lives as long as this table is not reconfigured.
  const policy::slr_function& function_for(const subnet& net, int hour) const noexcept;

  /// r for tunnel address `next_hop`: the policy's route cost, or 1.
  double route_cost(std::uint32_t next_hop) const noexcept;

  /// Number of nodes with a state (expired ones are dropped by recompute only).
  std::size_t node_count() const noexcept { return nodes_.size(); }

 private:
  struct node_state {
    std::uint32_t next_hop = 0;
    std::vector<std::pair<subnet, double>> loads;  // sorted by subnet
    std::chrono::steady_clock::time_point received;
  };
  policy::slr_section config_;
  std::map<std::string, node_state> nodes_;  // by name: deterministic order
  /// What the last recompute listed: (subnet, node) -> (load, since when).
  std::map<std::pair<subnet, std::string>, std::pair<double, std::chrono::steady_clock::time_point>>
      listed_;
};

/// F: m = F(s, r) for function `f`.
double cost_of(const policy::slr_function& f, double load, double route_cost) noexcept;

/// Whether local hour `hour` (0..23) lies in rule `r`'s hours [from, to) (wrapping past midnight).
bool hours_contain(const policy::slr_time_rule& r, int hour) noexcept;

/// The local (time zone of the process) hour of `wall`, 0..23.
int local_hour(std::chrono::system_clock::time_point wall) noexcept;

/// What this SLR advertises one level up: every subnet of `table` with its M_k.
std::vector<std::pair<subnet, double>> upward(const std::vector<routing_table::subnet_route>& table);

/// The fraction of new connections each candidate of `route` is meant to get (weight / total),
/// in candidate order; empty for a route without candidates.
std::vector<double> expected_shares(const routing_table::subnet_route& route);

/// The row whose subnet contains `address` with the longest prefix, or nullptr. Points into
/// `table`.
const routing_table::subnet_route* longest_match(const std::vector<routing_table::subnet_route>& table,
                                                 std::uint32_t address) noexcept;

}  // namespace baton::slr
