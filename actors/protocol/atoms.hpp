#pragma once
// Atoms of baton's typed actor interfaces (CAF 0.17: at most 10 characters each).

#include <caf/atom.hpp>

namespace baton::protocol {

using get_atom = caf::atom_constant<caf::atom("get")>;        // ask for a JSON status document
using tick_atom = caf::atom_constant<caf::atom("tick")>;      // a timer of the actor itself
using reload_atom = caf::atom_constant<caf::atom("reload")>;  // re-read and apply the policy
using drain_atom = caf::atom_constant<caf::atom("drain")>;    // give away work, then stop taking it
using discover_atom = caf::atom_constant<caf::atom("discover")>;  // a beacon named a possible peer
using assign_atom = caf::atom_constant<caf::atom("assign")>;        // group -> role: unit is yours
using revoke_atom = caf::atom_constant<caf::atom("revoke")>;        // group -> role: unit is not
using takeover_atom = caf::atom_constant<caf::atom("takeover")>;    // group -> role: continue unit
using replicate_atom = caf::atom_constant<caf::atom("replicate")>;  // role -> group: unit's state
using group_atom = caf::atom_constant<caf::atom("group")>;          // tells a role its group actor
using apply_atom = caf::atom_constant<caf::atom("apply")>;          // an actor's own batched work
using units_atom = caf::atom_constant<caf::atom("units")>;    // ask for the work-unit table
using move_atom = caf::atom_constant<caf::atom("move")>;      // console: move a work unit

}  // namespace baton::protocol
