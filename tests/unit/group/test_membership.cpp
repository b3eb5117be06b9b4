// Membership (document 004, Figure 6 and 8F): the certificate identity check, the roles' vote
// with NAK "operation in progress", vetoes, and member lists.
#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "actors/group/membership.hpp"
#include "group_sim.hpp"

using namespace baton::group;
using baton::group::sim::group_sim;
using baton::group::sim::sim_config;

namespace {

template <class T>
std::vector<T> events_of(const group_sim& s, std::size_t i) {
  std::vector<T> out;
  for (const auto& e : s.events(i))
    if (const auto* x = std::get_if<T>(&e)) out.push_back(*x);
  return out;
}

}  // namespace

TEST_CASE("joins: identity check, vote, veto and NAK in progress") {
  enum class vote { accept, reject, defer_accept, defer_reject, defer_silent };
  struct row {
    std::string name;
    std::string identity;  // what the joining node presents
    vote decision;         // what the master's roles say
    phase final_phase;     // the joining node's phase at the end
    std::string reason;    // the refusal reason it is told (empty when admitted)
    bool voted;            // whether the roles were asked at all
  };
  const std::vector<row> rows = {
      {"known identity, roles accept", "node-2", vote::accept, phase::member, "", true},
      {"roles veto", "node-2", vote::reject, phase::refused, "ipsec refuses", true},
      {"vote deferred, then accepted", "node-2", vote::defer_accept, phase::member, "", true},
      {"vote deferred, then rejected", "node-2", vote::defer_reject, phase::refused,
       "l2tp refuses", true},
      {"vote deferred, never answered", "node-2", vote::defer_silent, phase::refused,
       "vote timed out", true},
      {"unknown identity", "intruder", vote::accept, phase::refused, "unknown identity", false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    int votes = 0;
    sim_config c;
    c.nodes = 2;
    c.identities = {"node-1", r.identity};
    group_sim s{c, [&](std::size_t i) {
                  group_hooks h;
                  if (i != 0) return h;
                  h.verify_identity = [](node_id, const std::string& id) {
                    return id == "node-1" || id == "node-2";
                  };
                  h.vote_join = [&](node_id, const std::string&) {
                    ++votes;
                    switch (r.decision) {
                      case vote::accept: return join_decision::accept();
                      case vote::reject: return join_decision::reject("ipsec refuses");
                      default: return join_decision::defer();
                    }
                  };
                  return h;
                }};
    s.start(0);
    REQUIRE(s.run_until([&] { return s.node(0).is_master(); }, time_ms{1000}));
    s.start(1);
    s.run_for(time_ms{400});  // longer than join + offer timeouts
    CHECK(s.masters() == std::vector<std::size_t>{0});  // the joiner never offered itself
    const bool deferred = r.decision == vote::defer_accept || r.decision == vote::defer_reject ||
                          r.decision == vote::defer_silent;
    if (deferred) {
      // Figure 8F, 877: told to wait while the roles vote.
      CHECK(s.node(1).current_phase() == phase::joining);
      const auto& replies = s.join_replies(1);
      CHECK(std::count(replies.begin(), replies.end(), join_result::nak_in_progress) >= 1);
      CHECK(std::count(replies.begin(), replies.end(), join_result::ok) == 0);
      REQUIRE(events_of<join_vote>(s, 0).size() == 1);
      CHECK(events_of<join_vote>(s, 0)[0].identity == "node-2");
      if (r.decision == vote::defer_accept) {
        CHECK(s.node(0).resolve_join(s.address(1), true, "", s.now()));
      } else if (r.decision == vote::defer_reject) {
        CHECK(s.node(0).resolve_join(s.address(1), false, "l2tp refuses", s.now()));
      }
      s.drain(0);
      s.run_for(time_ms{900});  // past the vote timeout, before the joiner's retry
    }
    CHECK(s.node(1).current_phase() == r.final_phase);
    CHECK((votes > 0) == r.voted);
    const auto refused = events_of<join_refused>(s, 1);
    const auto peers_refused = events_of<peer_refused>(s, 0);
    if (r.reason.empty()) {
      CHECK(refused.empty());
      CHECK(s.node(1).master() == s.address(0));
      std::string why;
      CHECK_MESSAGE(s.run_until_stable(time_ms{300}, time_ms{3000}), why);
      REQUIRE(events_of<member_joined>(s, 0).size() == 1);
      CHECK(events_of<member_joined>(s, 0)[0].identity == "node-2");
    } else {
      REQUIRE(!refused.empty());
      CHECK(refused[0].reason == r.reason);
      REQUIRE(!peers_refused.empty());
      CHECK(peers_refused[0].reason == r.reason);
      CHECK(peers_refused[0].identity == r.identity);
      CHECK(s.node(0).members().size() == 1);
      // A refused node keeps asking, but never takes over the group.
      s.run_for(time_ms{3000});
      CHECK(s.masters() == std::vector<std::size_t>{0});
      CHECK(s.node(1).owned_units().empty());
    }
  }
}

TEST_CASE("member list diff names joins and leaves") {
  struct row {
    std::string name;
    std::vector<node_id> before, after, joined, left;
  };
  const std::vector<row> rows = {
      {"nothing changes", {1, 2}, {2, 1}, {}, {}},
      {"one joins", {1}, {1, 2}, {2}, {}},
      {"one leaves, one joins", {1, 2, 3}, {1, 3, 4}, {4}, {2}},
      {"from nothing", {}, {5, 6}, {5, 6}, {}},
  };
  auto entries = [](const std::vector<node_id>& ids) {
    std::vector<member_entry> out;
    for (auto id : ids) out.push_back(member_entry{id, "n", 0});
    return out;
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    const auto d = diff_members(entries(r.before), entries(r.after));
    std::vector<node_id> joined;
    for (const auto& e : d.joined) joined.push_back(e.id);
    CHECK(joined == r.joined);
    CHECK(d.left == r.left);
  }
}

TEST_CASE("client watchdog: a member that goes silent is removed and told apart") {
  sim_config c;
  c.nodes = 3;
  group_sim s{c};
  s.start_all();
  REQUIRE(s.run_until_stable(time_ms{300}, time_ms{5000}));
  const auto m = s.masters().at(0);
  const std::size_t victim = m == 2 ? 1 : 2;
  s.kill(victim);
  REQUIRE(s.run_until_stable(time_ms{300}, time_ms{5000}));
  const auto left_events = events_of<member_left>(s, m);
  REQUIRE(!left_events.empty());
  CHECK(left_events.back().node == s.address(victim));
  CHECK(left_events.back().reason == "watchdog expired");
  // the other member learns it from the member list
  const std::size_t other = 3 - m - victim;
  bool seen = false;
  for (const auto& e : events_of<member_left>(s, other)) seen |= e.node == s.address(victim);
  CHECK(seen);
}
