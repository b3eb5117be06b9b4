#pragma once
// The SLR's own record of the flows it routed (control plane, next to the data path's flow
// table): what it needs to re-create a lost data-path entry (document 001's first recovery case),
// to answer a neighbour's WHOHAS, and to pass a shortcut to the SLR a flow came from.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/protocol/slr.hpp"
#include "net/flow/flow_key.hpp"
#include "net/slr/slr_stage.hpp"

namespace baton::slr {

struct flow_record {
  net::flow_key key;
  std::uint32_t next_hop = 0;  // tunnel termination point
  std::uint32_t prev_hop = 0;  // the SLR that tunneled the flow to us; 0 from the TUN
  net::flow_origin origin = net::flow_origin::chosen;
  std::chrono::steady_clock::time_point recorded{};
};

class flow_records {
 public:
  /// Keeps at most `capacity` records (the data path's flow capacity); idle ones go after `ttl`.
  explicit flow_records(std::size_t capacity = 65536,
                        std::chrono::seconds ttl = std::chrono::seconds(900))
      : capacity_(capacity), ttl_(ttl) {}

  /// Records (or updates) a flow and returns its record. A prev_hop of 0 keeps the known one.
  /// When full, the oldest records are dropped first (a sweep of the whole map, rare).
  flow_record& record(const net::flow_key& key, std::uint32_t next_hop, std::uint32_t prev_hop,
                      net::flow_origin origin, std::chrono::steady_clock::time_point now);
  /// The record of `key`, or nullptr (valid until the next record/expire/clear).
  flow_record* find(const net::flow_key& key);
  /// Drops records older than the ttl; returns how many.
  std::size_t expire(std::chrono::steady_clock::time_point now);
  void clear() { records_.clear(); }
  /// Calls f(const flow_record&) for every record.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [k, r] : records_) f(r);
  }
  std::size_t size() const noexcept { return records_.size(); }

 private:
  std::size_t capacity_;
  std::chrono::seconds ttl_;
  std::unordered_map<net::flow_key, flow_record, net::flow_key_hash> records_;
};

/// A hot spare's copy of the records (the group replicates it as the SLR unit's state): 18 bytes
/// a record, network byte order: client address, virtual address, client port, virtual port,
/// protocol, next hop, origin. Previous hops are not carried (the spare's own traffic fills them).
std::vector<std::uint8_t> pack_flow_records(const flow_records& records);
/// Reads pack_flow_records() output into `out` (appended); false, with `out` unchanged, when the
/// length is not a whole number of records or an origin is out of range.
bool unpack_flow_records(const std::vector<std::uint8_t>& bytes, std::vector<flow_record>& out);
inline constexpr std::size_t packed_flow_record_size = 18;

/// Between the data path's flow key (client -> virtual host) and the protocol's flow classifier.
protocol::slr_flow to_protocol(const net::flow_key& k) noexcept;
net::flow_key to_key(const protocol::slr_flow& f) noexcept;
/// "10.60.0.2:40000 -> 10.200.1.1:80/6", for logs.
std::string to_string(const net::flow_key& k);

}  // namespace baton::slr
