#pragma once
// The client gateway's translation table (document 002, Figures 2, 5A-5C, 6A-6C): one entry per
// tagged connection, keyed by what both the client's segments and every replica's answer carry —
// the client's address and port and the server's port — holding the server the client believes
// it talks to and, once the first SYN-ACK came, who won it (a replica, or the origin itself).
//
// Fixed capacity, allocated at construction: open addressing with linear probing over twice as
// many slots as entries (so probes stay short at full load) and backward-shift deletion (no
// tombstones). Idle entries expire by the caller's clock in an incremental sweep. Nothing
// allocates after construction; nothing throws but the constructor.
//
// Threading: one thread (the packet loop) calls everything but counters() and size(), which any
// thread may read.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "net/io/counter_list.hpp"

namespace baton::net {

/// Client address and port, server port (host order). Every segment of the connection in either
/// direction carries all three, whoever answers for the server.
struct translation_key {
  std::uint32_t client = 0;
  std::uint16_t client_port = 0;
  std::uint16_t server_port = 0;

  friend bool operator==(const translation_key& a, const translation_key& b) noexcept {
    return a.client == b.client && a.client_port == b.client_port && a.server_port == b.server_port;
  }
};

/// Who answered first.
enum class translation_state : std::uint8_t {
  pending = 0,  // the tagged SYN went out; no SYN-ACK yet
  replica,      // a replica answered first: translate (configuration A / B / C)
  origin,       // the server itself answered first: nothing to translate, later replicas reset
};
/// "pending", "replica", "origin".
const char* to_string(translation_state s) noexcept;

struct translation_entry {
  translation_key key;
  std::uint32_t server = 0;      // the start packet's destination (host order)
  std::uint32_t winner = 0;      // the first answer's source: a replica, or `server`; 0 pending
  std::uint32_t syn_seq = 0;     // the client's initial sequence number (retransmission test)
  std::uint64_t syn_ns = 0;      // when the SYN left (steady clock), for the answer's RTT
  std::uint32_t rtt_us = 0;      // the winner's SYN -> SYN-ACK time
  std::uint32_t created_ms = 0;  // caller's clock, wrapping
  std::uint32_t last_seen_ms = 0;
  std::uint16_t answers = 0;     // SYN-ACKs seen (the first plus late ones)
  std::uint16_t resets = 0;      // late answerers reset
  translation_state state = translation_state::pending;
  bool closing = false;          // a FIN or RST was seen
};

struct translation_timeouts {
  std::uint32_t pending_ms = 5000;    // SYN without an answer
  std::uint32_t idle_ms = 120000;     // an answered connection with no segment
  std::uint32_t closing_ms = 10000;   // after a FIN or RST
};

/// The table's counters, declared once (net/io/counter_list.hpp).
#define BATON_TRANSLATION_COUNTERS(COUNTER, GAUGE)                                    \
  COUNTER(inserts, "connections entered (tagged start packets)")                      \
  COUNTER(lookups, "lookups")                                                          \
  COUNTER(hits, "lookups that found an entry")                                         \
  COUNTER(full, "start packets with no room in the table (sent untagged)")            \
  COUNTER(expired, "entries removed by the idle sweep")                                \
  COUNTER(erased, "entries removed by their owner")                                    \
  GAUGE(entries, "entries now")                                                        \
  GAUGE(capacity, "entries the table holds at most")
BATON_COUNTER_STRUCT(translation_counters, BATON_TRANSLATION_COUNTERS)

class translation_table {
 public:
  /// Room for `capacity` entries (1 .. 2^22). Throws std::invalid_argument outside that range,
  /// std::bad_alloc.
  explicit translation_table(std::size_t capacity);
  ~translation_table();
  translation_table(const translation_table&) = delete;
  translation_table& operator=(const translation_table&) = delete;

  /// The entry of `key`, or nullptr. The pointer is valid until the next insert/erase/expire.
  translation_entry* find(const translation_key& key) noexcept;
  /// The entry of `key`, made (zeroed but for its key, `created` set) when absent; nullptr when
  /// the table is full.
  translation_entry* insert(const translation_key& key, bool& created) noexcept;
  /// Removes `key`'s entry; false when there was none.
  bool erase(const translation_key& key) noexcept;
  /// Removes entries idle past their timeout at `now_ms` (same clock as the stamps), looking at
  /// most at `max_slots` slots from where the last call stopped. Returns how many it removed.
  std::size_t expire(std::uint32_t now_ms, const translation_timeouts& t, std::size_t max_slots) noexcept;
  /// f(const translation_entry&) for every entry, in slot order. f must not change the table.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < slots_; ++i)
      if (used_[i]) f(static_cast<const translation_entry&>(entries_[i]));
  }

  std::size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }
  std::size_t capacity() const noexcept { return capacity_; }
  /// Any thread.
  translation_counters counters() const noexcept;

 private:
  std::size_t slot_of(const translation_key& key) const noexcept;
  void remove_at(std::size_t i) noexcept;

  struct live_counters;
  std::size_t capacity_;
  std::size_t slots_;  // a power of two, >= 2 * capacity
  std::unique_ptr<translation_entry[]> entries_;
  std::unique_ptr<bool[]> used_;
  std::atomic<std::size_t> size_{0};
  std::size_t sweep_ = 0;
  std::unique_ptr<live_counters> live_;
};

/// Whether an entry is due for removal at `now_ms`.
bool translation_expired(const translation_entry& e, std::uint32_t now_ms,
                         const translation_timeouts& t) noexcept;

}  // namespace baton::net
