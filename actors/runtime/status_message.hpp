#pragma once
// The status seams as CAF messages (actors/runtime/role_status.hpp): local only, never sent to
// another node, so they are allowed as unsafe message types instead of being registered.
//
//   (get_atom)              -> role_status   every role actor and the packet-I/O actor
//   (flows_atom, uint32_t)  -> flow_list     roles that keep flows: at most that many of them,
//                                            read on the loop thread (node::on_loop), never
//                                            blocking the actor
//   (units_atom)            -> unit_flows    the role working on the group's units: flows per
//                                            owned unit (/units)

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include <cstdint>
#include <utility>
#include <vector>

#include "actors/runtime/role_status.hpp"

namespace baton::node {

using flows_atom = caf::atom_constant<caf::atom("flows")>;

/// Flows carried per owned work unit; units without flows are left out.
struct unit_flows {
  std::vector<std::pair<std::uint32_t, std::uint64_t>> counts;  // (unit, flows)
};

}  // namespace baton::node

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(baton::node::role_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(baton::node::flow_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(baton::node::unit_flows)
