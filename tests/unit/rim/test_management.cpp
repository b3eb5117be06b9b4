// The rim's management object (actors/rim/management.hpp): which reports make it move a flow,
// where to, and what keeps it from flapping. Each case is a script of reports on a fake clock.

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "actors/rim/management.hpp"
#include "net/rim/path_status.hpp"
#include "policy/policy.hpp"

using namespace baton;
using rim::decision;
using rim::management_object;

namespace {

constexpr std::uint32_t A = 0x0a290102, C = 0x0a290202, E = 0x0a290302;
constexpr std::uint32_t client = 0x0a280002;

std::shared_ptr<const policy::policy> policy_with(const std::string& reaction) {
  const std::string text = R"({"identity": {"name": "a", "address": "10.41.1.2", "certificate": "a.pem",
      "key": "a.key", "ca": "ca.pem"}, "roles": ["rim"],
    "peers": [{"name": "c", "address": "10.41.2.2", "port": 4790}, {"name": "e", "address": "10.41.3.2", "port": 4790}],
    "profiles": [{"name": "watched", "rim": )" + reaction + R"(}, {"name": "left"}],
    "rim": {"content": "/srv", "uplink": "eth0", "manage": {"interval_ms": 500,
      "rules": [{"name": "kept", "src": "10.40.0.9/32", "profile": "left"},
                {"name": "rest", "default": true, "profile": "watched"}]}}})";
  return std::make_shared<const policy::policy>(policy::load_policy_text(text));
}

protocol::rim_flow flow_from(std::uint16_t port, std::uint32_t from = client) { return {from, port, A, 8080}; }

/// Drives one management object: each host's report every 500 ms, the flows' counters growing
/// by `segs` segments with `loss` percent of them retransmitted.
struct script {
  management_object m;
  rim::time_ms now = 0;
  struct counters {
    std::uint64_t segs = 0, retrans = 0;
  };
  std::map<std::uint16_t, counters> flows;
  std::map<std::uint32_t, std::uint64_t> icmp;

  explicit script(const std::string& reaction) : m(policy_with(reaction)) {}

  protocol::rim_flow_report grow(const protocol::rim_flow& f, double loss, std::uint8_t exit = 0,
                                 std::uint32_t via = 0, std::uint64_t segs = 1000) {
    auto& c = flows[f.client_port];
    c.segs += segs;
    c.retrans += static_cast<std::uint64_t>(loss * static_cast<double>(segs) / 100.0);
    protocol::rim_flow_report r;
    r.flow = f;
    r.segs_out = c.segs;
    r.retransmitted = c.retrans;
    r.exit = exit;
    r.via = via;
    r.moved_ms_ago = ~0u;
    return r;
  }
  void report(std::uint32_t host, std::vector<protocol::rim_flow_report> fl, std::uint64_t new_icmp = 0) {
    protocol::rim_report r;
    r.host = host;
    r.icmp_unreachable = icmp[host] += new_icmp;
    r.flows = std::move(fl);
    m.on_report(r, now);
  }
  std::vector<decision> decide() { return m.decide({A, C, E}, now); }
  /// One interval: A sends flow 1 with `loss_a`, C and E report (C with a good flow of its own).
  std::vector<decision> interval(double loss_a, std::uint8_t exit = 0, std::uint32_t via = 0) {
    now += 500;
    report(A, {grow(flow_from(1), loss_a, exit, via)});
    report(C, {grow({client, 2, C, 8080}, 0)});
    report(E, {});
    return decide();
  }
};

}  // namespace

TEST_CASE("a flow that loses for `samples` reports is masqueraded via the best host, not before") {
  struct row {
    const char* what;
    const char* reaction;
    int intervals;
    double loss;
    bool moved;
    policy::rim_move move;
  };
  const row rows[] = {
    {"three bad reports", R"({"on_loss": "masquerade", "loss_pct": 2, "samples": 3})", 4, 5.0, true,
     policy::rim_move::masquerade},
    {"two bad reports are not enough", R"({"on_loss": "masquerade", "loss_pct": 2, "samples": 3})", 3, 5.0, false,
     policy::rim_move::masquerade},
    {"below the threshold", R"({"on_loss": "masquerade", "loss_pct": 2, "samples": 3})", 8, 1.0, false,
     policy::rim_move::masquerade},
    {"funnel-cast", R"({"on_loss": "funnel", "loss_pct": 2, "samples": 2})", 3, 5.0, true, policy::rim_move::funnel},
    {"hand-off starts with a masquerade", R"({"on_loss": "handoff", "loss_pct": 2, "samples": 2})", 3, 5.0, true,
     policy::rim_move::masquerade},
    {"stay only watches", R"({"on_loss": "stay", "loss_pct": 2, "samples": 1})", 8, 50.0, false,
     policy::rim_move::stay},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    script s(r.reaction);
    std::vector<decision> all;
    for (int i = 0; i < r.intervals; ++i)
      for (auto& d : s.interval(r.loss)) all.push_back(d);
    REQUIRE(all.size() == (r.moved ? 1u : 0u));
    if (!r.moved) continue;
    CHECK(all[0].move == r.move);
    CHECK(all[0].sender == A);
    CHECK(all[0].target == C);  // C's own flow shows a good path; E is unknown
    CHECK(all[0].reason.find("retransmitted") != std::string::npos);
  }
}

TEST_CASE("hand-off: once the masquerade's path is good for `samples` reports, and the dwell is over") {
  script s(R"({"on_loss": "handoff", "loss_pct": 2, "samples": 2, "dwell_ms": 2000})");
  std::vector<decision> d;
  while (d.empty() && s.now < 10000) d = s.interval(6.0);
  REQUIRE(d.size() == 1);
  CHECK(d[0].move == policy::rim_move::masquerade);
  s.m.done(d[0], true, s.now);
  const auto masqueraded = s.now;
  std::vector<decision> next;
  while (next.empty() && s.now < masqueraded + 10000) next = s.interval(0.5, 1, C);
  REQUIRE(next.size() == 1);
  CHECK(next[0].move == policy::rim_move::handoff);
  CHECK(next[0].target == C);
  CHECK(s.now - masqueraded >= 2000);  // the dwell, though good reports came sooner
}

TEST_CASE("no flapping: a moved flow waits the dwell, a pending one is not judged, a bad host is not chosen") {
  SUBCASE("dwell") {
    script s(R"({"on_loss": "masquerade", "loss_pct": 2, "samples": 1, "dwell_ms": 5000})");
    auto d = s.interval(9.0);
    d = s.interval(9.0);
    REQUIRE(d.size() == 1);
    s.m.done(d[0], true, s.now);
    const auto moved = s.now;
    std::vector<decision> next;
    while (next.empty() && s.now < moved + 20000) next = s.interval(9.0, 1, C);  // bad via C too
    REQUIRE(next.size() == 1);
    CHECK(s.now - moved >= 5000);
    CHECK(next[0].target != C);
  }
  SUBCASE("pending") {
    script s(R"({"on_loss": "masquerade", "loss_pct": 2, "samples": 1, "dwell_ms": 0})");
    s.interval(9.0);
    auto d = s.interval(9.0);
    REQUIRE(d.size() == 1);
    for (int i = 0; i < 5; ++i) CHECK(s.interval(9.0).empty());  // no done() yet
  }
  SUBCASE("every other host known bad: a note, once per bad run, and no move") {
    script s(R"({"on_loss": "masquerade", "loss_pct": 2, "samples": 1, "dwell_ms": 0})");
    for (int i = 0; i < 4; ++i) {
      s.now += 500;
      s.report(A, {s.grow(flow_from(1), 9.0)});
      s.report(C, {s.grow({client, 2, C, 8080}, 9.0)});
      s.report(E, {s.grow({client, 3, E, 8080}, 9.0)});
      CHECK(s.m.decide({A, C, E}, s.now).empty());
    }
    CHECK(s.m.notes().size() == 3);  // one per flow, said once
    CHECK(s.m.notes().empty());
  }
}

TEST_CASE("the best host may be the flow's own sender again: direct") {
  script s(R"({"on_loss": "masquerade", "loss_pct": 2, "samples": 2, "dwell_ms": 0})");
  // A's other flow is good (A's path is fine again), the masquerade via C has turned bad, E is bad.
  for (int i = 0; i < 3; ++i) {
    s.now += 500;
    s.report(A, {s.grow(flow_from(1), 8.0, 1, C), s.grow(flow_from(5), 0.0)});
    s.report(C, {});
    s.report(E, {s.grow({client, 3, E, 8080}, 9.0)});
  }
  std::vector<decision> mine;
  for (auto& d : s.m.decide({A, C, E}, s.now))
    if (d.flow.client_port == 1) mine.push_back(d);  // E's own flow is judged too
  REQUIRE(mine.size() == 1);
  CHECK(mine[0].move == policy::rim_move::stay);
  CHECK(mine[0].target == A);
}

TEST_CASE("ICMP errors at the sending host count as bad reports; idle flows give no samples") {
  script s(R"({"on_loss": "masquerade", "loss_pct": 2, "samples": 2, "icmp_errors": 3, "dwell_ms": 0})");
  std::vector<decision> d;
  for (int i = 0; i < 3 && d.empty(); ++i) {
    s.now += 500;
    s.report(A, {s.grow(flow_from(1), 0.0)}, 5);
    s.report(C, {s.grow({client, 2, C, 8080}, 0)});
    d = s.decide();
  }
  REQUIRE(d.size() == 1);
  CHECK(d[0].target == C);

  // Few segments per report: the sample waits until min_segments have been sent.
  script slow(R"({"on_loss": "masquerade", "loss_pct": 2, "samples": 1, "dwell_ms": 0})");
  slow.now += 500;
  slow.report(A, {slow.grow(flow_from(1), 0, 0, 0, 0)});  // the baseline
  int reports = 0;
  std::vector<decision> moved;
  while (moved.empty() && reports < 10) {
    ++reports;
    slow.now += 500;
    slow.report(A, {slow.grow(flow_from(1), 50.0, 0, 0, management_object::min_segments / 2)});
    slow.report(C, {});
    moved = slow.decide();
  }
  CHECK(reports == 2);
}

TEST_CASE("a new master keeps the dwell of the old one (the sending host reports it)") {
  script s(R"({"on_loss": "masquerade", "loss_pct": 2, "samples": 1, "dwell_ms": 10000})");
  for (int i = 0; i < 4; ++i) {
    s.now += 500;
    auto f = s.grow(flow_from(1), 9.0);
    f.moved_ms_ago = 3000;  // moved 3 s ago, under the old master
    s.report(A, {f});
    s.report(C, {s.grow({client, 2, C, 8080}, 0)});
    CHECK(s.decide().empty());
  }
}

TEST_CASE("flows the rules leave out are watched, never moved") {
  script s(R"({"on_loss": "masquerade", "loss_pct": 2, "samples": 1, "dwell_ms": 0})");
  for (int i = 0; i < 4; ++i) {
    s.now += 500;
    s.report(A, {s.grow(flow_from(7, 0x0a280009), 30.0)});  // 10.40.0.9: profile "left"
    s.report(C, {});
    CHECK(s.decide().empty());
  }
  auto flows = s.m.flows();
  REQUIRE(flows.size() == 1);
  CHECK(flows[0].profile == "left");
  CHECK(flows[0].loss_pct == doctest::Approx(30.0));
}

TEST_CASE("ICMP error counters parse from /proc/net/snmp's text; a malformed table is refused") {
  const std::string good =
    "Ip: Forwarding DefaultTTL\nIp: 1 64\n"
    "Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs\n"
    "Icmp: 10 0 0 4 2 0 1\n";
  struct row {
    const char* what;
    std::string text;
    bool ok;
  };
  const row rows[] = {
    {"good", good, true},
    {"no icmp lines", "Ip: Forwarding\nIp: 1\n", false},
    {"values missing", "Icmp: InMsgs InDestUnreachs InTimeExcds InSrcQuenchs\nIcmp: 1 2\n", false},
    {"not a number", "Icmp: InMsgs InDestUnreachs InTimeExcds InSrcQuenchs\nIcmp: 1 x 3 4\n", false},
    {"a counter absent", "Icmp: InMsgs InDestUnreachs InTimeExcds\nIcmp: 1 2 3\n", false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    net::icmp_errors e{99, 99, 99};
    CHECK(net::parse_icmp_errors(r.text, e) == r.ok);
    if (r.ok) {
      CHECK(e.unreachable == 4);
      CHECK(e.time_exceeded == 2);
      CHECK(e.source_quench == 1);
    } else {
      CHECK(e.unreachable == 99);
    }
  }
}

TEST_CASE("a host a flow left for loss is not chosen again while its loss is remembered") {
  script s(R"({"on_loss": "masquerade", "loss_pct": 2, "samples": 2, "dwell_ms": 0})");
  std::vector<decision> d;
  while (d.empty()) d = s.interval(8.0);
  REQUIRE(d[0].target == C);
  s.m.done(d[0], true, s.now);
  // Via C it is bad too (C's own flow went quiet): not back to A, whose loss is remembered: E.
  std::vector<decision> next;
  for (int i = 0; i < 6 && next.empty(); ++i) {
    s.now += 500;
    s.report(A, {s.grow(flow_from(1), 8.0, 1, C)});
    s.report(C, {});
    s.report(E, {});
    next = s.decide();
  }
  REQUIRE(next.size() == 1);
  CHECK(next[0].target == E);
  CHECK(next[0].move == policy::rim_move::masquerade);
}

TEST_CASE("a profile's reflector chain: the flow is masqueraded through it, then handed to its last host") {
  script s(R"({"on_loss": "handoff", "loss_pct": 2, "samples": 2, "dwell_ms": 0, "chain": ["c", "e"]})");
  std::vector<decision> d;
  while (d.empty() && s.now < 10000) d = s.interval(8.0);
  REQUIRE(d.size() == 1);
  CHECK(d[0].move == policy::rim_move::masquerade);
  CHECK(d[0].chain == std::vector<std::uint32_t>{C, E});
  CHECK(d[0].target == E);
  CHECK(d[0].reason.find("chain") != std::string::npos);
  s.m.done(d[0], true, s.now);
  std::vector<decision> next;
  while (next.empty() && s.now < 20000) next = s.interval(0.5, 1, C);  // the report names the first hop
  REQUIRE(next.size() == 1);
  CHECK(next[0].move == policy::rim_move::handoff);
  CHECK(next[0].target == E);
  CHECK(next[0].reason.find("the chain's last host 10.41.3.2") != std::string::npos);

  // A chain host that is not reachable: no move, a note.
  script broken(R"({"on_loss": "masquerade", "loss_pct": 2, "samples": 1, "dwell_ms": 0, "chain": ["c", "e"]})");
  for (int i = 0; i < 4; ++i) {
    broken.now += 500;
    broken.report(A, {broken.grow(flow_from(1), 9.0)});
    CHECK(broken.m.decide({A, C}, broken.now).empty());
  }
  const auto notes = broken.m.notes();
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].text.find("e is not reachable") != std::string::npos);
}
