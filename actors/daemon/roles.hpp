#pragma once
// batond's role table: one row per role folder (actors/runtime/role.hpp). Adding a role is a
// folder and a row here; nothing below the composition root names a role.

#include <string>
#include <vector>

#include "actors/runtime/role.hpp"

namespace baton::node {

/// Every role this build runs, in the order their data paths are built and actors spawned.
const std::vector<const role_row*>& role_table();

/// The rows `p` selects.
std::vector<const role_row*> selected_roles(const policy::policy& p);

/// Checks that every role `p` names has a row in this build. Throws policy::policy_error naming
/// /roles/N and the roles this build runs otherwise ("passthrough" is the default data path and
/// always runs).
void check_roles_runnable(const policy::policy& p);

/// "cluster, slr, host_agent, passthrough" with each row's summary, for --help.
std::string describe_roles();

}  // namespace baton::node
