#pragma once
// Serialisation of the group substrate's messages (actors/group/messages.hpp) for node-to-node
// links. The structs are the group's own vocabulary; this file is where they become wire messages.

#include <caf/meta/type_name.hpp>

#include "actors/group/messages.hpp"

namespace baton::group {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, join_request& x) {
  return f(caf::meta::type_name("join_request"), x.identity, x.config_version, x.owned_units,
           x.backup_units);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, join_reply& x) {
  return f(caf::meta::type_name("join_reply"), x.result, x.reason, x.master_sequence);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exit_request& x) {
  return f(caf::meta::type_name("exit_request"), x.reason);
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
  return f(caf::meta::type_name("member_entry"), x.id, x.identity, x.load);
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
typename Inspector::result_type inspect(Inspector& f, state_initial& x) {
  return f(caf::meta::type_name("state_initial"), x.unit, x.data);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, state_essential& x) {
  return f(caf::meta::type_name("state_essential"), x.unit, x.version, x.data);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, state_ack& x) {
  return f(caf::meta::type_name("state_ack"), x.unit, x.initial, x.version);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, state_handover& x) {
  return f(caf::meta::type_name("state_handover"), x.unit, x.version, x.has_initial, x.initial,
           x.essential);
}

}  // namespace baton::group
