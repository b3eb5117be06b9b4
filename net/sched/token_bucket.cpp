#include "net/sched/token_bucket.hpp"

#include <limits>
#include <stdexcept>

namespace baton::net {

namespace {
void check(std::uint64_t rate, std::uint64_t burst) {
  if (rate == 0 || rate > token_bucket::max_rate)
    throw std::invalid_argument("token_bucket: rate must be 1 .. 2^34 bytes/s");
  if (burst == 0 || burst > token_bucket::max_burst)
    throw std::invalid_argument("token_bucket: burst must be 1 .. 2^34 bytes");
}
}  // namespace

token_bucket::token_bucket(std::uint64_t rate_bytes_per_s, std::uint64_t burst_bytes,
                           std::uint64_t now_ns) {
  configure(rate_bytes_per_s, burst_bytes, now_ns);
  credit_ = cap_;
}

void token_bucket::configure(std::uint64_t rate_bytes_per_s, std::uint64_t burst_bytes,
                             std::uint64_t now_ns) {
  check(rate_bytes_per_s, burst_bytes);
  if (rate_ != 0) advance(now_ns);  // earn at the old rate up to now
  else last_ns_ = now_ns;
  rate_ = rate_bytes_per_s;
  burst_ = burst_bytes;
  cap_ = burst_bytes * units_per_byte;
  fill_ns_ = (cap_ + rate_ - 1) / rate_;
  if (credit_ > cap_) credit_ = cap_;
}

void token_bucket::advance(std::uint64_t now_ns) noexcept {
  if (now_ns <= last_ns_) return;
  const std::uint64_t elapsed = now_ns - last_ns_;
  last_ns_ = now_ns;
  // Past the fill time the bucket is full whatever it held; below it, elapsed * rate < cap + rate,
  // which fits in 64 bits (2^34 * 10^9 + 2^34 < 2^64).
  if (elapsed >= fill_ns_) {
    credit_ = cap_;
    return;
  }
  const std::uint64_t earned = elapsed * rate_;
  credit_ = (cap_ - credit_ <= earned) ? cap_ : credit_ + earned;
}

bool token_bucket::try_consume(std::uint64_t bytes, std::uint64_t now_ns) noexcept {
  advance(now_ns);
  if (bytes > burst_) return false;
  const std::uint64_t need = bytes * units_per_byte;
  if (credit_ < need) return false;
  credit_ -= need;
  return true;
}

std::uint64_t token_bucket::wait_ns(std::uint64_t bytes, std::uint64_t now_ns) noexcept {
  advance(now_ns);
  if (bytes > burst_) return std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t need = bytes * units_per_byte;
  if (credit_ >= need) return 0;
  return (need - credit_ + rate_ - 1) / rate_;
}

}  // namespace baton::net
