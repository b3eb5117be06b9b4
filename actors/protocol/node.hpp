#pragma once
// Node-level messages: what one batond says to another when a TLS link comes up.
// Every message that crosses a node is declared in actors/protocol/ (and only here).

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "actors/protocol/wire.hpp"

namespace baton::protocol {

/// First message on a new node-to-node link, both ways: who the sender is. The TLS layer has
/// already verified the sender's certificate against the cluster CA; `name` must equal the
/// certificate's common name for the hello to be accepted.
struct hello {
  std::string name;                // node name from the sender's policy identity
  std::uint32_t address = 0;       // the sender's IPv4 address, host order (tie-breaks use it)
  std::vector<std::string> roles;  // roles the sender plays
  std::string console;             // the sender's introspection address, HOST:PORT
  std::uint32_t version = 1;       // protocol version; peers with another version are refused
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, hello& x) {
  return f(caf::meta::type_name("hello"), bytes_field(x.name), x.address, strings_field(x.roles), bytes_field(x.console), x.version);
}

}  // namespace baton::protocol
