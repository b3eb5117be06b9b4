#pragma once
// group_member: one node's whole group protocol (document 004; DESIGN §1, §4) as a sans-I/O
// state machine. It owns no socket, thread or clock: the host feeds it
//   - on_message(from, message, now) for every message a peer sent it,
//   - on_tick(now) regularly (every few milliseconds; timers are checked against `now`),
// and after each call collects
//   - take_outbox(): messages to send, each to one node or to `broadcast` (= every peer in
//     group_config::peers); the host delivers them over its authenticated links, in order;
//   - take_events(): what the hosting roles must know (joined, became_master, unit_assigned,
//     take_over_unit with state, ...), see events.hpp.
// A role that owns units registers their state as portions with replicate() (initial and
// essential deltas, checkpoints; replication.hpp); the member replicates them to each unit's
// backup, hands them over when a unit moves, and gives them to the role that takes a unit over.
//
// What it does, each part in its own file: election.hpp (join, offer, tie-break),
// membership.hpp (member table, join votes, certificate identity check), keepalive.hpp (master
// and client keepalives, loss estimate, adaptive interval, watchdogs), work_units.hpp (owner and
// backup of each unit, failover, rebalancing) and replication.hpp (initial / essential deltas
// and checkpoints, acks and resends, compaction, hand-over).
//
// Not thread-safe: one host calls it from one thread (or actor) at a time. No call throws except
// on allocation failure. Messages naming units >= N are ignored.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "actors/group/config.hpp"
#include "actors/group/election.hpp"
#include "actors/group/events.hpp"
#include "actors/group/keepalive.hpp"
#include "actors/group/membership.hpp"
#include "actors/protocol/group.hpp"
#include "actors/group/replication.hpp"
#include "actors/protocol/group_types.hpp"
#include "actors/group/work_units.hpp"

namespace baton::group {

/// One message to send. `to` is a node or `broadcast`.
struct outgoing {
  node_id to = broadcast;
  message msg;
};

class group_member {
 public:
  /// `self` is this node's address (never 0), `identity` its certificate identity as sent in
  /// join requests. The hooks may be empty (see membership.hpp).
  group_member(node_id self, std::string identity, group_config cfg, group_hooks hooks = {});

  /// Starts joining: broadcasts a join request (Figure 6, 601-603). Calling it again restarts.
  /// The join timeout (and so any offer) waits for on_links_up, or group_config::link_wait.
  void start(time_ms now);
  /// The host's links to every configured peer are up (or it has none): a start waiting for
  /// them sends its join request again and listens for the join timeout from now before it
  /// offers itself; a master's keepalive heard meanwhile makes it join that master. Later calls
  /// (links that come back) change nothing.
  void on_links_up(time_ms now);
  /// Leaves the group: a client sends an exit request to its master, a master tells its members
  /// to exit (they elect a new master). Owned units are revoked. Afterwards the node is idle.
  void stop(time_ms now);

  /// A message `from` a peer (the host knows the sender from the authenticated link).
  void on_message(node_id from, const message& m, time_ms now);
  /// Checks every timer: join and offer timeouts, watchdogs, keepalive sending, rebalancing,
  /// resends.
  void on_tick(time_ms now);
  /// When on_tick next has something to do, for a host that sleeps between ticks (issue 15: an
  /// idle node wakes when a timer is due, not every few milliseconds): the earliest of the
  /// election's deadline, the master watchdog's expiry, the next client or master keepalive, a
  /// client watchdog's expiry, a join vote's deadline, a move's deadline, the next rebalance, an
  /// assignment's or a state portion's resend. A time not after `now` means "tick again soon" (a
  /// pass the master repeats each tick until it can finish, e.g. units held for an expected
  /// backup); time_ms::max() when no timer runs (idle). Calling on_tick at this time, and after
  /// every on_message, fires every timer when a tick at every millisecond would.
  time_ms next_due(time_ms now) const;

  /// Master only: the roles' decision on a join that was deferred (events::join_vote). Returns
  /// false if no such join is pending (decided already, timed out, or not master).
  bool resolve_join(node_id node, bool accept, const std::string& reason, time_ms now);

  /// What request_move did.
  enum class move_verdict : std::uint8_t {
    started,        // the owner was sent the de-assign; the unit moves when the state is over
    not_master,     // only the master moves units: ask master()
    no_such_unit,   // u >= N
    not_a_member,   // `to` is not in the group
    already_there,  // `to` owns u already
    unassigned,     // nobody owns u (its backup has not joined, or no members yet)
    busy,           // u is moving already, or its owner has not acknowledged it yet
  };
  /// Master only: moves work unit u to member `to` as rebalancing does (document 004's
  /// de-assign: the owner stops, hands the state to `to`, `to` reports work_deassign_done and
  /// takes the unit), for an operator (console: POST /group/move). Rebalancing leaves the unit
  /// where it was put (until its owner fails). Refusals change nothing.
  move_verdict request_move(unit_id u, node_id to, time_ms now);

  /// Registers a portion of unit u's state (replication.hpp): `initial` - an initial delta
  /// (e.g. records of the flows new since the last portion), `essential` - an essential delta
  /// (records that changed), `checkpoint` - the unit's whole state, replacing everything
  /// registered before. Each portion goes to u's backup at once and again every resend interval
  /// until acknowledged; the backup keeps the last checkpoint and the deltas after it, and a
  /// take-over gives them to the new owner's role in order (take_over_unit::portions).
  /// Only the owner may: returns false (and stores nothing) if this node does not own u, u >= N
  /// or `kind` is not a portion_kind. May emit checkpoint_wanted{u} (compaction): the role
  /// answers with replicate(u, portion_kind::checkpoint, ...).
  bool replicate(unit_id u, portion_kind kind, state_bytes data, time_ms now);
  /// The previous interface, kept for roles that send their whole state on every change:
  /// registers `data` as a checkpoint (replicate(u, portion_kind::checkpoint, data, now)).
  bool update_essential(unit_id u, state_bytes data, time_ms now);

  /// The load this node reports in its client keepalives (role-defined; carried to the console).
  void set_load(std::uint32_t load) noexcept { load_ = load; }

  /// Messages and events produced so far; each call empties its queue.
  std::vector<outgoing> take_outbox();
  std::vector<event> take_events();

  // ---- observation (for the host, the console and tests) ----
  node_id self() const noexcept { return self_; }
  const std::string& identity() const noexcept { return identity_; }
  const group_config& config() const noexcept { return cfg_; }
  phase current_phase() const noexcept { return election_.current(); }
  bool is_master() const noexcept { return current_phase() == phase::master; }
  /// The master this node follows (itself when master); no_node while joining.
  node_id master() const noexcept { return master_; }
  /// The group's members as this node knows them (master: its table; client: the last master
  /// keepalive); empty while joining.
  std::vector<member_entry> members() const;
  /// True if this node works on unit u now (owned and not being handed over).
  bool owns(unit_id u) const noexcept;
  std::vector<unit_id> owned_units() const;
  /// Owner and backup of u in this node's latest view of the master's table.
  node_id owner_of(unit_id u) const noexcept;
  node_id backup_of(unit_id u) const noexcept;
  /// The adaptive keepalive interval n in force (master: computed; client: as received).
  std::uint32_t keepalive_n() const noexcept;
  /// Master: the worst per-client loss estimate P; others: 0.
  double loss_estimate() const noexcept;
  /// Watchdog expiries found on a late tick (group_config::late_check), given a grace.
  std::uint64_t late_checks() const noexcept { return late_checks_; }
  /// Master: tie-breaks against another master left to its next keepalive because a member's
  /// silence put the outcome in doubt (see on(master_keepalive)).
  std::uint64_t tie_breaks_deferred() const noexcept { return tie_breaks_deferred_; }
  /// Units this node took over from a master it lost (group_config::backup_takeover), and units
  /// it later gave back because that master was alive and kept them.
  std::uint64_t lost_master_takeovers() const noexcept { return lost_master_takeovers_; }
  std::uint64_t takeovers_given_back() const noexcept { return takeovers_given_back_; }
  /// Times this node offered itself at once as the lost master's successor (successor_takeover).
  std::uint64_t successions() const noexcept { return successions_; }
  /// Master: its work table; nullptr otherwise.
  const work_table* table() const noexcept { return is_master() ? &table_ : nullptr; }
  /// The replicas and handed-over states this node holds.
  const replica_store& replicas() const noexcept { return replicas_; }
  /// The log this node has registered for a unit it owns (or is handing over).
  std::optional<unit_log> own_state(unit_id u) const { return state_.get(u, self_); }

 private:
  enum class unit_status : std::uint8_t { none, owned, handing_over };

  // plumbing
  void send(node_id to, message m);
  void emit(event e) { events_.push_back(std::move(e)); }
  void handle(node_id from, const message& m, time_ms now);
  void finish(time_ms now, bool tick = false);
  void flush_replication(time_ms now);
  void flush_replication(unit_id u, time_ms now);
  bool valid(unit_id u) const noexcept { return u < cfg_.work_units; }

  // message handlers
  void on(node_id from, const join_request& m, time_ms now);
  void on(node_id from, const join_reply& m, time_ms now);
  void on(node_id from, const exit_request& m, time_ms now);
  void on(node_id from, const master_offer& m, time_ms now);
  void on(node_id from, const other_master_exists& m, time_ms now);
  void on(node_id from, const master_keepalive& m, time_ms now);
  void on(node_id from, const client_keepalive& m, time_ms now);
  void on(node_id from, const work_assign& m, time_ms now);
  void on(node_id from, const work_assign_ack& m, time_ms now);
  void on(node_id from, const work_deassign& m, time_ms now);
  void on(node_id from, const work_deassign_done& m, time_ms now);
  void on(node_id from, const state_delta& m, time_ms now);
  void on(node_id from, const state_ack& m, time_ms now);
  void on(node_id from, const state_handover& m, time_ms now);

  // election and membership
  void act(election_action a, node_id to, time_ms now);
  join_request make_join_request() const;
  std::vector<unit_id> claimable_replicas() const;
  void become_master(time_ms now);
  void become_member(node_id master, std::uint64_t sequence, time_ms now);
  /// link_wait > 0 only on start: later rejoins happen over links that are up already.
  void rejoin(node_id target, time_ms now, time_ms link_wait = time_ms{0});
  void step_down(node_id winner, time_ms now);
  void admit(node_id node, const join_request& req, time_ms now);
  void refuse(node_id node, const std::string& identity, const std::string& reason);
  void reconcile_claims(node_id node, const join_request& req, bool was_member);
  void remove_member(node_id node, const std::string& reason, time_ms now);
  std::uint32_t current_n() const noexcept;

  // timers
  void master_tick(time_ms now);
  void member_tick(time_ms now);
  void master_flush(time_ms now);
  void send_master_keepalive(time_ms now);
  /// A watchdog found expired at `now`: true when the expiry must wait (a grace is running, or
  /// this tick is late and starts one of `grace`), false when it counts.
  bool defer_expiry(time_ms now, time_ms grace);
  /// Whether `id` is in our member table and sent a client keepalive lately (within 1.5 keepalive
  /// intervals, and at least the shorter watchdog; `widen` times that).
  bool still_ours(node_id id, time_ms now, std::uint32_t widen = 1) const;
  /// Our side's count for a tie-break against master `other` listing `their_list`: ourselves,
  /// members it does not list, and members it lists that still talk to us (still_ours with
  /// `widen`).
  std::uint32_t contested_count(const std::vector<member_entry>& their_list, node_id other,
                                time_ms now, std::uint32_t widen = 1) const;

  // the units this node works on
  void apply_row(unit_id u, node_id owner, node_id backup, bool explicit_assign,
                 std::vector<unit_id>& acks);
  void apply_table(const std::vector<node_id>& owners, const std::vector<node_id>& backups);
  void adopt(unit_id u, node_id previous_owner);
  /// The master `dead` was lost: take its units whose backup we are (group_config::backup_takeover).
  void take_over_lost_master(node_id dead);
  /// The lowest address in the last member list `dead` sent us, `dead` left out; no_node if none.
  node_id successor_of(node_id dead) const;
  void send_handover(unit_id u, node_id target);
  void resume_own(unit_id u);

  node_id self_;
  std::string identity_;
  group_config cfg_;
  group_hooks hooks_;
  election election_;
  std::uint32_t load_ = 0;

  std::vector<outgoing> outbox_;
  std::vector<event> events_;
  std::deque<message> loopback_;  // messages to ourselves (the master is also a member)

  // as a member (also true of the master, which works on units too)
  node_id master_ = no_node;
  watchdog master_heard_;
  time_ms grace_until_{0};  // no watchdog expires before this (defer_expiry)
  mutable time_ms promised_ = time_ms::max();  // the last next_due() told to the host
  bool late_ = false;  // this tick came more than late_check after promised_
  std::uint64_t late_checks_ = 0;
  std::uint64_t tie_breaks_deferred_ = 0;
  std::uint64_t lost_master_takeovers_ = 0;
  std::uint64_t takeovers_given_back_ = 0;
  std::uint64_t successions_ = 0;
  std::uint64_t client_sequence_ = 0;
  time_ms next_client_keepalive_{0};
  time_ms client_interval_{0};
  std::uint32_t keepalive_n_ = 2;
  std::uint64_t last_master_sequence_ = 0;
  std::uint64_t table_version_seen_ = 0;
  std::vector<member_entry> known_members_;
  std::vector<unit_status> status_;
  std::vector<node_id> view_owner_;
  std::vector<node_id> view_backup_;
  std::vector<node_id> assigned_backup_;  // the backup in the last row that had an owner
  std::vector<bool> taken_from_master_;  // owned through take_over_lost_master, not yet confirmed
  owned_state state_;
  replica_store replicas_;

  // as master
  member_table members_;
  join_votes votes_;
  work_table table_;
  std::map<unit_id, node_id> backup_claims_;
  std::map<unit_id, node_id> expected_backups_;  // the previous master's backups (become_master)
  time_ms expect_until_{0};
  std::map<node_id, double> past_loss_;  // loss estimates of removed members, kept for a rejoin
  time_ms settled_at_{0};  // unassigned units wait for this (joins restart the wait)
  time_ms next_master_keepalive_{0};
  time_ms next_rebalance_{0};
  std::uint64_t master_sequence_ = 0;
  std::uint64_t table_sent_version_ = 0;          // the table version the last keepalive carried
  std::vector<node_id> members_sent_;             // the member list the last keepalive carried
  std::uint32_t keepalives_since_full_ = 0;
  std::uint64_t applied_version_ = 0;
  bool keepalive_now_ = false;
  bool replicate_now_ = false;  // a unit changed owner or backup: state may be due at once
  bool table_dirty_ = true;  // membership or table changed since the last assign/repair pass
  std::uint64_t repaired_version_ = 0;
};

}  // namespace baton::group
