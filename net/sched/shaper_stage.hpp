#pragma once
// Bandwidth shares per virtual host on one access link (document 001: "allocate 20% of its access
// bandwidth ... for serving web traffic of client X, 30% for serving audio streams of client Y";
// datagrams in the reverse direction carry the virtual host address as source, so they aggregate
// into one queue per virtual host at the access router, and each queue gets its share).
//
// The shaper is a packet-loop stage for ONE output port. Per datagram bound for that port
// (process(), on the loop thread):
//   classify by source address, longest prefix first, over the class table (replaced whole by
//   control code through a table_slot); no match -> the default class;
//   enqueue in the class's start-time fair queue (sfq.hpp) and return verdict::consume;
//   a full class queue is a tail drop: verdict::drop(policy), counted per class.
// Release (pump(now), on the loop thread, every turn): while the link's token bucket (rate, burst)
// lets the next packet of the fair queue through, dequeue it and send it on the output port; the
// buffer goes back to the pool after the send.
//
// Which datagrams are "bound for the port": the shaper may wrap the stage that routes (given as
// `route` at construction, e.g. the pass-through stage). It runs that stage first and takes
// only the datagrams it forwards to the shaped port; every other verdict passes through unchanged.
// Without a `route`, every datagram that reaches the shaper is taken for the shaped port.
//
// Emitting: the shaper holds a reference to the output port (which the packet loop owns and which
// must outlive the shaper, as it does when both belong to one loop) and calls its send_batch()
// itself, one batch per pump (so one sendmmsg for up to 64 datagrams), then releases the buffers
// to the pool. Those sends are counted by the port (port_stats.tx_*), here (per class sent,
// tx_errors), and by the packet loop, which adds what pump() returns to its tx_packets.
//
// Driving it: the packet loop (or whoever owns it) must call pump() every turn on the loop thread,
// whether or not anything arrived, and must not sleep longer than next_pump_ns() while datagrams
// are queued; otherwise the link idles below its rate. The burst must cover the longest gap between
// two pumps (20 Mbit/s with pumps at most 5 ms apart: 12.5 kB).
//
// Rates count IP datagram bytes (what the loop sees), not link-layer framing.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "net/io/clock.hpp"  // steady_clock_ns(): the time base pump() expects
#include "net/io/packet_buffer.hpp"
#include "net/io/packet_port.hpp"
#include "net/io/stage.hpp"
#include "net/io/table_slot.hpp"
#include "net/sched/sfq.hpp"
#include "net/sched/token_bucket.hpp"

namespace baton::net {

/// An IPv4 prefix, host byte order; the mask must be contiguous (a /len).
struct source_prefix {
  std::uint32_t address = 0;
  std::uint32_t mask = 0;
};

/// One class of the policy's "shaping" section: {"name", "source", "share"}.
struct shaping_class {
  std::string name;
  source_prefix source;    // datagrams whose source address is in it belong to the class
  std::uint32_t share = 1; // weight; shares are relative (20 and 30 split the link 2:3)
};

/// The policy's "shaping" section, field for field:
/// {"interface", "rate_mbit", "burst_kbyte", "classes": [{"name", "source", "share"}],
///  "default_share"}, plus queue_packets (not in the policy; a per-class limit).
struct shaping_config {
  std::string interface;          // the shaped output port's name
  double rate_mbit = 0;           // link rate in 10^6 bit/s (of IP datagrams)
  double burst_kbyte = 0;         // bucket depth in 1000 bytes; raised to the port's MTU if below
  std::vector<shaping_class> classes;
  std::uint32_t default_share = 1;  // weight of the default class (sources no class matches)
  std::size_t queue_packets = 128;  // packets each class queues before tail drop
};

/// Link rate and burst in bytes, as the shaper uses them: rate_mbit * 125000 and
/// burst_kbyte * 1000 rounded, the burst at least `mtu`. Throws std::invalid_argument when the
/// rate is not positive or too large (token_bucket::max_rate).
struct link_budget {
  std::uint64_t rate_bytes_per_s = 0;
  std::uint64_t burst_bytes = 0;
};
link_budget link_budget_of(const shaping_config& config, std::size_t mtu);

/// One class's counters for /counters. The default class is named "default".
struct shaper_class_stats {
  std::string name;
  std::uint32_t share = 0;
  sfq_class_stats counters;  // enqueued / sent / dropped (tail drops), packets and bytes
};

struct shaper_stats {
  std::string interface;
  std::uint64_t rate_bytes_per_s = 0;
  std::uint64_t burst_bytes = 0;
  std::uint64_t oversize = 0;   // datagrams larger than the port's MTU (dropped as oversize)
  std::uint64_t tx_errors = 0;  // datagrams the port did not take from pump()
  std::vector<shaper_class_stats> classes;  // the default class first, then the policy's order
};

/// The class table the loop reads (built by the shaper from a shaping_config).
struct shaper_table {
  struct entry {
    std::uint32_t network = 0;
    std::uint32_t slot = 0;
  };
  std::uint64_t generation = 0;
  link_budget budget;
  std::vector<std::uint32_t> weights;  // by class slot; slot 0 is the default class
  std::vector<std::uint8_t> lengths;   // prefix lengths present, longest first
  std::vector<std::vector<entry>> by_length;  // [len]: networks of that length, sorted

  /// The slot of the longest prefix containing `src`; 0 (default) when none does.
  std::uint32_t classify(std::uint32_t src) const noexcept;
};

class shaper_stage final : public stage {
 public:
  /// A shaper for `out`, whose buffers come from and go back to `pool`, reading its class table
  /// through `epoch` (the loop's); `out`, `pool` and `epoch` must outlive it. The bucket starts
  /// full at `now_ns`. `route`: the stage deciding where datagrams go (owned), or null (see above).
  /// `class_capacity`: classes the fair queue is built for, default class included; 0 means
  /// max(64, classes + 1). Reloads may not exceed it. The total queued is capped at half the
  /// pool, so queues cannot starve the ports' receive. Throws std::invalid_argument for a bad
  /// config (zero share, duplicate name or prefix, mask not contiguous, bad rate),
  /// std::bad_alloc.
  shaper_stage(const reader_epoch& epoch, buffer_pool& pool, packet_port& out,
               const shaping_config& config, std::uint64_t now_ns = steady_clock_ns(),
               std::unique_ptr<stage> route = nullptr, std::size_t class_capacity = 0);
  /// Gives every queued buffer back to the pool.
  ~shaper_stage() override;

  /// Control thread: applies a reloaded config (classes, shares, rate, burst). Classes keep their
  /// counters and queue by name. Returns once the loop no longer uses the old table; new shares
  /// apply from the next datagram, a new rate from the pump after it. Throws
  /// std::invalid_argument like the constructor, std::length_error when more classes have been
  /// named since start than class_capacity - 1 (needs a restart); the old config stays then.
  void publish(const shaping_config& config);

  const char* name() const noexcept override { return "shaper"; }
  /// Datagrams bound for the shaped port: consume (queued), drop(policy) on a full queue,
  /// drop(oversize) above the port's MTU. Others: the route stage's verdict.
  verdict process(packet_context& ctx) noexcept override;

  /// Loop thread: sends every queued datagram the token bucket lets through at `now_ns`
  /// (steady_clock_ns() time base) on the output port, in start-tag order. Returns how many the
  /// port took. Never blocks or allocates.
  std::size_t pump(std::uint64_t now_ns) noexcept override;
  /// Loop thread: nanoseconds from `now_ns` until pump() can send the next queued datagram
  /// (0: now), or UINT64_MAX when nothing is queued. The loop's longest sleep while this is finite.
  std::uint64_t next_pump_ns(std::uint64_t now_ns) noexcept override;

  /// Datagrams queued now (loop thread).
  std::size_t backlog() const noexcept { return queue_.backlog(); }
  /// The shaped port.
  port_id out_port() const noexcept { return out_.id(); }
  /// The wrapped route stage, or null (so control code can still publish its tables).
  stage* route() noexcept { return route_.get(); }

  /// Counters, from any thread.
  shaper_stats stats() const;

 private:
  std::unique_ptr<const shaper_table> build(const shaping_config& config);
  void apply(const shaper_table& t) noexcept;
  std::size_t send(packet_batch& batch) noexcept;

  buffer_pool& pool_;
  packet_port& out_;
  std::unique_ptr<stage> route_;
  sfq queue_;
  token_bucket bucket_;

  // Loop thread only.
  std::uint64_t applied_generation_ = 0;
  link_budget pending_budget_{};  // set by apply(), taken by the next pump()
  bool budget_pending_ = false;

  // Control side: names and shares by slot, for stats() and for keeping slots by name.
  mutable std::mutex control_;
  std::string interface_;
  std::vector<std::string> slot_names_;  // "" = never used; slot 0 is "default"
  std::vector<std::uint32_t> live_slots_;  // the current config's classes, default first
  std::vector<std::uint32_t> shares_;      // by slot, current config
  link_budget budget_{};
  std::uint64_t generation_ = 0;

  std::atomic<std::uint64_t> oversize_{0}, tx_errors_{0};

  table_slot<shaper_table> table_;  // last: built in the constructor body from the config
};

}  // namespace baton::net
