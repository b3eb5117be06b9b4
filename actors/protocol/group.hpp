#pragma once
// Every message the group substrate exchanges between nodes, named in document 004's words, with
// the `inspect` overloads that make them wire messages (DESIGN §4: every message that crosses a
// node is declared once, here). Plain aggregates of integers, strings and vectors; the state
// machines in actors/group/ use them directly, and only CAF headers come with them (wire.hpp:
// the guards on strings and byte vectors).
// The sender is not a field: the host knows it from the authenticated link the message arrived
// on and passes it to group_member::on_message.
//
// Receivers validate every unit number against N before use; a message naming a unit >= N is
// ignored, never read out of bounds.

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "actors/protocol/group_types.hpp"

#include "actors/protocol/wire.hpp"

namespace baton::group {

/// "cluster members try to join the cluster by sending (broadcasting) a join request message.
/// This join message contains an authentication certificate" (Figure 6, 603). `identity` is the
/// certificate's identity (its common name; the TLS layer has already checked the certificate
/// chain). The claims let a new master keep the work that members already carry when the old
/// master failed: units this node owns now, and units it holds replicated state for.
struct join_request {
  std::string identity;
  std::uint32_t config_version = 0;
  std::vector<unit_id> owned_units;
  std::vector<unit_id> backup_units;
  /// Units this node stopped to hand over (a de-assign) and keeps stopped until a master
  /// decides: the master that started the move finishes it, or gives it up and sends the unit
  /// back with work_assign; any other master gives it back at once. Also in owned_units.
  std::vector<unit_id> moving_units;
};

/// The answer to a join request: "OK to join", a NAK with the reason, or a NAK with reason
/// "operation in progress" while the roles vote on the join (Figure 8F, 877).
enum class join_result : std::uint8_t { ok = 0, nak = 1, nak_in_progress = 2 };

struct join_reply {
  join_result result = join_result::nak;
  std::string reason;
  /// The master's keepalive sequence when it admitted the node: older keepalives, still in
  /// flight, do not list the new member and are ignored by it.
  std::uint64_t master_sequence = 0;
};

/// "exit request": master to client, "leave the cluster" and join again (Figure 6, 609; sent by
/// the master to a client it does not know, Figure 8B, 833, and by a master that lost the
/// tie-break to its members). Client to master: this node leaves the group.
struct exit_request {
  std::string reason;
};

/// "packets offering to become the master unit" (Figure 6, 615), broadcast by a node that got no
/// "OK to join".
struct master_offer {
  std::uint32_t members = 1;
};

/// "other master exists" (Figure 6, 617; Figure 8A, 825): the master claim an existing master
/// answers an offer with, and a tie-break winner sends the loser. `members` is the sender's
/// member count, so the receiver can run the tie-break itself.
struct other_master_exists {
  std::uint32_t members = 0;
};

/// One row of the member list carried in a master keepalive.
struct member_entry {
  node_id id = no_node;
  std::string identity;
  std::uint32_t load = 0;  // as last reported in the member's client keepalive
};

/// "the master keepalive message contains the cluster member list, the adaptive keepalive
/// interval [...] and the current set of work assignments for each member" (Figure 8A). We use
/// the assignments to repair lost work_assign messages, not only for diagnostics.
struct master_keepalive {
  std::uint64_t sequence = 0;             // monotonic per master; stale keepalives are ignored
  std::uint32_t keepalive_n = 2;          // the adaptive keepalive interval n
  std::uint32_t client_interval_ms = 0;   // client keepalive period derived from n (keepalive.hpp)
  std::vector<member_entry> members;      // includes the master itself
  std::uint64_t table_version = 0;        // bumped on every change of owners or backups
  std::vector<node_id> owners;            // size N; no_node = unassigned
  std::vector<node_id> backups;           // size N; no_node = none
};

/// "client keepalive message (containing a monotonically increasing numeric value)" (Figure 8H),
/// plus the load the hosting role reports.
struct client_keepalive {
  std::uint64_t sequence = 0;
  std::uint32_t load = 0;
};

/// One unit's assignment.
struct unit_assignment {
  unit_id unit = 0;
  node_id owner = no_node;
  node_id backup = no_node;
};

/// The master assigns units; an assignment "takes effect" only once acknowledged (Figure 9, 931).
struct work_assign {
  std::uint64_t table_version = 0;
  std::vector<unit_assignment> units;
};

struct work_assign_ack {
  std::vector<unit_id> units;
};

/// "the master sends a work de-assign request to the most loaded member with the least loaded
/// member as the target recipient" (Figure 8D, 863).
struct work_deassign {
  unit_id unit = 0;
  node_id target = no_node;
};

/// From the target of a de-assign to the master: the handed-over state has arrived, so the unit
/// may now be assigned to the target. `from` is the owner that handed it over.
struct work_deassign_done {
  unit_id unit = 0;
  node_id from = no_node;
};

/// Replication (document 004, "State Maintenance", Figure 7), as deltas. Per unit the owner
/// registers portions (replication.hpp): initial deltas ("an Initial State portion which only
/// needs to be sent once": records of new flows), essential deltas ("the Essential State Portion
/// which must be sent [...] when any item listed in the Essential portion changes": records that
/// changed) and checkpoints (the unit's whole state, replacing everything before it). Each
/// portion has a sequence number within the owner's stream; the backup keeps the latest
/// checkpoint and the deltas after it, in order, and acknowledges the highest contiguous sequence
/// it holds. The bytes are the role's; the group never looks inside.
///
/// One portion. Its kind is portion_kind (types.hpp) on the wire as one byte.
struct state_portion {
  std::uint64_t sequence = 0;  // 1, 2, ... within the stream
  portion_kind kind = portion_kind::essential;
  state_bytes data;
};

/// Owner to backup: portions of one stream in sequence order (new ones at once; the
/// unacknowledged ones again every resend interval). `stream` names the owner's sequence space
/// for the unit: a new stream starts with sequence 1 (from empty state) or with a checkpoint.
struct state_delta {
  unit_id unit = 0;
  std::uint64_t stream = 0;
  std::vector<state_portion> portions;
};

/// Backup to owner: the highest contiguous sequence of `stream` held (resends stop up to it).
/// `stream` is the stream the backup holds for the unit (0: none), so an owner whose stream the
/// backup does not hold sends again from its checkpoint.
struct state_ack {
  unit_id unit = 0;
  std::uint64_t stream = 0;
  std::uint64_t sequence = 0;
};

/// Owner to the target of a de-assign: the unit's whole replicable state as the backup would hold
/// it (the checkpoint, if any, then the deltas after it, in order), sent after the owner stopped
/// working on the unit and before the master moves ownership.
struct state_handover {
  unit_id unit = 0;
  std::uint64_t stream = 0;
  std::vector<state_portion> portions;
};

using message = std::variant<join_request, join_reply, exit_request, master_offer,
                             other_master_exists, master_keepalive, client_keepalive, work_assign,
                             work_assign_ack, work_deassign, work_deassign_done, state_delta,
                             state_ack, state_handover>;

/// The message's type name ("join_request", ...), for logs and counters. Never null.
const char* message_name(const message& m) noexcept;

// ---- serialisation (CAF 0.17 inspect) ----
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, join_request& x) {
  return f(caf::meta::type_name("join_request"), protocol::bytes_field(x.identity), x.config_version, x.owned_units,
           x.backup_units, x.moving_units);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, join_reply& x) {
  return f(caf::meta::type_name("join_reply"), x.result, protocol::bytes_field(x.reason), x.master_sequence);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exit_request& x) {
  return f(caf::meta::type_name("exit_request"), protocol::bytes_field(x.reason));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, master_offer& x) {
  return f(caf::meta::type_name("master_offer"), x.members);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, other_master_exists& x) {
  return f(caf::meta::type_name("other_master_exists"), x.members);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_entry& x) {
  return f(caf::meta::type_name("member_entry"), x.id, protocol::bytes_field(x.identity), x.load);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, master_keepalive& x) {
  return f(caf::meta::type_name("master_keepalive"), x.sequence, x.keepalive_n,
           x.client_interval_ms, x.members, x.table_version, x.owners, x.backups);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_keepalive& x) {
  return f(caf::meta::type_name("client_keepalive"), x.sequence, x.load);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, unit_assignment& x) {
  return f(caf::meta::type_name("unit_assignment"), x.unit, x.owner, x.backup);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, work_assign& x) {
  return f(caf::meta::type_name("work_assign"), x.table_version, x.units);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, work_assign_ack& x) {
  return f(caf::meta::type_name("work_assign_ack"), x.units);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, work_deassign& x) {
  return f(caf::meta::type_name("work_deassign"), x.unit, x.target);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, work_deassign_done& x) {
  return f(caf::meta::type_name("work_deassign_done"), x.unit, x.from);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, state_portion& x) {
  return f(caf::meta::type_name("state_portion"), x.sequence, x.kind, protocol::bytes_field(x.data));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, state_delta& x) {
  return f(caf::meta::type_name("state_delta"), x.unit, x.stream, x.portions);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, state_ack& x) {
  return f(caf::meta::type_name("state_ack"), x.unit, x.stream, x.sequence);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, state_handover& x) {
  return f(caf::meta::type_name("state_handover"), x.unit, x.stream, x.portions);
}

}  // namespace baton::group
