#pragma once
// The catalog of every message that crosses a node (DESIGN §4): registered with CAF in one place
// (node_config uses it) and listed by the console from the same table.

#include <string>
#include <vector>

namespace caf {
class actor_system_config;
}

namespace baton::protocol {

struct message_info {
  std::string name;     // the CAF type name, identical on every node
  std::string purpose;  // one line for the console
};

/// Registers every cross-node message type with `cfg` (call once per actor system).
void register_messages(caf::actor_system_config& cfg);

/// The registered messages, in registration order.
const std::vector<message_info>& message_catalog();

}  // namespace baton::protocol
