// Replication of per-unit state (document 004, Figure 7): initial portion once, essential
// portion on every change, resends until acknowledged, hand-over state preferred by freshness.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "actors/group/replication.hpp"

using namespace baton::group;

namespace {

state_bytes bytes(const std::string& s) { return state_bytes(s.begin(), s.end()); }

std::vector<std::pair<node_id, message>> collect(owned_state& o, long now) {
  std::vector<std::pair<node_id, message>> out;
  o.collect(time_ms{now}, time_ms{50}, out);
  return out;
}

}  // namespace

TEST_CASE("owner sends the initial portion once and each essential change") {
  owned_state o;
  o.set_initial(7, bytes("syn"));
  o.set_essential(7, bytes("v1"));
  CHECK(collect(o, 0).empty());  // no backup yet
  o.set_backup(7, 42);
  auto out = collect(o, 1);
  REQUIRE(out.size() == 2);
  CHECK(out[0].first == 42);
  CHECK(std::get<state_initial>(out[0].second).data == bytes("syn"));
  CHECK(std::get<state_essential>(out[1].second).version == 1);
  CHECK(collect(o, 2).empty());  // sent, not yet due again
  // acknowledgements stop the resends; a change goes out at once
  o.on_ack(7, 42, state_ack{7, true, 0});
  o.on_ack(7, 42, state_ack{7, false, 1});
  CHECK(collect(o, 100).empty());
  o.set_essential(7, bytes("v2"));
  out = collect(o, 101);
  REQUIRE(out.size() == 1);
  CHECK(std::get<state_essential>(out[0].second).version == 2);
  // an unacknowledged change is resent after the resend interval, not before
  CHECK(collect(o, 140).empty());
  out = collect(o, 151);
  REQUIRE(out.size() == 1);
  CHECK(std::get<state_essential>(out[0].second).data == bytes("v2"));
  // an acknowledgement from someone else is ignored
  o.on_ack(7, 99, state_ack{7, false, 2});
  CHECK(collect(o, 300).size() == 1);
  // a new backup gets both portions again
  o.on_ack(7, 42, state_ack{7, false, 2});
  o.set_backup(7, 43);
  out = collect(o, 400);
  REQUIRE(out.size() == 2);
  CHECK(out[0].first == 43);
  CHECK(std::holds_alternative<state_initial>(out[0].second));
}

TEST_CASE("backup keeps the newest essential state per owner") {
  replica_store r;
  CHECK(r.on_essential(1, state_essential{3, 2, bytes("b")}).version == 2);
  CHECK(r.on_essential(1, state_essential{3, 1, bytes("a")}).version == 2);  // older: ignored
  CHECK(r.replica(3)->essential == bytes("b"));
  r.on_initial(1, state_initial{3, bytes("i")});
  CHECK(r.replica(3)->has_initial);
  CHECK(r.replica(3)->essential == bytes("b"));
  // a new owner replaces the old owner's replica
  r.on_essential(2, state_essential{3, 1, bytes("c")});
  CHECK(r.replica(3)->owner == 2);
  CHECK(r.replica(3)->essential == bytes("c"));
  CHECK_FALSE(r.replica(3)->has_initial);
  CHECK(r.replica_units() == std::vector<unit_id>{3});
}

TEST_CASE("take-over picks the freshest state") {
  struct row {
    std::string name;
    node_id replica_owner;
    std::uint64_t replica_version;
    node_id handover_owner;  // 0: no hand-over held
    std::uint64_t handover_version;
    node_id previous_owner;
    bool expect_handover;
  };
  const std::vector<row> rows = {
      {"only a replica", 1, 5, 0, 0, 1, false},
      {"hand-over newer than replica, same owner", 1, 5, 1, 6, 1, true},
      {"stale hand-over from an abandoned move", 1, 9, 1, 6, 1, false},
      {"equal versions: the hand-over is final", 1, 5, 1, 5, 1, true},
      {"replica from the previous owner beats a foreign hand-over", 1, 5, 2, 9, 1, false},
      {"hand-over from the previous owner beats a foreign replica", 2, 9, 1, 5, 1, true},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    replica_store s;
    s.on_essential(r.replica_owner, state_essential{4, r.replica_version, bytes("replica")});
    if (r.handover_owner != 0)
      s.on_handover(r.handover_owner, state_handover{4, r.handover_version, true, bytes("i"),
                                                     bytes("handover")});
    bool handover = false;
    const auto got = s.take(4, r.previous_owner, handover);
    REQUIRE(got.has_value());
    CHECK(handover == r.expect_handover);
    CHECK(got->essential == bytes(r.expect_handover ? "handover" : "replica"));
    // both copies are consumed
    CHECK(s.replica(4) == nullptr);
    CHECK(s.handover(4) == nullptr);
  }
}
