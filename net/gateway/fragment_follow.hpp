#pragma once
// Later IPv4 fragments follow their first fragment's decision (RFC 791 §3.2). Only the first
// fragment carries the ports, so only it can be hashed to a work unit and matched to a flow; the
// member that carried it remembers what it did, keyed by what every fragment of a datagram shares
// (source, destination, protocol, identification), and does the same to the later pieces: the
// same address rewrite, or the same tunnel. Members that did not carry the first fragment have no
// entry and drop the rest as another member's. Pieces that arrive before their first fragment
// find no entry either (Linux sends in order; reordering within one datagram is rare on a LAN).
//
// A fixed table allocated at construction (nothing per datagram): slots chosen by a hash, four
// probed per key, an entry living `lifetime` after the first fragment (a datagram's pieces travel
// together, so a short lifetime keeps the table small), the oldest replaced when all four are
// taken. Loop thread only.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/packet/bytes.hpp"

namespace baton::net {

/// What was done to the first fragment, to be done to the rest.
struct fragment_decision {
  enum class action : std::uint8_t { rewrite, tunnel, to_owner };
  action what = action::rewrite;
  std::uint32_t unit = 0;      // to_owner: sent on unchanged to the owner of this work unit (the
                               // cluster's forwarding mode, where the master relays other
                               // members' traffic)
  std::uint32_t new_src = 0;   // rewrite: the source to set (0: unchanged)
  std::uint32_t new_dst = 0;   // rewrite: the destination to set (0: unchanged); tunnel: the
                               // outer destination
  std::uint16_t port = 0;      // the output port (a port_id)
};

/// The key every fragment of one datagram shares (host order).
struct fragment_key {
  std::uint32_t src = 0, dst = 0;
  std::uint16_t id = 0;
  std::uint8_t protocol = 0;
};

/// The key of the IPv4 datagram (or fragment) at the start of `packet` (at least 20 bytes).
fragment_key fragment_key_of(bytes_view packet) noexcept;

class fragment_follow {
 public:
  /// `slots` is rounded up to a power of two (at least 4).
  explicit fragment_follow(std::size_t slots = 1024,
                           std::chrono::milliseconds lifetime = std::chrono::milliseconds(2000));

  /// Remembers `d` for the datagram `k` from time `now` (replacing an entry for the same key).
  void remember(const fragment_key& k, const fragment_decision& d, std::chrono::milliseconds now) noexcept;
  /// The decision for `k`, if one was remembered and has not expired.
  const fragment_decision* find(const fragment_key& k, std::chrono::milliseconds now) const noexcept;
  /// Entries replaced while still live (the table was too small for the fragments in flight).
  std::uint64_t evicted() const noexcept { return evicted_; }

 private:
  struct slot {
    fragment_key key;
    fragment_decision decision;
    std::chrono::milliseconds expires{0};  // 0: empty
  };
  std::size_t home(const fragment_key& k) const noexcept;
  static bool same(const fragment_key& a, const fragment_key& b) noexcept {
    return a.src == b.src && a.dst == b.dst && a.id == b.id && a.protocol == b.protocol;
  }

  std::vector<slot> slots_;
  std::size_t mask_ = 0;
  std::chrono::milliseconds lifetime_;
  std::uint64_t evicted_ = 0;
};

}  // namespace baton::net
