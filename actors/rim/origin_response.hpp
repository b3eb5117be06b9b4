#pragma once
// One HTTP/1.1 response from an origin, parsed as its bytes arrive. The parsing itself is
// libhttp-parser's (Debian's libhttp-parser-dev, node's http_parser: incremental, callback
// driven, so it fits an Asio read loop; cpp-httplib only comes with its own blocking client);
// this class keeps the few things the rim needs: the status, Content-Range, and the body.
// The input is untrusted: a body beyond `max_body`, a malformed head or a cut-short body is an
// error with its reason, never a read past the bytes given.

#include <cstddef>
#include <memory>
#include <string>

namespace baton::rim {

class origin_response {
 public:
  /// The body may hold at most `max_body` bytes (a chunk: what was asked for).
  explicit origin_response(std::size_t max_body);
  ~origin_response();
  origin_response(const origin_response&) = delete;
  origin_response& operator=(const origin_response&) = delete;

  /// Parses the next `n` bytes. false once the response is malformed (error() says why); bytes
  /// after a complete response are ignored (the request said Connection: close).
  bool feed(const char* data, std::size_t n);
  /// The origin closed the connection. A body framed by the close ends here; a response cut short
  /// (no complete head, fewer body bytes than Content-Length) is an error. Returns complete().
  bool finish();

  bool complete() const;
  int status() const;                       // 0 before the status line
  const std::string& content_range() const; // "" when the header is absent
  const std::string& error() const;         // "" unless feed()/finish() failed
  /// The body so far; the caller may move it out once complete().
  std::string& body();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace baton::rim
