#pragma once
// The SLR's own record of the flows it routed (control plane, next to the data path's flow
// table): what it needs to re-create a lost data-path entry (document 001's first recovery case),
// to answer a neighbour's WHOHAS, and to pass a shortcut to the SLR a flow came from.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
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

/// What changed in a flow_records since its changes were last taken (a hot spare's delta).
struct flow_changes {
  std::vector<flow_record> recorded;   // new or updated, as they are now
  std::vector<net::flow_key> removed;  // expired or dropped for room
  bool cleared = false;                // clear() was called: only a checkpoint says it
  bool empty() const noexcept { return recorded.empty() && removed.empty() && !cleared; }
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
  /// Forgets the record of `key`; false if there was none.
  bool erase(const net::flow_key& key);
  /// Drops records older than the ttl; returns how many.
  std::size_t expire(std::chrono::steady_clock::time_point now);
  void clear();
  /// Calls f(const flow_record&) for every record.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [k, r] : records_) f(r);
  }
  std::size_t size() const noexcept { return records_.size(); }

  /// Change tracking for replication: while on, the keys recorded, expired, dropped for room and
  /// a clear() are remembered until take_changes(). Turning it on or off forgets what was
  /// remembered (on: the caller sends a checkpoint first).
  void track_changes(bool on);
  bool tracking() const noexcept { return tracking_; }
  /// The changes since the last call (or since tracking started), and forgets them.
  flow_changes take_changes();

 private:
  void removed(const net::flow_key& k);

  std::size_t capacity_;
  std::chrono::seconds ttl_;
  std::unordered_map<net::flow_key, flow_record, net::flow_key_hash> records_;
  bool tracking_ = false;
  bool cleared_ = false;
  std::unordered_set<net::flow_key, net::flow_key_hash> changed_, removed_;
};

// A hot spare's copy of the records, replicated through the group as the SLR unit's state
// (actors/group/replication.hpp): a checkpoint when the SLR becomes active or the group asks for
// one, then a delta per replication round with the records new or changed and the keys removed.
// Blob layout (network byte order):
//   kind(1): 'C' checkpoint (the whole table: the copy is replaced) or 'D' delta
//   removals(4), records(4): counts; the blob is exactly as long as they say
//   removals: keys of 13 bytes: client address, virtual address, client port, virtual port,
//             protocol
//   records: 18 bytes each: the key (13), next hop(4), origin(1)
// Previous hops are not carried (the spare's own traffic fills them).
inline constexpr std::uint8_t records_checkpoint = 'C';
inline constexpr std::uint8_t records_delta = 'D';
inline constexpr std::size_t records_blob_header_size = 9;
inline constexpr std::size_t packed_flow_key_size = 13;
inline constexpr std::size_t packed_flow_record_size = 18;

/// Every record of `records`, as a checkpoint blob.
std::vector<std::uint8_t> encode_records_checkpoint(const flow_records& records);
/// `changes` as a delta blob (removals first; `changes.cleared` is not expressible: send a
/// checkpoint instead).
std::vector<std::uint8_t> encode_records_delta(const flow_changes& changes);

/// What applying a blob did.
struct records_applied {
  bool ok = false;  // false: malformed (too short, unknown kind, a length other than the
                    // counts say, an origin out of range); nothing was changed
  bool checkpoint = false;
  std::size_t recorded = 0, removed = 0;
};
/// Applies a checkpoint or delta blob to `into` (a checkpoint clears it first); records get
/// `now` as their time and prev_hop 0. The bytes are untrusted: validated whole before any change.
records_applied apply_records_blob(const std::vector<std::uint8_t>& blob, flow_records& into,
                                   std::chrono::steady_clock::time_point now);

/// Between the data path's flow key (client -> virtual host) and the protocol's flow classifier.
protocol::slr_flow to_protocol(const net::flow_key& k) noexcept;
net::flow_key to_key(const protocol::slr_flow& f) noexcept;
/// "10.60.0.2:40000 -> 10.200.1.1:80/6", for logs.
std::string to_string(const net::flow_key& k);

}  // namespace baton::slr
