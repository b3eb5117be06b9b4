#pragma once
// The one CAF configuration class (STYLE habit 9): every batond and every test that starts an
// actor system uses it, so every node registers the same message types under the same names.

#include <caf/actor_system_config.hpp>

#include <string>

namespace baton::node {

struct tls_files {
  std::string certificate;  // PEM chain of this node
  std::string key;          // its private key
  std::string ca;           // the CA that signs every node of the deployment
};

class node_config : public caf::actor_system_config {
public:
  /// Loads the middleman and the OpenSSL manager and registers the protocol catalog. With
  /// non-empty `tls`, node-to-node links require mutual TLS: a peer whose certificate does not
  /// chain to `tls.ca` is refused. `scheduler_threads` bounds CAF's worker threads.
  explicit node_config(const tls_files& tls = {}, std::size_t scheduler_threads = 2);
};

}  // namespace baton::node
