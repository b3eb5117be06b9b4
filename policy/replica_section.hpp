#pragma once
// Internal to policy/: the "replica" section (document 002), schema in replica_policy.hpp.

#include <string>

#include "policy/policy.hpp"
#include "policy/reader.hpp"

namespace baton::policy::detail {

void parse_replica(const value_ref& v, policy& out);
json replica_json(const policy& p);
void replica_text(const policy& p, std::string& out);

}  // namespace baton::policy::detail
