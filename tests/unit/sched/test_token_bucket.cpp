// The token bucket: conformance at given times, waits, clock steps, reconfiguration, and no drift
// over a long run at awkward rates and irregular call times.

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <stdexcept>
#include <vector>

#include "net/sched/token_bucket.hpp"

using namespace baton::net;

namespace {
constexpr std::uint64_t ms = 1'000'000;  // ns
constexpr std::uint64_t us = 1'000;
}  // namespace

TEST_CASE("token bucket: conformance of a sequence of datagrams") {
  struct step {
    std::uint64_t at_ns;
    std::uint64_t bytes;
    bool conforms;
  };
  struct row {
    std::string name;
    std::uint64_t rate;   // bytes/s
    std::uint64_t burst;  // bytes
    std::vector<step> steps;
  };
  const std::uint64_t t0 = 5'000 * ms;  // an arbitrary steady-clock start
  const std::vector<row> rows = {
      {"starts full: the burst passes at once, the next byte does not",
       1'000'000, 3000, {{t0, 1000, true}, {t0, 1000, true}, {t0, 1000, true}, {t0, 1, false}}},
      {"refills at the rate: 1 MB/s earns 1000 bytes per ms",
       1'000'000, 3000,
       {{t0, 3000, true}, {t0 + 999 * us, 1000, false}, {t0 + 1 * ms, 1000, true},
        {t0 + 1 * ms, 1, false}}},
      {"a refused datagram takes nothing",
       1'000'000, 3000,
       {{t0, 2500, true}, {t0, 1000, false}, {t0, 500, true}, {t0, 1, false}}},
      {"credit never exceeds the burst, however long the idle time",
       1'000'000, 3000,
       {{t0, 3000, true}, {t0 + 10'000 * ms, 3000, true}, {t0 + 10'000 * ms, 1, false}}},
      {"a datagram larger than the burst never conforms",
       1'000'000, 1500, {{t0, 1501, false}, {t0 + 1'000 * ms, 1501, false}, {t0 + 1'000 * ms, 1500, true}}},
      {"a clock stepping back earns nothing",
       1'000'000, 2000,
       {{t0, 2000, true}, {t0 - 500 * ms, 1, false}, {t0 + 1 * ms, 1000, true}, {t0 + 1 * ms, 1, false}}},
      {"sub-byte credit accumulates across calls: 3 bytes/s over 3 x 1/9 s",
       3, 10,
       {{t0, 10, true}, {t0 + 111'111'111, 1, false}, {t0 + 222'222'222, 1, false},
        {t0 + 333'333'333, 1, false}, {t0 + 333'333'334, 1, true}}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    token_bucket b(r.rate, r.burst, t0);
    for (std::size_t i = 0; i < r.steps.size(); ++i) {
      CAPTURE(i);
      CHECK(b.try_consume(r.steps[i].bytes, r.steps[i].at_ns) == r.steps[i].conforms);
    }
  }
}

TEST_CASE("token bucket: wait_ns says when a datagram conforms") {
  struct row {
    std::string name;
    std::uint64_t rate, burst, take_first, ask;
    std::uint64_t expected_wait;
  };
  const std::uint64_t never = std::numeric_limits<std::uint64_t>::max();
  const std::vector<row> rows = {
      {"full bucket: no wait", 1'500'000, 3000, 0, 1500, 0},
      {"empty bucket, 1500 bytes at 1.5 MB/s: 1 ms", 1'500'000, 3000, 3000, 1500, 1 * ms},
      {"half a datagram left", 1'500'000, 3000, 2250, 1500, 500 * us},
      {"rounded up to whole ns: 1 byte at 3 bytes/s", 3, 10, 10, 1, 333'333'334},
      {"larger than the burst: never", 1'000'000, 1000, 0, 1001, never},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    token_bucket b(r.rate, r.burst, 0);
    if (r.take_first) REQUIRE(b.try_consume(r.take_first, 0));
    const std::uint64_t w = b.wait_ns(r.ask, 0);
    CHECK(w == r.expected_wait);
    if (w != 0 && w != never) {
      CHECK_FALSE(b.try_consume(r.ask, w - 1));
      CHECK(b.try_consume(r.ask, w));
    }
  }
}

TEST_CASE("token bucket: no drift over a long run with irregular call times") {
  struct row {
    std::string name;
    std::uint64_t rate;
    std::uint64_t burst;
    std::uint64_t packet;
    std::uint64_t max_step_ns;
  };
  const std::vector<row> rows = {
      {"20 Mbit/s, 1500-byte packets, steps up to 50 us", 2'500'000, 15'000, 1500, 50 * us},
      {"a rate that divides nothing (7 777 777 B/s), 1 ms steps", 7'777'777, 64'000, 1400, 1 * ms},
      {"a slow link (33 333 B/s) polled at random up to 300 us", 33'333, 1500, 100, 300 * us},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    std::mt19937_64 rng{42};
    std::uniform_int_distribution<std::uint64_t> step(1, r.max_step_ns);
    const std::uint64_t start = 123'456'789;
    token_bucket b(r.rate, r.burst, start);
    std::uint64_t now = start, sent = 0;
    // Empty the (full) bucket first, so the steps below, all shorter than its fill time, never
    // find it full: then nothing earned is clipped and the books must balance exactly.
    while (b.try_consume(r.packet, now)) sent += r.packet;
    const std::uint64_t run = 120ull * 1'000 * ms;  // two simulated minutes
    // Greedy sender: takes every packet the bucket allows, at random times.
    while (now - start < run) {
      now += step(rng);
      while (b.try_consume(r.packet, now)) sent += r.packet;
    }
    // Exactly: sent + left = burst + rate * elapsed / 10^9, and 0 <= left < packet.
    const std::uint64_t earned_units = (now - start) * r.rate;  // < 2^64 for these rows
    const std::uint64_t earned = r.burst + earned_units / token_bucket::units_per_byte;
    CHECK(sent <= earned);
    CHECK(earned - sent < r.packet + 1);
  }
}

TEST_CASE("token bucket: configure keeps earned credit, clipped to the new burst") {
  token_bucket b(1'000'000, 10'000, 0);
  REQUIRE(b.try_consume(10'000, 0));
  b.configure(2'000'000, 4'000, 5 * ms);  // earned 5000 at the old rate, clipped to 4000
  CHECK(b.available() == 4'000);
  CHECK(b.rate() == 2'000'000);
  REQUIRE(b.try_consume(4'000, 5 * ms));
  CHECK(b.wait_ns(2'000, 5 * ms) == 1 * ms);  // the new rate
}

TEST_CASE("token bucket: rejects zero and oversized parameters") {
  struct row {
    std::string name;
    std::uint64_t rate, burst;
  };
  const std::vector<row> rows = {
      {"zero rate", 0, 1500},
      {"zero burst", 1000, 0},
      {"rate above 2^34", token_bucket::max_rate + 1, 1500},
      {"burst above 2^34", 1000, token_bucket::max_burst + 1},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK_THROWS_AS(token_bucket(r.rate, r.burst, 0), std::invalid_argument);
    token_bucket ok(1000, 1000, 0);
    CHECK_THROWS_AS(ok.configure(r.rate, r.burst, 0), std::invalid_argument);
    CHECK(ok.rate() == 1000);
  }
  CHECK_NOTHROW(token_bucket(token_bucket::max_rate, token_bucket::max_burst, 0));
}
