#include "actors/runtime/node_config.hpp"

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

#include "actors/protocol/catalog.hpp"

namespace baton::node {

node_config::node_config(const tls_files& tls, std::size_t scheduler_threads) {
  protocol::register_messages(*this);
  load<caf::io::middleman>();
  load<caf::openssl::manager>();
  set("scheduler.max-threads", scheduler_threads);
  // CAF's own periodic "heartbeat" is off: failure detection is the group's keepalives and
  // watchdogs (DESIGN §4), because a hung peer keeps its TCP link open.
  set("middleman.heartbeat-interval", caf::timespan{0});
  openssl_certificate = tls.certificate;
  openssl_key = tls.key;
  openssl_cafile = tls.ca;
}

}  // namespace baton::node
