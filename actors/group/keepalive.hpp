#pragma once
// Keepalives, loss estimate and the adaptive keepalive interval (document 004, "Failover
// Handling").
//
// The document's rule: the master keeps, per client, S_delta = this sequence - last sequence - 1
// and P_new = P_old x 127/128 + S_delta x 1/128; then "n is defined as the number of lost packets
// per interval [...] calculate the smallest integer value of n for which n P^n < 1/3600 [...]
// beginning with n=2 and increasing n by 1 [...]. The resulting value of n is the adaptive
// keepalive interval which the master then sends to all of the cluster members to use in
// determining how often they are to send their Client keepalive messages."
//
// Our reading: the watchdog time t (200 ms) is fixed; n is how many keepalives in a row must be
// lost within t before a node is declared dead, so a node sends n keepalives per watchdog time.
// Sending at exactly t/n would trip the watchdog after n-1 losses plus any jitter, so the period
// is t/(n + 1/2): n-1 losses leave half a period of slack for delay, n losses expire the watchdog.
// The chance of a false failure per interval is then about P^n, which the rule keeps below 1/(nK).

#include <cstdint>

#include "actors/protocol/group_types.hpp"

namespace baton::group {

/// The adaptive keepalive interval: the smallest n in [n_min, n_max] with n * p^n < 1/k; n_max if
/// no n in range satisfies it (p close to 1). p is clamped to [0, 1]; k <= 0 is treated as 1.
/// Never throws. Precondition: 1 <= n_min <= n_max.
std::uint32_t adaptive_keepalive_n(double p, double k, std::uint32_t n_min = 2,
                                   std::uint32_t n_max = 20) noexcept;

/// Keepalive period for watchdog time `watchdog` and interval n: floor(2t / (2n + 1)), at least
/// 1 ms. n = 0 is treated as 1.
time_ms keepalive_period(time_ms watchdog, std::uint32_t n) noexcept;

/// The master's per-client loss estimate P from client keepalive sequence numbers.
class loss_estimator {
 public:
  /// `initial` is P before any gap is seen, `weight` the smoothing weight (document: 1/128).
  explicit loss_estimator(double initial = 0.0, double weight = 1.0 / 128.0) noexcept;

  /// Feeds one received sequence number. The first one only sets the baseline. A sequence not
  /// above the last one (reordered or duplicated) is ignored and returns false; otherwise the
  /// gap S_delta updates P and true is returned.
  bool on_sequence(std::uint64_t sequence) noexcept;

  /// The current estimate, in [0, 1].
  double p() const noexcept { return p_; }
  /// Keepalives counted as lost so far (sum of gaps).
  std::uint64_t lost() const noexcept { return lost_; }

 private:
  double p_;
  double weight_;
  bool have_last_ = false;
  std::uint64_t last_ = 0;
  std::uint64_t lost_ = 0;
};

/// "routines whereby the cluster member's OS periodically checks a watchdog time-value to see if
/// it is more than t time earlier than the current time".
class watchdog {
 public:
  /// Starts (or restarts) the watchdog at `now`.
  void reset(time_ms now) noexcept { last_ = now; }
  /// True when more than `t` has passed since the last reset.
  bool expired(time_ms now, time_ms t) const noexcept { return now - last_ > t; }
  time_ms last() const noexcept { return last_; }

 private:
  time_ms last_{0};
};

}  // namespace baton::group
