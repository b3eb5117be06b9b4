#pragma once
// Internal to policy/: the "rim" section (document 000), schema in rim_policy.hpp.

#include <string>

#include "policy/policy.hpp"
#include "policy/reader.hpp"

namespace baton::policy::detail {

void parse_rim(const value_ref& v, policy& out);
json rim_json(const policy& p);
void rim_text(const policy& p, std::string& out);

}  // namespace baton::policy::detail
