#include "actors/group/keepalive.hpp"

#include <algorithm>
#include <cmath>

namespace baton::group {

std::uint32_t adaptive_keepalive_n(double p, double k, std::uint32_t n_min,
                                   std::uint32_t n_max) noexcept {
  if (!(p > 0.0)) p = 0.0;  // also catches NaN
  if (p > 1.0) p = 1.0;
  if (!(k > 1.0)) k = 1.0;
  const double limit = 1.0 / k;
  // "beginning the calculation with n=2 and increasing n by 1 iteratively until the condition
  // is met"
  for (std::uint32_t n = n_min; n < n_max; ++n) {
    if (static_cast<double>(n) * std::pow(p, static_cast<double>(n)) < limit) return n;
  }
  return n_max;
}

time_ms keepalive_period(time_ms watchdog, std::uint32_t n) noexcept {
  using rep = time_ms::rep;
  const rep t = watchdog.count();
  const rep nn = static_cast<rep>(std::max<std::uint32_t>(n, 1));
  return time_ms{std::max<rep>(1, (2 * t) / (2 * nn + 1))};
}

loss_estimator::loss_estimator(double initial, double weight) noexcept
    : p_(std::clamp(initial, 0.0, 1.0)), weight_(std::clamp(weight, 0.0, 1.0)) {}

bool loss_estimator::on_sequence(std::uint64_t sequence) noexcept {
  if (!have_last_) {
    have_last_ = true;
    last_ = sequence;
    return true;
  }
  if (sequence <= last_) return false;
  const std::uint64_t gap = sequence - last_ - 1;  // S_delta
  last_ = sequence;
  lost_ += gap;
  p_ = p_ * (1.0 - weight_) + static_cast<double>(gap) * weight_;
  p_ = std::clamp(p_, 0.0, 1.0);
  return true;
}

}  // namespace baton::group
