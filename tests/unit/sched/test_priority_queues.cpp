// Document 003's PK on a backbone (net/sched/priority_queues.hpp): the top priority strictly
// first, weighted shares below it, whole messages in order, no credit for an idle level.

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "net/sched/priority_queues.hpp"

using namespace baton::net;

namespace {

// One message: a 4-byte sequence number, then filler up to `len` bytes.
void push_message(priority_queues& q, std::size_t level, std::uint32_t seq, std::size_t len) {
  q.push(level, [&](std::vector<unsigned char>& out) {
    const unsigned char b[4] = {static_cast<unsigned char>(seq >> 24), static_cast<unsigned char>(seq >> 16),
                                static_cast<unsigned char>(seq >> 8), static_cast<unsigned char>(seq)};
    out.insert(out.end(), b, b + 4);
    out.insert(out.end(), len - 4, static_cast<unsigned char>(level));
  });
}

}  // namespace

TEST_CASE("weighted levels share the stream by weight while backlogged; the top is strict") {
  struct row {
    const char* name;
    priority_queues::weights_t weights;
    std::vector<std::size_t> active;      // levels kept backlogged
    std::array<double, 4> expected;       // share of the bytes per level
  };
  const row rows[] = {
    {"defaults 1/2/4, all three", {1, 2, 4}, {0, 1, 2}, {1 / 7.0, 2 / 7.0, 4 / 7.0, 0}},
    {"equal weights", {1, 1, 1}, {0, 1, 2}, {1 / 3.0, 1 / 3.0, 1 / 3.0, 0}},
    {"two levels 1:4", {1, 2, 4}, {0, 2}, {0.2, 0, 0.8, 0}},
    {"lowest level alone gets everything", {1, 2, 4}, {0}, {1, 0, 0, 0}},
    {"large weights 1000:1", {1000, 1, 1}, {0, 1}, {1000 / 1001.0, 1 / 1001.0, 0, 0}},
    {"top with the others: the top only", {1, 2, 4}, {0, 1, 2, 3}, {0, 0, 0, 1}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    priority_queues q(r.weights);
    std::mt19937 rng{7};
    std::uniform_int_distribution<std::size_t> size(12, 9000);  // TSK messages: WA .. a few TDs
    std::uint32_t seq = 0;
    for (std::size_t l : r.active)
      for (int i = 0; i < 8; ++i) push_message(q, l, seq++, size(rng));
    std::array<std::uint64_t, 4> bytes{};
    std::vector<unsigned char> batch;
    for (int i = 0; i < 20000; ++i) {
      batch.clear();
      const int l = q.take(batch, 16 * 1024);
      REQUIRE(l >= 0);
      bytes[static_cast<std::size_t>(l)] += batch.size();
      // Refill what was served: every active level stays backlogged.
      while (q.stats(static_cast<std::size_t>(l)).queued_messages < 8)
        push_message(q, static_cast<std::size_t>(l), seq++, size(rng));
    }
    const double total = static_cast<double>(std::accumulate(bytes.begin(), bytes.end(), std::uint64_t{0}));
    for (std::size_t l = 0; l < 4; ++l) {
      CAPTURE(l);
      CHECK(static_cast<double>(bytes[l]) / total == doctest::Approx(r.expected[l]).epsilon(0.02));
    }
  }
}

TEST_CASE("the top priority is served next whatever the weighted levels have queued") {
  priority_queues q;
  for (std::uint32_t i = 0; i < 100; ++i) push_message(q, 0, i, 30000);
  std::vector<unsigned char> batch;
  CHECK(q.take(batch, 16384) == 0);
  push_message(q, 3, 1000, 100);
  batch.clear();
  CHECK(q.take(batch, 16384) == 3);
  CHECK(batch.size() == 100);
  CHECK(q.stats(3).sent_bytes == 100);
  CHECK(q.stats(3).queued_bytes == 0);
  batch.clear();
  CHECK(q.take(batch, 16384) == 0);
}

TEST_CASE("batches are whole messages of one level, in the order pushed") {
  struct row {
    const char* name;
    std::vector<std::size_t> sizes;
    std::size_t max;
    std::vector<std::size_t> batch_messages;  // messages per batch taken
  };
  const row rows[] = {
    {"several small in one batch", {100, 100, 100, 100}, 250, {2, 2}},
    {"a message larger than max goes alone", {20000, 100, 100}, 4096, {1, 2}},
    {"exact fit", {1000, 1000, 1000}, 2000, {2, 1}},
    {"one byte short of two", {1000, 1000}, 1999, {1, 1}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    priority_queues q;
    for (std::size_t i = 0; i < r.sizes.size(); ++i) push_message(q, 1, static_cast<std::uint32_t>(i), r.sizes[i]);
    std::uint32_t expect_seq = 0;
    for (std::size_t want : r.batch_messages) {
      std::vector<unsigned char> batch;
      REQUIRE(q.take(batch, r.max) == 1);
      std::size_t at = 0, got = 0;
      while (at < batch.size()) {
        const std::uint32_t seq = (std::uint32_t{batch[at]} << 24) | (std::uint32_t{batch[at + 1]} << 16) |
                                  (std::uint32_t{batch[at + 2]} << 8) | batch[at + 3];
        CHECK(seq == expect_seq);
        at += r.sizes[expect_seq];
        ++expect_seq;
        ++got;
      }
      CHECK(at == batch.size());
      CHECK(got == want);
    }
    std::vector<unsigned char> rest;
    CHECK(q.take(rest, r.max) == -1);
    CHECK(rest.empty());
    CHECK(q.empty());
  }
}

TEST_CASE("an idle level earns no credit: it rejoins at the virtual time") {
  priority_queues q({1, 2, 4});
  std::vector<unsigned char> batch;
  std::uint32_t seq = 0;
  // Level 0 alone for a long time.
  for (int i = 0; i < 1000; ++i) {
    push_message(q, 0, seq++, 4000);
    batch.clear();
    REQUIRE(q.take(batch, 4000) == 0);
  }
  // Both backlogged from now: level 2 gets 4 of every 5 batches at once, not a long run to
  // catch up on the time it was idle, and level 0 is not starved.
  for (int i = 0; i < 50; ++i) {
    push_message(q, 0, seq++, 4000);
    push_message(q, 2, seq++, 4000);
  }
  std::array<int, 4> served{};
  for (int i = 0; i < 25; ++i) {
    batch.clear();
    const int l = q.take(batch, 4000);
    REQUIRE(l >= 0);
    ++served[static_cast<std::size_t>(l)];
  }
  CHECK(served[0] == doctest::Approx(5).epsilon(0.25));
  CHECK(served[2] == doctest::Approx(20).epsilon(0.1));
}

TEST_CASE("clear drops what is queued and keeps the weights") {
  priority_queues q({3, 2, 1});
  push_message(q, 0, 0, 100);
  push_message(q, 3, 1, 100);
  CHECK(q.queued_total() == 200);
  q.clear();
  CHECK(q.empty());
  CHECK(q.queued_total() == 0);
  CHECK(q.weights() == priority_queues::weights_t{3, 2, 1});
  std::vector<unsigned char> batch;
  CHECK(q.take(batch, 1000) == -1);
}

TEST_CASE("weights are clipped to 1..max_weight and levels above the top go to the top") {
  priority_queues q({0, 5000, 7});
  CHECK(q.weights() == priority_queues::weights_t{1, priority_queues::max_weight, 7});
  push_message(q, 9, 0, 50);
  CHECK(q.queued(3) == 50);
  CHECK(q.queued(9) == 0);
}
