// The client gateway's translation table (net/replica/translation_table.hpp): insert, find,
// erase against a model, a full table, expiry by state, counters.

#include <doctest/doctest.h>

#include <map>
#include <random>
#include <stdexcept>
#include <tuple>

#include "net/replica/translation_table.hpp"

namespace baton::net {

TEST_CASE("translation table: capacity bounds") {
  CHECK_THROWS_AS(translation_table(0), std::invalid_argument);
  CHECK_THROWS_AS(translation_table((std::size_t{1} << 22) + 1), std::invalid_argument);
  translation_table t(3);
  CHECK(t.capacity() == 3);
  CHECK(t.counters().capacity == 3);
}

TEST_CASE("translation table: insert, find, erase, full") {
  translation_table t(4);
  bool created = false;
  for (std::uint16_t i = 0; i < 4; ++i) {
    auto* e = t.insert({0x0a010002, static_cast<std::uint16_t>(40000 + i), 80}, created);
    REQUIRE(e);
    CHECK(created);
    e->server = 0x0a030002;
  }
  CHECK(t.size() == 4);
  CHECK(t.insert({0x0a010002, 40000, 80}, created) != nullptr);
  CHECK_FALSE(created);  // the same key: the existing entry
  CHECK(t.insert({0x0a010002, 50000, 80}, created) == nullptr);
  CHECK(t.counters().full == 1);
  CHECK(t.find({0x0a010002, 40002, 80})->server == 0x0a030002);
  CHECK(t.find({0x0a010002, 40002, 81}) == nullptr);
  CHECK(t.erase({0x0a010002, 40002, 80}));
  CHECK_FALSE(t.erase({0x0a010002, 40002, 80}));
  CHECK(t.find({0x0a010002, 40002, 80}) == nullptr);
  CHECK(t.size() == 3);
  const auto c = t.counters();
  CHECK(c.inserts == 4);
  CHECK(c.erased == 1);
  CHECK(c.entries == 3);
}

TEST_CASE("translation table: random inserts and erases agree with a model") {
  translation_table t(512);
  std::map<std::tuple<std::uint32_t, std::uint16_t, std::uint16_t>, std::uint32_t> model;
  std::mt19937 rng(20261202);
  for (int step = 0; step < 20000; ++step) {
    const translation_key k{static_cast<std::uint32_t>(0x0a010000u + rng() % 8), static_cast<std::uint16_t>(rng() % 200),
                            static_cast<std::uint16_t>(80 + rng() % 2)};
    const auto mk = std::make_tuple(k.client, k.client_port, k.server_port);
    if (rng() % 3 == 0) {
      CHECK(t.erase(k) == (model.erase(mk) == 1));
    } else {
      bool created = false;
      auto* e = t.insert(k, created);
      if (model.size() >= 512 && !model.count(mk)) {
        CHECK(e == nullptr);
        continue;
      }
      REQUIRE(e);
      CHECK(created == (model.count(mk) == 0));
      e->server = static_cast<std::uint32_t>(step);
      model[mk] = static_cast<std::uint32_t>(step);
    }
  }
  CHECK(t.size() == model.size());
  for (const auto& [mk, server] : model) {
    auto* e = t.find({std::get<0>(mk), std::get<1>(mk), std::get<2>(mk)});
    REQUIRE(e);
    CHECK(e->server == server);
  }
  std::size_t seen = 0;
  t.for_each([&](const translation_entry&) { ++seen; });
  CHECK(seen == model.size());
}

TEST_CASE("translation table: expiry by state") {
  struct row {
    const char* name;
    translation_state state;
    bool closing;
    std::uint32_t idle_ms;
    bool expired;
  };
  const translation_timeouts to{5000, 120000, 10000};
  const row rows[] = {
    {"pending, young", translation_state::pending, false, 4999, false},
    {"pending, unanswered", translation_state::pending, false, 5000, true},
    {"replica, busy", translation_state::replica, false, 119999, false},
    {"replica, idle", translation_state::replica, false, 120000, true},
    {"origin, idle", translation_state::origin, false, 120001, true},
    {"closing, young", translation_state::replica, true, 9999, false},
    {"closing, done", translation_state::replica, true, 10000, true},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    translation_entry e;
    e.state = r.state;
    e.closing = r.closing;
    e.last_seen_ms = 0xfffff000u;  // the clock wraps
    CHECK(translation_expired(e, 0xfffff000u + r.idle_ms, to) == r.expired);
  }
  translation_table t(64);
  bool created = false;
  for (std::uint16_t i = 0; i < 40; ++i) {
    auto* e = t.insert({1, i, 80}, created);
    e->last_seen_ms = 1000;
    e->state = i % 2 ? translation_state::replica : translation_state::pending;
  }
  std::size_t removed = 0;
  for (int pass = 0; pass < 4; ++pass) removed += t.expire(1000 + 6000, to, 64);
  CHECK(removed == 20);  // the pending half
  CHECK(t.size() == 20);
  CHECK(t.counters().expired == 20);
  for (std::uint16_t i = 0; i < 40; ++i) CHECK((t.find({1, i, 80}) != nullptr) == (i % 2 == 1));
}

}  // namespace baton::net
