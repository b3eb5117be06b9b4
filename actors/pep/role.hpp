#pragma once
// The row of batond's role table (actors/runtime/role.hpp) that this folder contributes: document
// 003's PEP endpoint.

#include "actors/runtime/role.hpp"

namespace baton::pep {

extern const node::role_row pep_row;

}  // namespace baton::pep
