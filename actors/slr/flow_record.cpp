#include "actors/slr/flow_record.hpp"

#include <algorithm>
#include <vector>

#include "policy/rules.hpp"

namespace baton::slr {

flow_record& flow_records::record(const net::flow_key& key, std::uint32_t next_hop,
                                  std::uint32_t prev_hop, net::flow_origin origin,
                                  std::chrono::steady_clock::time_point now) {
  auto it = records_.find(key);
  if (it == records_.end()) {
    if (records_.size() >= capacity_ && capacity_ > 0) {
      // Drop the oldest eighth at once, so a full map costs one sweep per capacity/8 flows.
      std::vector<std::pair<std::chrono::steady_clock::time_point, net::flow_key>> ages;
      ages.reserve(records_.size());
      for (auto& [k, r] : records_) ages.emplace_back(r.recorded, k);
      const auto n = std::max<std::size_t>(1, ages.size() / 8);
      std::nth_element(ages.begin(), ages.begin() + static_cast<std::ptrdiff_t>(n - 1), ages.end(),
                       [](auto& a, auto& b) { return a.first < b.first; });
      for (std::size_t i = 0; i < n; ++i) records_.erase(ages[i].second);
    }
    it = records_.emplace(key, flow_record{key, next_hop, prev_hop, origin, now}).first;
    return it->second;
  }
  auto& r = it->second;
  r.next_hop = next_hop;
  if (prev_hop) r.prev_hop = prev_hop;
  r.origin = origin;
  r.recorded = now;
  return r;
}

flow_record* flow_records::find(const net::flow_key& key) {
  auto it = records_.find(key);
  return it == records_.end() ? nullptr : &it->second;
}

std::size_t flow_records::expire(std::chrono::steady_clock::time_point now) {
  std::size_t n = 0;
  for (auto it = records_.begin(); it != records_.end();) {
    if (now - it->second.recorded > ttl_) {
      it = records_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

protocol::slr_flow to_protocol(const net::flow_key& k) noexcept {
  return {k.src_addr, k.src_port, k.dst_addr, k.dst_port, k.protocol};
}

net::flow_key to_key(const protocol::slr_flow& f) noexcept {
  net::flow_key k;
  k.src_addr = f.client;
  k.src_port = f.client_port;
  k.dst_addr = f.virtual_address;
  k.dst_port = f.virtual_port;
  k.protocol = f.protocol;
  return k;
}

std::string to_string(const net::flow_key& k) {
  return policy::format_ipv4(k.src_addr) + ":" + std::to_string(k.src_port) + " -> " +
         policy::format_ipv4(k.dst_addr) + ":" + std::to_string(k.dst_port) + "/" +
         std::to_string(k.protocol);
}

}  // namespace baton::slr
