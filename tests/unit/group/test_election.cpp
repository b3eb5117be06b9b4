// Master election (document 004, Figure 6 and 8A): tie-break rule, the join/offer timers, and
// whole groups in the simulator converging to one master under message loss.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <variant>
#include <vector>

#include "actors/group/election.hpp"
#include "group_sim.hpp"

using namespace baton::group;
using baton::group::sim::group_sim;
using baton::group::sim::loss_row;
using baton::group::sim::make_config;
using baton::group::sim::sim_config;

TEST_CASE("tie-break: more members wins, then the lower address") {
  struct row {
    std::string name;
    contender me;
    contender other;
    bool me_wins;
  };
  const std::vector<row> rows = {
      {"more members wins despite higher address", {3, 0x0a000005}, {2, 0x0a000001}, true},
      {"fewer members loses despite lower address", {2, 0x0a000001}, {3, 0x0a000005}, false},
      {"equal members, lower address wins", {2, 0x0a000001}, {2, 0x0a000002}, true},
      {"equal members, higher address loses", {2, 0x0a000002}, {2, 0x0a000001}, false},
      {"lone masters, lower address wins", {1, 0x0a000001}, {1, 0xc0a80001}, true},
      {"address compared as a number, not bytes", {1, 0x0a0000ff}, {1, 0x0a000100}, true},
      {"the same node never wins against itself", {1, 0x0a000001}, {1, 0x0a000001}, false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK(wins_tie_break(r.me, r.other) == r.me_wins);
    // exactly one of two different masters stays master
    if (r.me.address != r.other.address) CHECK(wins_tie_break(r.other, r.me) != r.me_wins);
  }
}

TEST_CASE("election timers: join, offer, master after 100 ms without objection") {
  election e{time_ms{100}, time_ms{100}, time_ms{1000}};
  CHECK(e.current() == phase::idle);
  CHECK(e.start(time_ms{0}) == election_action::send_join);
  CHECK(e.on_tick(time_ms{99}) == election_action::none);
  CHECK(e.on_tick(time_ms{100}) == election_action::send_offer);
  CHECK(e.current() == phase::offering);
  CHECK(e.on_tick(time_ms{199}) == election_action::none);
  SUBCASE("no objection: master") {
    CHECK(e.on_tick(time_ms{200}) == election_action::become_master);
    CHECK(e.current() == phase::master);
  }
  SUBCASE("other master exists: join again") {
    CHECK(e.on_objection(time_ms{150}) == election_action::send_join);
    CHECK(e.current() == phase::joining);
    CHECK(e.on_tick(time_ms{200}) == election_action::none);
    CHECK(e.on_objection(time_ms{210}) == election_action::none);  // rate-limited
  }
  SUBCASE("NAK in progress holds off the offer") {
    CHECK(e.on_objection(time_ms{150}) == election_action::send_join);
    e.on_in_progress(time_ms{160}, time_ms{1000});
    CHECK(e.on_tick(time_ms{1000}) == election_action::none);
    CHECK(e.current() == phase::joining);
    CHECK(e.on_joined());
    CHECK(e.current() == phase::member);
  }
  SUBCASE("refused: retry after the retry interval") {
    CHECK(e.on_refused(time_ms{150}));
    CHECK(e.on_tick(time_ms{1149}) == election_action::none);
    CHECK(e.on_tick(time_ms{1150}) == election_action::send_join);
    CHECK(e.current() == phase::joining);
  }
}

namespace {

const std::vector<loss_row> loss_rows = {
    {"0% loss seed 1", 0.0, 1},   {"0% loss seed 2", 0.0, 2},   {"5% loss seed 1", 0.05, 1},
    {"5% loss seed 7", 0.05, 7},  {"20% loss seed 1", 0.20, 1}, {"20% loss seed 3", 0.20, 3},
};

}  // namespace

TEST_CASE("concurrent starts converge to one master that owns nothing twice") {
  for (const auto& r : loss_rows) {
    CAPTURE(r.name);
    group_sim s{make_config(5, r.loss, r.seed)};
    s.start_all();
    CHECK(s.run_until_stable(time_ms{1000}, time_ms{30000}));
    std::string why;
    CHECK_MESSAGE(s.converged(&why), why);
    CHECK(s.masters().size() == 1);
    for (const auto& v : s.violations()) FAIL_CHECK(v);
  }
}

TEST_CASE("two groups that meet keep the master the tie-break names") {
  struct row {
    std::string name;
    std::vector<std::vector<std::size_t>> groups;
    std::size_t winner;  // node index expected to be master after the groups merge
  };
  // Inside each group the nodes start together, so each group's master is its lowest address.
  const std::vector<row> rows = {
      {"bigger group wins though its master has the higher address", {{0}, {1, 2}}, 1},
      {"three beat two", {{0, 1}, {2, 3, 4}}, 2},
      {"equal groups: lower address wins", {{0, 1}, {2, 3}}, 0},
      {"equal groups, interleaved addresses", {{1, 3}, {0, 2}}, 0},
  };
  for (const auto& r : rows) {
    for (double loss : {0.0, 0.05}) {
      CAPTURE(r.name);
      CAPTURE(loss);
      std::size_t nodes = 0;
      for (const auto& g : r.groups) nodes += g.size();
      group_sim s{make_config(static_cast<std::uint32_t>(nodes), loss, 11)};
      s.partition(r.groups);
      s.start_all();
      REQUIRE(s.run_until([&] { return s.masters().size() == r.groups.size(); }, time_ms{10000}));
      s.run_for(time_ms{500});
      REQUIRE(s.masters().size() == r.groups.size());
      s.heal();
      // When the masters first hear each other, the tie-break decides at once; the loser's
      // members follow.
      CHECK(s.run_until_stable(time_ms{1000}, time_ms{20000}));
      REQUIRE(s.masters().size() == 1);
      CHECK(s.masters()[0] == r.winner);
    }
  }
}

TEST_CASE("a killed master is replaced") {
  for (const auto& r : loss_rows) {
    CAPTURE(r.name);
    group_sim s{make_config(5, r.loss, r.seed)};
    s.start_all();
    REQUIRE(s.run_until_stable(time_ms{500}, time_ms{30000}));
    const auto old_master = s.masters().at(0);
    s.kill(old_master);
    CHECK(s.run_until_stable(time_ms{1000}, time_ms{30000}));
    std::string why;
    CHECK_MESSAGE(s.converged(&why), why);
    REQUIRE(s.masters().size() == 1);
    CHECK(s.masters()[0] != old_master);
    for (const auto& v : s.violations()) FAIL_CHECK(v);
  }
}

TEST_CASE("a partition that heals leaves exactly one master") {
  const time_ms heal_bound{1000};
  for (const auto& r : loss_rows) {
    CAPTURE(r.name);
    group_sim s{make_config(5, r.loss, r.seed)};
    s.start_all();
    REQUIRE(s.run_until_stable(time_ms{500}, time_ms{30000}));
    s.partition({{0, 1, 2}, {3, 4}});
    // each side ends up with its own master
    CHECK(s.run_until([&] { return s.masters().size() == 2; }, time_ms{10000}));
    s.run_for(time_ms{2000});
    s.heal();
    // Issue 14: one master, bounded, not just eventually. From the heal: the masters hear each
    // other within a keepalive period, the tie-break's loser and its members join the winner.
    // (The units settle later: a move under 20% loss takes seconds; converged() below.)
    const auto healed_at = s.now();
    auto one_master = [&] {
      const auto ms = s.masters();
      if (ms.size() != 1) return false;
      const auto master = group_sim::address(ms[0]);
      for (std::size_t i = 0; i < s.size(); ++i)
        if (s.node(i).master() != master || s.node(i).current_phase() == phase::joining)
          return false;
      return s.node(ms[0]).members().size() == s.size();
    };
    CHECK(s.run_until(one_master, time_ms{30000}));
    const auto took = s.now() - healed_at;
    CAPTURE(took.count());
    CHECK(took <= heal_bound);
    CHECK(s.run_until_stable(time_ms{1000}, time_ms{30000}));
    std::string why;
    CHECK_MESSAGE(s.converged(&why), why);
    CHECK(s.masters().size() == 1);
    for (const auto& v : s.violations()) FAIL_CHECK(v);
  }
}

/// Cuts a formed three-node group's master off from the other two and runs until those two have
/// a master of their own (within `limit`). Returns {old master, the other side's master}.
std::pair<std::size_t, std::size_t> cut_off_master(group_sim& s, time_ms limit) {
  const auto old_master = s.masters().at(0);
  std::vector<std::size_t> rest;
  for (std::size_t i = 0; i < 3; ++i)
    if (i != old_master) rest.push_back(i);
  s.partition({{old_master}, rest});
  std::size_t majority_master = 3;
  REQUIRE(s.run_until([&] {
    for (auto m : s.masters())
      if (m != old_master && s.node(m).members().size() == 2) majority_master = m;
    return majority_master < 3;
  }, limit));
  return {old_master, majority_master};
}

TEST_CASE("after a partition heals, the cut-off master's stale keepalives do not win the tie-break") {
  // A master cut off alone keeps queueing keepalives that still list its old members; over TCP they
  // arrive first when the link heals. The majority's master must not count the members that are
  // now its own, or the smaller side would win (Figure 8A: more members wins).
  group_sim s{make_config(3, 0.0, 1)};
  s.start_all();
  REQUIRE(s.run_until_stable(time_ms{500}, time_ms{30000}));
  const auto stale_list = s.node(s.masters().at(0)).members();
  REQUIRE(stale_list.size() == 3);
  const auto [old_master, majority_master] = cut_off_master(s, time_ms{10000});

  master_keepalive stale;
  stale.sequence = 1u << 30;
  stale.members = stale_list;
  s.node(majority_master).on_message(group_sim::address(old_master), stale, s.now());
  CHECK(s.node(majority_master).is_master());
  // On a loaded machine the majority's member may be a keepalive or more late when the stale
  // list arrives (the lab saw it): it is still ours until a watchdog says otherwise.
  std::size_t member = 0;
  while (member == old_master || member == majority_master) ++member;
  s.partition({{old_master}, {majority_master}, {member}});
  s.run_for(time_ms{150});
  s.partition({{old_master}, {majority_master, member}});
  stale.sequence += 1;
  s.node(majority_master).on_message(group_sim::address(old_master), stale, s.now());
  CHECK(s.node(majority_master).is_master());

  s.heal();
  CHECK(s.run_until_stable(time_ms{1000}, time_ms{30000}));
  REQUIRE(s.masters().size() == 1);
  CHECK(s.masters()[0] == majority_master);
}

TEST_CASE("a member in doubt defers the tie-break instead of handing the group to the smaller side") {
  // Issue 14, lab.cluster_churn: on a loaded machine the majority master's mailbox can hold the
  // cut-off master's stale keepalive ahead of its own member's keepalive. The member is silent
  // for longer than still_ours' window (200 ms here) yet follows us: counting it as gone made a
  // 1 vs 1 tie that the cut-off master won by its lower address. Within twice the window the
  // member is in doubt and the decision waits for the next keepalive; past that it counts as gone.
  struct row {
    const char* name;
    time_ms silence;      // beyond the last keepalive interval (80 ms) since the member was heard
    bool stays_master;    // right after the stale keepalive
    std::uint64_t deferred;
  };
  const row rows[] = {
    {"silent 100-180 ms, within the window: ours, the stale list loses", time_ms{100}, true, 0},
    {"silent 250-330 ms: in doubt, wait for the next keepalive", time_ms{250}, true, 1},
    {"silent 450-530 ms, past twice the window: gone, the stale list wins", time_ms{450}, false, 0},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    group_sim s{make_config(3, 0.0, 1)};
    s.start_all();
    REQUIRE(s.run_until_stable(time_ms{500}, time_ms{30000}));
    const auto stale_list = s.node(s.masters().at(0)).members();
    REQUIRE(stale_list.size() == 3);
    const auto [old_master, majority_master] = cut_off_master(s, time_ms{10000});
    s.run_for(time_ms{100});  // the member keeps alive with its new master
    master_keepalive stale;
    stale.sequence = 1u << 30;
    stale.members = stale_list;
    // The member was heard within the last keepalive interval; the stale keepalive is read
    // `silence` later, before the tick and the member's keepalive that wait behind it.
    auto& majority = s.node(majority_master);
    majority.on_message(group_sim::address(old_master), stale, s.now() + r.silence);
    CHECK(majority.is_master() == r.stays_master);
    CHECK(majority.tie_breaks_deferred() == r.deferred);
    if (!r.stays_master) continue;
    s.heal();
    CHECK(s.run_until_stable(time_ms{1000}, time_ms{30000}));
    REQUIRE(s.masters().size() == 1);
    CHECK(s.masters()[0] == majority_master);
    for (const auto& v : s.violations()) FAIL_CHECK(v);
  }
}

TEST_CASE("join requests and offers that waited out a partition do not hand the group to the cut-off master") {
  // Issue 14, lab.cluster_churn (found with its group events): while the cut-off master was
  // apart, the others lost it and asked to join and offered themselves; over TCP those requests
  // waited and reached it at the heal. It admitted the majority's member on the stale request,
  // counted it, and answered the stale offer with "other master exists" for 2 members: a tie
  // with the majority master's 2, which the cut-off master won by its lower address. A member
  // counts only once it keeps alive with us, and a member told OK by a master it does not follow
  // says so (exit request).
  group_sim s{make_config(3, 0.0, 1)};
  s.start_all();
  REQUIRE(s.run_until_stable(time_ms{500}, time_ms{30000}));
  const auto [old_master, majority_master] = cut_off_master(s, time_ms{10000});
  std::size_t member = 0;
  while (member == old_master || member == majority_master) ++member;
  REQUIRE(s.node(old_master).members().size() == 1);  // it has expired both
  s.run_for(time_ms{100});  // the member keeps alive with its new master
  s.heal();
  join_request stale_join;
  stale_join.identity = "node-" + std::to_string(member + 1);
  s.node(old_master).on_message(group_sim::address(member), stale_join, s.now());
  stale_join.identity = "node-" + std::to_string(majority_master + 1);
  s.node(old_master).on_message(group_sim::address(majority_master), stale_join, s.now());
  s.node(old_master).on_message(group_sim::address(majority_master), master_offer{1}, s.now());
  CHECK(s.run_until_stable(time_ms{1000}, time_ms{30000}));
  REQUIRE(s.masters().size() == 1);
  CHECK(s.masters()[0] == majority_master);
  for (const auto& v : s.violations()) FAIL_CHECK(v);
}

TEST_CASE("after a partition heals, a cut-off master still listing its old members steps down") {
  // The other side of the same heal: the cut-off master's client watchdog is longer than the time
  // the rest need to elect a new master, so when the link comes back it still lists the members
  // that now follow the other master. Members that no longer talk to it must not count for it.
  auto cfg = make_config(3, 0.0, 7);
  cfg.group.client_watchdog = time_ms{3000};
  group_sim s{cfg};
  s.start_all();
  REQUIRE(s.run_until_stable(time_ms{500}, time_ms{30000}));
  const auto cut_at = s.now();
  const auto [old_master, majority_master] = cut_off_master(s, time_ms{2000});
  // Apart for longer than one and a half client keepalive intervals (2 * 3000 / 5 = 1200 ms each),
  // shorter than the cut-off master's client watchdog.
  s.run_for(cut_at + time_ms{1950} - s.now());
  // The cut-off master has not expired anyone yet: it still lists all three.
  REQUIRE(s.node(old_master).is_master());
  REQUIRE(s.node(old_master).members().size() == 3);

  s.heal();
  CHECK(s.run_until_stable(time_ms{1000}, time_ms{30000}));
  REQUIRE(s.masters().size() == 1);
  CHECK(s.masters()[0] == majority_master);
  for (const auto& v : s.violations()) FAIL_CHECK(v);
}

TEST_CASE("a master below its quorum assigns no units; it does once enough members join") {
  struct row {
    const char* name;
    std::uint32_t quorum;
    bool alone_owns;  // does a node that links to nobody claim the units?
  };
  const row rows[] = {{"document 004: a group of one works", 1, true},
                      {"quorum 2: a node alone claims nothing", 2, false}};
  for (const auto& r : rows) {
    CAPTURE(r.name);
    auto cfg = make_config(3, 0.0, 11);
    cfg.group.quorum = r.quorum;
    group_sim s{cfg};
    s.start_all();
    s.partition({{0}, {1, 2}});  // node 0 cannot reach anyone (say, its certificate is refused)
    s.run_for(time_ms{3000});
    CHECK(!s.node(0).owned_units().empty() == r.alone_owns);
    CHECK(s.node(1).owned_units().size() + s.node(2).owned_units().size() == cfg.group.work_units);
    s.heal();
    CHECK(s.run_until_stable(time_ms{1000}, time_ms{30000}));
    std::string why;
    CHECK_MESSAGE(s.converged(&why), why);
    for (const auto& v : s.violations()) FAIL_CHECK(v);
  }
}

TEST_CASE("a node that starts alone is master after a bounded wait") {
  // Issue 14: a starting node listens for the join timeout only once its links are up (or after
  // link_wait), then offers itself (Figure 6: join 100 ms, offer 100 ms).
  struct row {
    std::string name;
    time_ms link_delay;  // when the host reports its links up; max: never
    time_ms master_at;
  };
  const group_config defaults;
  const auto listen = defaults.join_timeout + defaults.master_offer_timeout;
  const std::vector<row> rows = {
      {"no peers to link: the document's 200 ms", time_ms{0}, listen},
      {"links up after 300 ms, nobody answers", time_ms{300}, time_ms{300} + listen},
      {"links never up: link_wait bounds the wait", time_ms::max(), defaults.link_wait + listen},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    auto cfg = make_config(1, 0.0, 1);
    cfg.group.work_units = 16;
    cfg.tick_when_due = true;
    group_sim s{cfg};
    s.set_link_delay(0, r.link_delay);
    s.start(0);
    REQUIRE(s.run_until([&] { return s.node(0).is_master(); }, time_ms{10000}));
    CHECK(s.now() >= r.master_at);
    CHECK(s.now() <= r.master_at + time_ms{2});
  }
}

TEST_CASE("a restarted node joins the running group instead of winning it") {
  // Issue 14: a member restarted with kill -9 declared itself master 0.2 s after start, before its
  // first peer link. Now it listens once its links are up: it hears the master's keepalive, joins,
  // and gets units back by rebalancing; the master never changes.
  struct row {
    std::string name;
    bool victim_is_master;  // kill the master (the survivors elect another) or a member
    time_ms link_delay;     // the restarted node's links come up this long after its start
    double loss;
    std::uint64_t seed;
  };
  const std::vector<row> rows = {
      {"member, links at once", false, time_ms{0}, 0.0, 1},
      {"member, links after 300 ms", false, time_ms{300}, 0.0, 2},
      {"member, links after 1.5 s, 5% loss", false, time_ms{1500}, 0.05, 3},
      {"old master, links after 300 ms", true, time_ms{300}, 0.0, 4},
      {"old master, links after 700 ms, 5% loss", true, time_ms{700}, 0.05, 5},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    auto cfg = make_config(4, r.loss, r.seed);
    cfg.group.work_units = 64;  // cheap: the master walks every unit on each pass
    cfg.tick_when_due = true;
    group_sim s{cfg};
    s.start_all();
    REQUIRE(s.run_until_stable(time_ms{500}, time_ms{30000}));
    auto victim = s.masters().at(0);
    if (!r.victim_is_master) victim = (victim + 1) % s.size();
    s.kill(victim);
    REQUIRE(s.run_until_stable(time_ms{500}, time_ms{30000}));
    const auto master = s.masters().at(0);
    auto count = [&](auto pred) {
      std::size_t n = 0;
      for (std::size_t i = 0; i < s.size(); ++i)
        for (const auto& e : s.events(i)) n += pred(e) ? 1 : 0;
      return n;
    };
    auto masters_made = [](const event& e) { return std::holds_alternative<became_master>(e); };
    auto masters_lost = [](const event& e) { return std::holds_alternative<lost_master>(e); };
    const auto made_before = count(masters_made);
    const auto lost_before = count(masters_lost);

    s.set_link_delay(victim, r.link_delay);
    s.restart(victim);
    bool victim_mastered = false;
    std::set<std::size_t> other_masters;
    const auto fair_share = cfg.group.work_units / s.size() - 1;
    const bool back = s.run_until([&] {
      victim_mastered = victim_mastered || s.node(victim).is_master();
      for (auto m : s.masters())
        if (m != master) other_masters.insert(m);
      return s.converged() && s.node(victim).owned_units().size() >= fair_share;
    }, time_ms{20000});
    CHECK(back);
    CHECK_FALSE(victim_mastered);
    CHECK(other_masters.empty());
    REQUIRE(s.masters().size() == 1);
    CHECK(s.masters()[0] == master);
    CHECK(s.node(victim).current_phase() == phase::member);
    CHECK(count(masters_made) == made_before);
    CHECK(count(masters_lost) == lost_before);
    for (const auto& v : s.violations()) FAIL_CHECK(v);
  }
}

TEST_CASE("a machine-wide stall does not flap the group; a death during it is still found") {
  // Issue 14: under a saturating transfer every process stalls; the timers then fire hundreds of
  // ms late, before the keepalives queued meanwhile are read. Such a late expiry gets one
  // keepalive period of grace (group_config::late_check); a member that really died during the
  // stall is removed after it.
  struct row {
    std::string name;
    time_ms stall;
    double loss;
    std::uint64_t seed;
    bool kill_member;  // a member dies as the stall starts
  };
  const std::vector<row> rows = {
      {"150 ms, under the watchdog", time_ms{150}, 0.0, 1, false},
      {"400 ms", time_ms{400}, 0.0, 2, false},
      {"1.7 s, 5% loss", time_ms{1700}, 0.05, 3, false},
      {"three stalls of 600 ms", time_ms{600}, 0.0, 4, false},
      {"1 s with a member dead", time_ms{1000}, 0.0, 5, true},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    auto cfg = make_config(4, r.loss, r.seed);
    cfg.group.work_units = 64;
    cfg.tick_when_due = true;
    group_sim s{cfg};
    s.start_all();
    REQUIRE(s.run_until_stable(time_ms{500}, time_ms{30000}));
    const auto master = s.masters().at(0);
    const auto victim = (master + 1) % s.size();
    std::vector<std::size_t> before(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) before[i] = s.events(i).size();
    if (r.kill_member) s.kill(victim);
    const int stalls = r.name.rfind("three", 0) == 0 ? 3 : 1;
    for (int k = 0; k < stalls; ++k) {
      s.stall(r.stall);
      if (r.kill_member) {
        // Found one grace (a keepalive period, 80 ms) after the stall: the bound the grace costs.
        const auto stall_end = s.now();
        REQUIRE(s.run_until([&] { return s.node(master).members().size() == 3; }, time_ms{2000}));
        CHECK(s.now() - stall_end <= time_ms{100});
      }
      s.run_for(time_ms{300});
    }
    CHECK(s.run_until_stable(time_ms{500}, time_ms{10000}));
    REQUIRE(s.masters().size() == 1);
    CHECK(s.masters()[0] == master);
    // No membership change other than the dead member's removal.
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (!s.alive(i)) continue;
      CAPTURE(i);
      std::vector<std::string> changes;
      for (std::size_t k = before[i]; k < s.events(i).size(); ++k) {
        const auto& e = s.events(i)[k];
        if (const auto* ml = std::get_if<member_left>(&e)) {
          if (r.kill_member && ml->node == group_sim::address(victim)) continue;
          changes.push_back("member_left");
        } else if (std::holds_alternative<lost_master>(e)) {
          changes.push_back("lost_master");
        } else if (std::holds_alternative<became_master>(e)) {
          changes.push_back("became_master");
        } else if (std::holds_alternative<joined>(e)) {
          changes.push_back("joined");
        } else if (std::holds_alternative<left>(e)) {
          changes.push_back("left");
        } else if (std::holds_alternative<member_joined>(e)) {
          changes.push_back("member_joined");
        }
      }
      CHECK_MESSAGE(changes.empty(), changes.size(), " changes, first ",
                    changes.empty() ? "" : changes[0]);
    }
    for (const auto& v : s.violations()) FAIL_CHECK(v);
  }
}
