// Keepalive arithmetic (document 004, "Failover Handling"): the adaptive interval n, the period
// derived from it, and the loss estimate P from client keepalive sequence numbers.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "actors/group/keepalive.hpp"

using namespace baton::group;

TEST_CASE("adaptive keepalive interval: smallest n >= 2 with n * P^n < 1/K") {
  struct row {
    std::string name;
    double p;
    double k;
    std::uint32_t n;
  };
  // Expected values worked out by hand from the rule; e.g. P = 0.05: 3 * 0.05^3 = 3.75e-4 is not
  // below 1/3600 = 2.78e-4, 4 * 0.05^4 = 2.5e-5 is.
  const std::vector<row> rows = {
      {"no loss", 0.0, 3600, 2},
      {"1% loss: 2 * 1e-4 < 2.78e-4", 0.01, 3600, 2},
      {"2% loss", 0.02, 3600, 3},
      {"5% loss", 0.05, 3600, 4},
      {"10% loss", 0.10, 3600, 5},
      {"20% loss", 0.20, 3600, 7},
      {"50% loss: 16 / 2^16 < 1/3600", 0.50, 3600, 16},
      {"90% loss: no n up to 20 fits, capped", 0.90, 3600, 20},
      {"total loss, capped", 1.0, 3600, 20},
      {"negative P clamps to 0", -0.5, 3600, 2},
      {"smaller K (100) tolerates more", 0.10, 100, 3},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    const auto n = adaptive_keepalive_n(r.p, r.k);
    CHECK(n == r.n);
    // and n is the smallest: n - 1 (if allowed) does not satisfy the condition
    if (n > 2 && n < 20) {
      CHECK(static_cast<double>(n - 1) * std::pow(r.p, n - 1) >= 1.0 / r.k);
    }
  }
}

TEST_CASE("keepalive period: n keepalives fit the watchdog with half a period to spare") {
  struct row {
    std::string name;
    long watchdog;
    std::uint32_t n;
    long period;
  };
  const std::vector<row> rows = {
      {"n=2, 200 ms", 200, 2, 80},   {"n=7, 200 ms", 200, 7, 26}, {"n=20, 200 ms", 200, 20, 9},
      {"n=2, 100 ms", 100, 2, 40},   {"n=0 is n=1", 200, 0, 133}, {"never below 1 ms", 1, 20, 1},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    const auto p = keepalive_period(time_ms{r.watchdog}, r.n).count();
    CHECK(p == r.period);
    if (r.n >= 1 && r.watchdog > 40) {
      // n-1 losses leave a gap of n periods: inside the watchdog.
      CHECK(static_cast<long>(r.n) * p < r.watchdog);
      // n losses leave n+1 periods: beyond it (whole milliseconds allow that for small n only;
      // for n = 20 and 200 ms no whole-millisecond period lies in (200/21, 200/20)).
      if (r.n <= 7) CHECK(static_cast<long>(r.n + 1) * p > r.watchdog);
    }
  }
}

TEST_CASE("loss estimate follows P_new = P_old * 127/128 + S_delta / 128") {
  loss_estimator est;
  CHECK(est.p() == 0.0);
  double expected = 0.0;
  struct row {
    std::uint64_t seq;
    bool counted;
    std::uint64_t gap;
  };
  const std::vector<row> rows = {
      {1, true, 0},  // baseline
      {2, true, 0}, {3, true, 0}, {5, true, 1}, {6, true, 0}, {9, true, 2},
      {8, false, 0},  // reordered: ignored
      {9, false, 0},  // duplicate: ignored
      {10, true, 0},
  };
  bool first = true;
  for (const auto& r : rows) {
    CAPTURE(r.seq);
    CHECK(est.on_sequence(r.seq) == r.counted);
    if (r.counted && !first) expected = expected * 127.0 / 128.0 + static_cast<double>(r.gap) / 128.0;
    first = false;
    CHECK(est.p() == doctest::Approx(expected).epsilon(1e-12));
  }
  CHECK(est.lost() == 3);
}

TEST_CASE("loss estimate under steady 20% loss drives n up to 7") {
  loss_estimator est;
  std::uint64_t seq = 0;
  for (int i = 0; i < 4000; ++i) {
    seq += (i % 5 == 4) ? 2 : 1;  // a gap of one after every fifth keepalive received
    est.on_sequence(seq);
  }
  // P is the mean gap per keepalive received: 1/5
  CHECK(est.p() == doctest::Approx(0.2).epsilon(0.05));
  CHECK(adaptive_keepalive_n(est.p(), 3600) >= 6);
}

TEST_CASE("watchdog expires only after more than t without a reset") {
  watchdog w;
  w.reset(time_ms{100});
  CHECK_FALSE(w.expired(time_ms{300}, time_ms{200}));
  CHECK(w.expired(time_ms{301}, time_ms{200}));
  w.reset(time_ms{301});
  CHECK_FALSE(w.expired(time_ms{400}, time_ms{200}));
}
