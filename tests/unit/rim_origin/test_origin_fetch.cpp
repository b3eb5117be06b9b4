// Range requests to an origin over real sockets (actors/rim/origin_fetch.hpp): a canned origin on
// 127.0.0.1 in the same io_context answers each row; the fetcher's verdict and the request it
// sent are checked. A silent origin is failed by the fetcher's own timeout, not the test's.

#include <doctest/doctest.h>

#include <asio.hpp>

#include <memory>
#include <optional>
#include <string>

#include "actors/rim/origin_fetch.hpp"

using namespace baton::rim;
using tcp = asio::ip::tcp;

namespace {

struct canned_origin {
  explicit canned_origin(asio::io_context& io) : acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {}
  tcp::acceptor acceptor;
  std::string answer;  // written after the request's head, then the connection is closed
  bool silent = false; // never answers (keeps the connection open)
  std::string request;
  std::shared_ptr<tcp::socket> peer;

  void serve() {
    peer = std::make_shared<tcp::socket>(acceptor.get_executor());
    acceptor.async_accept(*peer, [this](const asio::error_code& ec) {
      if (ec) return;
      asio::async_read_until(*peer, asio::dynamic_buffer(request), "\r\n\r\n",
                             [this](const asio::error_code& e, std::size_t) {
                               if (e || silent) return;
                               asio::async_write(*peer, asio::buffer(answer), [this](const asio::error_code&, std::size_t) {
                                 asio::error_code ignored;
                                 peer->shutdown(tcp::socket::shutdown_both, ignored);
                                 peer->close(ignored);
                               });
                             });
    });
  }
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }
};

baton::policy::http_origin at(std::uint16_t port) {
  baton::policy::http_origin o;
  o.address = 0x7f000001;
  o.port = port;
  o.prefix = "/pre/";
  return o;
}

}  // namespace

TEST_CASE("fetching a range from an origin: the bytes, or why not") {
  struct row {
    const char* what;
    std::string answer;
    bool silent;
    bool listening;
    std::optional<std::uint64_t> known;
    origin_verdict verdict;
    const char* why;
  };
  const std::string body = "56789";
  const row rows[] = {
    {"a 206 with the range", "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 5-9/20\r\nContent-Length: 5\r\n\r\n" + body,
     false, true, std::nullopt, origin_verdict::ok, ""},
    {"404", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false, true, std::nullopt, origin_verdict::not_found,
     "no such object"},
    {"short read", "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 5-9/20\r\nContent-Length: 5\r\n\r\n567", false,
     true, std::nullopt, origin_verdict::failed, "before the response's end"},
    {"wrong length in Content-Range", "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 5-8/20\r\nContent-Length: 4\r\n\r\n5678",
     false, true, std::nullopt, origin_verdict::failed, "sent bytes 5-8 for 5-9"},
    {"the size changed", "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 5-9/21\r\nContent-Length: 5\r\n\r\n" + body,
     false, true, 20, origin_verdict::failed, "changed at the origin"},
    {"garbage", "220 smtp.example ESMTP\r\n", false, true, std::nullopt, origin_verdict::failed, "malformed"},
    {"silent", "", true, true, std::nullopt, origin_verdict::failed, "no answer within 300 ms"},
    {"nobody listening", "", false, false, std::nullopt, origin_verdict::failed, "cannot connect"},
  };
  for (const auto& r : rows) {
    const std::string what = r.what;
    CAPTURE(what);
    asio::io_context io;
    canned_origin origin(io);
    origin.answer = r.answer;
    origin.silent = r.silent;
    const auto port = origin.port();
    if (r.listening) origin.serve();
    else origin.acceptor.close();
    origin_fetcher fetcher(io, at(port), 300);
    std::optional<fetch_result> got;
    fetcher.fetch("obj", {5, 9}, r.known, [&](fetch_result x) {
      got = std::move(x);
      io.stop();
    });
    CHECK(!got);  // never from inside fetch()
    io.run();
    REQUIRE(got);
    CHECK(got->verdict == r.verdict);
    CHECK(got->why.find(r.why) != std::string::npos);
    if (r.verdict == origin_verdict::ok) {
      REQUIRE(got->data);
      CHECK(*got->data == body);
      CHECK(got->total == 20);
    } else {
      CHECK(got->why.find("/pre/obj bytes=5-9") != std::string::npos);  // the reason names what was asked
    }
    // An HTTP status came, or none (the rim rests a member that gave none).
    CHECK((got->status == 0) == (r.silent || !r.listening || r.answer.rfind("HTTP/", 0) != 0));
    if (r.listening) {
      CHECK(origin.request.find("GET /pre/obj HTTP/1.1\r\n") == 0);
      CHECK(origin.request.find("\r\nRange: bytes=5-9\r\n") != std::string::npos);
    }
  }
}
