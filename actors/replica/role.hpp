#pragma once
// The rows of batond's role table (actors/runtime/role.hpp) that this folder contributes:
// document 002's client gateway, server gateway and replica.

#include "actors/runtime/role.hpp"

namespace baton::replica {

extern const node::role_row client_gateway_row;
extern const node::role_row server_gateway_row;
extern const node::role_row replica_row;

}  // namespace baton::replica
