#pragma once
// Document 000's management object: it "collects per-flow and per-host status" and decides when
// a flow should leave its path. The group's master runs it (rim_actor.cpp); every rim host reports
// to it each interval (rim_report). Plain C++: no CAF, no clock, no I/O; the actor passes reports
// and time in and sends the decisions out as rim_command.
//
// Per flow, each report is a sample: retransmitted / sent segments since the last report (over
// at least min_segments, else the flow was idle and the sample is skipped), and the sending
// host's new ICMP errors. The flow's profile (the rim section's manage rules, the node's rule
// grammar) says the threshold and the move:
//   - `samples` bad reports in a row, and the last move at least dwell_ms ago: move its exit to the
//     best other host (masquerade or funnel-cast via it; the flow's own sender when it is the best:
//     direct again);
//   - on_loss "handoff": once a masquerade via C has been good for `samples` reports, hand the
//     connection itself to C (C then sends in its own right, and the first host is free).
// Hysteresis: both runs must be unbroken, a flow is not moved again within dwell_ms (the sending
// host reports how long ago its flow last moved, so a new master keeps the dwell of the old
// one), and a candidate must not be known bad.
// Hosts are judged by the samples of the flows whose segments leave from them: a host's loss is
// the mean of its last samples, remembered for 20 intervals (a host a flow left for loss is not
// chosen again soon); after that it is unknown, and unknown hosts are tried after known good ones.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "actors/protocol/rim.hpp"
#include "policy/policy.hpp"

namespace baton::rim {

using time_ms = std::int64_t;

/// A command for the host whose socket sends `flow`.
struct decision {
  protocol::rim_flow flow;
  std::uint32_t sender = 0;
  policy::rim_move move = policy::rim_move::stay;  // stay: send it directly again
  std::uint32_t target = 0;
  std::vector<std::uint32_t> chain;  // a reflector chain from the profile (target is its last host)
  std::string reason;
};

/// Something the management object wants said without a command (no better host).
struct management_note {
  protocol::rim_flow flow;
  std::string text;
};

class management_object {
 public:
  /// Flows whose profile never moves them are still watched (shown), not moved.
  explicit management_object(std::shared_ptr<const policy::policy> p);
  void set_policy(std::shared_ptr<const policy::policy> p) { policy_ = std::move(p); }

  /// A host's report, received at `now`.
  void on_report(const protocol::rim_report& r, time_ms now);
  /// The decisions due now. `available`: the hosts a flow may move to (members linked to the
  /// master and reporting). Each decided flow waits for done() before it is judged again.
  std::vector<decision> decide(const std::vector<std::uint32_t>& available, time_ms now);
  /// The outcome of a decision's command.
  void done(const decision& d, bool ok, time_ms now);
  /// Notes since the last call (no better host for a bad flow: said once per bad run).
  std::vector<management_note> notes();

  struct flow_view {
    protocol::rim_flow flow;
    std::uint32_t sender = 0;
    std::uint8_t exit = 0;
    std::uint32_t via = 0;
    double loss_pct = -1;  // the last sample; -1: none yet
    std::uint32_t rtt_us = 0;
    std::uint32_t bad_run = 0, good_run = 0;
    std::string profile;
    bool pending = false;
  };
  struct host_view {
    std::uint32_t host = 0;
    double loss_pct = -1;  // -1: unknown (no fresh sample from a flow leaving there)
    std::uint32_t load_permille = 0;
    std::uint64_t icmp_errors = 0;  // new in its last report
  };
  std::vector<flow_view> flows() const;
  std::vector<host_view> hosts(time_ms now) const;

  /// Segments a report must have sent for its sample to count.
  static constexpr std::uint64_t min_segments = 20;

 private:
  using flow_id = std::tuple<std::uint32_t, std::uint16_t, std::uint32_t, std::uint16_t>;
  struct flow_state {
    flow_view view;
    std::size_t profile = 0;
    bool watched = false;  // a manage rule's profile matched (always, with a default rule)
    std::uint64_t last_segs = 0, last_retrans = 0;
    bool baseline = false;
    time_ms last_move = -1'000'000'000;
    time_ms seen = 0;
    bool noted = false;  // "no better host" said for this bad run
  };
  struct host_state {
    std::deque<double> samples;  // the last few samples of flows leaving there
    time_ms sampled = 0;
    time_ms seen = 0;
    std::uint32_t load_permille = 0;
    std::uint64_t icmp_total = 0;
    std::uint64_t icmp_new = 0;
    bool has_icmp = false;
  };
  double host_loss(std::uint32_t host, time_ms now) const;
  std::uint32_t best_host(const flow_state& f, const policy::rim_reaction& r,
                          const std::vector<std::uint32_t>& available, std::uint32_t avoid, time_ms now) const;
  /// The profile's chain as addresses; empty when it has none or a hop is not available now.
  std::vector<std::uint32_t> chain_of(const policy::rim_reaction& r, const std::vector<std::uint32_t>& available,
                                      std::string& why) const;
  time_ms stale_after() const;   // a flow or host no longer reporting
  time_ms host_memory() const;   // how long a host's loss is remembered

  std::shared_ptr<const policy::policy> policy_;
  std::map<flow_id, flow_state> flows_;
  std::map<std::uint32_t, host_state> hosts_;
  std::vector<management_note> notes_;
};

}  // namespace baton::rim
