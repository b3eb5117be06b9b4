#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "actors/runtime/event_log.hpp"

using baton::node::event_log;
using baton::node::severity;

TEST_CASE("event log keeps the newest events, counts by name and pages by sequence") {
  struct row {
    const char* name;
    std::size_t capacity;
    int added;
    std::uint64_t after;
    std::size_t expect_listed;
    std::uint64_t expect_first_seq;
  };
  const row rows[] = {
    {"fewer than capacity", 10, 3, 0, 3, 1},
    {"wraps at capacity", 4, 10, 0, 4, 7},
    {"after a sequence", 10, 5, 2, 3, 3},
    {"after the newest", 10, 5, 5, 0, 0},
  };
  for (auto& r : rows) {
    CAPTURE(r.name);
    event_log log{r.capacity, false};
    for (int i = 0; i < r.added; ++i)
      log.add(severity::info, i % 2 ? "odd" : "even", {{"i", std::to_string(i)}});
    auto events = nlohmann::json::parse(log.json(r.after));
    REQUIRE(events.size() == r.expect_listed);
    if (r.expect_listed > 0) {
      CHECK(events.front()["seq"] == r.expect_first_seq);
      CHECK(events.back()["seq"] == static_cast<std::uint64_t>(r.added));
    }
    CHECK(log.count("even") == static_cast<std::uint64_t>((r.added + 1) / 2));
    CHECK(log.count("odd") == static_cast<std::uint64_t>(r.added / 2));
    CHECK(log.count("never") == 0);
  }
}

TEST_CASE("event fields are JSON-escaped") {
  event_log log{8, false};
  log.add(severity::warning, "peer_refused", {{"reason", "quote \" and\nnewline"}});
  auto events = nlohmann::json::parse(log.json());
  REQUIRE(events.size() == 1);
  CHECK(events[0]["reason"] == "quote \" and\nnewline");
  CHECK(events[0]["level"] == "warning");
  CHECK(events[0]["event"] == "peer_refused");
}
