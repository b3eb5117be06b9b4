#pragma once
// The message in which the packet loop answers an actor that posted work to it (on_loop.hpp):
// a continuation to run in the actor that asked. Local only, never sent to another node. Every
// actor that posts work handles it by calling it:
//     [=](node::loop_atom, node::loop_reply& k) { k(); }

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include <functional>

namespace baton::node {

using loop_reply = std::function<void()>;
using loop_atom = caf::atom_constant<caf::atom("loop")>;

}  // namespace baton::node

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(baton::node::loop_reply)
