#include "actors/console/http_client.hpp"
#include "actors/console/http_parse.hpp"

#include <array>
#include <cctype>
#include <optional>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl.hpp>
#include <asio/write.hpp>

#include "actors/console/http_server.hpp"

namespace baton::console {

using asio::ip::tcp;

namespace {

constexpr std::size_t max_reply = 64u << 20;


[[noreturn]] void bad_reply(const std::string& why) {
  throw http_client_error(http_client_error::kind::protocol, "malformed HTTP answer: " + why);
}

// The number of bytes a complete answer needs, once the head is in: head + Content-Length.
// nullopt while the head is incomplete or when only the end of the stream frames the body.
std::optional<std::size_t> expected_size(const std::string& in) {
  auto end = in.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  std::string head = lower(std::string_view(in).substr(0, end));
  auto pos = head.find("\r\ncontent-length:");
  if (pos == std::string::npos) return std::nullopt;
  pos += 17;
  std::size_t n = 0;
  while (pos < head.size() && (head[pos] == ' ' || head[pos] == '\t')) ++pos;
  bool digits = false;
  while (pos < head.size() && std::isdigit(static_cast<unsigned char>(head[pos])) &&
         n < max_reply) {
    n = n * 10 + static_cast<std::size_t>(head[pos++] - '0');
    digits = true;
  }
  if (!digits) return std::nullopt;
  return end + 4 + n;
}

// A client TLS context: TLS 1.2 at least, the console's certificate checked against `o.ca`, ours
// sent when given. Throws http_client_error(kind::connect) naming a file that does not load.
asio::ssl::context make_client_context(const client_options& o) {
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                  asio::ssl::context::no_tlsv1_1);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  auto check = [](const char* what, const std::string& file, const asio::error_code& ec) {
    if (ec)
      throw http_client_error(http_client_error::kind::connect,
                              std::string(what) + " " + file + ": " + ec.message());
  };
  asio::error_code ec;
  ctx.load_verify_file(o.ca, ec);
  check("CA", o.ca, ec);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  if (!o.certificate.empty() || !o.key.empty()) {
    ctx.use_certificate_chain_file(o.certificate, ec);
    check("certificate", o.certificate, ec);
    ctx.use_private_key_file(o.key, asio::ssl::context::pem, ec);
    check("key", o.key, ec);
  }
  return ctx;
}

// One exchange: resolve, connect, (TLS handshake,) write, read until the answer is complete or
// the peer closes. Everything runs inside io.run_for(timeout) on the calling thread.
class exchange {
public:
  exchange(const client_options& options, const std::string& node, std::string out,
           bool stop_when_complete)
      : node_(node), out_(std::move(out)), stop_when_complete_(stop_when_complete) {
    auto hp = split_host_port(node);
    host_ = hp.first;
    port_ = std::to_string(hp.second);
    if (options.tls()) {
      ctx_.emplace(make_client_context(options));
      tls_.emplace(socket_, *ctx_);
    }
  }

  std::string run(std::chrono::milliseconds timeout) {
    resolver_.async_resolve(
        host_, port_,
        [this](const asio::error_code& ec, tcp::resolver::results_type r) { on_resolved(ec, r); });
    io_.run_for(timeout);
    if (!done_) {
      asio::error_code ignored;
      resolver_.cancel();
      socket_.close(ignored);
      io_.restart();
      io_.run();
      throw http_client_error(http_client_error::kind::timeout,
                              "timed out after " + std::to_string(timeout.count()) + " ms " +
                                  stage_ + " " + node_);
    }
    if (error_) throw *error_;
    return std::move(in_);
  }

private:
  void on_resolved(const asio::error_code& ec, const tcp::resolver::results_type& endpoints) {
    if (ec) {
      fail(http_client_error::kind::connect, "cannot resolve " + node_ + ": " + ec.message());
      return;
    }
    stage_ = "connecting to";
    asio::async_connect(
        socket_, endpoints,
        [this](const asio::error_code& cec, const tcp::endpoint&) { on_connected(cec); });
  }

  void on_connected(const asio::error_code& ec) {
    if (ec) {
      fail(http_client_error::kind::connect, "cannot connect to " + node_ + ": " + ec.message());
      return;
    }
    if (!tls_) return send(socket_);
    stage_ = "in the TLS handshake with";
    tls_->async_handshake(asio::ssl::stream_base::client, [this](const asio::error_code& hec) {
      if (hec)
        return fail(http_client_error::kind::connect,
                    "TLS handshake with " + node_ + " failed: " + hec.message());
      send(*tls_);
    });
  }

  template <class Stream>
  void send(Stream& stream) {
    stage_ = "waiting for an answer from";
    asio::async_write(stream, asio::buffer(out_),
                      [this, &stream](const asio::error_code& wec, std::size_t) {
                        // A server that refuses early may reset while we still write; its answer
                        // can still be readable, so a write error only counts if nothing comes
                        // back.
                        write_error_ = wec;
                        read(stream);
                      });
  }

  template <class Stream>
  void read(Stream& stream) {
    stream.async_read_some(asio::buffer(buf_), [this, &stream](const asio::error_code& ec, std::size_t n) {
      in_.append(buf_.data(), n);
      if (in_.size() > max_reply)
        return fail(http_client_error::kind::protocol,
                    "answer from " + node_ + " is larger than 64 MiB");
      if (stop_when_complete_) {
        auto want = expected_size(in_);
        if (want && in_.size() >= *want) return finish();
      }
      // A TLS peer that closes without close_notify after a complete answer is an end too.
      if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) return finish();
      if (ec) {
        if (in_.empty())
          return fail(http_client_error::kind::io,
                      "connection to " + node_ +
                          " failed: " + (write_error_ ? write_error_ : ec).message());
        return finish();  // a reset after (part of) an answer: let the parser judge it
      }
      read(stream);
    });
  }

  void finish() {
    done_ = true;
    asio::error_code ignored;
    socket_.close(ignored);
  }
  void fail(http_client_error::kind k, std::string message) {
    error_.emplace(k, message);
    finish();
  }

  std::string node_, host_, port_;
  const char* stage_ = "resolving";  // for the timeout message
  std::string out_, in_;
  bool stop_when_complete_;
  asio::io_context io_{1};
  tcp::resolver resolver_{io_};
  tcp::socket socket_{io_};
  std::optional<asio::ssl::context> ctx_;
  std::optional<asio::ssl::stream<tcp::socket&>> tls_;
  std::array<char, 16384> buf_{};
  asio::error_code write_error_;
  bool done_ = false;
  std::optional<http_client_error> error_;
};

std::string decode_chunked(std::string_view in) {
  std::string out;
  while (true) {
    auto eol = in.find("\r\n");
    if (eol == std::string_view::npos) bad_reply("truncated chunk size");
    std::string_view line = in.substr(0, eol);
    std::string_view size_text = line.substr(0, line.find(';'));  // no ';': the whole line
    std::size_t size = 0;
    if (size_text.empty()) bad_reply("empty chunk size");
    for (char c : size_text) {
      int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
              : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
              : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                          : -1;
      if (v < 0 || size > max_reply) bad_reply("bad chunk size");
      size = size * 16 + static_cast<std::size_t>(v);
    }
    in.remove_prefix(eol + 2);
    if (size == 0) return out;  // trailers, if any, are ignored
    if (in.size() < size + 2) bad_reply("truncated chunk");
    out.append(in.substr(0, size));
    in.remove_prefix(size + 2);
  }
}

}  // namespace

std::optional<std::string> http_reply::header(std::string_view name) const {
  std::string key = lower(name);
  for (const auto& [k, v] : headers)
    if (k == key) return v;
  return std::nullopt;
}

http_reply parse_http_reply(std::string_view bytes) {
  auto end = bytes.find("\r\n\r\n");
  if (end == std::string_view::npos) bad_reply("no end of header block");
  std::string_view head = bytes.substr(0, end + 2);
  std::string_view rest = bytes.substr(end + 4);

  auto eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  head.remove_prefix(eol + 2);
  // "HTTP/1.1 200 OK"
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ')
    bad_reply("status line '" + std::string(status_line.substr(0, 40)) + "'");
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(status_line[i]))) bad_reply("status code");
    status = status * 10 + (status_line[i] - '0');
  }
  if (status < 100) bad_reply("status code " + std::to_string(status) + " below 100");
  http_reply reply;
  reply.status = status;
  reply.reason = std::string(trim(status_line.substr(12)));

  while (!head.empty()) {
    eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) bad_reply("header line without ':'");
    reply.headers.emplace_back(lower(line.substr(0, colon)),
                               std::string(trim(line.substr(colon + 1))));
  }

  auto te = reply.header("transfer-encoding");
  auto cl = reply.header("content-length");
  if (te && lower(*te).find("chunked") != std::string::npos) {
    reply.body = decode_chunked(rest);
  } else if (cl) {
    std::size_t n = 0;
    if (cl->empty()) bad_reply("empty Content-Length");
    for (char c : *cl) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || n > max_reply)
        bad_reply("bad Content-Length");
      n = n * 10 + static_cast<std::size_t>(c - '0');
    }
    if (rest.size() < n) bad_reply("body shorter than its Content-Length");
    reply.body = std::string(rest.substr(0, n));
  } else {
    reply.body = std::string(rest);
  }
  return reply;
}

http_reply http_fetch(const std::string& node, const std::string& method, const std::string& target,
                      const std::string& body, std::chrono::milliseconds timeout,
                      const std::string& content_type) {
  return http_fetch(client_options{}, node, method, target, body, timeout, content_type);
}

http_reply http_fetch(const client_options& options, const std::string& node,
                      const std::string& method, const std::string& target,
                      const std::string& body, std::chrono::milliseconds timeout,
                      const std::string& content_type) {
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: " + node +
                        "\r\nUser-Agent: batonctl\r\nAccept: application/json, text/plain\r\n"
                        "Connection: close\r\n";
  if (options.token.find_first_of("\r\n") != std::string::npos)
    throw std::invalid_argument("the console token must be one line");
  if (!options.token.empty()) request += "Authorization: Bearer " + options.token + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    request += "Content-Type: " + content_type +
               "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n";
  request += body;
  exchange x(options, node, std::move(request), true);
  return parse_http_reply(x.run(timeout));
}

http_reply http_get(const std::string& node, const std::string& target,
                    std::chrono::milliseconds timeout) {
  return http_fetch(node, "GET", target, {}, timeout);
}

http_reply http_post(const std::string& node, const std::string& target, const std::string& body,
                     std::chrono::milliseconds timeout, const std::string& content_type) {
  return http_fetch(node, "POST", target, body, timeout, content_type);
}

std::string http_raw_exchange(const std::string& node, const std::string& bytes,
                              std::chrono::milliseconds timeout) {
  return http_raw_exchange(client_options{}, node, bytes, timeout);
}

std::string http_raw_exchange(const client_options& options, const std::string& node,
                              const std::string& bytes, std::chrono::milliseconds timeout) {
  exchange x(options, node, bytes, false);
  return x.run(timeout);
}

}  // namespace baton::console
