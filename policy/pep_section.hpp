#pragma once
// Internal to policy/: the "pep" section (document 003), schema in pep_policy.hpp.

#include <string>

#include "policy/policy.hpp"
#include "policy/reader.hpp"

namespace baton::policy::detail {

void parse_pep(const value_ref& v, policy& out);
json pep_json(const policy& p);
void pep_text(const policy& p, std::string& out);

}  // namespace baton::policy::detail
