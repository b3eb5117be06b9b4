// The group actor alone (no peers) under the test coordinator: it offers itself, becomes master
// after the offer timeout, assigns every unit to itself and pushes the group's view to its role
// (a recording actor standing in for the cluster actor) after the unit events that changed it,
// and only when it changed.
//
// The group actor's state machine reads the wall clock (group_state::now, steady_clock) while its
// timer (tick) is a delayed send on CAF's clock: the test advances the simulated clock tick by
// tick and lets a little real time pass between ticks, with timers of a few milliseconds.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "actors/group/group_actor.hpp"
#include "actors/runtime/event_log.hpp"
#include "tests/unit/actors/actor_rig.hpp"

using namespace baton;
using group::group_view;
using group::no_node;
using group::unit_id;

namespace {

constexpr std::uint32_t self_address = 0x0a00000b;  // 10.0.0.11
constexpr std::uint32_t units = 8;

/// What the stand-in role heard, in order.
struct role_log {
  std::vector<group_view> views;
  std::vector<unit_id> assigned;
  std::vector<std::string> order;  // "assign 3", "view", ...
};

caf::behavior recording_role(caf::event_based_actor*, std::shared_ptr<role_log> log) {
  return {
    [log](const group_view& v) {
      log->views.push_back(v);
      log->order.push_back("view");
    },
    [log](protocol::assign_atom, unit_id u) {
      log->assigned.push_back(u);
      log->order.push_back("assign " + std::to_string(u));
    },
    [log](protocol::revoke_atom, unit_id u, bool) { log->order.push_back("revoke " + std::to_string(u)); },
    [log](protocol::takeover_atom, unit_id u, group::state_bytes&) {
      log->order.push_back("takeover " + std::to_string(u));
    },
  };
}

group::group_actor_config lone_config(caf::actor role) {
  group::group_actor_config c;
  c.self.name = "m1";
  c.self.address = self_address;
  c.identity = "m1";
  c.group.work_units = units;
  c.group.join_timeout = std::chrono::milliseconds(10);
  c.group.master_offer_timeout = std::chrono::milliseconds(10);
  c.group.settle_time = std::chrono::milliseconds(10);
  c.role = std::move(role);
  c.tick_ms = 5;
  return c;
}

bool settled(const group_view& v) {
  if (!v.is_master || v.owners.size() != units) return false;
  for (auto o : v.owners)
    if (o != self_address) return false;
  return true;
}

}  // namespace

TEST_CASE("a lone group actor becomes master after the offer timeout and pushes its view on change") {
  node::event_log events(100, false);  // outlives the rig, whose actors log to it
  test::coordinator_rig rig;
  auto log = std::make_shared<role_log>();
  auto role = rig.keep(rig.sys().spawn(recording_role, log));
  auto g = rig.keep(group::spawn_group_actor(rig.sys(), lone_config(role), events));
  rig.sched.run();

  // Right after start: one view, no master yet (it waits for an OK to join, then for answers to
  // its offer), nothing assigned.
  REQUIRE(log->views.size() == 1);
  CHECK_FALSE(log->views[0].is_master);
  CHECK(log->views[0].master == no_node);
  CHECK(log->views[0].self == self_address);
  CHECK(log->assigned.empty());

  // Ticks every 5 simulated ms; the group's timers run on the same simulated clock (at most 5
  // simulated seconds).
  for (int i = 0; i < 1000 && !settled(log->views.back()); ++i) rig.advance(std::chrono::milliseconds(5));
  const group_view last = log->views.back();
  REQUIRE(settled(last));
  CHECK(last.master == self_address);
  CHECK(last.members == std::vector<group::node_id>{self_address});
  CHECK(last.acked.size() == units);  // the master's table: acknowledgements per unit
  CHECK(events.count("became_master") == 1);

  // Every unit was assigned once, and each assignment reached the role before the first view
  // that shows the unit as ours.
  std::vector<unit_id> sorted = log->assigned;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<unit_id>{0, 1, 2, 3, 4, 5, 6, 7});
  for (unit_id u = 0; u < units; ++u) {
    CAPTURE(u);
    std::size_t assign_at = log->order.size(), view_at = log->order.size();
    std::size_t views_seen = 0;
    for (std::size_t i = 0; i < log->order.size(); ++i) {
      if (log->order[i] == "assign " + std::to_string(u) && assign_at == log->order.size()) assign_at = i;
      if (log->order[i] == "view") {
        if (log->views[views_seen].owners.size() == units && log->views[views_seen].owners[u] == self_address &&
            view_at == log->order.size())
          view_at = i;
        ++views_seen;
      }
    }
    CHECK(assign_at < view_at);
  }

  // A view is pushed only when it differs from the one before.
  for (std::size_t i = 1; i < log->views.size(); ++i) {
    CAPTURE(i);
    CHECK(log->views[i] != log->views[i - 1]);
  }

  // Nothing changes any more: many more ticks (and real time) push no further view, assign nothing.
  // (Acknowledgements may still come in on the first of them; wait until the view is stable.)
  for (int i = 0; i < 10 && log->views.back().acked != std::vector<std::uint8_t>(units, 1); ++i)
    rig.advance(std::chrono::milliseconds(5));
  const auto views_before = log->views.size();
  const auto assigned_before = log->assigned.size();
  for (int i = 0; i < 40; ++i) rig.advance(std::chrono::milliseconds(5));
  CHECK(log->views.size() == views_before);
  CHECK(log->assigned.size() == assigned_before);
  CHECK(log->views.back().is_master);

}
