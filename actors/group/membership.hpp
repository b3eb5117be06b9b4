#pragma once
// Membership (document 004, Figure 6, Figure 8B, 8E, 8F, 8G).
//
// Master side: the member table (identity, client watchdog, loss estimate, reported load) and the
// joins waiting for the roles' vote. "The master initially tells the client to wait by sending a
// NAK with an operation in progress reason. The master then notifies the applications [...] If
// any application rejects the join request the master sends a NAK with the reason [...] If all
// applications approve the join request the master sends an ACK".
// Client side: diff_members() turns two member lists into the joins and leaves to tell the roles
// ("checks the list of cluster members to see if any members have been lost [...] added").

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "actors/group/keepalive.hpp"
#include "actors/protocol/group.hpp"
#include "actors/protocol/group_types.hpp"

namespace baton::group {

/// A role's answer to a join: accept, reject with a reason, or defer (answer later through
/// group_member::resolve_join). The host combines the answers of all its roles into one.
struct join_decision {
  enum class kind : std::uint8_t { accept, reject, defer };
  kind verdict = kind::accept;
  std::string reason;

  static join_decision accept() { return {kind::accept, {}}; }
  static join_decision reject(std::string why) { return {kind::reject, std::move(why)}; }
  static join_decision defer() { return {kind::defer, {}}; }
};

/// Hooks the host installs on a group_member. Both may be empty.
struct group_hooks {
  /// The master checks the joining node's certificate identity "against a list of valid
  /// certificates which it holds and if it finds no match it simply tells him the join has
  /// failed". Empty: every identity is accepted (the TLS layer already checked the chain).
  std::function<bool(node_id node, const std::string& identity)> verify_identity;
  /// The roles' vote on a join (Figure 8F). Empty: accept.
  std::function<join_decision(node_id node, const std::string& identity)> vote_join;
};

/// What the master knows about one member.
struct member_record {
  node_id id = no_node;
  std::string identity;
  std::uint32_t load = 0;
  watchdog heard;  // client watchdog, reset by each client keepalive
  loss_estimator loss;
  /// A client keepalive came after the join: the node follows us. A join request can be stale
  /// (queued over TCP during a partition, delivered at the heal, while its sender follows
  /// another master): such a member counts for no tie-break until it keeps alive with us.
  bool confirmed = false;
};

/// The master's member table, ordered by node id (so every walk is deterministic).
class member_table {
 public:
  bool contains(node_id id) const noexcept { return members_.count(id) != 0; }
  /// The record, or nullptr. The pointer is valid until the next add/remove/clear.
  member_record* find(node_id id) noexcept;
  const member_record* find(node_id id) const noexcept;
  /// Adds (or replaces) a member; its watchdog starts at `now` and its loss estimate at
  /// `initial_loss` with smoothing `weight`. Returns the record.
  member_record& add(node_id id, std::string identity, time_ms now, double initial_loss,
                     double weight);
  /// Removes a member; false if it was not there.
  bool remove(node_id id) noexcept { return members_.erase(id) != 0; }
  void clear() noexcept { members_.clear(); }
  std::uint32_t size() const noexcept { return static_cast<std::uint32_t>(members_.size()); }

  /// Members other than `self` whose watchdog has not been reset for more than `timeout`.
  std::vector<node_id> expired(time_ms now, time_ms timeout, node_id self) const;
  /// The first time expired(t, timeout, self) can name a member (the earliest last-heard time
  /// plus `timeout` plus 1 ms); time_ms::max() with no member but `self`.
  time_ms next_expiry(time_ms timeout, node_id self) const noexcept;
  /// The largest loss estimate over all members (0 with no members): the master sizes one
  /// keepalive interval for the whole group on its worst link.
  double worst_loss() const noexcept;
  /// Member ids, ascending.
  std::vector<node_id> ids() const;
  /// The member list for a master keepalive, ascending by id.
  std::vector<member_entry> entries() const;

 private:
  std::map<node_id, member_record> members_;
};

/// A join waiting for the roles' vote.
struct pending_join {
  node_id node = no_node;
  join_request request;
  time_ms deadline{0};
};

/// Joins in progress on the master.
class join_votes {
 public:
  bool contains(node_id node) const noexcept { return pending_.count(node) != 0; }
  void add(pending_join p) { pending_[p.node] = std::move(p); }
  /// Removes and returns the pending join of `node`; false if there is none.
  bool take(node_id node, pending_join& out);
  /// Removes and returns every pending join whose deadline is not after `now`.
  std::vector<pending_join> take_expired(time_ms now);
  /// The earliest deadline of a pending join; time_ms::max() with none.
  time_ms next_deadline() const noexcept;
  void clear() noexcept { pending_.clear(); }

 private:
  std::map<node_id, pending_join> pending_;
};

/// Joins and leaves between two member lists (each in any order; ids unique).
struct member_diff {
  std::vector<member_entry> joined;
  std::vector<node_id> left;
};
member_diff diff_members(const std::vector<member_entry>& before,
                         const std::vector<member_entry>& after);

}  // namespace baton::group
