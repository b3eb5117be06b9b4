#include "actors/console/http_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <type_traits>

#include <asio/buffers_iterator.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/ssl.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/streambuf.hpp>
#include <asio/write.hpp>

#include "actors/console/console_auth.hpp"
#include "actors/console/http_parse.hpp"

namespace baton::console {

using asio::ip::tcp;
using tls_stream = asio::ssl::stream<tcp::socket>;

namespace {

// After an answer that ends the connection we stop sending and read (and discard) what the client
// still sends for a short while, so a client that is still writing a refused body gets our answer
// instead of a reset ("lingering close").
constexpr std::chrono::milliseconds linger_time{2000};
constexpr std::size_t linger_bytes = 4 << 20;

std::string strip_crlf(std::string s) {
  s.erase(std::remove_if(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n'; }),
          s.end());
  return s;
}

// The lowest layer of either kind of connection, for what TLS does not change (the peer's address,
// closing).
tcp::socket& raw_socket(tcp::socket& s) { return s; }
tcp::socket& raw_socket(tls_stream& s) { return s.next_layer(); }

// The console's TLS context: TLS 1.2 at least (OpenSSL prefers 1.3 when both sides have it), the
// node's certificate, and, with a CA, client certificates asked for and checked against it. A
// client without one is not refused here: it may still bring the token (auth_options).
asio::ssl::context make_tls_context(const tls_options& o) {
  asio::ssl::context ctx(asio::ssl::context::tls_server);
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                  asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  auto load = [](const char* what, const std::string& file, auto&& f) {
    asio::error_code ec;
    f(ec);
    if (ec) throw std::runtime_error("TLS " + std::string(what) + " " + file + ": " + ec.message());
  };
  load("certificate", o.certificate, [&](asio::error_code& ec) { ctx.use_certificate_chain_file(o.certificate, ec); });
  load("key", o.key, [&](asio::error_code& ec) { ctx.use_private_key_file(o.key, asio::ssl::context::pem, ec); });
  if (!SSL_CTX_check_private_key(ctx.native_handle()))
    throw std::runtime_error("TLS key " + o.key + " does not match the certificate " + o.certificate);
  if (!o.ca.empty()) {
    load("CA", o.ca, [&](asio::error_code& ec) { ctx.load_verify_file(o.ca, ec); });
    ctx.set_verify_mode(asio::ssl::verify_peer);
    // Tell clients which CA we accept, so one with several certificates picks the right one.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.ca.c_str()))
      SSL_CTX_set_client_CA_list(ctx.native_handle(), names);
    // Session resumption with client verification needs a context id (OpenSSL refuses otherwise).
    static const unsigned char id[] = "baton-console";
    SSL_CTX_set_session_id_context(ctx.native_handle(), id, sizeof id - 1);
  }
  return ctx;
}

bool client_certificate_verified(tls_stream& s) {
  X509* cert = SSL_get_peer_certificate(s.native_handle());
  if (!cert) return false;
  X509_free(cert);
  return SSL_get_verify_result(s.native_handle()) == X509_V_OK;
}

}  // namespace

void check_tls_files(const tls_options& tls) { make_tls_context(tls); }

std::pair<std::string, std::uint16_t> split_host_port(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size())
    throw std::invalid_argument("address '" + address + "' is not HOST:PORT");
  std::string host = address.substr(0, colon);
  std::string port_text = address.substr(colon + 1);
  if (port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw std::invalid_argument("address '" + address + "': port is not a number");
  unsigned long port = std::stoul(port_text);
  if (port > 65535) throw std::invalid_argument("address '" + address + "': port is above 65535");
  return {host, static_cast<std::uint16_t>(port)};
}

struct http_server::impl {
  // Counters first: connections update them from their destructors, which run while the
  // io_context below is destroyed, so these must outlive it (members die in reverse order).
  mutable std::mutex counts_mutex;
  std::map<int, std::uint64_t> counts;
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> connections_open{0};
  std::atomic<std::uint64_t> unauthorized{0};
  std::atomic<std::uint64_t> handshake_failures{0};

  mutable std::shared_mutex routes_mutex;
  std::map<std::string, std::map<std::string, http_handler>> routes;  // path -> method -> handler

  server_options options;
  std::string host;
  std::uint16_t wanted_port = 0;
  std::atomic<std::uint16_t> bound_port{0};

  std::mutex lifecycle_mutex;
  bool started = false;
  bool stopped = false;
  std::optional<asio::ssl::context> ssl;  // set in start() when options.tls is
  std::unique_ptr<asio::io_context> io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> accept_retry;
  std::vector<std::thread> threads;

  void count(int status) {
    std::lock_guard<std::mutex> lock(counts_mutex);
    ++counts[status];
  }

  std::vector<std::string> known_paths() const {
    std::shared_lock<std::shared_mutex> lock(routes_mutex);
    std::vector<std::string> out;
    for (const auto& [path, methods] : routes)
      if (!methods.empty()) out.push_back(path);
    return out;  // std::map keeps them sorted
  }

  // Checks who asks, finds the route and runs it; never throws. `client_verified`: the
  // connection's TLS client certificate verified against our CA.
  http_response handle(const http_request& req, bool client_verified) {
    if (options.auth.required && !client_verified &&
        std::find(options.auth.open_paths.begin(), options.auth.open_paths.end(), req.path) ==
          options.auth.open_paths.end()) {
      auto authorization = req.header("authorization");
      if (!authorization || !bearer_token_matches(*authorization, options.auth.token)) {
        ++unauthorized;
        // Never echo what was offered: a mistyped token is still close to the real one.
        auto r = http_response::error(
          401, authorization ? "the bearer token is not this console's"
                             : "authentication required: a client certificate signed by the "
                               "node's CA, or Authorization: Bearer TOKEN");
        r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"baton console\"");
        return r;
      }
    }
    http_handler handler;
    {
      std::shared_lock<std::shared_mutex> lock(routes_mutex);
      auto p = routes.find(req.path);
      if (p == routes.end() || p->second.empty()) {
        lock.unlock();
        std::string body = "{\"error\":\"no such path: " + json_escape(req.path) + "\",\"paths\":[";
        bool first = true;
        for (const auto& path : known_paths()) {
          body += (first ? "\"" : ",\"") + json_escape(path) + "\"";
          first = false;
        }
        body += "]}";
        return http_response::json(std::move(body), 404);
      }
      auto m = p->second.find(req.method);
      if (m == p->second.end()) {
        std::string allow, list;
        for (const auto& [method, h] : p->second) {
          allow += (allow.empty() ? "" : ", ") + method;
          list += (list.empty() ? "\"" : ",\"") + json_escape(method) + "\"";
        }
        auto r = http_response::json("{\"error\":\"method " + json_escape(req.method) +
                                         " is not allowed on " + json_escape(req.path) +
                                         "\",\"allow\":[" + list + "]}",
                                     405);
        r.headers.emplace_back("Allow", allow);
        return r;
      }
      handler = m->second;  // a copy: the handler may run while routes are being changed
    }
    // A command (any method but GET/HEAD) sent by a browser from another site's page is refused:
    // the console's own page sends Origin equal to its Host, batonctl and curl send no Origin.
    if (req.method != "GET" && req.method != "HEAD") {
      auto origin = req.header("origin");
      auto host = req.header("host");
      if (origin && (!host || (*origin != "http://" + *host && *origin != "https://" + *host)))
        return http_response::error(403, "cross-origin " + req.method + " refused: Origin " +
                                           *origin + " is not this console");
    }
    try {
      http_response r = handler(req);
      if (r.status < 100 || r.status > 599)
        return http_response::error(500,
                                    "handler returned invalid status " + std::to_string(r.status));
      return r;
    } catch (const std::exception& e) {
      return http_response::error(500, e.what());
    } catch (...) {
      return http_response::error(500, "handler threw a non-standard exception");
    }
  }

  void do_accept();
};

// One client connection over a plain socket (Stream = tcp::socket) or TLS (tls_stream). Every
// completion handler runs on the socket's strand, so the members need no lock; the shared_ptr
// captured by each pending operation keeps the object alive.
template <class Stream>
class connection : public std::enable_shared_from_this<connection<Stream>> {
  static constexpr bool is_tls = std::is_same_v<Stream, tls_stream>;
  using std::enable_shared_from_this<connection<Stream>>::shared_from_this;

public:
  connection(http_server::impl& server, Stream socket)
      : server_(server),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        inbuf_(server.options.max_header) {
    ++server_.connections_open;
    ++server_.connections_total;
    asio::error_code ec;
    auto ep = raw_socket(socket_).remote_endpoint(ec);
    if (!ec) peer_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  ~connection() { --server_.connections_open; }

  void start(bool over_capacity) {
    if constexpr (is_tls) {
      // The handshake is bounded like a request: a client that connects and sends nothing
      // does not hold a connection slot for ever.
      arm(server_.options.idle_timeout);
      socket_.async_handshake(asio::ssl::stream_base::server,
                              [self = shared_from_this(), over_capacity](const asio::error_code& ec) {
                                if (ec) {
                                  ++self->server_.handshake_failures;
                                  self->close_now();
                                  return;
                                }
                                self->client_verified_ = client_certificate_verified(self->socket_);
                                self->begin(over_capacity);
                              });
    } else {
      begin(over_capacity);
    }
  }

private:
  void begin(bool over_capacity) {
    if (over_capacity) {
      respond(http_response::error(503, "too many open connections"), true);
      return;
    }
    read_head();
  }

  void arm(std::chrono::milliseconds after) {
    auto generation = ++timer_generation_;
    timer_.expires_after(after);
    timer_.async_wait([self = shared_from_this(), generation](const asio::error_code& ec) {
      // A wait that already completed before the timer was re-armed must not close the socket.
      if (!ec && generation == self->timer_generation_) self->close_now();
    });
  }
  void disarm() {
    ++timer_generation_;
    timer_.cancel();
  }

  void read_head() {
    arm(server_.options.idle_timeout);
    asio::async_read_until(socket_, inbuf_, "\r\n\r\n",
                           [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
                             self->on_head(ec, n);
                           });
  }

  void on_head(const asio::error_code& ec, std::size_t n) {
    if (ec == asio::error::not_found) {
      respond(http_response::error(431, "request head is larger than " +
                                            std::to_string(server_.options.max_header) + " bytes"),
              true);
      return;
    }
    if (ec) {  // EOF between requests, reset, or the idle timer closed the socket
      close_now();
      return;
    }
    auto begin = asio::buffers_begin(inbuf_.data());
    std::string head(begin, begin + static_cast<std::ptrdiff_t>(n));
    inbuf_.consume(n);

    request_ = http_request{};
    request_.peer = peer_;
    head_verdict verdict =
        parse_request_head(head, server_.options.max_header_count, request_, info_);
    if (!verdict.ok()) {
      respond(http_response::error(verdict.status, verdict.reason), true);
      return;
    }
    if (info_.content_length > server_.options.max_body) {
      respond(http_response::error(413, "request body of " + std::to_string(info_.content_length) +
                                            " bytes is larger than the limit of " +
                                            std::to_string(server_.options.max_body)),
              true);
      return;
    }

    // Part of the body (or all of it) may already sit in the buffer behind the head.
    std::size_t length = info_.content_length;
    request_.body.resize(length);
    std::size_t have = std::min(length, inbuf_.size());
    asio::buffer_copy(asio::buffer(request_.body), inbuf_.data(), have);
    inbuf_.consume(have);
    if (have == length) {
      dispatch();
    } else if (info_.expect_continue) {
      // The client waits for this before sending the body (curl does for larger POSTs).
      static const std::string go_on = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(
          socket_, asio::buffer(go_on),
          [self = shared_from_this(), have](const asio::error_code& wec, std::size_t) {
            if (wec)
              self->close_now();
            else
              self->read_body(have);
          });
    } else {
      read_body(have);
    }
  }

  void read_body(std::size_t have) {
    asio::async_read(socket_, asio::buffer(&request_.body[have], request_.body.size() - have),
                     [self = shared_from_this()](const asio::error_code& ec, std::size_t) {
                       if (ec)
                         self->close_now();
                       else
                         self->dispatch();
                     });
  }

  void dispatch() {
    disarm();  // no timeout while the handler runs; it is batond's to bound
    respond(server_.handle(request_, client_verified_), !info_.keep_alive);
  }

  void respond(http_response r, bool close_after) {
    server_.count(r.status);
    close_after_ = close_after;
    out_head_ = "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) + "\r\n";
    if (!r.content_type.empty())
      out_head_ += "Content-Type: " + strip_crlf(r.content_type) + "\r\n";
    out_head_ += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    out_head_ += close_after ? "Connection: close\r\n" : "Connection: keep-alive\r\n";
    out_head_ += "Cache-Control: no-store\r\nServer: baton\r\n";
    for (auto& [name, value] : r.headers)
      out_head_ += strip_crlf(name) + ": " + strip_crlf(value) + "\r\n";
    out_head_ += "\r\n";
    out_body_ = std::move(r.body);

    arm(server_.options.idle_timeout);
    std::array<asio::const_buffer, 2> buffers{asio::buffer(out_head_), asio::buffer(out_body_)};
    asio::async_write(socket_, buffers,
                      [self = shared_from_this()](const asio::error_code& ec, std::size_t) {
                        if (ec)
                          self->close_now();
                        else if (self->close_after_)
                          self->linger();
                        else
                          self->read_head();
                      });
  }

  void linger() {
    arm(std::min(server_.options.idle_timeout, linger_time));
    if constexpr (is_tls) {
      // close_notify, so the client knows the answer was not cut short; the timer bounds the wait
      // for the client's own close_notify.
      socket_.async_shutdown([self = shared_from_this()](const asio::error_code&) { self->close_now(); });
    } else {
      asio::error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_send, ignored);
      drain();
    }
  }

  void drain() {
    socket_.async_read_some(asio::buffer(drain_buf_),
                            [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > linger_bytes)
                                self->close_now();
                              else
                                self->drain();
                            });
  }

  void close_now() {
    disarm();
    asio::error_code ignored;
    raw_socket(socket_).close(ignored);
  }

  http_server::impl& server_;
  Stream socket_;
  asio::steady_timer timer_;
  std::uint64_t timer_generation_ = 0;
  asio::streambuf inbuf_;
  std::string peer_;
  http_request request_;
  head_info info_;
  std::string out_head_;
  std::string out_body_;
  bool close_after_ = false;
  bool client_verified_ = false;
  std::size_t drained_ = 0;
  std::array<char, 4096> drain_buf_{};
};

void http_server::impl::do_accept() {
  acceptor->async_accept(asio::make_strand(*io), [this](const asio::error_code& ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
    if (ec) {
      // E.g. out of file descriptors: wait a little instead of spinning on the error.
      accept_retry->expires_after(std::chrono::milliseconds(100));
      accept_retry->async_wait([this](const asio::error_code& wec) {
        if (!wec) do_accept();
      });
      return;
    }
    bool over = connections_open.load() >= options.max_connections;
    if (ssl)
      std::make_shared<connection<tls_stream>>(*this, tls_stream(std::move(s), *ssl))->start(over);
    else
      std::make_shared<connection<tcp::socket>>(*this, std::move(s))->start(over);
    do_accept();
  });
}

http_server::http_server(std::string bind_address, server_options options)
    : impl_(std::make_unique<impl>()) {
  auto [host, port] = split_host_port(bind_address);
  if (host == "localhost") host = "127.0.0.1";
  asio::error_code ec;
  asio::ip::make_address_v4(host, ec);
  if (ec)
    throw std::invalid_argument("address '" + bind_address + "': '" + host +
                                "' is not an IPv4 address");
  if (options.threads == 0) options.threads = 1;
  impl_->options = options;
  impl_->host = host;
  impl_->wanted_port = port;
}

http_server::~http_server() { stop(); }

void http_server::route(std::string method, std::string path, http_handler handler) {
  std::unique_lock<std::shared_mutex> lock(impl_->routes_mutex);
  impl_->routes[std::move(path)][std::move(method)] = std::move(handler);
}

void http_server::start() {
  std::lock_guard<std::mutex> lock(impl_->lifecycle_mutex);
  if (impl_->started) throw std::logic_error("http_server::start called twice");
  impl_->started = true;
  if (impl_->options.tls) {
    try {
      impl_->ssl.emplace(make_tls_context(*impl_->options.tls));
    } catch (...) {
      impl_->stopped = true;
      throw;
    }
  }
  impl_->io = std::make_unique<asio::io_context>(static_cast<int>(impl_->options.threads));
  auto& io = *impl_->io;
  tcp::endpoint endpoint(asio::ip::make_address_v4(impl_->host), impl_->wanted_port);
  try {
    impl_->acceptor.emplace(io);
    impl_->acceptor->open(endpoint.protocol());
    impl_->acceptor->set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor->bind(endpoint);
    impl_->acceptor->listen(asio::socket_base::max_listen_connections);
  } catch (const std::system_error& e) {
    impl_->acceptor.reset();
    impl_->io.reset();
    impl_->stopped = true;
    throw std::system_error(
        e.code(), "cannot listen on " + impl_->host + ":" + std::to_string(impl_->wanted_port));
  }
  impl_->bound_port = impl_->acceptor->local_endpoint().port();
  impl_->accept_retry.emplace(io);
  impl_->work.emplace(io.get_executor());
  impl_->do_accept();
  for (std::size_t i = 0; i < impl_->options.threads; ++i) {
    impl_->threads.emplace_back([&io] {
      // Our handlers catch what route handlers throw; anything else escaping run() (bad_alloc)
      // must not take the whole daemon down with std::terminate.
      for (;;) {
        try {
          io.run();
          return;
        } catch (...) {
        }
      }
    });
  }
}

void http_server::stop() {
  std::lock_guard<std::mutex> lock(impl_->lifecycle_mutex);
  if (!impl_->started || impl_->stopped) return;
  impl_->stopped = true;
  impl_->work.reset();
  impl_->io->stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  // I/O objects before their context; destroying the context destroys the pending handlers and
  // with them the connections they hold.
  impl_->accept_retry.reset();
  impl_->acceptor.reset();
  impl_->io.reset();
}

std::uint16_t http_server::port() const noexcept { return impl_->bound_port.load(); }

std::string http_server::address() const {
  auto p = impl_->bound_port.load();
  return impl_->host + ":" + std::to_string(p ? p : impl_->wanted_port);
}

std::vector<std::pair<int, std::uint64_t>> http_server::status_counts() const {
  std::lock_guard<std::mutex> lock(impl_->counts_mutex);
  return {impl_->counts.begin(), impl_->counts.end()};
}

std::uint64_t http_server::requests_total() const {
  std::lock_guard<std::mutex> lock(impl_->counts_mutex);
  std::uint64_t total = 0;
  for (const auto& [status, n] : impl_->counts) total += n;
  return total;
}

std::uint64_t http_server::connections_total() const { return impl_->connections_total.load(); }
std::uint64_t http_server::connections_open() const { return impl_->connections_open.load(); }
std::uint64_t http_server::unauthorized_total() const { return impl_->unauthorized.load(); }
std::uint64_t http_server::tls_handshake_failures() const { return impl_->handshake_failures.load(); }
bool http_server::tls() const noexcept { return impl_->options.tls.has_value(); }

std::vector<std::string> http_server::paths() const { return impl_->known_paths(); }

void append_server_metrics(const http_server& server, std::vector<metric_family>& out) {
  metric_family requests{"baton_console_requests_total",
                         "Console HTTP requests answered, by status.",
                         metric_type::counter,
                         {}};
  for (const auto& [status, n] : server.status_counts())
    requests.add({{"status", std::to_string(status)}}, static_cast<double>(n));
  out.push_back(std::move(requests));
  out.push_back(metric_family{
      "baton_console_connections_total",
      "Console connections accepted.",
      metric_type::counter,
      {}}.add({}, static_cast<double>(server.connections_total())));
  out.push_back(metric_family{
      "baton_console_connections_open",
      "Console connections open now.",
      metric_type::gauge,
      {}}.add({}, static_cast<double>(server.connections_open())));
  out.push_back(metric_family{
      "baton_console_unauthorized_total",
      "Console requests refused with 401: no verified client certificate and no right token.",
      metric_type::counter,
      {}}.add({}, static_cast<double>(server.unauthorized_total())));
  out.push_back(metric_family{
      "baton_console_tls_handshake_failures_total",
      "Console TLS handshakes that failed (another CA's certificate, plain HTTP to the TLS port).",
      metric_type::counter,
      {}}.add({}, static_cast<double>(server.tls_handshake_failures())));
}

}  // namespace baton::console
