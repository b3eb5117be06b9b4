// The link emulator's pipeline under a fake clock: each stage against its definition.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "deploy/linkemu/impairment.hpp"

using baton::linkemu::direction;
using baton::linkemu::direction_spec;
using baton::linkemu::parse_direction_spec;

namespace {

constexpr std::int64_t ms = 1'000'000;

struct sent {
  std::int64_t at_ns;
  std::uint32_t seq;
};

// Offers `count` frames of `len` bytes, frame i at i * gap_ns, each carrying its index, and runs
// the fake clock from event to event until the direction is empty. Returns what left, in order.
// The first frame arrives at `start_ns` (a later run on the same direction starts after the last).
std::vector<sent> run(direction& d, std::uint32_t count, std::size_t len, std::int64_t gap_ns,
                      std::int64_t start_ns = 0) {
  std::vector<sent> out;
  std::vector<std::uint8_t> frame(len, 0);
  std::uint32_t next = 0;
  std::int64_t now = start_ns;
  auto collect = [&](const std::uint8_t* data, std::size_t n) {
    REQUIRE(n == len);
    std::uint32_t seq = 0;
    std::memcpy(&seq, data, sizeof seq);
    out.push_back({now, seq});
  };
  while (next < count || d.next_event()) {
    const std::int64_t arrival = next < count ? start_ns + std::int64_t{next} * gap_ns : INT64_MAX;
    const auto ev = d.next_event();
    if (ev && *ev < arrival) {
      now = *ev;
      d.release(now, collect);
    } else {
      now = arrival;
      std::memcpy(frame.data(), &next, sizeof next);
      d.offer(frame.data(), len, now);
      ++next;
      d.release(now, collect);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("spec strings parse into the spec they name") {
  struct row {
    const char* name;
    const char* text;
    std::int64_t delay_ns;
    double loss;
    double rate_bps;
    std::size_t queue;
    bool ge;
  };
  const row rows[] = {
      {"empty keeps defaults", "", 0, 0.0, 0.0, 100, false},
      {"bare number is ms", "delay=20", 20 * ms, 0.0, 0.0, 100, false},
      {"units", "delay=1.5s,loss=2%,rate=20mbit,queue=7", 1500 * ms, 0.02, 20e6, 7, false},
      {"probability form", "loss=0.25,rate=3k", 0, 0.25, 3e3, 100, false},
      {"gilbert-elliott", "ge_p=1%,ge_r=30%,ge_loss_bad=0.5", 0, 0.0, 0.0, 100, true},
      {"microseconds", "delay=250us,rate=1gbit", ms / 4, 0.0, 1e9, 100, false},
  };
  for (const row& r : rows) {
    CAPTURE(r.name);
    const direction_spec s = parse_direction_spec(r.text);
    CHECK(s.delay_ns == r.delay_ns);
    CHECK(s.loss == doctest::Approx(r.loss));
    CHECK(s.rate_bps == doctest::Approx(r.rate_bps));
    CHECK(s.queue_frames == r.queue);
    CHECK(s.ge.has_value() == r.ge);
  }
}

TEST_CASE("bad spec strings are refused, naming the key") {
  struct row {
    const char* name;
    const char* text;
    const char* key;
  };
  const row rows[] = {
      {"unknown key", "delya=20ms", "delya"},
      {"loss over 100%", "loss=150%", "loss"},
      {"probability over 1", "reorder=2", "reorder"},
      {"negative delay", "delay=-1ms", "delay"},
      {"bad unit", "rate=20furlongs", "rate"},
      {"missing value", "queue", "queue"},
      {"zero queue", "queue=0", "queue"},
      {"no ge transition", "ge_p=0,ge_r=0", "ge_p"},
  };
  for (const row& r : rows) {
    CAPTURE(r.name);
    try {
      parse_direction_spec(r.text);
      FAIL("accepted");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).find(r.key) == 0);
    }
  }
}

TEST_CASE("a fixed delay shifts every frame by exactly the delay, in order") {
  direction d(parse_direction_spec("delay=20ms"), 1, 64, 256);
  const auto out = run(d, 50, 100, 3 * ms);
  REQUIRE(out.size() == 50);
  for (std::uint32_t i = 0; i < out.size(); ++i) {
    CAPTURE(i);
    CHECK(out[i].seq == i);
    CHECK(out[i].at_ns == std::int64_t{i} * 3 * ms + 20 * ms);
  }
}

TEST_CASE("loss models lose their long-run rate") {
  struct row {
    const char* name;
    const char* spec;
    double expected;
  };
  const row rows[] = {
      {"bernoulli 2%", "loss=2%", 0.02},
      {"bernoulli 30%", "loss=30%", 0.30},
      // (r * good + p * bad) / (p + r) = (0.3 * 0.001 + 0.02 * 0.5) / 0.32
      {"gilbert-elliott", "ge_p=0.02,ge_r=0.3,ge_loss_good=0.001,ge_loss_bad=0.5", 0.0321875},
  };
  for (const row& r : rows) {
    CAPTURE(r.name);
    direction d(parse_direction_spec(r.spec), 42, 16, 128);
    const std::uint32_t n = 200000;
    const auto out = run(d, n, 64, ms);
    const double lost = static_cast<double>(d.stats().dropped_loss) / n;
    CHECK(d.stats().dropped_loss + out.size() == n);
    // Bernoulli: 5 binomial standard deviations. Gilbert-Elliott losses come in bursts, which
    // widens the spread; the same bound in relative terms (10%) is still far from a wrong model.
    const double sd = std::sqrt(r.expected * (1 - r.expected) / n);
    CHECK(std::abs(lost - r.expected) < std::max(5 * sd, 0.1 * r.expected));
  }
}

TEST_CASE("a running direction changes its loss and delay, not its rate stage") {
  direction d(parse_direction_spec("delay=5ms,rate=100mbit,queue=50"), 7, 64, 128);
  const std::uint32_t n = 20000;
  auto out = run(d, n, 64, ms);
  CHECK(out.size() == n);
  CHECK(d.stats().dropped_loss == 0);
  d.change(parse_direction_spec("loss=5%,delay=10ms", d.spec()));
  CHECK(d.spec().rate_bps == doctest::Approx(100e6));
  std::int64_t start = out.back().at_ns + ms;
  out = run(d, n, 64, ms, start);
  const double lost = static_cast<double>(d.stats().dropped_loss) / n;
  CHECK(lost == doctest::Approx(0.05).epsilon(0.2));
  CHECK(out.front().at_ns - start >= 10 * ms);  // frames offered after the change wait the new delay
  d.change(parse_direction_spec("loss=0", d.spec()));
  const auto before = d.stats().dropped_loss;
  start = out.back().at_ns + ms;
  out = run(d, 1000, 64, ms, start);
  CHECK(out.size() == 1000);
  CHECK(d.stats().dropped_loss == before);
  struct row {
    const char* name;
    const char* spec;
  };
  const row refused[] = {{"rate", "rate=10mbit"}, {"queue", "queue=10"}, {"burst", "burst=64k"}};
  for (const row& r : refused) {
    CAPTURE(r.name);
    const auto spec_before = d.spec();
    CHECK_THROWS_AS(d.change(parse_direction_spec(r.spec, d.spec())), std::invalid_argument);
    CHECK(d.spec().loss == spec_before.loss);
  }
}

TEST_CASE("the rate limiter spaces frames at the configured rate and tail-drops past the queue") {
  // 8 Mbit/s = 1000 bytes per ms; 1000-byte frames leave one per ms once the burst is spent.
  direction_spec s = parse_direction_spec("rate=8mbit,burst=2000,queue=10");
  direction d(s, 7, 64, 1000);
  // 40 frames at once: 2 ride the burst, 10 wait, the other 28 find the queue full.
  const auto out = run(d, 40, 1000, 0);
  CHECK(d.stats().dropped_queue == 28);
  REQUIRE(out.size() == 12);
  for (std::uint32_t i = 0; i < out.size(); ++i) {
    CAPTURE(i);
    CHECK(out[i].seq == i);
    const std::int64_t expected = i < 2 ? 0 : std::int64_t{i - 1} * ms;
    CHECK(std::llabs(out[i].at_ns - expected) <= 1);
  }
}

TEST_CASE("a long run through the rate limiter averages the configured rate") {
  // Offered 2x the rate; queue large enough for the whole run: output rate is the rate.
  direction d(parse_direction_spec("rate=20mbit,queue=10000"), 3, 12000, 1500);
  const std::uint32_t n = 5000;
  const auto out = run(d, n, 1500, 300000);  // 1500 B every 0.3 ms = 40 Mbit/s
  REQUIRE(out.size() == n);
  const double seconds = static_cast<double>(out.back().at_ns - out.front().at_ns) / 1e9;
  const double rate = (n - 1) * 1500 * 8 / seconds;
  CHECK(rate == doctest::Approx(20e6).epsilon(0.01));
}

TEST_CASE("jitter keeps order unless reordering is allowed") {
  struct row {
    const char* name;
    const char* spec;
    bool may_reorder;
  };
  const row rows[] = {
      {"jitter keeps order", "delay=20ms,jitter=10ms", false},
      {"jitter may reorder", "delay=20ms,jitter=10ms,jitter_reorder=1", true},
  };
  for (const row& r : rows) {
    CAPTURE(r.name);
    direction d(parse_direction_spec(r.spec), 9, 4096, 128);
    const auto out = run(d, 2000, 64, ms);
    REQUIRE(out.size() == 2000);
    std::size_t inversions = 0;
    double total_delay = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (i > 0 && out[i].seq < out[i - 1].seq) ++inversions;
      total_delay += static_cast<double>(out[i].at_ns - std::int64_t{out[i].seq} * ms);
      CHECK(out[i].at_ns - std::int64_t{out[i].seq} * ms >= 10 * ms);
    }
    CHECK((inversions > 0) == r.may_reorder);
    if (r.may_reorder) {  // uniform jitter around 20 ms: the mean delay is 20 ms
      CHECK(total_delay / out.size() == doctest::Approx(20.0 * ms).epsilon(0.03));
    }
  }
}

TEST_CASE("reordered frames skip the delay line") {
  direction d(parse_direction_spec("delay=10ms,reorder=10%"), 5, 256, 128);
  const std::uint32_t n = 20000;
  const auto out = run(d, n, 64, ms);
  REQUIRE(out.size() == n);
  std::size_t skipped = 0;
  for (const sent& s : out) {
    const std::int64_t delay = s.at_ns - std::int64_t{s.seq} * ms;
    CHECK((delay == 0 || delay == 10 * ms));
    if (delay == 0) ++skipped;
  }
  CHECK(skipped == d.stats().reordered);
  const double sd = std::sqrt(0.1 * 0.9 / n);
  CHECK(std::abs(static_cast<double>(skipped) / n - 0.1) < 5 * sd);
}

TEST_CASE("the pool bounds what a direction holds; oversize frames are dropped") {
  direction d(parse_direction_spec("delay=100ms"), 1, 8, 128);
  std::vector<std::uint8_t> frame(200, 0);
  for (int i = 0; i < 10; ++i) d.offer(frame.data(), 100, 0);
  d.offer(frame.data(), 200, 0);
  CHECK(d.frames_inside() == 8);
  CHECK(d.stats().dropped_pool == 2);
  CHECK(d.stats().dropped_oversize == 1);
  std::size_t released = 0;
  d.release(100 * ms, [&](const std::uint8_t*, std::size_t) { ++released; });
  CHECK(released == 8);
  CHECK(d.frames_inside() == 0);
}
