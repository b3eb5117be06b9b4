#pragma once
// A loaded policy shared between local actors (never sent to another node).

#include <caf/allowed_unsafe_message_type.hpp>

#include <memory>

namespace baton::policy {
struct policy;
}

namespace baton::node {

using policy_ptr = std::shared_ptr<const policy::policy>;

}  // namespace baton::node

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(baton::node::policy_ptr)
