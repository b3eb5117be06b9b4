// Request-head parsing: every refusal with its status, and what an accepted head yields.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "actors/console/http_parse.hpp"

using namespace baton::console;

namespace {

struct head_row {
  std::string name;
  std::string head;
  int status;               // 0 = accepted
  const char* reason_part;  // part of the refusal reason ("" when accepted)
};

}  // namespace

TEST_CASE("parse_request_head refuses what is not HTTP/1.1 and accepts what is") {
  const std::string host = "Host: n1\r\n";
  const std::vector<head_row> rows{
      {"plain GET", "GET /actors HTTP/1.1\r\n" + host + "\r\n", 0, ""},
      {"HTTP/1.0 needs no Host", "GET /actors HTTP/1.0\r\n\r\n", 0, ""},
      {"leading empty line is ignored", "\r\nGET /actors HTTP/1.1\r\n" + host + "\r\n", 0, ""},
      {"extension method is a token", "PURGE /x HTTP/1.1\r\n" + host + "\r\n", 0, ""},
      {"no target", "GET HTTP/1.1\r\n" + host + "\r\n", 400, "request line"},
      {"two spaces", "GET  /a HTTP/1.1\r\n" + host + "\r\n", 400, "request line"},
      {"trailing space", "GET /a HTTP/1.1 \r\n" + host + "\r\n", 400, "request line"},
      {"garbage", "GARBAGE\r\n\r\n", 400, "request line"},
      {"method with a slash", "GE/T /a HTTP/1.1\r\n" + host + "\r\n", 400, "method"},
      {"absolute-form target", "GET http://n1/a HTTP/1.1\r\n" + host + "\r\n", 400,
       "absolute path"},
      {"asterisk target", "OPTIONS * HTTP/1.1\r\n" + host + "\r\n", 400, "absolute path"},
      {"raw byte above 0x7f in target", "GET /\xc3\xa9 HTTP/1.1\r\n" + host + "\r\n", 400,
       "percent-encoded"},
      {"fragment in target", "GET /a#b HTTP/1.1\r\n" + host + "\r\n", 400, "percent-encoded"},
      {"bad escape in path", "GET /a%2 HTTP/1.1\r\n" + host + "\r\n", 400, "path"},
      {"NUL escape in path", "GET /a%00 HTTP/1.1\r\n" + host + "\r\n", 400, "path"},
      {"bad escape in query", "GET /a?x=%zz HTTP/1.1\r\n" + host + "\r\n", 400, "query"},
      {"HTTP/2.0", "GET /a HTTP/2.0\r\n" + host + "\r\n", 505, "2.0"},
      {"lower-case version", "GET /a http/1.1\r\n" + host + "\r\n", 400, "version"},
      {"missing Host", "GET /a HTTP/1.1\r\n\r\n", 400, "Host"},
      {"two Host headers", "GET /a HTTP/1.1\r\n" + host + host + "\r\n", 400, "Host"},
      {"header without colon", "GET /a HTTP/1.1\r\n" + host + "Broken\r\n\r\n", 400, "':'"},
      {"space before colon", "GET /a HTTP/1.1\r\n" + host + "X-A : 1\r\n\r\n", 400, "token"},
      {"obsolete folding", "GET /a HTTP/1.1\r\n" + host + "X-A: 1\r\n  more\r\n\r\n", 400,
       "folding"},
      {"bare LF inside a line", "GET /a HTTP/1.1\r\nX-A: 1\nX-B: 2\r\n" + host + "\r\n", 400,
       "CRLF"},
      {"control byte in value", "GET /a HTTP/1.1\r\n" + host + "X-A: a\x01z\r\n\r\n", 400,
       "control"},
      {"no blank line", "GET /a HTTP/1.1\r\n" + host, 400, "CRLF"},
      {"Content-Length not a number", "POST /a HTTP/1.1\r\n" + host + "Content-Length: 12a\r\n\r\n",
       400, "Content-Length"},
      {"negative Content-Length", "POST /a HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n", 400,
       "Content-Length"},
      {"huge Content-Length",
       "POST /a HTTP/1.1\r\n" + host + "Content-Length: 99999999999999999\r\n\r\n", 400,
       "Content-Length"},
      {"conflicting Content-Length",
       "POST /a HTTP/1.1\r\n" + host + "Content-Length: 3\r\nContent-Length: 4\r\n\r\n", 400,
       "conflicting"},
      {"repeated equal Content-Length",
       "POST /a HTTP/1.1\r\n" + host + "Content-Length: 3\r\nContent-Length: 3\r\n\r\n", 0, ""},
      {"chunked body", "POST /a HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n", 501,
       "Transfer-Encoding"},
      {"unknown expectation", "POST /a HTTP/1.1\r\n" + host + "Expect: magic\r\n\r\n", 417,
       "Expect"},
      {"too many headers",
       "GET /a HTTP/1.1\r\n" + host + "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", 431,
       "too many"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    http_request req;
    head_info info;
    auto verdict = parse_request_head(row.head, 5, req, info);
    CHECK(verdict.status == row.status);
    CHECK(verdict.reason.find(row.reason_part) != std::string::npos);
  }
}

TEST_CASE("an accepted head gives method, decoded path, query, headers and framing") {
  http_request req;
  head_info info;
  auto verdict = parse_request_head(
      "POST /a%20b/c?x=1&y=two+words&z=%2F&flag&&empty= HTTP/1.1\r\n"
      "Host: n1:9000\r\nX-Thing:   spaced value  \r\nContent-Length: 17\r\n"
      "Expect: 100-continue\r\nConnection: keep-alive, Close\r\n\r\n",
      100, req, info);
  REQUIRE(verdict.ok());
  CHECK(req.method == "POST");
  CHECK(req.path == "/a b/c");
  CHECK(req.target == "/a%20b/c?x=1&y=two+words&z=%2F&flag&&empty=");
  const std::vector<field> query{
      {"x", "1"}, {"y", "two words"}, {"z", "/"}, {"flag", ""}, {"empty", ""}};
  CHECK(req.query == query);
  CHECK(req.param("y") == std::optional<std::string>("two words"));
  CHECK_FALSE(req.param("missing").has_value());
  CHECK(req.header("x-thing") == std::optional<std::string>("spaced value"));
  CHECK(req.header("HOST") == std::optional<std::string>("n1:9000"));
  CHECK(info.content_length == 17);
  CHECK(info.expect_continue);
  CHECK_FALSE(info.keep_alive);  // close wins, whatever its case
}

TEST_CASE("connection persistence follows the version and the Connection header") {
  struct row {
    std::string name;
    std::string head;
    bool keep_alive;
  };
  const std::vector<row> rows{
      {"1.1 default", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
      {"1.1 close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
      {"1.0 default", "GET / HTTP/1.0\r\n\r\n", false},
      {"1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
      {"1.0 keep-alive then close",
       "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    http_request req;
    head_info info;
    REQUIRE(parse_request_head(r.head, 10, req, info).ok());
    CHECK(info.keep_alive == r.keep_alive);
  }
}

TEST_CASE("percent_decode and parse_query") {
  struct row {
    std::string name;
    const char* in;
    bool plus_is_space;
    std::optional<std::string> out;
  };
  const std::vector<row> rows{
      {"plain", "abc", false, "abc"},
      {"escape upper", "%41%2F", false, "A/"},
      {"escape lower", "%6a", false, "j"},
      {"plus kept in paths", "a+b", false, "a+b"},
      {"plus as space in queries", "a+b", true, "a b"},
      {"escaped plus stays plus", "%2B", true, "+"},
      {"truncated escape", "%4", false, std::nullopt},
      {"escape at end", "ab%", false, std::nullopt},
      {"non-hex escape", "%g1", false, std::nullopt},
      {"NUL", "%00", false, std::nullopt},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK(percent_decode(r.in, r.plus_is_space) == r.out);
  }
  CHECK(parse_query("") == std::optional<std::vector<field>>(std::vector<field>{}));
  CHECK(parse_query("a=1=2") ==
        std::optional<std::vector<field>>(std::vector<field>{{"a", "1=2"}}));
  CHECK_FALSE(parse_query("a=%").has_value());
}
