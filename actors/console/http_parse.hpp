#pragma once
// Parsing of an HTTP/1.1 request head (request line + header fields), apart from the sockets so the
// tests drive it with plain strings. The input is untrusted: every check says why it refuses.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/console/http_types.hpp"

namespace baton::console {

/// The verdict on a request head: status 0 means accepted; otherwise the HTTP status to answer
/// (400, 431, 501, 505) and a short reason for the error body.
struct head_verdict {
  int status = 0;
  std::string reason;
  bool ok() const noexcept { return status == 0; }
};

/// What the head says about the body and the connection.
struct head_info {
  std::size_t content_length = 0;
  bool keep_alive = true;        // HTTP/1.1 default; "Connection: close" or HTTP/1.0 turn it off
  bool expect_continue = false;  // "Expect: 100-continue"
};

/// Parses `head` (the bytes up to and including the blank line; leading empty lines are skipped)
/// into `out.method/target/path/query/headers`, and the body framing into `info`. At most
/// `max_headers` header lines. Never reads outside `head`. Refuses: a malformed request line or
/// header line, obsolete line folding, a request-target not starting with '/', bad percent
/// escapes, an invalid or conflicting Content-Length (400); too many headers (431); any
/// Transfer-Encoding (501: chunked bodies are not supported); a version other than 1.0/1.1 (505).
head_verdict parse_request_head(std::string_view head, std::size_t max_headers, http_request& out,
                                head_info& info);

/// Decodes %XX escapes (and '+' as space when `plus_is_space`). nullopt if an escape is malformed
/// or decodes to a NUL byte.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);

/// Splits a query string "a=1&b=x%20y&c" into decoded fields; nullopt if any escape is malformed.
std::optional<std::vector<field>> parse_query(std::string_view query);

/// ASCII lower case (header names compare case-insensitively).
std::string lower(std::string_view s);
/// `s` without leading and trailing spaces and tabs (HTTP optional white space).
std::string_view trim(std::string_view s);

}  // namespace baton::console
