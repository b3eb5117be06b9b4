#include "actors/runtime/tls_watch.hpp"

#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <mutex>

namespace baton::node {
namespace {

std::atomic<std::uint64_t> refused{0};
std::atomic<std::uint64_t> accepted{0};
std::mutex observer_mutex;
std::function<void(const tls_refusal&)> observer;

// The verify callback runs inside the handshake, on the same thread as the info callback that
// later reports the failure: a thread-local carries the reason across.
thread_local std::string pending_peer;
thread_local std::string pending_reason;

std::string subject_of(X509* cert) {
  if (cert == nullptr) return {};
  char buf[256];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
  return buf;
}

void report(const SSL* ssl, std::string reason) {
  refused.fetch_add(1, std::memory_order_relaxed);
  tls_refusal r{SSL_is_server(ssl) ? "incoming" : "outgoing", pending_peer, std::move(reason)};
  pending_peer.clear();
  pending_reason.clear();
  std::lock_guard<std::mutex> guard{observer_mutex};
  if (observer) observer(r);
}

int verify_cb(int preverify_ok, X509_STORE_CTX* store) {
  if (!preverify_ok && pending_reason.empty()) {
    pending_reason = X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
    pending_peer = subject_of(X509_STORE_CTX_get_current_cert(store));
  }
  return preverify_ok;
}

// Marks sessions whose handshake completed: alerts on those are closes, not refusals.
int handshake_done_index() {
  static int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

void info_cb(const SSL* ssl, int where, int ret) {
  auto* session = const_cast<SSL*>(ssl);
  bool done = SSL_get_ex_data(session, handshake_done_index()) != nullptr;
  if (where & SSL_CB_HANDSHAKE_DONE) {
    if (!done && SSL_get0_peer_certificate(ssl) != nullptr &&
        SSL_get_verify_result(ssl) == X509_V_OK)
      accepted.fetch_add(1, std::memory_order_relaxed);
    SSL_set_ex_data(session, handshake_done_index(), session);
    return;
  }
  if ((where & SSL_CB_ALERT) && (ret >> 8) == SSL3_AL_FATAL && !done) {
    std::string alert = SSL_alert_desc_string_long(ret);
    if (where & SSL_CB_WRITE)  // we end the handshake: say why we did not trust the peer
      report(ssl, pending_reason.empty() ? alert : pending_reason + " (sent alert: " + alert + ")");
    else  // the peer ended it: it did not trust us, or spoke no TLS we accept
      report(ssl, "peer sent alert: " + alert);
  }
}

}  // namespace

void on_tls_refusal(std::function<void(const tls_refusal&)> f) {
  std::lock_guard<std::mutex> guard{observer_mutex};
  observer = std::move(f);
}

std::uint64_t tls_refusals() noexcept { return refused.load(std::memory_order_relaxed); }
std::uint64_t tls_accepted() noexcept { return accepted.load(std::memory_order_relaxed); }

}  // namespace baton::node

// Interposes libssl's SSL_CTX_set_verify for every caller in the process (CAF's session among
// them): the requested mode is kept; where the caller asks for peer verification without a
// callback of its own, ours observe the outcome.
extern "C" void SSL_CTX_set_verify(SSL_CTX* ctx, int mode, SSL_verify_cb cb) {
  using fn = void (*)(SSL_CTX*, int, SSL_verify_cb);
  static fn real = reinterpret_cast<fn>(dlsym(RTLD_NEXT, "SSL_CTX_set_verify"));
  if ((mode & SSL_VERIFY_PEER) && cb == nullptr) {
    cb = &baton::node::verify_cb;
    SSL_CTX_set_info_callback(ctx, &baton::node::info_cb);
  }
  real(ctx, mode, cb);
}

// OpenSSL requires the thread's error queue to be empty before SSL_read, SSL_write, SSL_accept
// and SSL_connect, because SSL_get_error reads it to classify the result. CAF 0.17's session never
// clears it, so the errors a refused handshake leaves behind made the next SSL_read on an unrelated,
// healthy link on the same thread report SSL_ERROR_SSL, and CAF closed that link too. Clearing the
// queue before each call keeps one refused peer from cutting the others off.
namespace {
template <class Fn>
Fn next_symbol(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}
}  // namespace

extern "C" int SSL_read(SSL* ssl, void* buf, int num) {
  static auto real = next_symbol<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return real(ssl, buf, num);
}

extern "C" int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto real = next_symbol<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return real(ssl, buf, num);
}

extern "C" int SSL_accept(SSL* ssl) {
  static auto real = next_symbol<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return real(ssl);
}

extern "C" int SSL_connect(SSL* ssl) {
  static auto real = next_symbol<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return real(ssl);
}
