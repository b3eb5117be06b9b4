#pragma once
// The introspection API's HTTP/1.1 server (DESIGN §7). It runs Asio on threads it owns and calls
// route handlers there; batond plugs in handlers that ask its actors. Asio stays out of this header
// (pimpl) so CAF-heavy translation units that include it compile quickly.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "actors/console/http_types.hpp"
#include "actors/console/metrics.hpp"

namespace baton::console {

/// A route handler. Called on one of the server's threads, possibly concurrently with other
/// handlers (as many at once as `server_options::threads`). Whatever it throws becomes a 500 whose
/// JSON body carries the exception's message.
using http_handler = std::function<http_response(const http_request&)>;

/// TLS for the console (asio::ssl over OpenSSL, TLS 1.2 or newer): the node's certificate chain
/// and key (PEM files), and the CA whose certificates authenticate clients. With `ca` set, clients
/// are asked for a certificate; one that does not verify against `ca` fails the handshake, and a
/// client that sends none may still authenticate with the token.
struct tls_options {
  std::string certificate;
  std::string key;
  std::string ca;  // empty: no client certificates asked for
};

/// Who may use the console. With `required`, a request for any path but `open_paths` needs a
/// verified client certificate (TLS with tls_options::ca) or "Authorization: Bearer <token>";
/// otherwise it gets 401 and is counted (unauthorized_total()).
struct auth_options {
  bool required = false;
  std::string token;                    // empty: no token accepted
  std::vector<std::string> open_paths;  // e.g. the web page's own files, which hold no state
};

struct server_options {
  std::size_t threads = 2;                        // Asio threads; a slow handler blocks only one
  std::size_t max_body = 1 << 20;                 // larger Content-Length -> 413
  std::size_t max_header = 16 * 1024;             // request line + headers; larger -> 431
  std::size_t max_header_count = 100;             // more header lines -> 431
  std::size_t max_connections = 256;              // beyond this a new connection gets 503
  std::chrono::milliseconds idle_timeout{10000};  // to read a whole request, or to write a reply
  std::optional<tls_options> tls;                 // plain HTTP when empty
  auth_options auth;
};

class http_server {
public:
  /// Prepares a server for `bind_address` "HOST:PORT" (IPv4 dotted quad, or "localhost";
  /// port 0 asks the kernel for an ephemeral port). Throws std::invalid_argument if the address
  /// does not parse. Nothing is bound until start().
  explicit http_server(std::string bind_address, server_options options = {});
  /// Stops the server (see stop()).
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Adds or replaces the handler for exact (method, path), e.g. ("GET", "/actors"). Paths are
  /// compared after percent-decoding, without the query. Safe to call while running.
  void route(std::string method, std::string path, http_handler handler);

  /// Binds, listens and starts the threads. Throws std::system_error if the address cannot be
  /// bound (in use, not local), std::runtime_error naming the file if a TLS certificate, key or CA
  /// cannot be loaded, and std::logic_error if called twice.
  void start();

  /// Closes the listener and every connection and joins the threads; a handler running now is
  /// finished first. Idempotent; not to be called from a handler.
  void stop();

  /// The bound port (the ephemeral one when asked for port 0); 0 before start().
  std::uint16_t port() const noexcept;
  /// "HOST:PORT" as bound, e.g. "127.0.0.1:41234"; the configured address before start().
  std::string address() const;

  /// Responses sent so far by status code, ascending, including the server's own 4xx/5xx.
  std::vector<std::pair<int, std::uint64_t>> status_counts() const;
  /// Requests answered in total (the sum of status_counts()).
  std::uint64_t requests_total() const;
  /// Connections accepted so far, and currently open.
  std::uint64_t connections_total() const;
  std::uint64_t connections_open() const;
  /// Requests refused with 401 (no client certificate and no right token).
  std::uint64_t unauthorized_total() const;
  /// TLS connections that failed their handshake (a certificate from another CA, plain HTTP sent
  /// to the TLS port, a client that does not accept our certificate).
  std::uint64_t tls_handshake_failures() const;
  /// Whether the server speaks TLS.
  bool tls() const noexcept;

  /// The registered paths, sorted, each once (what a 404 lists).
  std::vector<std::string> paths() const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

/// The server's own counters as metric families for /metrics:
/// baton_console_requests_total{status="..."} (counter), baton_console_connections_total (counter)
/// baton_console_connections_open (gauge), baton_console_unauthorized_total and
/// baton_console_tls_handshake_failures_total (counters). Appended to `out`.
void append_server_metrics(const http_server& server, std::vector<metric_family>& out);

/// Loads `tls` as start() would, so a caller can refuse to start before anything runs. Throws
/// std::runtime_error naming the file that does not load, or a key that does not match.
void check_tls_files(const tls_options& tls);

/// Splits "HOST:PORT" at the last ':' into host and port. Throws std::invalid_argument naming the
/// input if the port is missing, not a number, or > 65535, or the host is empty.
std::pair<std::string, std::uint16_t> split_host_port(const std::string& address);

}  // namespace baton::console
