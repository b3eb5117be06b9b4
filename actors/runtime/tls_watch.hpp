#pragma once
// Seeing refused TLS peers. CAF 0.17's openssl session verifies certificates but tells nobody when
// a handshake fails (its handle_ssl_result leaves logging as a TODO). batond interposes
// SSL_CTX_set_verify, which that session calls for every connection, to add a verify callback and
// an info callback. CAF's policy is unchanged: peer certificate required and verified against
// the CA; we only observe the outcome, so each refusal can be logged and counted.

#include <cstdint>
#include <functional>
#include <string>

namespace baton::node {

struct tls_refusal {
  std::string direction;  // "incoming" (a peer connected to us) or "outgoing" (we connected)
  std::string peer;       // the peer certificate's subject, when one was presented
  std::string reason;     // OpenSSL's verification error or the alert that ended the handshake
};

/// Calls `observer` (on the thread that ran the handshake) for every TLS handshake that ends in
/// a refusal from now on. Replaces any earlier observer; an empty function removes it.
void on_tls_refusal(std::function<void(const tls_refusal&)> observer);

/// Number of refused TLS handshakes since start, in both directions.
std::uint64_t tls_refusals() noexcept;

/// Number of TLS handshakes that completed with a verified peer certificate.
std::uint64_t tls_accepted() noexcept;

}  // namespace baton::node
