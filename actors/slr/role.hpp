#pragma once
// The rows of batond's role table (actors/runtime/role.hpp) that this folder contributes: the
// service level router (network, system or site level) and the host agent (document 001).

#include "actors/runtime/role.hpp"

namespace baton::slr {

extern const node::role_row slr_row;
extern const node::role_row host_agent_row;

}  // namespace baton::slr
