#pragma once
// Master election (document 004, Figure 6 and Figure 8A).
//
// A node without a master broadcasts a join request; with no "OK to join" within join_timeout
// it broadcasts a master offer; "If the member gets a other master exists message the member
// tries to join again"; with no objection for master_offer_timeout (100 ms) it acts as master.
// Two masters that meet compare member counts, then addresses: wins_tie_break().
//
// `election` holds only the phase and its timers; group_member sends the messages the returned
// actions ask for and feeds it what it hears.

#include <cstdint>

#include "actors/protocol/group_types.hpp"

namespace baton::group {

/// Where a node stands in its group.
enum class phase : std::uint8_t {
  idle,      // not started, or stopped
  joining,   // join request sent, waiting for "OK to join"
  offering,  // master offer sent, waiting for objections
  member,    // a client of a master
  master,    // the master
  refused,   // our join was refused; retrying later
};

/// "idle", "joining", ... Never null.
const char* phase_name(phase p) noexcept;

/// One side of a tie-break: a master's member count and address.
struct contender {
  std::uint32_t members = 0;
  node_id address = no_node;
};

/// Figure 8A: true when `me` stays master against `other`: "Do I have more cluster members than
/// this other master?" wins; fewer loses; on equal counts "is my IP address less than his?"
/// wins. Equal counts and equal addresses (the same node) never win. Pure; never throws.
bool wins_tie_break(contender me, contender other) noexcept;

/// What the host must do after an election step.
enum class election_action : std::uint8_t {
  none,
  send_join,      // broadcast (or send to a known master) a join request
  send_offer,     // broadcast a master offer
  become_master,  // the offer went unanswered: act as master now
};

class election {
 public:
  election(time_ms join_timeout, time_ms offer_timeout, time_ms retry_interval) noexcept;

  phase current() const noexcept { return phase_; }

  /// Any phase -> joining. Returns send_join. With `link_wait` > 0 (a node's first start: its
  /// links to the peers are not up yet) the join timeout counts from links_up(), or from
  /// now + link_wait at the latest: a request sent before the links are up reaches nobody, and a
  /// node that then offered itself 200 ms after start won a running group (issue 14).
  election_action start(time_ms now, time_ms link_wait = time_ms{0}) noexcept;
  /// The host's links to its peers are up (or have had their chance): a start still waiting for
  /// them listens for the join timeout from now, and returns send_join (the first request went
  /// to the links there were) unless one went out at `now`. Otherwise none.
  election_action links_up(time_ms now) noexcept;
  /// True while a start waits for its links (start with link_wait > 0, before links_up, before
  /// anything from a master was heard).
  bool waiting_for_links() const noexcept { return waiting_links_; }
  /// Timers: joining past its deadline -> offering (send_offer); offering past its deadline ->
  /// master (become_master); refused past its retry time -> joining (send_join). Else none.
  election_action on_tick(time_ms now) noexcept;
  /// "other master exists" or a master keepalive heard while joining or offering: -> joining
  /// and returns send_join (at most once per join_timeout, else none). Other phases: none.
  election_action on_objection(time_ms now) noexcept;
  /// NAK "operation in progress": stays joining, deadline extended by `wait`. Joining only.
  void on_in_progress(time_ms now, time_ms wait) noexcept;
  /// "OK to join" (joining or offering) -> member. Returns false in other phases (ignored).
  bool on_joined() noexcept;
  /// NAK (joining or offering) -> refused, retry at now + retry_interval. False otherwise.
  bool on_refused(time_ms now) noexcept;
  /// -> idle.
  void stop() noexcept { phase_ = phase::idle; }
  /// Joining -> offering now, without waiting for the join timeout: the deterministic successor
  /// of a lost master (group_config::successor_takeover). Returns send_offer (none when not
  /// joining).
  election_action offer_now(time_ms now) noexcept {
    if (phase_ != phase::joining) return election_action::none;
    phase_ = phase::offering;
    waiting_links_ = false;
    deadline_ = now + offer_timeout_;
    return election_action::send_offer;
  }
  /// When on_tick next acts: the joining, offering or refused deadline; time_ms::max() in the
  /// other phases (no timer).
  time_ms next_due() const noexcept {
    return phase_ == phase::joining || phase_ == phase::offering || phase_ == phase::refused
             ? deadline_
             : time_ms::max();
  }

 private:
  time_ms join_timeout_;
  time_ms offer_timeout_;
  time_ms retry_interval_;
  phase phase_ = phase::idle;
  time_ms deadline_{0};
  time_ms last_join_sent_{0};
  bool join_sent_ = false;
  bool waiting_links_ = false;
};

}  // namespace baton::group
