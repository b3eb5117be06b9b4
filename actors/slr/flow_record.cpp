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
      for (std::size_t i = 0; i < n; ++i) {
        records_.erase(ages[i].second);
        removed(ages[i].second);
      }
    }
    it = records_.emplace(key, flow_record{key, next_hop, prev_hop, origin, now}).first;
    if (tracking_) {
      changed_.insert(key);
      removed_.erase(key);
    }
    return it->second;
  }
  if (tracking_ && (it->second.next_hop != next_hop || it->second.origin != origin))
    changed_.insert(key);  // what the copy carries changed
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

bool flow_records::erase(const net::flow_key& key) {
  if (records_.erase(key) == 0) return false;
  removed(key);
  return true;
}

std::size_t flow_records::expire(std::chrono::steady_clock::time_point now) {
  std::size_t n = 0;
  for (auto it = records_.begin(); it != records_.end();) {
    if (now - it->second.recorded > ttl_) {
      removed(it->first);
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

void flow_records::removed(const net::flow_key& k) {
  if (!tracking_) return;
  changed_.erase(k);
  removed_.insert(k);
}

void flow_records::clear() {
  records_.clear();
  if (!tracking_) return;
  changed_.clear();
  removed_.clear();
  cleared_ = true;
}

void flow_records::track_changes(bool on) {
  tracking_ = on;
  cleared_ = false;
  changed_.clear();
  removed_.clear();
}

flow_changes flow_records::take_changes() {
  flow_changes c;
  c.cleared = cleared_;
  c.recorded.reserve(changed_.size());
  for (const auto& k : changed_)
    if (auto it = records_.find(k); it != records_.end()) c.recorded.push_back(it->second);
  c.removed.assign(removed_.begin(), removed_.end());
  cleared_ = false;
  changed_.clear();
  removed_.clear();
  return c;
}

namespace {

void put_key(std::vector<std::uint8_t>& out, const net::flow_key& k) {
  put32(out, k.src_addr);
  put32(out, k.dst_addr);
  put16(out, k.src_port);
  put16(out, k.dst_port);
  out.push_back(k.protocol);
}
net::flow_key get_key(const std::uint8_t* p) {
  net::flow_key k;
  k.src_addr = get32(p);
  k.dst_addr = get32(p + 4);
  k.src_port = get16(p + 8);
  k.dst_port = get16(p + 10);
  k.protocol = p[12];
  return k;
}
void put_record(std::vector<std::uint8_t>& out, const flow_record& r) {
  put_key(out, r.key);
  put32(out, r.next_hop);
  out.push_back(static_cast<std::uint8_t>(r.origin));
}
void put_header(std::vector<std::uint8_t>& out, std::uint8_t kind, std::size_t removals,
                std::size_t records) {
  out.push_back(kind);
  put32(out, static_cast<std::uint32_t>(removals));
  put32(out, static_cast<std::uint32_t>(records));
}

}  // namespace

std::vector<std::uint8_t> encode_records_checkpoint(const flow_records& records) {
  std::vector<std::uint8_t> out;
  out.reserve(records_blob_header_size + records.size() * packed_flow_record_size);
  put_header(out, records_checkpoint, 0, records.size());
  records.for_each([&](const flow_record& r) { put_record(out, r); });
  return out;
}

std::vector<std::uint8_t> encode_records_delta(const flow_changes& changes) {
  std::vector<std::uint8_t> out;
  out.reserve(records_blob_header_size + changes.removed.size() * packed_flow_key_size +
              changes.recorded.size() * packed_flow_record_size);
  put_header(out, records_delta, changes.removed.size(), changes.recorded.size());
  for (const auto& k : changes.removed) put_key(out, k);
  for (const auto& r : changes.recorded) put_record(out, r);
  return out;
}

records_applied apply_records_blob(const std::vector<std::uint8_t>& blob, flow_records& into,
                                   std::chrono::steady_clock::time_point now) {
  records_applied a;
  if (blob.size() < records_blob_header_size) return a;
  const std::uint8_t kind = blob[0];
  if (kind != records_checkpoint && kind != records_delta) return a;
  const std::uint64_t removals = get32(blob.data() + 1);
  const std::uint64_t records = get32(blob.data() + 5);
  if (records_blob_header_size + removals * packed_flow_key_size +
          records * packed_flow_record_size != blob.size())
    return a;
  const std::size_t records_at =
      records_blob_header_size + static_cast<std::size_t>(removals) * packed_flow_key_size;
  for (std::size_t at = records_at; at < blob.size(); at += packed_flow_record_size)
    if (blob[at + 17] >= net::flow_origin_count) return a;
  // Valid: apply.
  a.ok = true;
  a.checkpoint = kind == records_checkpoint;
  if (a.checkpoint) into.clear();
  for (std::size_t i = 0; i < removals; ++i) {
    const auto k = get_key(blob.data() + records_blob_header_size + i * packed_flow_key_size);
    if (into.erase(k)) ++a.removed;
  }
  for (std::size_t at = records_at; at < blob.size(); at += packed_flow_record_size) {
    const std::uint8_t* p = blob.data() + at;
    into.record(get_key(p), get32(p + 13), 0, static_cast<net::flow_origin>(p[17]), now);
    ++a.recorded;
  }
  return a;
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
