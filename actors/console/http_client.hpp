#pragma once
// A small synchronous HTTP/1.1 client for batonctl and the tests: one request per connection,
// bounded by a timeout. Asio stays in the .cpp.

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "actors/console/http_types.hpp"

namespace baton::console {

/// How long a whole exchange may take unless the caller says otherwise.
inline constexpr std::chrono::milliseconds default_timeout{5000};

/// Why a request got no HTTP answer.
class http_client_error : public std::runtime_error {
public:
  enum class kind { connect, timeout, io, protocol };
  http_client_error(kind k, const std::string& message) : std::runtime_error(message), kind_(k) {}
  kind which() const noexcept { return kind_; }

private:
  kind kind_;
};

/// An answer: any status, 4xx and 5xx included (they are answers, not client errors).
struct http_reply {
  int status = 0;
  std::string reason;
  std::vector<field> headers;  // names lower-cased
  std::string body;

  /// The first header named `name` (lower-case), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

/// How to reach a console that is protected (TLS, client certificate, token). Empty: plain HTTP.
struct client_options {
  /// PEM CA file the console's certificate must chain to; set, it turns TLS on (TLS 1.2+). The
  /// chain is checked, not the name: the CA is the group's own, as for the links between nodes.
  std::string ca;
  /// This client's certificate and key (PEM), sent when the console asks; both or neither.
  std::string certificate;
  std::string key;
  /// Sent as "Authorization: Bearer <token>" when not empty.
  std::string token;

  bool tls() const noexcept { return !ca.empty(); }
};

/// Sends `method target` to `node` ("HOST:PORT"; HOST a name or IPv4 address) with
/// "Connection: close", and `body` with `content_type` when the body is non-empty or the method is
/// POST/PUT. Returns the parsed answer. Throws http_client_error: kind::connect when the address
/// does not resolve or nobody accepts, kind::timeout when the whole exchange takes longer than
/// `timeout`, kind::io on a reset mid-exchange, kind::protocol when the answer is not HTTP/1.x or
/// larger than 64 MiB. The message names the node, e.g.
/// "cannot connect to 127.0.0.1:9000: Connection refused". Throws std::invalid_argument if `node`
/// is not HOST:PORT. A timeout says where it happened, e.g.
/// "timed out after 5000 ms waiting for an answer from 10.0.0.2:9000".
http_reply http_fetch(const std::string& node, const std::string& method, const std::string& target,
                      const std::string& body = {},
                      std::chrono::milliseconds timeout = default_timeout,
                      const std::string& content_type = "application/json");

/// The same over `options`: TLS when options.tls(), a TLS handshake failure (the console's
/// certificate is not from options.ca, or it refused ours) throws kind::connect naming the node.
http_reply http_fetch(const client_options& options, const std::string& node,
                      const std::string& method, const std::string& target,
                      const std::string& body = {},
                      std::chrono::milliseconds timeout = default_timeout,
                      const std::string& content_type = "application/json");

/// GET and POST shorthands for http_fetch.
http_reply http_get(const std::string& node, const std::string& target,
                    std::chrono::milliseconds timeout = default_timeout);
http_reply http_post(const std::string& node, const std::string& target, const std::string& body,
                     std::chrono::milliseconds timeout = default_timeout,
                     const std::string& content_type = "application/json");

/// For tests and diagnostics: connects, writes `bytes` verbatim, and returns every byte received
/// until the server closes. Throws http_client_error like http_fetch (kind::timeout if the server
/// keeps the connection open past `timeout`).
std::string http_raw_exchange(const std::string& node, const std::string& bytes,
                              std::chrono::milliseconds timeout = default_timeout);
/// The same over TLS when options.tls() (options.token is not added: `bytes` go verbatim).
std::string http_raw_exchange(const client_options& options, const std::string& node,
                              const std::string& bytes,
                              std::chrono::milliseconds timeout = default_timeout);

/// Parses a complete HTTP/1.x response (status line, headers, body framed by Content-Length,
/// chunked, or the end of `bytes`). Throws http_client_error(kind::protocol) if it is not one.
http_reply parse_http_reply(std::string_view bytes);

}  // namespace baton::console
