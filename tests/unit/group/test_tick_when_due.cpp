// Timers that fire when due (issue 15): the group actor ticks at group_member::next_due()
// instead of every few milliseconds. A simulation ticked only then behaves exactly as one ticked
// every simulated millisecond.
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>

#include "group_sim.hpp"

using namespace baton::group;

TEST_CASE("ticks when due: the group behaves exactly as with a tick every millisecond") {
  // Issue 15: batond's group actor ticks when group_member::next_due() says a timer is due
  // instead of every 5 ms. Two simulations, identical but for that, through election, joins,
  // state replication, loss, a master and a member killed and a partition that heals: the same
  // messages at the same times (the simulator draws delays and losses from one seeded generator
  // per message, so any difference in what is sent, or when, shows in what follows), the same
  // events at every node, the same take-overs; and far fewer ticks.
  for (const double loss : {0.0, 0.05}) {
    CAPTURE(loss);
    auto scenario = [&](bool when_due) {
      sim::sim_config cfg;
      cfg.nodes = 4;
      cfg.seed = 7;
      cfg.loss = loss;
      cfg.group.work_units = 64;
      cfg.tick_when_due = when_due;
      auto s = std::make_unique<sim::group_sim>(cfg);
      s->start_all();
      s->run_for(time_ms{3000});
      const auto m = s->masters();
      if (!m.empty()) s->kill(m.front());
      s->run_for(time_ms{2000});
      s->kill(1);
      s->run_for(time_ms{1500});
      s->partition({{0, 2}, {3}});
      s->run_for(time_ms{1000});
      s->heal();
      s->run_for(time_ms{3000});
      return s;
    };
    const auto every_ms = scenario(false);
    const auto when_due = scenario(true);
    CHECK(when_due->sent() == every_ms->sent());
    CHECK(when_due->dropped() == every_ms->dropped());
    CHECK(when_due->keepalives() == every_ms->keepalives());
    CHECK(when_due->masters() == every_ms->masters());
    CHECK(when_due->takeovers().size() == every_ms->takeovers().size());
    for (std::size_t i = 0; i < std::min(when_due->takeovers().size(), every_ms->takeovers().size()); ++i) {
      CAPTURE(i);
      CHECK(when_due->takeovers()[i].at == every_ms->takeovers()[i].at);
      CHECK(when_due->takeovers()[i].unit == every_ms->takeovers()[i].unit);
      CHECK(when_due->takeovers()[i].node == every_ms->takeovers()[i].node);
    }
    for (std::size_t i = 0; i < every_ms->size(); ++i) {
      CAPTURE(i);
      CHECK(when_due->events(i).size() == every_ms->events(i).size());
      CHECK(when_due->node(i).master() == every_ms->node(i).master());
      CHECK(when_due->node(i).owned_units() == every_ms->node(i).owned_units());
    }
    CHECK(when_due->violations().empty());
    CHECK(when_due->ticks() * 5 < every_ms->ticks());
    MESSAGE("ticks over 10.5 s, 4 nodes: every ms " << every_ms->ticks() << ", when due "
                                                    << when_due->ticks());
  }
}
