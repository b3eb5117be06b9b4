// An origin's HTTP response parsed as it arrives (actors/rim/origin_response.hpp, libhttp-parser).

#include <doctest/doctest.h>

#include <string>

#include "actors/rim/origin_response.hpp"

using namespace baton::rim;

TEST_CASE("origin responses: whole, in pieces, malformed or cut short") {
  struct row {
    const char* what;
    std::string bytes;
    std::size_t max_body;
    bool closed;  // the origin closed the connection after the bytes
    bool complete;
    int status;
    const char* content_range;
    std::string body;
    const char* error;  // "" when none
  };
  const std::string ok_head = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4/10\r\nContent-Length: 5\r\n\r\n";
  const row rows[] = {
    {"a 206", ok_head + "hello", 5, false, true, 206, "bytes 0-4/10", "hello", ""},
    {"header names in any case", "HTTP/1.1 206 X\r\ncontent-RANGE:bytes 0-1/2\r\ncontent-length: 2\r\n\r\nab", 2, false,
     true, 206, "bytes 0-1/2", "ab", ""},
    {"a body ended by the close", "HTTP/1.0 206 X\r\nContent-Range: bytes 0-2/3\r\n\r\nabc", 3, true, true, 206,
     "bytes 0-2/3", "abc", ""},
    {"chunked transfer coding", "HTTP/1.1 206 X\r\nContent-Range: bytes 0-2/3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
     3, false, true, 206, "bytes 0-2/3", "abc", ""},
    {"a 404 with a page", "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot here.", 100, false, true, 404, "",
     "not here.", ""},
    {"bytes after the response are ignored", ok_head + "helloGARBAGE", 5, false, true, 206, "bytes 0-4/10", "hello", ""},
    {"cut short in the body", ok_head + "hel", 5, true, false, 206, "bytes 0-4/10", "hel", "before the response's end"},
    {"cut short in the head", "HTTP/1.1 206 Partial", 5, true, false, 0, "", "", "before a complete response head"},
    {"closed before anything", "", 5, true, false, 0, "", "", "before a complete response head"},
    {"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", 5, false, false, 0, "", "", "malformed"},
    {"a Content-Length beyond the chunk", "HTTP/1.1 206 X\r\nContent-Length: 6\r\n\r\n", 5, false, false, 206, "", "",
     "exceeds the chunk"},
    {"a close-framed body beyond the chunk", "HTTP/1.0 200 OK\r\n\r\n123456", 5, true, false, 200, "", "12345",
     "exceeds the chunk"},
    {"two Content-Range headers", "HTTP/1.1 206 X\r\nContent-Range: bytes 0-1/2\r\nContent-Range: bytes 0-1/3\r\n\r\n",
     2, false, false, 206, "bytes 0-1/2", "", "two Content-Range"},
    {"two Content-Lengths that differ", "HTTP/1.1 206 X\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab", 5, false,
     false, 206, "", "", "malformed"},
  };
  for (const auto& r : rows) {
    for (std::size_t piece : {r.bytes.size() ? r.bytes.size() : 1, std::size_t{1}, std::size_t{7}}) {
      const std::string what = r.what;
      CAPTURE(what);
      CAPTURE(piece);
      origin_response resp(r.max_body);
      bool ok = true;
      for (std::size_t i = 0; i < r.bytes.size() && ok; i += piece)
        ok = resp.feed(r.bytes.data() + i, std::min(piece, r.bytes.size() - i));
      if (ok && r.closed) resp.finish();
      CHECK(resp.complete() == r.complete);
      if (r.status) CHECK(resp.status() == r.status);
      CHECK(resp.content_range() == r.content_range);
      if (std::string(r.error).empty()) {
        CHECK(resp.error() == "");
        CHECK(resp.body() == r.body);
      } else {
        CHECK(resp.error().find(r.error) != std::string::npos);
      }
    }
  }
}
