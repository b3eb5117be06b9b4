#pragma once
// A token bucket for one link (DESIGN §2 net/sched): `rate` bytes per second flow in, at most
// `burst` bytes are held. Time is passed in by the caller in nanoseconds (a steady clock); the
// bucket never reads a clock, so tests drive it with made-up times.
//
// Integer arithmetic only, and no rounding anywhere: credit is kept in byte-nanoseconds-per-second
// units (1 byte = 10^9 units), and every nanosecond adds exactly `rate` units. So the bytes a
// bucket lets through over any stretch of time are exactly rate * elapsed / 10^9 (plus the burst),
// however often and at whatever times it is asked: no drift over long runs.

#include <cstdint>

namespace baton::net {

class token_bucket {
 public:
  /// Units of credit per byte.
  static constexpr std::uint64_t units_per_byte = 1'000'000'000;
  /// Largest rate and burst accepted (bytes/s, bytes): 2^34 each, so rate * elapsed and the
  /// credit stay inside 64 bits (burst * 10^9 < 2^64).
  static constexpr std::uint64_t max_rate = std::uint64_t{1} << 34;
  static constexpr std::uint64_t max_burst = std::uint64_t{1} << 34;

  /// A full bucket at time `now_ns`. Throws std::invalid_argument when rate or burst is zero or
  /// above the maxima.
  token_bucket(std::uint64_t rate_bytes_per_s, std::uint64_t burst_bytes, std::uint64_t now_ns);

  /// Changes rate and burst from `now_ns` on (credit earned before is kept, clipped to the new
  /// burst). Throws std::invalid_argument like the constructor; then nothing changes.
  void configure(std::uint64_t rate_bytes_per_s, std::uint64_t burst_bytes, std::uint64_t now_ns);

  /// Adds the credit earned since the last call. A time earlier than one already seen adds
  /// nothing (a clock that steps back cannot mint credit).
  void advance(std::uint64_t now_ns) noexcept;

  /// Advances to `now_ns`; when `bytes` of credit are there, takes them and returns true,
  /// else returns false and takes nothing. A datagram larger than the burst never conforms.
  bool try_consume(std::uint64_t bytes, std::uint64_t now_ns) noexcept;

  /// Nanoseconds from `now_ns` (after advancing to it) until `bytes` conform: 0 when they do now,
  /// UINT64_MAX when never (bytes > burst).
  std::uint64_t wait_ns(std::uint64_t bytes, std::uint64_t now_ns) noexcept;

  /// Whole bytes of credit held as of the last advance.
  std::uint64_t available() const noexcept { return credit_ / units_per_byte; }
  std::uint64_t rate() const noexcept { return rate_; }
  std::uint64_t burst() const noexcept { return burst_; }

 private:
  std::uint64_t rate_ = 0;       // bytes per second = units per nanosecond
  std::uint64_t burst_ = 0;      // bytes
  std::uint64_t cap_ = 0;        // burst in units
  std::uint64_t fill_ns_ = 0;    // time an empty bucket takes to fill (rounded up)
  std::uint64_t credit_ = 0;     // units
  std::uint64_t last_ns_ = 0;    // time of the last advance
};

}  // namespace baton::net
