#pragma once
// The data path's two clocks. Both count from the same epoch (CLOCK_MONOTONIC's: boot, not
// counting suspend; libstdc++'s std::chrono::steady_clock is CLOCK_MONOTONIC), so their readings
// may be compared after a unit conversion, but the coarse one lags by up to one kernel tick.
// CAF-free; any thread may call either.
//
// Which to use where:
// - coarse_now(): milliseconds, for idle timeouts and last-seen stamps: the flow table
//   (flow_value::last_seen, sweep/expire), the stages' default clocks, and control code that
//   passes a `now` to those stages (install, expire). It costs a few ns (vDSO, no syscall) and
//   ticks every 1-4 ms, plenty for timeouts of seconds. Stamps compared with each other must all
//   come from this clock: a finer clock can read a few ms ahead of it, and a last-seen stamp
//   from the future looks, modulo 2^32, like a flow idle for 49 days.
// - steady_clock_ns(): nanoseconds, for pacing and rates: the loop's stage::pump() time base, the
//   shaper's token buckets and virtual times, where milliseconds are far too coarse.

#include <time.h>

#include <chrono>
#include <cstdint>

namespace baton::net {

/// CLOCK_MONOTONIC_COARSE in milliseconds. Never throws.
inline std::chrono::milliseconds coarse_now() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::chrono::milliseconds{std::int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000};
}

/// std::chrono::steady_clock in nanoseconds since its epoch. Never throws.
inline std::uint64_t steady_clock_ns() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace baton::net
