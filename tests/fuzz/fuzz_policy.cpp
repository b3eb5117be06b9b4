// libFuzzer target: the policy loader from JSON text (policy/sections.cpp load_policy_text and
// every section's validation), as batond and `batonctl policy check` read a file and the console
// takes a new policy. Every refusal must be a policy_error with a reason (anything else thrown
// escapes and libFuzzer reports it); an accepted policy renders (text and normalized JSON), loads
// again from its normalized JSON to an equal policy, and diffs against itself to nothing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "policy/diff.hpp"
#include "policy/policy.hpp"
#include "policy/render.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace baton::policy;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  policy p;
  try {
    p = load_policy_text(text, "fuzz");
  } catch (const policy_error& e) {
    if (e.reason().empty() || std::string_view(e.what()).empty()) __builtin_trap();
    return 0;
  }
  (void)to_text(p);
  const auto doc = to_json(p);
  (void)doc.dump();
  policy again;
  try {
    again = load_policy(doc);
  } catch (const policy_error&) {
    __builtin_trap();  // the normalized form of an accepted policy must load
  }
  if (again != p) __builtin_trap();
  if (!diff_policies(p, again).empty()) __builtin_trap();
  return 0;
}
