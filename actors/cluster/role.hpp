#pragma once
// The cluster member's row of batond's role table (actors/runtime/role.hpp).

#include "actors/runtime/role.hpp"

namespace baton::cluster {

extern const node::role_row role_row;

}  // namespace baton::cluster
