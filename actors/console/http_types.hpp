#pragma once
// The request and response of the introspection API, as plain values: no Asio, no CAF, no JSON
// library here, because batond's CAF-heavy translation units include this header.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace baton::console {

/// One field of a header or query: (name, value).
using field = std::pair<std::string, std::string>;

/// A parsed HTTP/1.1 request, owned by value. The server builds it; handlers only read it.
struct http_request {
  std::string method;          // as sent, case-sensitive ("GET", "POST")
  std::string path;            // percent-decoded, starts with '/', no query
  std::string target;          // the raw request-target as sent ("/flows?limit=10")
  std::vector<field> query;    // decoded query parameters in order ('+' means space)
  std::vector<field> headers;  // names lower-cased, values trimmed, in order
  std::string body;            // exactly Content-Length bytes (empty without a body)
  std::string peer;            // "ADDR:PORT" of the client, for logs

  /// The first header named `name` (compared case-insensitively), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
  /// The first query parameter named `name` (exact match), or nullopt. "?a" gives "".
  std::optional<std::string> param(std::string_view name) const;
};

/// A response a handler returns; the server adds Content-Length, Connection and Server headers.
struct http_response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<field> headers;  // extra headers, e.g. ("Allow", "GET")

  /// 200-style JSON answer: `body` must already be JSON text.
  static http_response json(std::string body, int status = 200);
  /// Plain text answer with the given content type (default text/plain; charset=utf-8).
  static http_response text(std::string body, int status = 200,
                            std::string content_type = "text/plain; charset=utf-8");
  /// The console's error shape: {"error": message} with `status`. The message is JSON-escaped here.
  static http_response error(int status, std::string_view message);
};

/// The standard reason phrase for `status` ("Not Found"), or "Unknown" for codes it does not know.
const char* reason_phrase(int status) noexcept;

/// Escapes `s` as the inside of a JSON string (quotes, backslash, control characters); the caller
/// adds the surrounding quotes. Bytes >= 0x80 pass through (UTF-8 stays UTF-8).
std::string json_escape(std::string_view s);

}  // namespace baton::console
