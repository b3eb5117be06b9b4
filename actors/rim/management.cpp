// The rim's management object. See management.hpp.

#include "actors/rim/management.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace baton::rim {
namespace {

std::string pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", v);
  return buf;
}

}  // namespace

management_object::management_object(std::shared_ptr<const policy::policy> p) : policy_(std::move(p)) {}

time_ms management_object::stale_after() const { return 3 * static_cast<time_ms>(policy_->rim->manage.interval_ms); }
time_ms management_object::host_memory() const { return 20 * static_cast<time_ms>(policy_->rim->manage.interval_ms); }

void management_object::on_report(const protocol::rim_report& r, time_ms now) {
  auto& h = hosts_[r.host];
  h.seen = now;
  h.load_permille = r.load_permille;
  const std::uint64_t icmp = r.icmp_unreachable + r.icmp_time_exceeded + r.icmp_source_quench;
  h.icmp_new = h.has_icmp && icmp >= h.icmp_total ? icmp - h.icmp_total : 0;
  h.icmp_total = icmp;
  h.has_icmp = true;
  const auto& rules = policy_->rim->manage.rules;
  for (const auto& fr : r.flows) {
    const flow_id id{fr.flow.client_address, fr.flow.client_port, fr.flow.service_address, fr.flow.service_port};
    auto& f = flows_[id];
    f.seen = now;
    if (!f.watched && !rules.empty()) {
      policy::match_fields m;
      m.src = fr.flow.client_address;
      m.src_port = fr.flow.client_port;
      m.dst = fr.flow.service_address;
      m.dst_port = fr.flow.service_port;
      m.protocol = 6;
      f.profile = rules.match_profile(m);
      f.view.profile = policy_->profiles[f.profile].name;
      f.watched = true;
    }
    f.view.flow = fr.flow;
    f.view.rtt_us = fr.rtt_us;
    if (fr.moved_ms_ago != ~0u) f.last_move = std::max(f.last_move, now - static_cast<time_ms>(fr.moved_ms_ago));
    // A new sender (a hand-off) has a new socket; a new exit is a new path: start over.
    const bool same_path = f.baseline && f.view.sender == r.host && f.view.exit == fr.exit && f.view.via == fr.via &&
                           fr.segs_out >= f.last_segs && fr.retransmitted >= f.last_retrans;
    const std::uint64_t segs = same_path ? fr.segs_out - f.last_segs : 0;
    const std::uint64_t retrans = same_path ? fr.retransmitted - f.last_retrans : 0;
    if (!same_path) {
      f.view.bad_run = f.view.good_run = 0;
      f.noted = false;
    }
    f.view.sender = r.host;
    f.view.exit = fr.exit;
    f.view.via = fr.via;
    f.baseline = true;
    if (same_path && segs < min_segments) continue;  // idle this interval: not a sample
    f.last_segs = fr.segs_out;
    f.last_retrans = fr.retransmitted;
    if (!same_path) continue;
    const double loss = 100.0 * static_cast<double>(retrans) / static_cast<double>(segs);
    f.view.loss_pct = loss;
    const auto& reaction = policy_->profiles[f.profile].rim;
    const bool bad = loss > reaction.loss_pct || (fr.exit == 0 && h.icmp_new >= reaction.icmp_errors);
    if (bad) {
      ++f.view.bad_run;
      f.view.good_run = 0;
    } else {
      ++f.view.good_run;
      f.view.bad_run = 0;
      f.noted = false;
    }
    // The sample judges the host the segments left from.
    auto& path = hosts_[fr.exit ? fr.via : r.host];
    path.samples.push_back(loss);
    while (path.samples.size() > 4) path.samples.pop_front();
    path.sampled = now;
  }
}

double management_object::host_loss(std::uint32_t host, time_ms now) const {
  auto it = hosts_.find(host);
  if (it == hosts_.end() || it->second.samples.empty() || now - it->second.sampled > host_memory()) return -1;
  double sum = 0;
  for (double s : it->second.samples) sum += s;
  return sum / static_cast<double>(it->second.samples.size());
}

std::uint32_t management_object::best_host(const flow_state& f, const policy::rim_reaction& r,
                                           const std::vector<std::uint32_t>& available, std::uint32_t avoid,
                                           time_ms now) const {
  // Known good first (lowest loss), then unknown; lower load breaks ties, then the address.
  std::uint32_t best = 0;
  std::tuple<int, double, std::uint32_t, std::uint32_t> best_key{};
  for (std::uint32_t h : available) {
    if (h == avoid) continue;
    const double loss = host_loss(h, now);
    if (loss > r.loss_pct) continue;  // known bad
    auto it = hosts_.find(h);
    if (it == hosts_.end() || now - it->second.seen > stale_after()) continue;  // not reporting
    if (it->second.icmp_new >= r.icmp_errors) continue;
    const std::tuple<int, double, std::uint32_t, std::uint32_t> key{loss < 0 ? 1 : 0, loss < 0 ? 0 : loss,
                                                                    it->second.load_permille, h};
    if (best == 0 || key < best_key) {
      best = h;
      best_key = key;
    }
  }
  (void)f;
  return best;
}

std::vector<std::uint32_t> management_object::chain_of(const policy::rim_reaction& r,
                                                     const std::vector<std::uint32_t>& available,
                                                     std::string& why) const {
  std::vector<std::uint32_t> out;
  for (const auto& name : r.chain) {
    std::uint32_t address = name == policy_->identity.name ? policy_->identity.address : 0;
    for (const auto& p : policy_->peers)
      if (p.name == name) address = p.at.address;
    if (address == 0 || std::find(available.begin(), available.end(), address) == available.end()) {
      why = "chain host " + name + " is not reachable now";
      return {};
    }
    out.push_back(address);
  }
  return out;
}

std::vector<decision> management_object::decide(const std::vector<std::uint32_t>& available, time_ms now) {
  std::vector<decision> out;
  for (auto it = flows_.begin(); it != flows_.end();) {
    if (now - it->second.seen > stale_after() && !it->second.view.pending) {
      it = flows_.erase(it);  // ended, or its host stopped reporting
      continue;
    }
    auto& f = it->second;
    ++it;
    if (!f.watched || f.view.pending) continue;
    const auto& r = policy_->profiles[f.profile].rim;
    if (r.on_loss == policy::rim_move::stay || now - f.last_move < r.dwell_ms) continue;
    const std::uint32_t path_host = f.view.exit ? f.view.via : f.view.sender;
    decision d;
    d.flow = f.view.flow;
    d.sender = f.view.sender;
    if (r.on_loss == policy::rim_move::handoff && f.view.exit == 1 && f.view.good_run >= r.samples) {
      d.move = policy::rim_move::handoff;
      d.target = f.view.via;
      if (!r.chain.empty()) {
        // Through a chain, the last host sends the segments: it takes the connection.
        std::string why;
        const auto chain = chain_of(r, available, why);
        if (chain.empty()) continue;
        d.target = chain.back();
      }
      d.reason = "masqueraded via " + policy::format_ipv4(f.view.via) + " with " + pct(f.view.loss_pct) +
                 " retransmitted for " + std::to_string(f.view.good_run) + " reports: hand the connection to " +
                 (r.chain.empty() ? std::string("it") : "the chain's last host " + policy::format_ipv4(d.target));
    } else if (f.view.bad_run >= r.samples && !r.chain.empty()) {
      std::string why;
      d.chain = chain_of(r, available, why);
      const std::string bad = pct(f.view.loss_pct) + " retransmitted (above " + pct(r.loss_pct) + ") for " +
                              std::to_string(f.view.bad_run) + " reports on the path from " +
                              policy::format_ipv4(path_host);
      if (d.chain.empty() || f.view.exit != 0) {
        // Already through the chain (and still bad), or the chain is broken: say so once.
        if (!f.noted)
          notes_.push_back({f.view.flow, bad + (d.chain.empty() ? "; " + why : "; already through its chain")});
        f.noted = true;
        continue;
      }
      d.move = r.on_loss == policy::rim_move::funnel ? policy::rim_move::funnel : policy::rim_move::masquerade;
      d.target = d.chain.back();
      std::string hops;
      for (auto h : d.chain) hops += (hops.empty() ? "" : " -> ") + policy::format_ipv4(h);
      d.reason = bad + ": " + (d.move == policy::rim_move::funnel ? "funnel-cast" : "masquerade") +
                 " through the profile's chain " + hops;
    } else if (f.view.bad_run >= r.samples) {
      const std::uint32_t to = best_host(f, r, available, path_host, now);
      const std::string why = pct(f.view.loss_pct) + " retransmitted (above " + pct(r.loss_pct) + ") for " +
                              std::to_string(f.view.bad_run) + " reports on the path from " +
                              policy::format_ipv4(path_host);
      if (to == 0) {
        if (!f.noted) notes_.push_back({f.view.flow, why + "; no better rim host to move it to"});
        f.noted = true;
        continue;
      }
      if (to == f.view.sender) {
        d.move = policy::rim_move::stay;
        d.reason = why + ": send it directly again";
      } else {
        d.move = r.on_loss == policy::rim_move::funnel ? policy::rim_move::funnel : policy::rim_move::masquerade;
        d.reason = why + ": " + (d.move == policy::rim_move::funnel ? "funnel-cast" : "masquerade") + " via " +
                   policy::format_ipv4(to);
      }
      d.target = to;
    } else {
      continue;
    }
    f.view.pending = true;
    f.last_move = now;
    f.view.bad_run = f.view.good_run = 0;
    out.push_back(std::move(d));
  }
  return out;
}

void management_object::done(const decision& d, bool, time_ms now) {
  const flow_id id{d.flow.client_address, d.flow.client_port, d.flow.service_address, d.flow.service_port};
  auto it = flows_.find(id);
  if (it == flows_.end()) return;
  it->second.view.pending = false;
  it->second.last_move = now;  // a failed move waits the dwell too, instead of retrying at once
  it->second.baseline = false;
}

std::vector<management_note> management_object::notes() { return std::exchange(notes_, {}); }

std::vector<management_object::flow_view> management_object::flows() const {
  std::vector<flow_view> out;
  for (auto& [id, f] : flows_) out.push_back(f.view);
  return out;
}

std::vector<management_object::host_view> management_object::hosts(time_ms now) const {
  std::vector<host_view> out;
  for (auto& [address, h] : hosts_) out.push_back({address, host_loss(address, now), h.load_permille, h.icmp_new});
  return out;
}

}  // namespace baton::rim
