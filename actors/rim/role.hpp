#pragma once
// The row of batond's role table (actors/runtime/role.hpp) that this folder contributes: document
// 000's rim host.

#include "actors/runtime/role.hpp"

namespace baton::rim {

extern const node::role_row rim_row;

}  // namespace baton::rim
