#pragma once
// Tunables of the group substrate, with document 004's defaults. The policy (DESIGN §4) fills
// this struct; every timer is in milliseconds.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "actors/protocol/group_types.hpp"

namespace baton::group {

struct group_config {
  /// Peers from the node's configuration. The state machine never reads this list itself: it
  /// addresses `broadcast`, and the host delivers such messages to every peer listed here.
  std::vector<node_id> peers;

  /// Configuration version; a join request carrying another version is refused (document 004:
  /// a master "could [...] exit the cluster [...] if this new master's configuration version was
  /// not correct").
  std::uint32_t config_version = 0;

  /// N, the number of work units ("between 0 and 1023"); the same on every member.
  std::uint32_t work_units = 1024;

  /// How long a joining node waits for "OK to join" before offering itself as master (Figure 6,
  /// 613). The document gives no figure; we use the offer time.
  time_ms join_timeout{100};
  /// The longest a starting node waits for its links to the configured peers before its join
  /// timeout starts (group_member::on_links_up; the host reports when they are up, at once when
  /// it has none). Not in the document, whose members share a LAN from the first packet: ours
  /// talk over TLS links that come up after start (a peer redials every 500 ms), and a node that
  /// offered itself before them was master 0.2 s after a restart, against a running group (issue
  /// 14). A node whose peers are all down is master after link_wait + join + offer timeouts.
  time_ms link_wait{2000};
  /// "If after the member sends out the packets offering to become the master, he gets no
  /// response for 100 milliseconds [...] now acts as the cluster master unit" (Figure 6, 619).
  time_ms master_offer_timeout{100};
  /// Master watchdog on each client: "a keepalive message from the master [...] within the last
  /// 200 milliseconds" (Figure 6, 607).
  time_ms master_watchdog{200};
  /// A tick that comes more than this after the time next_due() gave the host means the host
  /// did not run this node meanwhile (a saturated machine stalls every process, issue 14): the
  /// keepalives that arrived are still queued behind the timer. A watchdog found expired on such
  /// a tick waits one keepalive period more (the queue is read, a live peer is heard) before it
  /// counts. Not in the document, whose watchdogs the OS checks; 0 turns the grace off.
  time_ms late_check{20};
  /// Backups take over the units of a master they lost at once (issue 14), instead of waiting
  /// for the next master to be elected (join + offer timeouts) and to settle (settle_time) before
  /// it hands them out: when a member's master watchdog expires, every unit that the last table it
  /// applied gave to that master with this member as backup becomes this member's, from the
  /// replica it holds, and its join request names the unit as owned, so the next master keeps it
  /// there. A departure from document 004, where only a master assigns units (Figure 8E): the
  /// backup table the dead master broadcast already says who continues each unit, and every member
  /// reads the same table, so no two members take the same unit. A member that lost a master
  /// which is still alive (a one-sided cut) gives the unit back when it rejoins: that master's
  /// answer to the claim is a keepalive with the full table, which revokes it (work_units.cpp).
  /// false: as the document (the new master assigns them, after its settle time).
  bool backup_takeover = true;
  /// A deterministic successor (issue 14): when the master watchdog fires on the member with the
  /// lowest address in the last member list the lost master sent (the lost master left out), it
  /// offers itself at once instead of first sending a join request and waiting join_timeout
  /// (Figure 6, 613); the offer round (master_offer_timeout) stays, so a master that is alive
  /// after all objects. Every other member joins as usual and finds it. A departure from Figure 6:
  /// every member read the same member list, so they agree on the successor without a join round.
  /// Where they do not (a member that missed a list), two offers meet as after any concurrent
  /// start. Becoming master with no offer round at all was tried: under 20% loss a member that
  /// falsely lost a live master took back a unit it had stopped for that master's move, which the
  /// master then finished elsewhere (the state forked; test_work_units found it). In the
  /// forwarding traffic mode the new master answers ARP for the cluster addresses sooner.
  /// false: as the document.
  bool successor_takeover = true;
  /// Client watchdog on the master (Figure 8B, 837): the failover detection interval per client.
  /// The document names no figure; we use the master watchdog's.
  time_ms client_watchdog{200};
  /// "the master periodically (in the preferred embodiment every 2 seconds) checks the
  /// load-balance of the cluster members" (Figure 8D).
  time_ms rebalance_interval{2000};
  /// A new master waits this long (after becoming master and after each admitted join) before
  /// assigning unassigned units, so members that still own units or hold their replicas (after a
  /// master failure, or a concurrent start) can join and claim them first.
  time_ms settle_time{200};
  /// Members (the master included) the group needs before the master assigns unowned units
  /// (policy /group/quorum). Units already owned stay where they are when the group shrinks.
  std::uint32_t quorum = 1;
  /// How long the master waits for the roles' vote on a join (Figure 8F) before refusing it.
  time_ms join_vote_timeout{1000};
  /// A node whose join was refused asks again after this long (its certificate may be added).
  time_ms join_retry_interval{1000};
  /// Resend period for unacknowledged work assignments and replicated state.
  time_ms resend_interval{50};
  /// How long the master waits for a work de-assign to complete before retrying it; after
  /// `move_retries` retries the move is abandoned and the unit stays with its owner.
  time_ms move_timeout{500};
  std::uint32_t move_retries = 3;

  /// Master keepalives carry the owner and backup tables (N entries each) only when the table
  /// or the member list changed since the last keepalive, and on every this-many-th keepalive
  /// besides (a member that missed a change catches up from it); the rest carry the version
  /// alone. 1: every keepalive carries the tables (document 004's keepalive, ~8 KB for N = 1024).
  std::uint32_t full_table_every = 4;

  /// K of the adaptive keepalive interval: "By policy we set K = 3600".
  double keepalive_k = 3600.0;
  /// "we assume n is a number between 2 and 20".
  std::uint32_t keepalive_n_min = 2;
  std::uint32_t keepalive_n_max = 20;
  /// Starting value of the loss estimate P, and the weight of each new sample
  /// ("P_new = P_old x 127/128 + S_delta x 1/128").
  double initial_loss = 0.0;
  double loss_weight = 1.0 / 128.0;

  /// Figure 8D moves units one at a time and "checks the load numbers again" until moving one
  /// more would not help. 0 follows the document (no limit per rebalance round); a positive
  /// value bounds how many de-assigns one round may start.
  std::uint32_t max_moves_per_rebalance = 0;

  /// Replication compaction (replication.hpp): an owner asks its role for a fresh checkpoint of
  /// a unit (events::checkpoint_wanted) once the deltas registered since the unit's last
  /// checkpoint number more than `compact_deltas`, or their bytes exceed `compact_ratio` times
  /// the checkpoint's bytes (and `compact_min_bytes`). A backup then holds at most about
  /// (1 + compact_ratio) checkpoints' worth of bytes per unit, and compaction adds at most
  /// 1/compact_ratio to the bytes the deltas cost.
  std::uint32_t compact_deltas = 128;
  std::uint32_t compact_ratio = 4;
  std::uint32_t compact_min_bytes = 4096;
  /// The high 32 bits of every replication stream number this node starts (replication.hpp).
  /// The host sets it from a random source so a restarted node's streams differ from its
  /// previous life's; 0 (tests) is fine where nodes do not restart with replicas outstanding.
  std::uint32_t stream_base = 0;
};

/// Whether a unit whose last checkpoint has `checkpoint_bytes` and which has `deltas` deltas of
/// `delta_bytes` registered after it should be compacted (see group_config::compact_*).
inline bool compaction_due(const group_config& c, std::size_t checkpoint_bytes,
                           std::size_t delta_bytes, std::size_t deltas) noexcept {
  const std::size_t by_ratio = std::size_t{c.compact_ratio} * checkpoint_bytes;
  const std::size_t bound = by_ratio > c.compact_min_bytes ? by_ratio : c.compact_min_bytes;
  return deltas > c.compact_deltas || delta_bytes > bound;
}

}  // namespace baton::group
