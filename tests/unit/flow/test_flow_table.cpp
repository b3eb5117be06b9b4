// flow_table: insert/find/erase, full table, deletion keeping chains valid, timeouts per state,
// bounded sweep, and a randomized model test against std::unordered_map.

#include <doctest/doctest.h>

#include <chrono>
#include <random>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "net/flow/flow_table.hpp"

using namespace baton::net;
using std::chrono::milliseconds;

namespace {
flow_key key(std::uint32_t n, std::uint8_t proto = 6) {
  flow_key k;
  k.src_addr = 0x0a000000u | (n >> 16);
  k.dst_addr = 0xc0a8010au;
  k.src_port = static_cast<std::uint16_t>(n);
  k.dst_port = 80;
  k.protocol = proto;
  return k;
}
flow_value value(std::uint32_t user, milliseconds now = milliseconds{0},
                 flow_state st = flow_state::tcp_established) {
  flow_value v;
  v.user = user;
  v.last_seen = flow_stamp(now);
  v.state = st;
  v.work_unit = static_cast<std::uint16_t>(user % 1024);
  return v;
}
}  // namespace

TEST_CASE("bytes per entry") {
  CHECK(flow_table::slot_bytes == 32);
  CHECK(flow_table::max_bytes_per_entry <= 64);
  struct row {
    const char* name;
    std::size_t capacity;
  };
  const row rows[] = {
      {"64", 64},
      {"1000", 1000},
      {"just under the huge-page threshold", 419429},
      {"just over the huge-page threshold", 419431},
      {"one million", 1000000},
  };
  for (const row& r : rows) {
    INFO("row: " << r.name);
    const flow_table t(r.capacity);
    CHECK(t.bytes_per_entry() <= static_cast<double>(flow_table::max_bytes_per_entry));
    CHECK(t.memory_bytes() >= t.slot_count() * flow_table::slot_bytes);
    CHECK(t.slot_count() > t.capacity());
  }
}

TEST_CASE("insert, find, erase") {
  flow_table t(100);
  CHECK(t.size() == 0);
  CHECK(t.find(key(1)) == nullptr);

  const insert_result r = t.insert(key(1), value(11));
  CHECK(r.status == insert_status::inserted);
  REQUIRE(r.value != nullptr);
  CHECK(r.value->user == 11);
  CHECK(t.size() == 1);

  // A second insert of the same key keeps the old value and says so.
  const insert_result again = t.insert(key(1), value(99));
  CHECK(again.status == insert_status::exists);
  REQUIRE(again.value != nullptr);
  CHECK(again.value->user == 11);
  CHECK(t.size() == 1);

  // The reverse direction is another key.
  CHECK(t.find(key(1).reverse()) == nullptr);

  flow_value* v = t.find(key(1));
  REQUIRE(v != nullptr);
  v->user = 12;  // values are updated in place
  CHECK(t.find(key(1))->user == 12);

  CHECK(t.erase(key(1)));
  CHECK_FALSE(t.erase(key(1)));
  CHECK(t.find(key(1)) == nullptr);
  CHECK(t.size() == 0);

  t.insert(key(2), value(2));
  t.insert(key(3), value(3));
  t.clear();
  CHECK(t.size() == 0);
  CHECK(t.find(key(2)) == nullptr);
  CHECK(t.insert(key(2), value(2)).status == insert_status::inserted);
}

TEST_CASE("a full table refuses inserts until an entry goes") {
  struct row {
    const char* name;
    std::size_t capacity;
  };
  const row rows[] = {{"capacity 1", 1}, {"capacity 8", 8}, {"capacity 1000", 1000}};
  for (const row& r : rows) {
    INFO("row: " << r.name);
    flow_table t(r.capacity);
    for (std::uint32_t i = 0; i < r.capacity; ++i)
      REQUIRE(t.insert(key(i), value(i)).status == insert_status::inserted);
    CHECK(t.size() == r.capacity);
    const insert_result full = t.insert(key(1u << 20), value(0));
    CHECK(full.status == insert_status::full);
    CHECK(full.value == nullptr);
    CHECK(t.find(key(1u << 20)) == nullptr);
    // An existing key is still found through insert when full.
    CHECK(t.insert(key(0), value(5)).status == insert_status::exists);
    for (std::uint32_t i = 0; i < r.capacity; ++i) CHECK(t.find(key(i))->user == i);
    CHECK(t.erase(key(0)));
    CHECK(t.insert(key(1u << 20), value(7)).status == insert_status::inserted);
    CHECK(t.insert(key(1u << 21), value(8)).status == insert_status::full);
  }
}

TEST_CASE("deletion keeps probe chains valid and frees its slot for reuse") {
  // A small table filled to capacity has long clusters; erase every other entry (entries behind
  // them shift back), then every survivor must still be found, and the freed room reused, for
  // many rounds of churn.
  flow_table t(64);
  std::vector<std::uint32_t> live;
  std::uint32_t next = 0;
  for (; next < 64; ++next) {
    REQUIRE(t.insert(key(next), value(next)).status == insert_status::inserted);
    live.push_back(next);
  }
  for (int round = 0; round < 200; ++round) {
    CAPTURE(round);
    std::vector<std::uint32_t> kept;
    for (std::size_t i = 0; i < live.size(); ++i) {
      if ((i + round) % 2 == 0) {
        REQUIRE(t.erase(key(live[i])));
      } else {
        kept.push_back(live[i]);
      }
    }
    for (auto n : kept) {
      const flow_value* v = t.find(key(n));
      REQUIRE(v != nullptr);
      CHECK(v->user == n);
    }
    while (kept.size() < 64) {
      REQUIRE(t.insert(key(next), value(next)).status == insert_status::inserted);
      kept.push_back(next++);
    }
    CHECK(t.size() == 64);
    CHECK(t.insert(key(next + 100000), value(0)).status == insert_status::full);
    live = kept;
  }
  // Probe chains have not grown without bound over the churn.
  CHECK(t.longest_probe() <= t.slot_count());
  for (auto n : live) CHECK(t.find(key(n)) != nullptr);
}

TEST_CASE("opens_flow: which first datagram may get a fresh choice") {
  constexpr std::uint8_t tcp = 6, udp = 17, icmp = 1, gre = 47;
  struct row {
    const char* name;
    std::uint8_t protocol;
    std::uint8_t flags;
    bool opens;
  };
  const row rows[] = {
      {"syn", tcp, tcp_flag_syn, true},
      {"syn with ecn setup (ece|cwr)", tcp, tcp_flag_syn | tcp_flag_ece | tcp_flag_cwr, true},
      {"syn with fin (not looked at)", tcp, tcp_flag_syn | tcp_flag_fin, true},
      {"syn with psh", tcp, tcp_flag_syn | tcp_flag_psh, true},
      {"syn+ack (the reply)", tcp, tcp_flag_syn | tcp_flag_ack, false},
      {"syn+rst", tcp, tcp_flag_syn | tcp_flag_rst, false},
      {"syn+ack+rst", tcp, tcp_flag_syn | tcp_flag_ack | tcp_flag_rst, false},
      {"ack (mid-stream)", tcp, tcp_flag_ack, false},
      {"ack+psh (data)", tcp, tcp_flag_ack | tcp_flag_psh, false},
      {"fin+ack", tcp, tcp_flag_fin | tcp_flag_ack, false},
      {"rst", tcp, tcp_flag_rst, false},
      {"no flags (null scan)", tcp, 0, false},
      {"all flags (xmas)", tcp, 0xff, false},
      {"udp, flags byte 0", udp, 0, true},
      {"udp, flags byte ignored", udp, tcp_flag_ack | tcp_flag_rst, true},
      {"icmp", icmp, 0, true},
      {"gre", gre, tcp_flag_ack, true},
  };
  for (const row& r : rows) {
    CAPTURE(r.name);
    CHECK(opens_flow(r.protocol, r.flags) == r.opens);
  }
  static_assert(opens_flow(6, tcp_flag_syn) && !opens_flow(6, tcp_flag_syn | tcp_flag_ack));
}

TEST_CASE("state machine") {
  struct row {
    const char* name;
    flow_state from;
    std::uint8_t flags;
    flow_state to;
  };
  const row rows[] = {
      {"syn then ack", flow_state::tcp_syn_seen, tcp_flag_ack, flow_state::tcp_established},
      {"syn retransmit", flow_state::tcp_syn_seen, tcp_flag_syn, flow_state::tcp_syn_seen},
      {"syn-ack seen", flow_state::tcp_syn_seen, tcp_flag_syn | tcp_flag_ack, flow_state::tcp_syn_seen},
      {"data", flow_state::tcp_established, tcp_flag_ack, flow_state::tcp_established},
      {"fin", flow_state::tcp_established, tcp_flag_fin | tcp_flag_ack, flow_state::tcp_closing},
      {"rst", flow_state::tcp_established, tcp_flag_rst, flow_state::tcp_closed},
      {"rst while closing", flow_state::tcp_closing, tcp_flag_rst | tcp_flag_ack, flow_state::tcp_closed},
      {"last ack", flow_state::tcp_closing, tcp_flag_ack, flow_state::tcp_closing},
      {"fin after rst", flow_state::tcp_closed, tcp_flag_fin, flow_state::tcp_closed},
      {"reuse after close", flow_state::tcp_closed, tcp_flag_syn, flow_state::tcp_syn_seen},
      {"reuse in time-wait", flow_state::tcp_closing, tcp_flag_syn, flow_state::tcp_syn_seen},
      {"udp stays udp", flow_state::udp, tcp_flag_rst, flow_state::udp},
      {"other stays other", flow_state::other, tcp_flag_fin, flow_state::other},
  };
  for (const row& r : rows) {
    INFO("row: " << r.name);
    CHECK(next_state(r.from, r.flags) == r.to);
  }

  struct first {
    const char* name;
    std::uint8_t proto;
    std::uint8_t flags;
    flow_state st;
  };
  const first firsts[] = {
      {"syn", 6, tcp_flag_syn, flow_state::tcp_syn_seen},
      {"mid-stream ack", 6, tcp_flag_ack, flow_state::tcp_established},
      {"syn-ack", 6, tcp_flag_syn | tcp_flag_ack, flow_state::tcp_established},
      {"fin", 6, tcp_flag_fin | tcp_flag_ack, flow_state::tcp_closing},
      {"rst", 6, tcp_flag_rst, flow_state::tcp_closed},
      {"udp", 17, 0, flow_state::udp},
      {"icmp", 1, 0, flow_state::other},
  };
  for (const first& f : firsts) {
    INFO("row: " << f.name);
    CHECK(initial_state(f.proto, f.flags) == f.st);
    const flow_value v = make_flow_value(f.proto, f.flags, 700, milliseconds{1234}, 42);
    CHECK(v.state == f.st);
    CHECK(v.work_unit == 700);
    CHECK(v.user == 42);
    CHECK(v.last_seen == 1234u);
  }

  flow_value v = make_flow_value(6, tcp_flag_syn, 1, milliseconds{10});
  touch(v, milliseconds{20}, tcp_flag_ack);
  CHECK(v.state == flow_state::tcp_established);
  CHECK(v.last_seen == 20u);
}

TEST_CASE("idle timeouts per state") {
  flow_timeouts to;
  to.tcp_syn_seen = milliseconds{1000};
  to.tcp_established = milliseconds{50000};
  to.tcp_closing = milliseconds{3000};
  to.tcp_closed = milliseconds{200};
  to.udp = milliseconds{7000};
  to.other = milliseconds{900};
  struct row {
    const char* name;
    flow_state st;
    std::uint8_t proto;
    std::int64_t timeout;
  };
  const row rows[] = {
      {"syn_seen", flow_state::tcp_syn_seen, 6, 1000},
      {"established", flow_state::tcp_established, 6, 50000},
      {"closing", flow_state::tcp_closing, 6, 3000},
      {"closed", flow_state::tcp_closed, 6, 200},
      {"udp", flow_state::udp, 17, 7000},
      {"other", flow_state::other, 1, 900},
  };
  // Near the 2^32 ms wrap too: last-seen times are stored modulo 2^32.
  const std::int64_t starts[] = {5000, (std::int64_t{1} << 32) - 100};
  for (std::int64_t start : starts) {
    for (const row& r : rows) {
      INFO("row: " << r.name);
      CAPTURE(start);
      CHECK(to.of(r.st).count() == r.timeout);
      flow_table t(16, to);
      REQUIRE(t.insert(key(1, r.proto), value(1, milliseconds{start}, r.st)).status ==
              insert_status::inserted);
      const flow_value* v = t.find(key(1, r.proto));
      REQUIRE(v != nullptr);
      CHECK_FALSE(t.expired(*v, milliseconds{start + r.timeout - 1}));
      CHECK(t.expired(*v, milliseconds{start + r.timeout}));

      // A full sweep just before the timeout keeps it; at the timeout removes it.
      CHECK(t.sweep(milliseconds{start + r.timeout - 1}, t.slot_count()).expired == 0);
      CHECK(t.find(key(1, r.proto)) != nullptr);
      CHECK(t.sweep(milliseconds{start + r.timeout}, t.slot_count()).expired == 1);
      CHECK(t.find(key(1, r.proto)) == nullptr);
      CHECK(t.size() == 0);
    }
  }

  // touch() restarts the idle time and the state decides which timeout applies.
  flow_table t(16, to);
  flow_value* v = t.insert(key(5), make_flow_value(6, tcp_flag_syn, 3, milliseconds{0})).value;
  REQUIRE(v != nullptr);
  touch(*v, milliseconds{900}, tcp_flag_ack);  // now established: 50 s
  CHECK_FALSE(t.expired(*v, milliseconds{900 + 49999}));
  CHECK(t.expired(*v, milliseconds{900 + 50000}));
}

TEST_CASE("bad construction arguments throw") {
  CHECK_THROWS_AS(flow_table(0), std::invalid_argument);
  CHECK_THROWS_AS(flow_table(flow_table::max_capacity + 1), std::invalid_argument);
  flow_timeouts zero;
  zero.udp = milliseconds{0};
  CHECK_THROWS_AS(flow_table(10, zero), std::invalid_argument);
  flow_timeouts huge;
  huge.tcp_established = milliseconds{std::int64_t{1} << 31};
  CHECK_THROWS_AS(flow_table(10, huge), std::invalid_argument);
}

TEST_CASE("sweep does bounded work and reaches every entry over successive calls") {
  flow_timeouts to;
  to.tcp_established = milliseconds{100};
  flow_table t(1000, to);
  for (std::uint32_t i = 0; i < 1000; ++i) t.insert(key(i), value(i, milliseconds{0}));
  // Half the entries are refreshed; the other half will be idle.
  for (std::uint32_t i = 0; i < 1000; i += 2)
    t.find(key(i))->last_seen = flow_stamp(milliseconds{500});

  std::unordered_map<flow_key, std::uint32_t, flow_key_hash> seen;
  const milliseconds now{550};
  std::size_t calls = 0, expired = 0;
  const std::size_t budget = 16;
  // One full pass costs slot_count() visits plus one re-visit per removal.
  const std::size_t max_calls = (t.slot_count() + 500) / budget + 2;
  while (expired < 500 && calls < max_calls) {
    const sweep_result r = t.sweep(now, budget, [&](const flow_key& k, const flow_value& v) {
      ++seen[k];
      CHECK(v.user % 2 == 1);  // only the idle half
      CHECK(t.expired(v, now));
    });
    CHECK(r.visited <= budget);
    CHECK(r.expired <= r.visited);
    expired += r.expired;
    ++calls;
  }
  CHECK(expired == 500);
  CHECK(seen.size() == 500);
  for (const auto& [k, n] : seen) CHECK(n == 1);
  CHECK(t.size() == 500);
  for (std::uint32_t i = 0; i < 1000; ++i) CHECK((t.find(key(i)) != nullptr) == (i % 2 == 0));
  CHECK(t.sweep(now, 0).visited == 0);
}

TEST_CASE("model test against std::unordered_map") {
  // Random operations on a small key space, so inserts often meet existing keys, erases hit and
  // miss, and the table runs full; after each step the table must agree with the model.
  struct row {
    const char* name;
    std::size_t capacity;
    std::uint32_t key_space;
    std::uint64_t seed;
  };
  const row rows[] = {
      {"tiny, mostly full", 7, 12, 1},
      {"small", 200, 400, 2},
      {"larger, sparse keys", 3000, 20000, 3},
  };
  for (const row& r : rows) {
    INFO("row: " << r.name);
    flow_timeouts to;
    to.tcp_established = milliseconds{500};
    to.udp = milliseconds{300};
    flow_table t(r.capacity, to, r.seed * 77);
    std::unordered_map<flow_key, flow_value, flow_key_hash> model;
    std::mt19937_64 rng(r.seed);
    std::int64_t now = 0;
    std::size_t full_count = 0;
    for (int step = 0; step < 60000; ++step) {
      now += static_cast<std::int64_t>(rng() % 3);
      const std::uint32_t n = static_cast<std::uint32_t>(rng() % r.key_space);
      const flow_key k = key(n, n % 3 == 0 ? 17 : 6);
      const auto op = rng() % 10;
      if (op < 4) {
        const flow_value v =
            make_flow_value(k.protocol, tcp_flag_ack, n % 1024, milliseconds{now}, n);
        const insert_result res = t.insert(k, v);
        const auto it = model.find(k);
        if (it != model.end()) {
          REQUIRE(res.status == insert_status::exists);
          REQUIRE(res.value->user == it->second.user);
        } else if (model.size() == r.capacity) {
          REQUIRE(res.status == insert_status::full);
          ++full_count;
        } else {
          REQUIRE(res.status == insert_status::inserted);
          model.emplace(k, v);
        }
      } else if (op < 6) {
        REQUIRE(t.erase(k) == (model.erase(k) == 1));
      } else if (op < 9) {
        flow_value* v = t.find(k);
        const auto it = model.find(k);
        REQUIRE((v != nullptr) == (it != model.end()));
        if (v) {
          REQUIRE(v->user == it->second.user);
          REQUIRE(v->last_seen == it->second.last_seen);
          touch(*v, milliseconds{now}, tcp_flag_ack);
          touch(it->second, milliseconds{now}, tcp_flag_ack);
        }
      } else {
        t.sweep(milliseconds{now}, rng() % 40, [&](const flow_key& ek, const flow_value& ev) {
          const auto it = model.find(ek);
          REQUIRE(it != model.end());
          REQUIRE(t.expired(it->second, milliseconds{now}));
          REQUIRE(ev.user == it->second.user);
          model.erase(it);
        });
      }
      REQUIRE(t.size() == model.size());
    }
    // Final agreement, both ways.
    std::size_t visited = 0;
    t.for_each([&](const flow_key& k, const flow_value& v) {
      ++visited;
      const auto it = model.find(k);
      REQUIRE(it != model.end());
      CHECK(it->second.user == v.user);
    });
    CHECK(visited == model.size());
    for (const auto& [k, v] : model) CHECK(t.find(k) != nullptr);
    // After one full sweep nothing idle is left.
    t.sweep(milliseconds{now}, t.slot_count() + t.size());
    t.for_each([&](const flow_key&, const flow_value& v) {
      CHECK_FALSE(t.expired(v, milliseconds{now}));
    });
    if (r.capacity < 10) CHECK(full_count > 0);
  }
}

TEST_CASE("find_batch agrees with find, for any batch size") {
  flow_table t(500);
  for (std::uint32_t i = 0; i < 500; i += 2) t.insert(key(i), value(i));
  std::vector<flow_key> keys;
  for (std::uint32_t i = 0; i < 100; ++i) keys.push_back(key(i * 5));  // hits and misses
  const std::size_t sizes[] = {0, 1, 15, 16, 17, 100};
  for (std::size_t n : sizes) {
    CAPTURE(n);
    std::vector<flow_value*> out(n + 1, nullptr);
    flow_value sentinel;
    out[n] = &sentinel;
    t.find_batch(keys.data(), n, out.data());
    for (std::size_t i = 0; i < n; ++i) {
      t.prefetch(keys[i]);
      CHECK(out[i] == t.find(keys[i]));
      CHECK((out[i] != nullptr) == ((i * 5) % 2 == 0));
    }
    CHECK(out[n] == &sentinel);  // nothing written past n
  }
}

TEST_CASE("a table moves with its entries") {
  flow_table a(10);
  a.insert(key(1), value(1));
  flow_table b(std::move(a));
  REQUIRE(b.find(key(1)) != nullptr);
  CHECK(b.find(key(1))->user == 1);
  CHECK(b.size() == 1);
  flow_table c(3);
  c = std::move(b);
  CHECK(c.find(key(1)) != nullptr);
  CHECK(c.capacity() == 10);
}
