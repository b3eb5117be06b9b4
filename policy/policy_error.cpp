#include "policy/policy_error.hpp"

#include <utility>

namespace baton::policy {

namespace {
std::string compose(const std::string& pointer, const std::string& reason) {
  return pointer.empty() ? reason : pointer + ": " + reason;
}
}  // namespace

policy_error::policy_error(std::string pointer, std::string reason)
    : std::runtime_error(compose(pointer, reason)),
      pointer_(std::move(pointer)),
      reason_(std::move(reason)) {}

}  // namespace baton::policy
