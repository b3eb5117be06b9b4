#pragma once
// The flow table: one entry per flow direction the packet loop tracks (work unit, protocol state,
// last-seen time, and one 32-bit slot for the caller: backend index, NAT id, tunnel id ...).
//
// Shape, and why:
// - Capacity fixed at construction; the slot array is allocated once and never grows, so the
//   packet loop never allocates. A full table refuses inserts (insert_status::full); the caller
//   counts that and decides (drop, pass without state).
// - Open addressing with Robin Hood linear probing: entries sit in one flat array (one slot is
//   half a cache line), and a miss stops as soon as it meets an entry closer to its home than the
//   probe is, so misses stay short even with the table 80% full.
// - Deletion by backward shift: the entries after an erased one move back a slot, so probe chains
//   stay valid without tombstones, and a table that churns for months does not fill up with them.
// - Time is passed in by the caller (milliseconds from any steady epoch); nothing here reads a
//   clock, so tests are deterministic. Expiry is an incremental sweep with bounded work per call.
//
// Not thread-safe: one thread (the packet loop) owns a table. Control actors hand it changes
// through the loop's command queue or build a new table and swap it (DESIGN §3).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "net/flow/flow_key.hpp"
#include "net/packet/ipv4.hpp"  // ip_protocol_tcp
#include "net/packet/tcp.hpp"   // tcp_flag_*: the flags byte the state functions read

namespace baton::net {

/// Protocol state of a flow, as far as the idle timeout needs it.
enum class flow_state : std::uint8_t {
  tcp_syn_seen,     // a SYN without ACK started it; not yet established
  tcp_established,  // data flowing (also: first packet seen mid-stream, e.g. after failover)
  tcp_closing,      // a FIN was seen
  tcp_closed,       // a RST was seen
  udp,
  other,            // any other protocol (ICMP, GRE, ESP, ...)
};
inline constexpr std::size_t flow_state_count = 6;

/// A short stable name ("tcp_syn_seen", "udp", ...). Never returns null.
const char* to_string(flow_state s) noexcept;

/// True if a datagram with this IP protocol and TCP flags byte (packet_fields::tcp_flags; ignored
/// for other protocols) may open a new flow, i.e. may be given a fresh choice (backend, next hop).
/// TCP: SYN set with ACK and RST clear, the first segment of a handshake (RFC 9293 §3.5); FIN,
/// PSH, URG, ECE and CWR are not looked at (a SYN with ECE|CWR is RFC 3168's ECN-setup SYN). Any
/// other TCP segment belongs to a connection already under way (one whose state may have been
/// lost in a failover). Every other protocol has no handshake: always true. Never throws.
constexpr bool opens_flow(std::uint8_t protocol, std::uint8_t tcp_flags) noexcept {
  if (protocol != ip_protocol_tcp) return true;
  return (tcp_flags & (tcp_flag_syn | tcp_flag_ack | tcp_flag_rst)) == tcp_flag_syn;
}

/// The state of a flow whose first packet has this protocol and TCP flags byte.
/// TCP: RST -> closed, FIN -> closing, opens_flow -> syn_seen, anything else -> established
/// (a member that takes over a flow mid-stream must treat it as live). UDP -> udp; else other.
flow_state initial_state(std::uint8_t protocol, std::uint8_t tcp_flags) noexcept;

/// The state after one more packet with `tcp_flags` (ignored for udp/other, which never change).
/// RST -> closed; an opens_flow segment in closing/closed -> syn_seen (the 4-tuple is being reused
/// by a new connection); FIN -> closing; ACK without SYN in syn_seen -> established.
flow_state next_state(flow_state s, std::uint8_t tcp_flags) noexcept;

/// Idle timeout per state: a flow not seen for this long is removed by the sweep.
/// Each must be between 1 ms and 2^31 - 1 ms (24.8 days) because last-seen times are stored as
/// milliseconds modulo 2^32. Defaults follow what load balancers commonly use (IPVS: 15 min
/// established, 2 min FIN, 5 min UDP).
struct flow_timeouts {
  std::chrono::milliseconds tcp_syn_seen{30'000};
  std::chrono::milliseconds tcp_established{900'000};
  std::chrono::milliseconds tcp_closing{120'000};
  std::chrono::milliseconds tcp_closed{10'000};
  std::chrono::milliseconds udp{300'000};
  std::chrono::milliseconds other{60'000};

  /// The timeout of state `s`.
  std::chrono::milliseconds of(flow_state s) const noexcept;
};

/// The per-entry value: 12 bytes.
struct flow_value {
  std::uint32_t user = 0;       // the caller's slot: backend index, NAT id, ... (opaque here)
  std::uint32_t last_seen = 0;  // milliseconds modulo 2^32 (flow_stamp(now)); compared wrapping
  std::uint16_t work_unit = 0;  // the unit the flow hashed to (work_unit_hasher)
  flow_state state = flow_state::other;
  std::uint8_t flags = 0;       // the caller's bits (e.g. replicated, handed off); opaque here
};
static_assert(sizeof(flow_value) == 12);

/// `now` in the table's compact unit: milliseconds modulo 2^32.
constexpr std::uint32_t flow_stamp(std::chrono::milliseconds now) noexcept {
  return static_cast<std::uint32_t>(now.count());
}

/// The value of a new flow whose first packet has this protocol and TCP flags byte.
flow_value make_flow_value(std::uint8_t protocol, std::uint8_t tcp_flags, std::uint32_t work_unit,
                           std::chrono::milliseconds now, std::uint32_t user = 0) noexcept;

/// Records one more packet of the flow: last_seen = now, state = next_state(state, tcp_flags).
void touch(flow_value& v, std::chrono::milliseconds now, std::uint8_t tcp_flags) noexcept;

enum class insert_status : std::uint8_t {
  inserted,  // the key was new; the value was stored
  exists,    // the key was already there; its value was left unchanged
  full,      // the table holds capacity() entries; nothing was stored
};

struct insert_result {
  insert_status status;
  flow_value* value;  // the stored value (inserted or exists); nullptr when full
};

/// What one sweep call did.
struct sweep_result {
  std::size_t visited = 0;  // slots examined: never more than the max_slots asked for
  std::size_t expired = 0;  // entries removed
};

class flow_table {
  // One slot: the key, the value, and the probe distance. 32 bytes, aligned so that a slot never
  // straddles a cache line.
  struct alignas(32) slot {
    flow_key key;
    flow_value value;
    std::uint32_t dib;  // 0: empty; else 1 + distance from the key's home slot
  };
  static_assert(sizeof(slot) == 32);

 public:
  /// Bytes one slot takes.
  static constexpr std::size_t slot_bytes = sizeof(slot);
  /// Slots are capacity * 5 / 4 (+1): the table is at most 80% full.
  static constexpr std::size_t slots_for(std::size_t capacity) noexcept {
    return capacity + capacity / 4 + 1;
  }
  /// Upper bound on bytes per flow at full capacity for any capacity >= 64, slot array included
  /// (the rest of the object is a few words): 32 B * 5/4 slots = 40 B, plus at most 1/8 for
  /// rounding a large array up to whole 2 MiB huge pages (only arrays of 16 MiB and more are
  /// rounded so) = 45, plus the +1 slot.
  static constexpr std::size_t max_bytes_per_entry = slot_bytes * 5 / 4 * 9 / 8 + 1;
  static_assert(max_bytes_per_entry <= 64, "goal: at most 64 bytes per flow");

  /// Largest accepted capacity.
  static constexpr std::size_t max_capacity = std::size_t{1} << 31;

  /// A table for up to `capacity` entries; allocates and touches all its memory now (asking the
  /// kernel for transparent huge pages, which cut TLB misses on large tables), so nothing is
  /// allocated or faulted in later.
  /// Throws std::invalid_argument if capacity is 0 or above max_capacity or a timeout is outside
  /// [1 ms, 2^31 - 1 ms]; std::bad_alloc if the memory is not there.
  /// `seed` picks the slot hash (see hash(flow_key, seed)); tables may use different seeds.
  explicit flow_table(std::size_t capacity, const flow_timeouts& timeouts = {},
                      std::uint64_t seed = 0x6a09e667f3bcc909ULL);
  // Move-only: a table is one big allocation that its one owner hands on, never copies.
  // A moved-from table may only be destroyed or assigned to.
  flow_table(flow_table&&) noexcept = default;
  flow_table& operator=(flow_table&&) noexcept = default;
  flow_table(const flow_table&) = delete;
  flow_table& operator=(const flow_table&) = delete;

  /// The value stored for `k`, or nullptr. The pointer stays valid until the next insert, erase,
  /// sweep or clear on this table (they move entries). Does not look at time: an idle entry is
  /// found until the sweep removes it (use expired() to check). Never throws.
  flow_value* find(const flow_key& k) noexcept { return const_cast<flow_value*>(find_impl(k)); }
  const flow_value* find(const flow_key& k) const noexcept { return find_impl(k); }

  /// Starts loading the slot where `k`'s probe chain begins, so that a find() of `k` shortly
  /// after does not wait for memory. A hint only: no effect on contents. Never throws.
  void prefetch(const flow_key& k) const noexcept { __builtin_prefetch(&slots_[home(k)]); }

  /// Looks up a batch of keys (e.g. one receive batch) with their memory loads overlapped:
  /// out[i] = find(keys[i]) for i < n. The pointers have find()'s lifetime; `keys` and `out` are
  /// the caller's and must hold n elements. Never throws.
  void find_batch(const flow_key* keys, std::size_t n, flow_value** out) noexcept {
    constexpr std::size_t group = 16;  // enough loads in flight to hide most of a DRAM miss
    std::size_t homes[group];
    for (std::size_t base = 0; base < n; base += group) {
      const std::size_t m = n - base < group ? n - base : group;
      for (std::size_t j = 0; j < m; ++j) {
        homes[j] = home(keys[base + j]);
        __builtin_prefetch(&slots_[homes[j]]);
      }
      for (std::size_t j = 0; j < m; ++j) {
        const std::size_t i = index_from(keys[base + j], homes[j]);
        out[base + j] = i == npos ? nullptr : &slots_[i].value;
      }
    }
  }

  /// Stores `v` for `k` if `k` is absent and there is room. Returns inserted, exists (the old value
  /// is kept and returned, so insert doubles as find-or-insert), or full (nothing stored; the
  /// caller counts it). The returned pointer has find()'s lifetime. Never allocates or throws.
  insert_result insert(const flow_key& k, const flow_value& v) noexcept;

  /// Removes `k`. Returns false if it was not there. Never throws.
  bool erase(const flow_key& k) noexcept;

  /// Removes every entry; keeps the memory.
  void clear() noexcept;

  /// True if `v` has been idle for at least its state's timeout at time `now`:
  /// (now - last_seen) mod 2^32 >= timeout. Correct while every entry is looked at (by the sweep)
  /// at least once every 2^32 ms - timeout, i.e. ~24 days.
  bool expired(const flow_value& v, std::chrono::milliseconds now) const noexcept {
    return static_cast<std::uint32_t>(flow_stamp(now) - v.last_seen) >=
           timeout_ms_[static_cast<std::size_t>(v.state)];
  }

  /// Incremental expiry: examines at most `max_slots` slots, continuing where the previous call
  /// stopped (wrapping around the array), and removes the expired entries it meets, calling
  /// `on_expire(const flow_key&, const flow_value&)` just before each removal (the callback may
  /// read this table but must not modify it). Besides the examined slots, each removal shifts
  /// back the run of displaced entries behind it (bounded by the longest probe chain). Call it
  /// from the packet loop with a small budget per batch: a full pass takes about
  /// slot_count() / max_slots calls. Throws only what on_expire throws.
  template <class OnExpire>
  sweep_result sweep(std::chrono::milliseconds now, std::size_t max_slots, OnExpire&& on_expire);
  /// sweep() without a callback.
  sweep_result sweep(std::chrono::milliseconds now, std::size_t max_slots) noexcept {
    return sweep(now, max_slots, [](const flow_key&, const flow_value&) {});
  }

  /// Calls f(const flow_key&, const flow_value&) for every entry, in slot order (for the console
  /// and for replicating state). f must not modify the table.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < nslots_; ++i)
      if (slots_[i].dib != 0) f(slots_[i].key, slots_[i].value);
  }

  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t slot_count() const noexcept { return nslots_; }
  /// Bytes allocated for the slot array (slot_count() * slot_bytes, rounded up to the page size).
  std::size_t memory_bytes() const noexcept { return alloc_bytes_; }
  /// memory_bytes() / capacity(): what one flow costs when the table is full
  /// (<= max_bytes_per_entry).
  double bytes_per_entry() const noexcept {
    return static_cast<double>(memory_bytes()) / static_cast<double>(capacity_);
  }
  /// The longest probe chain now in the table (a scan of every slot; for diagnostics only).
  std::size_t longest_probe() const noexcept;
  const flow_timeouts& timeouts() const noexcept { return timeouts_; }

 private:
  std::size_t home(const flow_key& k) const noexcept {
    // Multiply-high maps the 64-bit hash onto [0, slot count) without a power-of-two size.
    return static_cast<std::size_t>(
        (static_cast<unsigned __int128>(hash(k, seed_)) * nslots_) >> 64);
  }
  std::size_t next(std::size_t i) const noexcept { return i + 1 == nslots_ ? 0 : i + 1; }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  // The slot holding k, or npos.
  std::size_t index_of(const flow_key& k) const noexcept { return index_from(k, home(k)); }
  std::size_t index_from(const flow_key& k, std::size_t i) const noexcept {
    for (std::uint32_t dib = 1;; ++dib) {
      const slot& s = slots_[i];
      // Robin Hood invariant: had k been here, it would sit before any entry nearer its home.
      if (s.dib < dib) return npos;  // covers empty slots (dib 0)
      if (s.key == k) return i;
      i = next(i);
    }
  }
  const flow_value* find_impl(const flow_key& k) const noexcept {
    const std::size_t i = index_of(k);
    return i == npos ? nullptr : &slots_[i].value;
  }
  void erase_at(std::size_t i) noexcept;

  struct release {
    void operator()(slot* p) const noexcept;
  };
  std::unique_ptr<slot[], release> slots_;  // nslots_ slots, allocated once
  std::size_t nslots_ = 0;
  std::size_t alloc_bytes_ = 0;
  std::size_t capacity_;
  std::size_t size_ = 0;
  std::size_t cursor_ = 0;  // where the next sweep starts
  std::uint64_t seed_;
  flow_timeouts timeouts_;
  std::uint32_t timeout_ms_[flow_state_count];
};

template <class OnExpire>
sweep_result flow_table::sweep(std::chrono::milliseconds now, std::size_t max_slots,
                               OnExpire&& on_expire) {
  sweep_result r;
  while (r.visited < max_slots) {
    ++r.visited;
    slot& s = slots_[cursor_];
    if (s.dib != 0 && expired(s.value, now)) {
      on_expire(static_cast<const flow_key&>(s.key), static_cast<const flow_value&>(s.value));
      erase_at(cursor_);
      ++r.expired;
      continue;  // the backward shift may have moved the next entry into this slot: look again
    }
    cursor_ = next(cursor_);
  }
  return r;
}

}  // namespace baton::net
