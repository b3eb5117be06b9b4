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

namespace {

void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}
void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
std::uint32_t get32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
std::uint16_t get16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

}  // namespace

std::vector<std::uint8_t> pack_flow_records(const flow_records& records) {
  std::vector<std::uint8_t> out;
  out.reserve(records.size() * packed_flow_record_size);
  records.for_each([&](const flow_record& r) {
    put32(out, r.key.src_addr);
    put32(out, r.key.dst_addr);
    put16(out, r.key.src_port);
    put16(out, r.key.dst_port);
    out.push_back(r.key.protocol);
    put32(out, r.next_hop);
    out.push_back(static_cast<std::uint8_t>(r.origin));
  });
  return out;
}

bool unpack_flow_records(const std::vector<std::uint8_t>& bytes, std::vector<flow_record>& out) {
  if (bytes.size() % packed_flow_record_size != 0) return false;
  std::vector<flow_record> read;
  read.reserve(bytes.size() / packed_flow_record_size);
  for (std::size_t at = 0; at < bytes.size(); at += packed_flow_record_size) {
    const std::uint8_t* p = bytes.data() + at;
    if (p[17] >= net::flow_origin_count) return false;
    flow_record r;
    r.key.src_addr = get32(p);
    r.key.dst_addr = get32(p + 4);
    r.key.src_port = get16(p + 8);
    r.key.dst_port = get16(p + 10);
    r.key.protocol = p[12];
    r.next_hop = get32(p + 13);
    r.origin = static_cast<net::flow_origin>(p[17]);
    read.push_back(r);
  }
  out.insert(out.end(), read.begin(), read.end());
  return true;
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
