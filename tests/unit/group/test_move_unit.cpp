// "Move a unit" (console: POST /group/move): the master moves one work unit to the member an
// operator names, with document 004's de-assign (the same move rebalancing makes), and the state
// goes with it. Run in the group simulator, with and without loss.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "actors/group/group_member.hpp"
#include "actors/group/work_units.hpp"
#include "group_sim.hpp"

using namespace baton::group;
using namespace baton::group::sim;
using verdict = group_member::move_verdict;

namespace {

const std::vector<loss_row> rows = {{"0% loss", 0.0, 11}, {"5% loss", 0.05, 12}, {"20% loss", 0.20, 13}};

}  // namespace

TEST_CASE("a requested move ends with the member asked owning the unit, state handed over, and it stays") {
  for (const auto& r : rows) {
    CAPTURE(r.name);
    group_sim s{make_config(3, r.loss, r.seed)};
    s.start_all();
    REQUIRE(s.run_until_stable(time_ms{500}, time_ms{30000}));
    // Every member owns some units (rebalancing has spread them), so both kinds of move exist.
    REQUIRE(s.run_until([&] {
      auto l = s.loads();
      return s.converged() && l.size() == 3 && l[0] > 0 && l[1] > 0 && l[2] > 0;
    }, time_ms{60000}));
    const std::size_t m = s.masters().at(0);
    // A unit the master does not own, moved to the master's other member... and one the master
    // owns, moved away from it: both ends of the de-assign.
    for (bool from_master : {false, true}) {
      CAPTURE(from_master);
      unit_id u = 0;
      std::size_t owner = 0;
      for (; u < 1024; ++u) {
        auto o = s.index_of(s.node(m).owner_of(u));
        if (o && (*o == m) == from_master) {
          owner = *o;
          break;
        }
      }
      REQUIRE(u < 1024);
      std::size_t to = 0;
      while (to == owner) ++to;
      auto before = s.counter(owner, u);
      REQUIRE(before);
      const auto takeovers = s.takeovers().size();

      CHECK(s.node(m).request_move(u, group_sim::address(to), s.now()) == verdict::started);
      s.drain(m);
      CHECK(s.run_until([&] { return s.node(to).owns(u) && s.converged(); }, time_ms{20000}));
      CHECK_FALSE(s.node(owner).owns(u));
      CHECK(s.node(m).owner_of(u) == group_sim::address(to));
      // The new owner continued from the old owner's state (a hand-over, not a fresh start).
      bool handed = false;
      for (std::size_t i = takeovers; i < s.takeovers().size(); ++i) {
        const auto& t = s.takeovers()[i];
        if (t.unit == u && t.handover) handed = t.value >= *before;
      }
      CHECK(handed);
      // Rebalancing (every 2 s) would even the loads out again; it moves another unit, not this.
      s.run_for(time_ms{5000});
      CHECK(s.node(to).owns(u));
      for (const auto& v : s.violations()) FAIL_CHECK(v);
    }
  }
}

TEST_CASE("a requested move is refused, changing nothing, when it cannot be made") {
  group_sim s{make_config(3, 0.0, 21)};
  s.start_all();
  REQUIRE(s.run_until_stable(time_ms{500}, time_ms{30000}));
  const std::size_t m = s.masters().at(0);
  const std::size_t client = m == 0 ? 1 : 0;
  const node_id owner = s.node(m).owner_of(5);
  node_id other = no_node;
  for (std::size_t i = 0; i < 3; ++i)
    if (group_sim::address(i) != owner) other = group_sim::address(i);
  struct row {
    const char* name;
    std::size_t asked;
    unit_id unit;
    node_id to;
    verdict expected;
  };
  const std::vector<row> refused = {
    {"asked of a member that is not the master", client, 5, other, verdict::not_master},
    {"a unit beyond N", m, 1024, other, verdict::no_such_unit},
    {"a node that is not a member", m, 5, (10u << 24) | 99u, verdict::not_a_member},
    {"to the unit's owner", m, 5, owner, verdict::already_there},
  };
  const auto version = s.node(m).table()->version();
  for (const auto& r : refused) {
    CAPTURE(r.name);
    CHECK(s.node(r.asked).request_move(r.unit, r.to, s.now()) == r.expected);
    s.drain(r.asked);
  }
  CHECK(s.node(m).table()->version() == version);
  CHECK(s.node(m).table()->at(5).move_target == no_node);
  // A unit already moving is not moved a second time.
  CHECK(s.node(m).request_move(5, other, s.now()) == verdict::started);
  CHECK(s.node(m).request_move(5, other, s.now()) == verdict::busy);
  s.drain(m);
  CHECK(s.run_until([&] { return s.node(m).owner_of(5) == other && s.converged(); }, time_ms{10000}));
}

TEST_CASE("rebalancing leaves a unit where a requested move put it, until its owner changes otherwise") {
  const node_id a = group_sim::address(0), b = group_sim::address(1);
  const std::vector<node_id> members{a, b};
  work_table t{4};
  t.assign(0, a, true);
  t.assign(1, b, true);
  t.assign(2, b, true);
  t.assign(3, a, true);
  t.start_move(0, b, time_ms{100}, true);  // an operator's move of unit 0 to b
  REQUIRE(t.finish_move(0, b, members));
  REQUIRE(t.ack(0, b));
  CHECK(t.at(0).pinned);
  // b has 3, a 1: one unit goes back to a, and it is b's lowest unit that was not asked for.
  auto moves = t.plan_rebalance(members, 0, time_ms{200});
  REQUIRE(moves.size() == 1);
  CHECK(moves[0].unit == 1);
  CHECK(moves[0].from == b);
  // A failover or new assignment forgets the pin.
  t.assign(0, a, true);
  CHECK_FALSE(t.at(0).pinned);
  // A planned move does not pin.
  t.start_move(3, b, time_ms{300}, false);
  REQUIRE(t.finish_move(3, b, members));
  CHECK_FALSE(t.at(3).pinned);
}
