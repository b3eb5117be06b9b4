#pragma once
// A role (cluster member, service level router, host agent, ...) is a folder and one row of
// batond's role table (actors/daemon/roles.cpp), in the style of policy/sections.hpp: the row
// says when the policy selects the role, builds the role's part of the data path, and spawns its
// actors. The daemon walks the table; nothing else names a role.
//
// Life of a node: every selected row's build_data_path runs on one io_runtime (none selected: the
// default pass-through path); the loop starts; every selected row's spawn runs; the group actor
// is spawned with the row that works on units as its role. Status and counters come from each
// spawned actor (get_atom); reloads reach each one (reload_atom).

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/runtime/policy_ptr.hpp"

namespace baton::node {

class io_runtime;
class event_log;

/// What a row's spawn gets: the node's actor system, its running data path, its event log and
/// the policy it starts with.
struct role_context {
  caf::actor_system& sys;
  std::shared_ptr<io_runtime> io;
  event_log& events;
  policy_ptr policy;
};

/// One actor a role runs, as the console lists it.
struct role_actor {
  std::string name;      // "slr", "cluster", ...
  std::string purpose;   // one line
  caf::actor handle;     // answers (get_atom) -> role_status, (flows_atom, uint32_t limit)
                         // -> flow_list, and (reload_atom, policy_ptr) -> std::string
                         // (actors/runtime/status_message.hpp)
  std::uint16_t listening = 0;  // the TCP port it is published on, 0 when none
  /// A console path (without the slash) the actor's status also answers under, shared with the
  /// other actors that name it (document 002's three roles: "replicas"): GET answers their
  /// status objects merged (console::merge_status). Empty: none.
  std::string shared_route = {};
};

/// What a row's spawn started.
struct spawned_role {
  std::vector<role_actor> actors;
  /// The actor that works on the group's units: it is told unit events (assign, revoke,
  /// takeover), the group's view when it changes (group::group_view), and its group actor
  /// (group_atom, handle). Null: the role takes no units.
  caf::actor unit_worker;
};

struct role_row {
  const char* name;     // as the policy's /roles names it
  const char* summary;  // one line for batond --help
  /// Whether the role links to other nodes over TLS of its own (the node then needs a
  /// certificate even without group peers).
  bool links_over_tls;
  /// The policy section the role reads ("cluster", "slr"): when a reload changes it, the role's
  /// actors are asked to apply it (reload_atom).
  const char* section;
  /// Whether the policy makes this node play the role (the role is named and its section, when it
  /// needs one, is there).
  bool (*selected)(const policy::policy& p);
  /// Opens the role's ports and adds its stages on `io` (io.begin(p) first). Runs before the loop
  /// starts. Throws std::runtime_error with a one-line reason naming the section.
  void (*build_data_path)(io_runtime& io, const policy::policy& p);
  /// The port names build_data_path opens for `p` (a reload that changes them needs a restart).
  std::vector<std::string> (*ports)(const policy::policy& p);
  /// Spawns the role's actors once the loop runs. Throws std::runtime_error.
  spawned_role (*spawn)(const role_context& ctx);
  /// Whether naming the role without its section is an error (else the node just does not play
  /// it: a cluster member without a cluster section still joins its group).
  bool section_required = false;
};

}  // namespace baton::node
