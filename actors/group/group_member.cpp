#include "actors/group/group_member.hpp"

#include <algorithm>
#include <set>
#include <utility>

namespace baton::group {

namespace {

std::string address_text(node_id a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." +
         std::to_string((a >> 8) & 0xff) + "." + std::to_string(a & 0xff);
}

bool lists(const std::vector<member_entry>& members, node_id id) {
  return std::any_of(members.begin(), members.end(),
                     [id](const member_entry& m) { return m.id == id; });
}

}  // namespace

group_member::group_member(node_id self, std::string identity, group_config cfg,
                           group_hooks hooks)
    : self_(self),
      identity_(std::move(identity)),
      cfg_(std::move(cfg)),
      hooks_(std::move(hooks)),
      election_(cfg_.join_timeout, cfg_.master_offer_timeout, cfg_.join_retry_interval),
      keepalive_n_(cfg_.keepalive_n_min),
      status_(cfg_.work_units, unit_status::none),
      view_owner_(cfg_.work_units, no_node),
      view_backup_(cfg_.work_units, no_node),
      assigned_backup_(cfg_.work_units, no_node),
      taken_from_master_(cfg_.work_units, false),
      state_(cfg_),
      table_(cfg_.work_units) {}

// ---------------------------------------------------------------- plumbing

void group_member::send(node_id to, message m) {
  if (to == self_) {
    loopback_.push_back(std::move(m));
  } else {
    outbox_.push_back(outgoing{to, std::move(m)});
  }
}

std::vector<outgoing> group_member::take_outbox() {
  return std::exchange(outbox_, {});
}

std::vector<event> group_member::take_events() {
  return std::exchange(events_, {});
}

void group_member::handle(node_id from, const message& m, time_ms now) {
  std::visit([&](const auto& x) { on(from, x, now); }, m);
}

void group_member::finish(time_ms now, bool tick) {
  // Messages to ourselves run to completion before the call returns, so the host never sees them.
  for (int rounds = 0; rounds < 64; ++rounds) {
    while (!loopback_.empty()) {
      message m = std::move(loopback_.front());
      loopback_.pop_front();
      handle(self_, m, now);
    }
    if (is_master()) master_flush(now);
    if (loopback_.empty()) break;
  }
  // Changes a role registers go out at once (update_*); the walk over every unit with something
  // unacknowledged is for resends, on ticks, and for units whose backup just changed.
  if (tick || replicate_now_) {
    replicate_now_ = false;
    flush_replication(now);
  }
}

void group_member::flush_replication(time_ms now) {
  const auto p = current_phase();
  if (p != phase::member && p != phase::master) return;
  std::vector<std::pair<node_id, message>> due;
  state_.collect(now, cfg_.resend_interval, due);
  for (auto& [to, m] : due)
    if (to != self_) outbox_.push_back(outgoing{to, std::move(m)});
}

void group_member::flush_replication(unit_id u, time_ms now) {
  const auto p = current_phase();
  if (p != phase::member && p != phase::master) return;
  std::vector<std::pair<node_id, message>> due;
  state_.collect_unit(u, now, cfg_.resend_interval, due);
  for (auto& [to, m] : due)
    if (to != self_) outbox_.push_back(outgoing{to, std::move(m)});
}

void group_member::start(time_ms now) {
  rejoin(broadcast, now, cfg_.link_wait);
  finish(now);
}

void group_member::on_links_up(time_ms now) {
  if (current_phase() == phase::idle) return;
  act(election_.links_up(now), broadcast, now);
  finish(now);
}

void group_member::stop(time_ms /*now: nothing in stop() waits*/) {
  if (is_master()) {
    for (auto id : members_.ids())
      if (id != self_) send(id, exit_request{"master leaving"});
  } else if (current_phase() == phase::member && master_ != no_node) {
    send(master_, exit_request{"leaving"});
  }
  for (unit_id u = 0; u < cfg_.work_units; ++u) {
    if (status_[u] == unit_status::owned) emit(unit_revoked{u, false});
    status_[u] = unit_status::none;
    taken_from_master_[u] = false;
    state_.erase(u);
  }
  replicas_.clear();
  members_.clear();
  votes_.clear();
  known_members_.clear();
  master_ = no_node;
  election_.stop();
  loopback_.clear();
}

void group_member::on_message(node_id from, const message& m, time_ms now) {
  if (current_phase() == phase::idle || m.valueless_by_exception()) return;
  handle(from, m, now);
  finish(now);
}

void group_member::on_tick(time_ms now) {
  // Ticked later than the host was told a timer was due (next_due): it did not run us meanwhile.
  late_ = cfg_.late_check > time_ms{0} && promised_ != time_ms::max() &&
          now - promised_ > cfg_.late_check;
  switch (current_phase()) {
    case phase::idle:
      return;
    case phase::joining:
    case phase::offering:
    case phase::refused:
      act(election_.on_tick(now), broadcast, now);
      break;
    case phase::member:
      member_tick(now);
      break;
    case phase::master:
      master_tick(now);
      break;
  }
  finish(now, true);
}

// ---------------------------------------------------------------- election and membership

join_request group_member::make_join_request() const {
  join_request r;
  r.identity = identity_;
  r.config_version = cfg_.config_version;
  for (unit_id u = 0; u < cfg_.work_units; ++u) {
    if (status_[u] != unit_status::none) r.owned_units.push_back(u);
    if (status_[u] == unit_status::handing_over) r.moving_units.push_back(u);
  }
  r.backup_units = claimable_replicas();
  return r;
}

std::vector<unit_id> group_member::claimable_replicas() const {
  // Only the replicas of units whose backup we are in the last table we saw that gave the unit an
  // owner (a new master's table lists the units it has not placed yet as unassigned). A node the master
  // replaced as a unit's backup (it was thought dead for a while, or its master changed) may
  // still hold the owner's log as it was then; it stops getting changes, and as a claim it would
  // let a new master give the unit to it with that old state instead of to its real backup.
  // (The replica itself is kept: should we become the backup again of the same owner, the owner
  // may count it as acknowledged and send only what follows.)
  std::vector<unit_id> out;
  for (auto u : replicas_.replica_units())
    if (assigned_backup_[u] == self_) out.push_back(u);
  return out;
}

void group_member::act(election_action a, node_id to, time_ms now) {
  switch (a) {
    case election_action::none:
      break;
    case election_action::send_join:
      send(to, make_join_request());
      break;
    case election_action::send_offer:
      send(broadcast, master_offer{1});
      break;
    case election_action::become_master:
      become_master(now);
      break;
  }
}

void group_member::become_master(time_ms now) {
  master_ = self_;
  table_sent_version_ = ~std::uint64_t{0};  // the first keepalive carries the new table
  members_sent_.clear();
  settled_at_ = now + cfg_.settle_time;
  members_.clear();
  votes_.clear();
  backup_claims_.clear();
  table_ = work_table{cfg_.work_units};
  members_.add(self_, identity_, now, cfg_.initial_loss, cfg_.loss_weight).confirmed = true;
  // The units we carry stay ours; a backup's replicas are its claim once the owner is gone. A
  // unit we stopped for a hand-over a previous master asked for comes back to us: that master's
  // move cannot finish in our table.
  for (unit_id u = 0; u < cfg_.work_units; ++u) {
    if (status_[u] == unit_status::none) continue;
    if (status_[u] == unit_status::handing_over) {
      status_[u] = unit_status::owned;
      resume_own(u);
    }
    table_.assign(u, self_, true);
  }
  for (auto u : claimable_replicas()) backup_claims_[u] = self_;
  // Where the previous master kept each unit's replica, as we last saw its table: a unit whose
  // owner does not come back waits for that backup to join (and claim it) before it may go to
  // the least loaded member, which would continue it without its state. A joining member's
  // claim comes from its own, possibly newer, view and wins.
  expected_backups_.clear();
  for (unit_id u = 0; u < cfg_.work_units; ++u) {
    const node_id b = assigned_backup_[u];
    if (status_[u] == unit_status::none && b != no_node && b != self_) expected_backups_[u] = b;
  }
  expect_until_ = now + cfg_.settle_time + cfg_.master_watchdog + cfg_.client_watchdog +
                  2 * (cfg_.join_timeout + cfg_.master_offer_timeout);
  next_rebalance_ = now + cfg_.rebalance_interval;
  table_dirty_ = true;
  applied_version_ = 0;
  table_version_seen_ = 0;
  known_members_.clear();
  keepalive_now_ = true;  // Figure 6, 621: announce ourselves at once
  emit(became_master{});
}

void group_member::become_member(node_id master, std::uint64_t sequence, time_ms now) {
  if (!election_.on_joined()) return;
  master_ = master;
  master_heard_.reset(now);
  last_master_sequence_ = sequence;
  table_version_seen_ = 0;
  known_members_.clear();
  keepalive_n_ = cfg_.keepalive_n_min;
  client_interval_ = keepalive_period(cfg_.client_watchdog, keepalive_n_);
  next_client_keepalive_ = now;
  emit(joined{master});
}

void group_member::rejoin(node_id target, time_ms now, time_ms link_wait) {
  // Work in progress continues while there is no master. A unit stopped for a hand-over stays
  // stopped: the master that asked for the move may still finish it (the target holds our final
  // state and may already have told it so), and taking the unit back here would leave it worked
  // on twice. The join request names such units (moving_units); the master we join finishes the
  // move or sends the unit back (reconcile_claims), and a master we become gives it back to us
  // (become_master). For the same reason a target keeps the state handed to it: it is dropped
  // once a table names an owner other than its sender (apply_row), or used when the move ends.
  master_ = no_node;
  known_members_.clear();
  members_.clear();
  votes_.clear();
  backup_claims_.clear();
  act(election_.start(now, link_wait), target, now);
}

void group_member::step_down(node_id winner, time_ms now) {
  // Figure 8A, 821: "he must give up the master role [...] by exiting the cluster and rejoining
  // the cluster as a member/non-master". Our members are told to do the same.
  for (auto id : members_.ids())
    if (id != self_) send(id, exit_request{"master lost the tie-break"});
  emit(left{"lost the tie-break to " + address_text(winner)});
  rejoin(winner, now);
}

std::uint32_t group_member::current_n() const noexcept {
  return adaptive_keepalive_n(members_.worst_loss(), cfg_.keepalive_k, cfg_.keepalive_n_min,
                              cfg_.keepalive_n_max);
}

void group_member::on(node_id from, const join_request& m, time_ms now) {
  if (!is_master() || from == self_ || from == no_node) return;
  if (hooks_.verify_identity && !hooks_.verify_identity(from, m.identity)) {
    refuse(from, m.identity, "unknown identity");
    return;
  }
  if (m.config_version != cfg_.config_version) {
    refuse(from, m.identity, "configuration version mismatch");
    return;
  }
  if (members_.contains(from)) {
    // A member asking again (its OK was lost, or it lost us for a while): admit it again.
    send(from, join_reply{join_result::ok, {}, master_sequence_});
    members_.find(from)->heard.reset(now);
    reconcile_claims(from, m, true);
    keepalive_now_ = true;
    return;
  }
  // Figure 8F, 877: "The master initially tells the client to wait by sending a NAK with an
  // operation in progress reason."
  send(from, join_reply{join_result::nak_in_progress, "operation in progress", 0});
  if (votes_.contains(from)) return;
  const join_decision d =
      hooks_.vote_join ? hooks_.vote_join(from, m.identity) : join_decision::accept();
  switch (d.verdict) {
    case join_decision::kind::accept:
      admit(from, m, now);
      break;
    case join_decision::kind::reject:
      refuse(from, m.identity, d.reason.empty() ? "rejected" : d.reason);
      break;
    case join_decision::kind::defer:
      votes_.add(pending_join{from, m, now + cfg_.join_vote_timeout});
      emit(join_vote{from, m.identity});
      break;
  }
}

bool group_member::resolve_join(node_id node, bool accept, const std::string& reason,
                                time_ms now) {
  if (!is_master()) return false;
  pending_join p;
  if (!votes_.take(node, p)) return false;
  if (accept) {
    admit(node, p.request, now);
  } else {
    refuse(node, p.request.identity, reason.empty() ? "rejected" : reason);
  }
  finish(now);
  return true;
}

void group_member::admit(node_id node, const join_request& req, time_ms now) {
  // A newcomer's loss estimate starts at the group's: loss is a property of the network, and a
  // member that rejoins after a false failure must not shrink n back to its minimum.
  double p = std::max(cfg_.initial_loss, members_.worst_loss());
  if (auto it = past_loss_.find(node); it != past_loss_.end()) p = std::max(p, it->second);
  members_.add(node, req.identity, now, p, cfg_.loss_weight);
  send(node, join_reply{join_result::ok, {}, master_sequence_});
  emit(member_joined{node, req.identity});
  reconcile_claims(node, req, false);
  // Joins come in bursts after a master change; wait until they have claimed what they carry.
  settled_at_ = std::max(settled_at_, now + cfg_.settle_time);
  table_dirty_ = true;
  keepalive_now_ = true;
}

void group_member::refuse(node_id node, const std::string& identity, const std::string& reason) {
  send(node, join_reply{join_result::nak, reason, 0});
  emit(peer_refused{node, identity, reason});
}

void group_member::reconcile_claims(node_id node, const join_request& req, bool was_member) {
  std::vector<bool> claimed(cfg_.work_units, false), moving(cfg_.work_units, false);
  bool conflict = false;
  for (auto u : req.moving_units)
    if (valid(u)) moving[u] = true;
  for (auto u : req.owned_units) {
    if (!valid(u)) continue;
    claimed[u] = true;
    const auto& r = table_.at(u);
    if (r.owner == no_node) {
      // It carries the unit already; first claim wins. A unit it stopped for a move that is not
      // ours goes back to it explicitly (work_assign restarts it), so unacknowledged.
      table_.assign(u, node, !moving[u]);
    } else if (r.owner == node && !moving[u]) {
      table_.ack(u, node);
    } else if (r.owner == node && r.move_target == no_node) {
      // Stopped for a move we have since given up (or never started): send the unit back. An
      // acknowledgement here would leave it stopped, as nothing else restarts it.
      table_.assign(u, node, false);
    } else if (r.owner != node) {
      // Someone else owns the unit: our next keepalive revokes it there. The node may have taken
      // it over from us when it lost us for a master watchdog (backup_takeover), so that
      // keepalive carries the whole table, whatever full_table_every says.
      conflict = true;
    }  // else our move is in progress (it finishes or is given up)
  }
  if (conflict) {
    table_sent_version_ = ~std::uint64_t{0};
    keepalive_now_ = true;
  }
  for (auto u : req.backup_units)
    if (valid(u) && table_.at(u).owner == no_node) backup_claims_.emplace(u, node);
  if (!was_member) return;
  // A member that no longer claims units it had confirmed has lost them (it restarted): they
  // fail over as if it had died.
  const auto ids = members_.ids();
  for (unit_id u = 0; u < cfg_.work_units; ++u) {
    const auto& r = table_.at(u);
    if (r.owner != node || !r.acked || claimed[u] || r.move_target != no_node) continue;
    const bool backup_alive = r.backup != no_node && r.backup != node && members_.contains(r.backup);
    table_.assign(u, backup_alive ? r.backup : no_node, false);
  }
}

void group_member::remove_member(node_id node, const std::string& reason, time_ms) {
  if (node == self_) return;
  if (auto* rec = members_.find(node)) past_loss_[node] = rec->loss.p();
  if (!members_.remove(node)) return;
  table_.fail_member(node, members_.ids());
  for (auto it = backup_claims_.begin(); it != backup_claims_.end();)
    it = it->second == node ? backup_claims_.erase(it) : std::next(it);
  emit(member_left{node, reason});
  table_dirty_ = true;
  keepalive_now_ = true;
}

void group_member::on(node_id from, const join_reply& m, time_ms now) {
  const auto p = current_phase();
  if (m.result == join_result::ok && from != self_ &&
      ((p == phase::member && from != master_) || p == phase::master)) {
    // An OK for a join request that waited out a partition in a TCP queue, from a master we no
    // longer ask to follow: say so, so that it drops us now rather than at its client watchdog
    // (meanwhile we count for it in no tie-break: member_record::confirmed).
    send(from, exit_request{"following another master"});
    return;
  }
  if (p != phase::joining && p != phase::offering) return;
  switch (m.result) {
    case join_result::ok:
      become_member(from, m.master_sequence, now);
      break;
    case join_result::nak_in_progress:
      election_.on_in_progress(now, cfg_.join_vote_timeout + cfg_.join_timeout);
      break;
    case join_result::nak:
      if (election_.on_refused(now)) emit(join_refused{m.reason});
      break;
  }
}

void group_member::on(node_id from, const exit_request& m, time_ms now) {
  if (is_master()) {
    if (members_.contains(from)) remove_member(from, "exit request: " + m.reason, now);
  } else if (current_phase() == phase::member && from == master_) {
    // Figure 6, 609: told to leave the cluster; join again.
    emit(left{m.reason});
    rejoin(broadcast, now);
  }
}

void group_member::on(node_id from, const master_offer&, time_ms now) {
  // Figure 6, 617: an existing master answers an offer with "other master exists".
  if (is_master() && from != self_) send(from, other_master_exists{contested_count({}, from, now)});
}

void group_member::on(node_id from, const other_master_exists& m, time_ms now) {
  const auto p = current_phase();
  if (p == phase::joining || p == phase::offering) {
    act(election_.on_objection(now), from, now);  // "the member tries to join again"
  } else if (p == phase::master && from != self_) {
    // Decided at once, unlike on(master_keepalive): deferring here too kept two masters long
    // enough under 20% loss for a unit to be owned twice for 200 ms (test_failover). The sender
    // counted only members confirmed by their keepalives, so a stale join does not inflate it.
    if (!wins_tie_break({contested_count({}, from, now), self_}, {m.members, from}))
      step_down(from, now);
  }
}

bool group_member::still_ours(node_id id, time_ms now, std::uint32_t widen) const {
  const auto* rec = members_.find(id);
  // A member that has since followed another master stopped talking to us at least a master
  // watchdog before (it lost us for that long, then joined), and has missed at least one of its
  // keepalive intervals. One interval and a half alone (120 ms by default) was too tight on a
  // loaded machine: a live member's keepalive 40 ms late let a cut-off master's stale keepalives
  // win the tie-break after a heal (issue 14, lab.cluster_churn).
  const time_ms interval = keepalive_period(cfg_.client_watchdog, current_n());
  const time_ms window =
    std::max(interval * 3 / 2, std::min(cfg_.master_watchdog, cfg_.client_watchdog));
  // A member not yet confirmed (no client keepalive since its join) is in doubt, as one silent
  // past the window is: ours only when the count is widened.
  return rec && (rec->confirmed || widen > 1) && !rec->heard.expired(now, window * widen);
}

std::uint32_t group_member::contested_count(const std::vector<member_entry>& their_list,
                                            node_id other, time_ms now, std::uint32_t widen) const {
  // A node belongs to one group. Members the other master lists too count for us only while
  // they still talk to us (still_ours): a master cut off by a partition keeps its old members in
  // its table until its client watchdog fires, and counting them would let the cut-off side win
  // the tie-break against the side those members now follow. The other master is never ours.
  std::uint32_t mine = 1;  // ourselves
  for (auto id : members_.ids()) {
    if (id == self_ || id == other || (widen == 1 && !members_.find(id)->confirmed)) continue;
    if (!lists(their_list, id) || still_ours(id, now, widen)) ++mine;
  }
  return mine;
}

void group_member::on(node_id from, const master_keepalive& m, time_ms now) {
  if (from == self_) return;  // Figure 8A, 803: "is it from me?"
  switch (current_phase()) {
    case phase::master: {
      // Figure 8A: two masters; the tie-break decides. A node belongs to one group: the other
      // master's list counts only members that are not ours. (Keepalives it queued during a
      // partition arrive first when the partition heals and still list the nodes that have since
      // joined us; counting those would hand the group to the smaller side.)
      // The counts rest on who talked to us lately. A member silent for longer than still_ours'
      // window but not yet twice that is in doubt: on a loaded machine its keepalive may sit in
      // our mailbox behind this one (the churn lab's heal once went to the cut-off master, 1 vs 1
      // decided by address, while the other member still followed us); so is one admitted that
      // has not kept alive with us yet (member_record::confirmed). If counting the members in
      // doubt as ours would change the outcome, neither step down nor object now: the other
      // master's next keepalive (every interval) decides, with each member either heard again or
      // silent past doubt; the wait is at most one window. A member that has really followed the
      // other master has been silent toward us for at least the master watchdog before its new
      // master could list it, so a long partition is never in doubt.
      const auto we_win = [&](std::uint32_t widen, std::uint32_t& mine) {
        std::uint32_t theirs = 0;
        for (const auto& e : m.members)
          if (e.id != self_ && (e.id == from || !still_ours(e.id, now, widen))) ++theirs;
        mine = contested_count(m.members, from, now, widen);
        return wins_tie_break({mine, self_}, {theirs, from});
      };
      std::uint32_t mine = 0, mine_if_doubt_ours = 0;
      if (we_win(1, mine)) {
        send(from, other_master_exists{mine});  // 825
        keepalive_now_ = true;                  // 827: announce ourselves again
      } else if (we_win(2, mine_if_doubt_ours)) {
        ++tie_breaks_deferred_;
      } else {
        step_down(from, now);
      }
      return;
    }
    case phase::joining:
    case phase::offering:
      if (lists(m.members, self_)) {
        // Admitted, but the OK was lost: the member list says so.
        become_member(from, 0, now);
        break;  // and read the keepalive as a member below
      }
      act(election_.on_objection(now), from, now);
      return;
    case phase::member:
      break;
    default:
      return;
  }
  if (from != master_ || m.sequence <= last_master_sequence_) return;  // not ours, or stale
  last_master_sequence_ = m.sequence;
  master_heard_.reset(now);  // Figure 8G, 899
  // 891: "updates its adaptive keepalive interval"
  keepalive_n_ = std::clamp(m.keepalive_n, cfg_.keepalive_n_min, cfg_.keepalive_n_max);
  client_interval_ = m.client_interval_ms > 0
                         ? time_ms{m.client_interval_ms}
                         : keepalive_period(cfg_.client_watchdog, keepalive_n_);
  if (!lists(m.members, self_)) {
    emit(left{"dropped by the master"});
    rejoin(from, now);
    return;
  }
  // 893-898: tell the roles who left and who joined.
  const auto d = diff_members(known_members_, m.members);
  for (auto id : d.left)
    if (id != self_) emit(member_left{id, "left the member list"});
  for (const auto& e : d.joined)
    if (e.id != self_) emit(member_joined{e.id, e.identity});
  known_members_ = m.members;
  if (m.table_version > table_version_seen_ && m.owners.size() == cfg_.work_units &&
      m.backups.size() == cfg_.work_units) {
    table_version_seen_ = m.table_version;
    apply_table(m.owners, m.backups);
  }
}

void group_member::on(node_id from, const client_keepalive& m, time_ms now) {
  if (!is_master()) return;
  auto* rec = members_.find(from);
  if (rec == nullptr) {
    // Figure 8B, 831-833: "is this client in my cluster? [...] if not the master sends the client
    // an exit cluster message".
    send(from, exit_request{"not a member of this group"});
    return;
  }
  rec->loss.on_sequence(m.sequence);  // 835
  rec->heard.reset(now);              // 837
  rec->confirmed = true;
  rec->load = m.load;
}

// ---------------------------------------------------------------- timers

time_ms group_member::next_due(time_ms now) const {
  time_ms due = time_ms::max();
  auto at = [&](time_ms t) { due = std::min(due, t); };
  switch (current_phase()) {
    case phase::idle:
      promised_ = due;
      return due;
    case phase::joining:
    case phase::offering:
    case phase::refused:
      at(election_.next_due());
      promised_ = std::max(due, now);
      return due;
    case phase::member:
      // member_tick: the master watchdog (expired when more than master_watchdog has passed),
      // then the client keepalive.
      at(std::max(master_heard_.last() + cfg_.master_watchdog + time_ms{1}, grace_until_));
      at(next_client_keepalive_);
      break;
    case phase::master: {
      at(std::max(members_.next_expiry(cfg_.client_watchdog, self_), grace_until_));
      at(votes_.next_deadline());
      const bool quorate = members_.size() >= cfg_.quorum;
      if (quorate && (table_dirty_ || table_.version() != repaired_version_))
        at(std::max(settled_at_, now));  // the assign / repair pass; repeated while units wait
      for (unit_id u = 0; u < table_.size(); ++u) {
        const auto& r = table_.at(u);
        if (r.move_target != no_node) at(r.move_deadline);
        else if (r.owner != no_node && !r.acked) at(r.last_sent + cfg_.resend_interval);
      }
      at(next_rebalance_);
      at(next_master_keepalive_);
      if (keepalive_now_) at(now);
      break;
    }
  }
  at(state_.next_due(cfg_.resend_interval));
  promised_ = std::max(due, now);  // "due now" promises a tick soon, not one in the past
  return due;
}

bool group_member::defer_expiry(time_ms now, time_ms grace) {
  if (now < grace_until_) return true;
  if (!late_) return false;
  // Issue 14: on a saturated machine the timer fires hundreds of ms late and the peer's
  // keepalives wait in the mailbox behind it; silence the node did not watch is no evidence.
  grace_until_ = now + grace;
  ++late_checks_;
  return true;
}

void group_member::member_tick(time_ms now) {
  // Figure 8I: the master watchdog.
  if (master_heard_.expired(now, cfg_.master_watchdog) &&
      !defer_expiry(now, keepalive_period(cfg_.master_watchdog, keepalive_n_))) {
    const node_id lost = master_;
    emit(lost_master{lost});
    if (cfg_.backup_takeover) take_over_lost_master(lost);
    if (cfg_.successor_takeover && successor_of(lost) == self_) {
      // Issue 14: every member read the same member list; the lowest address offers itself at
      // once, without a join round (group_config::successor_takeover). The offer round stays: a
      // master we lost but that is alive objects, and a unit we stopped for its move stays
      // stopped (becoming master without it took the unit back while that master finished the
      // move elsewhere: worked on twice, with the state forked).
      ++successions_;
      rejoin(broadcast, now);
      act(election_.offer_now(now), broadcast, now);
      return;
    }
    rejoin(broadcast, now);
    return;
  }
  // Figure 8H: the client keepalive, every interval derived from the master's n.
  if (now >= next_client_keepalive_) {
    send(master_, client_keepalive{++client_sequence_, load_});
    next_client_keepalive_ = now + client_interval_;
  }
}

void group_member::master_tick(time_ms now) {
  if (auto* self_rec = members_.find(self_)) self_rec->load = load_;
  // Figure 8E: a client watchdog expired (unless checked too late to judge: defer_expiry).
  const auto expired = members_.expired(now, cfg_.client_watchdog, self_);
  if (!expired.empty() &&
      !defer_expiry(now, keepalive_period(cfg_.client_watchdog, current_n())))
    for (auto id : expired) remove_member(id, "watchdog expired", now);
  for (auto& p : votes_.take_expired(now)) refuse(p.node, p.request.identity, "vote timed out");

  const auto ids = members_.ids();
  const bool settled = now >= settled_at_;
  const bool quorate = ids.size() >= cfg_.quorum;
  if (settled && quorate && (table_dirty_ || table_.version() != repaired_version_)) {
    for (auto it = backup_claims_.begin(); it != backup_claims_.end();)
      it = members_.contains(it->second) ? std::next(it) : backup_claims_.erase(it);
    // Unclaimed units go to the backup the previous master named, once it is a member; until
    // it joins (or expect_until_ passes: it is gone too) they wait.
    std::set<unit_id> hold;
    for (auto it = expected_backups_.begin(); it != expected_backups_.end();) {
      const auto u = it->first;
      if (table_.at(u).owner != no_node) {
        it = expected_backups_.erase(it);
        continue;
      }
      if (!backup_claims_.count(u)) {
        if (members_.contains(it->second)) {
          backup_claims_[u] = it->second;
        } else if (now < expect_until_) {
          hold.insert(u);
        }
      }
      ++it;
    }
    table_.assign_unassigned(ids, backup_claims_, hold);
    backup_claims_.clear();
    table_.repair_backups(ids);
    table_dirty_ = !hold.empty();  // look again next tick
    repaired_version_ = table_.version();
  }

  // De-assigns that did not complete: retry, then give up (the owner keeps the unit).
  for (unit_id u = 0; u < table_.size(); ++u) {
    const auto& r = table_.at(u);
    if (r.move_target == no_node || r.move_deadline > now) continue;
    if (r.move_tries < cfg_.move_retries) {
      table_.retry_move(u, now + cfg_.move_timeout);
      send(r.owner, work_deassign{u, r.move_target});
    } else {
      table_.abort_move(u);
    }
  }

  // Figure 8D: rebalance every rebalance_interval.
  if (now >= next_rebalance_) {
    next_rebalance_ = now + cfg_.rebalance_interval;
    if (settled) {
      for (const auto& mv : table_.plan_rebalance(ids, cfg_.max_moves_per_rebalance,
                                                  now + cfg_.move_timeout))
        send(mv.from, work_deassign{mv.unit, mv.to});  // 863
    }
  }

  if (now >= next_master_keepalive_) keepalive_now_ = true;  // Figure 8C
}

void group_member::master_flush(time_ms now) {
  // Unacknowledged assignments go out (again) every resend interval, batched per owner.
  std::map<node_id, work_assign> batches;
  for (unit_id u = 0; u < table_.size(); ++u) {
    const auto& r = table_.at(u);
    if (r.owner == no_node || r.acked || r.move_target != no_node) continue;
    if (now - r.last_sent < cfg_.resend_interval) continue;
    batches[r.owner].units.push_back(unit_assignment{u, r.owner, r.backup});
    table_.mark_sent(u, now);
  }
  for (auto& [owner, batch] : batches) {
    batch.table_version = table_.version();
    send(owner, std::move(batch));
  }
  // The master works on units too: it reads its own table as its members read the keepalive.
  if (table_.version() != applied_version_) {
    applied_version_ = table_.version();
    table_version_seen_ = applied_version_;
    apply_table(table_.owners(), table_.backups());
  }
  if (keepalive_now_) send_master_keepalive(now);
}

void group_member::send_master_keepalive(time_ms now) {
  const auto n = current_n();
  master_keepalive ka;
  ka.sequence = ++master_sequence_;
  ka.keepalive_n = n;
  ka.client_interval_ms =
      static_cast<std::uint32_t>(keepalive_period(cfg_.client_watchdog, n).count());
  ka.members = members_.entries();
  ka.table_version = table_.version();
  // The tables only when a member may not hold them yet: they changed, someone joined, or the
  // periodic full keepalive is due. Members apply a table only when it is whole and newer.
  std::vector<node_id> ids;
  for (const auto& e : ka.members) ids.push_back(e.id);
  if (ka.table_version != table_sent_version_ || ids != members_sent_ ||
      ++keepalives_since_full_ >= std::max<std::uint32_t>(cfg_.full_table_every, 1)) {
    ka.owners = table_.owners();
    ka.backups = table_.backups();
    table_sent_version_ = ka.table_version;
    members_sent_ = std::move(ids);
    keepalives_since_full_ = 0;
  }
  send(broadcast, std::move(ka));
  next_master_keepalive_ = now + keepalive_period(cfg_.master_watchdog, n);
  keepalive_now_ = false;
}

// ---------------------------------------------------------------- work units

void group_member::on(node_id from, const work_assign& m, time_ms) {
  const auto p = current_phase();
  if ((p != phase::member && p != phase::master) || from != master_) return;
  if (m.table_version < table_version_seen_) return;  // older than the table we hold
  std::vector<unit_id> acks;
  for (const auto& row : m.units)
    if (valid(row.unit)) apply_row(row.unit, row.owner, row.backup, true, acks);
  if (!acks.empty()) send(master_, work_assign_ack{std::move(acks)});
}

void group_member::on(node_id from, const work_assign_ack& m, time_ms) {
  if (!is_master()) return;
  for (auto u : m.units)
    if (valid(u)) table_.ack(u, from);
}

void group_member::apply_table(const std::vector<node_id>& owners,
                               const std::vector<node_id>& backups) {
  std::vector<unit_id> acks;
  for (unit_id u = 0; u < cfg_.work_units; ++u) apply_row(u, owners[u], backups[u], false, acks);
  if (!acks.empty() && master_ != no_node) send(master_, work_assign_ack{std::move(acks)});
}

void group_member::apply_row(unit_id u, node_id owner, node_id backup, bool explicit_assign,
                             std::vector<unit_id>& acks) {
  const node_id previous = view_owner_[u];
  const node_id previous_backup = view_backup_[u];
  view_owner_[u] = owner;
  view_backup_[u] = backup;
  if (owner != no_node) assigned_backup_[u] = backup;
  auto& st = status_[u];
  if (owner == self_) {
    taken_from_master_[u] = false;  // confirmed by a master
    if (st == unit_status::none) {
      adopt(u, previous);
      acks.push_back(u);
    } else if (st == unit_status::owned) {
      acks.push_back(u);  // a repeat: confirm again, the first ack may be lost
    } else if (explicit_assign) {
      // A de-assign the master gave up: the unit comes back with the state we kept.
      st = unit_status::owned;
      resume_own(u);
      acks.push_back(u);
    }
    if (backup != previous_backup || previous != self_) replicate_now_ = true;
    state_.set_backup(u, backup == self_ ? no_node : backup);
    return;
  }
  if (st == unit_status::owned) {
    st = unit_status::none;
    state_.erase(u);
    emit(unit_revoked{u, false});
    if (taken_from_master_[u] && owner != no_node) ++takeovers_given_back_;
    taken_from_master_[u] = false;
  } else if (st == unit_status::handing_over) {
    st = unit_status::none;  // the hand-over is complete: the unit has a new owner
    state_.erase(u);
  }
  // A replica from an owner that is no longer the owner is stale once another node owns the
  // unit; so is a hand-over from one. While the unit is unassigned (a new master is settling)
  // the replica is the claim that brings the unit to us with its state.
  if (owner == no_node) return;
  if (const auto* r = replicas_.replica(u); r && r->owner != owner) replicas_.drop_replica(u);
  if (const auto* h = replicas_.handover(u); h && h->owner != owner) replicas_.drop_handover(u);
}

void group_member::adopt(unit_id u, node_id previous_owner) {
  bool handover = false;
  auto s = replicas_.take(u, previous_owner, handover);
  status_[u] = unit_status::owned;
  if (s && s->owner != self_) {
    const bool merge = state_.adopt(u, s->portions);
    emit(take_over_unit{u, s->owner, handover, std::move(s->portions)});
    if (merge) emit(checkpoint_wanted{u});
  } else {
    state_.erase(u);
    emit(unit_assigned{u});
  }
}

void group_member::take_over_lost_master(node_id dead) {
  // Issue 14: the dead master's table already names who continues each of its units, and every
  // member applied the same table: the backup starts at once, from its replica, instead of after
  // a new master's election (join + offer timeouts) and settle time. Its join request then names
  // the unit as owned (first claim wins at the next master). Only rows of the table we applied
  // count, and only units the master owned itself: a unit of a live member stays where it is.
  if (dead == no_node || dead == self_) return;
  for (unit_id u = 0; u < cfg_.work_units; ++u) {
    if (status_[u] != unit_status::none || view_owner_[u] != dead || view_backup_[u] != self_)
      continue;
    view_owner_[u] = self_;
    view_backup_[u] = no_node;
    adopt(u, dead);
    state_.set_backup(u, no_node);  // the next master names a backup
    taken_from_master_[u] = true;
    ++lost_master_takeovers_;
  }
}

node_id group_member::successor_of(node_id dead) const {
  node_id best = no_node;
  for (const auto& e : known_members_)
    if (e.id != dead && e.id != no_node && (best == no_node || e.id < best)) best = e.id;
  return best;
}

group_member::move_verdict group_member::request_move(unit_id u, node_id to, time_ms now) {
  if (!is_master()) return move_verdict::not_master;
  if (!valid(u)) return move_verdict::no_such_unit;
  if (!members_.contains(to)) return move_verdict::not_a_member;
  const auto& r = table_.at(u);
  if (r.owner == no_node) return move_verdict::unassigned;
  if (r.owner == to && r.move_target == no_node) return move_verdict::already_there;
  if (!r.acked || r.move_target != no_node) return move_verdict::busy;
  const node_id owner = r.owner;
  table_.start_move(u, to, now + cfg_.move_timeout, true);
  send(owner, work_deassign{u, to});
  finish(now);
  return move_verdict::started;
}

void group_member::on(node_id from, const work_deassign& m, time_ms) {
  const auto p = current_phase();
  if ((p != phase::member && p != phase::master) || from != master_) return;
  if (!valid(m.unit) || m.target == self_ || m.target == no_node) return;
  auto& st = status_[m.unit];
  if (st == unit_status::owned) {
    // Stop working on the unit first, so the state we hand over is final.
    st = unit_status::handing_over;
    emit(unit_revoked{m.unit, true});
  }
  if (st == unit_status::handing_over) send_handover(m.unit, m.target);
}

void group_member::resume_own(unit_id u) {
  // A hand-over that did not happen: the unit continues here from the state this node kept, in a
  // new stream, so the log the target may still hold (a move is not cancelled there) is older
  // than the replica our backup gets from now on, and never chosen over it (replica_store::take).
  state_.restart_stream(u);
  replicate_now_ = true;
  auto s = state_.get(u, self_);
  emit(take_over_unit{u, self_, true, s ? std::move(s->portions) : std::vector<state_portion>{}});
}

void group_member::send_handover(unit_id u, node_id target) {
  state_handover h;
  h.unit = u;
  if (auto s = state_.get(u, self_)) {
    h.stream = s->stream;
    h.portions = std::move(s->portions);
  }
  send(target, std::move(h));
}

void group_member::on(node_id from, const state_handover& m, time_ms) {
  const auto p = current_phase();
  if ((p != phase::member && p != phase::master) || !valid(m.unit)) return;
  replicas_.on_handover(from, m);
  // The state is here: the master may now move the unit to us.
  send(master_, work_deassign_done{m.unit, from});
}

void group_member::on(node_id from, const work_deassign_done& m, time_ms) {
  if (!is_master() || !valid(m.unit)) return;
  if (table_.at(m.unit).owner != m.from) return;
  table_.finish_move(m.unit, from, members_.ids());
}

// ---------------------------------------------------------------- replication

bool group_member::replicate(unit_id u, portion_kind kind, state_bytes data, time_ms now) {
  if (!valid(u) || status_[u] != unit_status::owned) return false;
  if (kind != portion_kind::checkpoint && kind != portion_kind::initial &&
      kind != portion_kind::essential)
    return false;
  if (state_.add(u, kind, std::move(data))) emit(checkpoint_wanted{u});
  flush_replication(u, now);
  return true;
}

bool group_member::update_essential(unit_id u, state_bytes data, time_ms now) {
  return replicate(u, portion_kind::checkpoint, std::move(data), now);
}

void group_member::on(node_id from, const state_delta& m, time_ms) {
  const auto p = current_phase();
  if ((p != phase::member && p != phase::master) || !valid(m.unit)) return;
  send(from, replicas_.on_delta(from, m));
}

void group_member::on(node_id from, const state_ack& m, time_ms) {
  if (valid(m.unit)) state_.on_ack(m.unit, from, m);
}

// ---------------------------------------------------------------- observation

std::vector<member_entry> group_member::members() const {
  if (is_master()) return members_.entries();
  if (current_phase() == phase::member) return known_members_;
  return {};
}

bool group_member::owns(unit_id u) const noexcept {
  return valid(u) && status_[u] == unit_status::owned;
}

std::vector<unit_id> group_member::owned_units() const {
  std::vector<unit_id> out;
  for (unit_id u = 0; u < cfg_.work_units; ++u)
    if (status_[u] == unit_status::owned) out.push_back(u);
  return out;
}

node_id group_member::owner_of(unit_id u) const noexcept {
  return valid(u) ? view_owner_[u] : no_node;
}

node_id group_member::backup_of(unit_id u) const noexcept {
  return valid(u) ? view_backup_[u] : no_node;
}

std::uint32_t group_member::keepalive_n() const noexcept {
  return is_master() ? current_n() : keepalive_n_;
}

double group_member::loss_estimate() const noexcept {
  return is_master() ? members_.worst_loss() : 0.0;
}

}  // namespace baton::group
