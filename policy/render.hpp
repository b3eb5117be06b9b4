#pragma once
// Renders a loaded policy back: as text for people (`batonctl policy check FILE`) and as
// normalized JSON (every default written out, addresses as prefixes, protocols and TCP options
// by name, keys sorted). load_policy(to_json(p)) == p for every loaded p.

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "policy/policy.hpp"

namespace baton::policy {

/// One section a line or a few, in section order; ends with a newline.
std::string to_text(const policy& p);

/// The normalized JSON document of `p`.
nlohmann::json to_json(const policy& p);

/// to_json(p).dump(indent): for callers that do not want the JSON header.
std::string to_json_string(const policy& p, int indent = 2);

}  // namespace baton::policy
