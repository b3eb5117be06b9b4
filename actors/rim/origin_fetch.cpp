// Range requests to the origin over Asio. See origin_fetch.hpp.

#include "actors/rim/origin_fetch.hpp"

#include <asio.hpp>

#include <array>

#include "actors/rim/origin_response.hpp"
#include "policy/rules.hpp"

namespace baton::rim {
namespace {

using tcp = asio::ip::tcp;

/// One request in flight: everything its handlers share.
struct request : std::enable_shared_from_this<request> {
  request(asio::io_context& io, std::size_t max_body) : sock(io), timer(io), response(max_body) {}
  tcp::socket sock;
  asio::steady_timer timer;
  origin_response response;
  std::string head;  // the request's bytes
  std::string what;  // "GET /x bytes=a-b from host:port", for reasons
  byte_range asked;
  std::optional<std::uint64_t> known;
  std::function<void(fetch_result)> done;
  std::array<char, 64 * 1024> buffer;  // reads land here, one buffer per request
  bool finished = false;
  bool timed_out = false;
};

}  // namespace

struct origin_fetcher::impl {
  impl(asio::io_context& i, const policy::http_origin& a, std::uint32_t t) : io(i), at(a), timeout(t) {}
  asio::io_context& io;
  policy::http_origin at;
  std::chrono::milliseconds timeout;

  void arm(const std::shared_ptr<request>& r) {
    r->timer.expires_after(timeout);
    r->timer.async_wait([r](const asio::error_code& ec) {
      if (ec || r->finished) return;
      r->timed_out = true;
      asio::error_code ignored;
      r->sock.close(ignored);  // the pending operation ends with operation_aborted
    });
  }

  void finish(const std::shared_ptr<request>& r, fetch_result out) {
    if (r->finished) return;
    r->finished = true;
    asio::error_code ignored;
    r->timer.cancel(ignored);
    r->sock.close(ignored);
    auto done = std::move(r->done);
    done(std::move(out));
  }

  void fail(const std::shared_ptr<request>& r, const std::string& why) {
    fetch_result out;
    out.received = r->response.body().size();
    out.status = r->response.status();
    out.why = r->what + ": " + (r->timed_out ? "no answer within " + std::to_string(timeout.count()) + " ms" : why);
    finish(r, std::move(out));
  }

  void judge(const std::shared_ptr<request>& r) {
    auto& resp = r->response;
    fetch_result out;
    out.received = resp.body().size();
    out.status = resp.status();
    const range_check c = check_range_answer(r->asked, r->known, resp.status(), resp.content_range(), resp.body().size());
    out.verdict = c.verdict;
    out.changed = c.changed;
    if (c.verdict == origin_verdict::ok) {
      out.total = c.total;
      out.data = std::make_shared<const std::string>(std::move(resp.body()));
    } else {
      out.why = r->what + ": " + c.why;
    }
    finish(r, std::move(out));
  }

  void read(const std::shared_ptr<request>& r) {
    r->sock.async_read_some(asio::buffer(r->buffer), [this, r](const asio::error_code& ec, std::size_t n) {
      if (r->finished) return;
      if (ec == asio::error::eof) {
        if (!r->response.finish()) return fail(r, r->response.error());
        return judge(r);
      }
      if (ec) return fail(r, ec.message());
      if (!r->response.feed(r->buffer.data(), n)) return fail(r, r->response.error());
      if (r->response.complete()) return judge(r);
      arm(r);
      read(r);
    });
  }
};

origin_fetcher::origin_fetcher(asio::io_context& io, const policy::http_origin& at, std::uint32_t timeout_ms)
    : impl_(std::make_unique<impl>(io, at, timeout_ms)) {}

origin_fetcher::~origin_fetcher() = default;

void origin_fetcher::fetch(const std::string& object, const byte_range& asked, std::optional<std::uint64_t> known,
                           std::function<void(fetch_result)> done) {
  auto& d = *impl_;
  auto r = std::make_shared<request>(d.io, static_cast<std::size_t>(asked.size()));
  r->asked = asked;
  r->known = known;
  r->done = std::move(done);
  const std::string host = policy::format_ipv4(d.at.address) + ":" + std::to_string(d.at.port);
  r->what = "origin " + host + " " + d.at.prefix + object + " " + range_value(asked);
  r->head = "GET " + d.at.prefix + object + " HTTP/1.1\r\nHost: " + host + "\r\nRange: " + range_value(asked) +
            "\r\nUser-Agent: baton-rim\r\nConnection: close\r\n\r\n";
  d.arm(r);
  r->sock.async_connect(tcp::endpoint(asio::ip::address_v4(d.at.address), d.at.port),
                        [&d, r](const asio::error_code& ec) {
                          if (r->finished) return;
                          if (ec) return d.fail(r, "cannot connect: " + ec.message());
                          d.arm(r);
                          asio::async_write(r->sock, asio::buffer(r->head),
                                            [&d, r](const asio::error_code& ec2, std::size_t) {
                                              if (r->finished) return;
                                              if (ec2) return d.fail(r, "sending the request: " + ec2.message());
                                              d.arm(r);
                                              d.read(r);
                                            });
                        });
}

}  // namespace baton::rim
