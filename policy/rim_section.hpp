#pragma once
// Internal to policy/: the "rim" section (document 000), schema in rim_policy.hpp.

#include <string>

#include "policy/policy.hpp"
#include "policy/reader.hpp"

namespace baton::policy::detail {

void parse_rim(const value_ref& v, policy& out);
json rim_json(const policy& p);
void rim_text(const policy& p, std::string& out);
/// A profile's "rim" object (rim_policy.hpp).
rim_reaction parse_rim_reaction(const value_ref& v, const policy& out);
json rim_reaction_json(const rim_reaction& r);

}  // namespace baton::policy::detail
