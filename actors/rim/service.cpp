// A rim host's HTTP service and its hand-offs. See service.hpp.

#include "actors/rim/service.hpp"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <asio.hpp>

#include <chrono>
#include <map>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "net/rim/path_status.hpp"
#include "net/rim/tcp_repair.hpp"
#include "policy/rules.hpp"

namespace baton::rim {
namespace {

using tcp = asio::ip::tcp;
using flow_id = std::tuple<std::uint32_t, std::uint16_t, std::uint32_t, std::uint16_t>;

flow_id id_of(const protocol::rim_flow& f) {
  return {f.client_address, f.client_port, f.service_address, f.service_port};
}

/// The response header: the same bytes on every rim host for the same object, so a taker that
/// starts inside it writes what the giver would have.
std::string header_for(std::uint64_t size) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " + std::to_string(size) +
         "\r\nConnection: close\r\n\r\n";
}

/// An object name: one path segment of [A-Za-z0-9._-], not starting with a dot.
bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 200 || n[0] == '.') return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

constexpr std::size_t max_request = 8192;
constexpr std::size_t sendfile_chunk = 1 << 20;

}  // namespace

struct connection {
  explicit connection(asio::io_context& io) : sock(io) {}
  ~connection() {
    if (file >= 0) ::close(file);
  }
  tcp::socket sock;
  protocol::rim_flow flow;
  std::string request;
  std::string content;
  int file = -1;
  std::uint64_t size = 0;
  std::string header;
  std::uint64_t position = 0;
  bool frozen = false;
  bool taken = false;
  bool finishing = false;  // everything written; waiting for the client to close
  std::uint64_t total() const { return header.size() + size; }
};

struct service::impl {
  explicit impl(const service_config& c) : cfg(c), acceptor(io), guard(asio::make_work_guard(io)) {}

  service_config cfg;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  std::thread thread;
  std::map<flow_id, std::shared_ptr<connection>> conns;
  std::vector<protocol::rim_flow> ended;
  service_counters counters;
  double last_freeze_us = 0, last_restore_us = 0;

  void accept() {
    auto c = std::make_shared<connection>(io);
    acceptor.async_accept(c->sock, [this, c](const asio::error_code& ec) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) opened(c);
      accept();
    });
  }

  void opened(const std::shared_ptr<connection>& c) {
    ++counters.accepted;
    if (conns.size() >= cfg.max_flows) {
      ++counters.refused_full;
      return;  // closed by the last reference going
    }
    asio::error_code ec;
    auto remote = c->sock.remote_endpoint(ec);
    auto local = c->sock.local_endpoint(ec);
    if (ec) return;
    c->flow = {remote.address().to_v4().to_uint(), remote.port(), local.address().to_v4().to_uint(), local.port()};
    c->sock.set_option(tcp::no_delay(true), ec);
    c->sock.non_blocking(true, ec);
    conns[id_of(c->flow)] = c;
    counters.connections = conns.size();
    read_request(c);
  }

  void read_request(const std::shared_ptr<connection>& c) {
    asio::async_read_until(c->sock, asio::dynamic_buffer(c->request, max_request), "\r\n\r\n",
                           [this, c](const asio::error_code& ec, std::size_t) {
                             if (ec) return end(c, ec != asio::error::eof);
                             respond(c);
                           });
  }

  void reply_error(const std::shared_ptr<connection>& c, const std::string& status) {
    ++counters.bad_requests;
    c->header = "HTTP/1.1 " + status + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    c->size = 0;
    write_more(c);
  }

  void respond(const std::shared_ptr<connection>& c) {
    // "GET /name HTTP/1.x"
    const auto line_end = c->request.find("\r\n");
    const std::string line = c->request.substr(0, line_end);
    const auto sp1 = line.find(' ');
    const auto sp2 = line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
    if (sp1 == std::string::npos || sp2 == std::string::npos || line.substr(0, sp1) != "GET" ||
        line.compare(sp1 + 1, 1, "/") != 0)
      return reply_error(c, "400 Bad Request");
    const std::string name = line.substr(sp1 + 2, sp2 - sp1 - 2);
    std::string why;
    if (!open_content(*c, name, why)) return reply_error(c, "404 Not Found");
    c->header = header_for(c->size);
    ++counters.responses;
    write_more(c);
  }

  /// `n` bytes of c's response (its header, then its object) from `from`, into `out`.
  bool read_response(const connection& c, std::uint64_t from, std::uint64_t n, std::vector<std::uint8_t>& out,
                     std::string& why) {
    out.resize(static_cast<std::size_t>(n));
    std::uint64_t at = from, filled = 0;
    for (; filled < n && at < c.header.size(); ++filled, ++at) out[filled] = static_cast<std::uint8_t>(c.header[at]);
    while (filled < n) {
      const ssize_t r = ::pread(c.file, out.data() + filled, n - filled, static_cast<off_t>(at - c.header.size()));
      if (r <= 0) {
        why = "reading " + c.content + " for the bytes in flight failed";
        return false;
      }
      filled += static_cast<std::uint64_t>(r);
      at += static_cast<std::uint64_t>(r);
    }
    return true;
  }

  bool open_content(connection& c, const std::string& name, std::string& why) {
    if (!valid_name(name)) {
      why = "\"" + name + "\" is not an object name";
      return false;
    }
    const std::string path = cfg.content + "/" + name;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      if (fd >= 0) ::close(fd);
      why = "no object " + path;
      return false;
    }
    c.file = fd;
    c.size = static_cast<std::uint64_t>(st.st_size);
    c.content = name;
    return true;
  }

  void write_more(const std::shared_ptr<connection>& c) {
    if (c->frozen || !c->sock.is_open()) return;
    const int fd = c->sock.native_handle();
    while (c->position < c->total()) {
      ssize_t n;
      if (c->position < c->header.size()) {
        n = ::send(fd, c->header.data() + c->position, c->header.size() - c->position, MSG_DONTWAIT | MSG_NOSIGNAL);
      } else {
        off_t off = static_cast<off_t>(c->position - c->header.size());
        n = ::sendfile(fd, c->file, &off, std::min<std::uint64_t>(sendfile_chunk, c->total() - c->position));
      }
      if (n > 0) {
        c->position += static_cast<std::uint64_t>(n);
        counters.bytes_sent += static_cast<std::uint64_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c->sock.async_wait(tcp::socket::wait_write, [this, c](const asio::error_code& ec) {
          if (!ec) write_more(c);
        });
        return;
      }
      return end(c, true);
    }
    // All written: close our side and wait for the client's close (HTTP/1.1 "Connection: close").
    c->finishing = true;
    ::shutdown(fd, SHUT_WR);
    await_close(c);
  }

  void await_close(const std::shared_ptr<connection>& c) {
    c->sock.async_wait(tcp::socket::wait_read, [this, c](const asio::error_code& ec) {
      if (ec || c->frozen) return;
      char buf[512];
      const ssize_t r = ::recv(c->sock.native_handle(), buf, sizeof buf, MSG_DONTWAIT);
      if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) return await_close(c);
      if (r == 0 && c->size > 0 && c->header.compare(0, 12, "HTTP/1.1 200") == 0) ++counters.completed;
      end(c, r < 0);
    });
  }

  void end(const std::shared_ptr<connection>& c, bool error) {
    if (error) ++counters.socket_errors;
    asio::error_code ignored;
    c->sock.close(ignored);
    if (conns.erase(id_of(c->flow)) > 0) ended.push_back(c->flow);
    counters.connections = conns.size();
  }
};

service::service(const service_config& c) : impl_(std::make_unique<impl>(c)) {
  auto& a = impl_->acceptor;
  const tcp::endpoint at(asio::ip::address_v4(c.address), c.port);
  asio::error_code ec;
  a.open(at.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(at, ec);
  // Accepted sockets inherit the segment size (a masquerader adds an IP-in-IP header to each).
  if (!ec && c.mss != 0) {
    const int mss = static_cast<int>(c.mss);
    if (::setsockopt(a.native_handle(), IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss) != 0)
      ec = asio::error_code(errno, asio::system_category());
  }
  if (!ec) a.listen(1024, ec);
  if (ec)
    throw std::runtime_error("rim: cannot serve on " + policy::format_ipv4(c.address) + ":" + std::to_string(c.port) +
                             ": " + ec.message());
}

service::~service() { stop(); }

void service::start() {
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

void service::stop() noexcept {
  if (!impl_->thread.joinable()) return;
  impl_->io.stop();
  impl_->thread.join();
}

void service::post(std::function<void()> work) { asio::post(impl_->io, std::move(work)); }

std::string service::freeze(const protocol::rim_flow& flow, protocol::rim_take& out) {
  auto it = impl_->conns.find(id_of(flow));
  if (it == impl_->conns.end()) return "no such connection here";
  auto& c = *it->second;
  if (c.frozen) return "already being handed off";
  if (c.header.empty() || c.size == 0) return "no response under way on it";
  c.frozen = true;
  asio::error_code ignored;
  c.sock.cancel(ignored);
  const auto t0 = std::chrono::steady_clock::now();
  std::string why = net::freeze(c.sock.native_handle(), out.socket);
  impl_->last_freeze_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  if (!why.empty()) {
    release(flow, false);
    return why;
  }
  out.flow = flow;
  out.from = impl_->cfg.address;
  out.content = c.content;
  out.size = c.size;
  out.position = c.position - out.socket.unsent;
  // The taker has the same copy: what is in flight is read there, not carried.
  out.refill = static_cast<std::uint32_t>(out.socket.send_queue.size());
  out.socket.send_queue.clear();
  return {};
}

void service::release(const protocol::rim_flow& flow, bool given) {
  auto it = impl_->conns.find(id_of(flow));
  if (it == impl_->conns.end()) return;
  auto c = it->second;
  if (given) {
    // In repair mode close() sends nothing: the connection lives on at the taker.
    asio::error_code ignored;
    c->sock.close(ignored);
    impl_->conns.erase(it);
    impl_->counters.connections = impl_->conns.size();
    ++impl_->counters.handed_away;
    return;
  }
  net::thaw(c->sock.native_handle());
  c->frozen = false;
  ++impl_->counters.thawed;
  if (c->finishing) impl_->await_close(c);
  else impl_->write_more(c);
}

std::string service::take(const protocol::rim_take& t, bool transparent, const std::function<void()>& before_thaw) {
  auto& d = *impl_;
  auto fail = [&](std::string why) {
    ++d.counters.take_failures;
    return why;
  };
  if (d.conns.count(id_of(t.flow))) return fail("this host already serves that connection");
  if (d.conns.size() >= d.cfg.max_flows) return fail("max_flows reached");
  auto c = std::make_shared<connection>(d.io);
  std::string why;
  if (!d.open_content(*c, t.content, why)) return fail(why);
  if (c->size != t.size)
    return fail("this host's copy of " + t.content + " has " + std::to_string(c->size) + " bytes, the giver's " +
                std::to_string(t.size));
  c->header = header_for(c->size);
  if (t.position > c->total()) return fail("position past the end of the response");
  if (t.refill > t.position) return fail("more in flight than the response holds before the position");
  protocol::rim_take filled;
  if (t.refill > 0) {
    // The bytes in flight, from this host's copy, into the queue restore() refills as sent.
    filled = t;
    if (!d.read_response(*c, t.position - t.refill, t.refill, filled.socket.send_queue, why)) return fail(why);
  }
  const protocol::rim_take& use = t.refill > 0 ? filled : t;
  const auto t0 = std::chrono::steady_clock::now();
  const int fd = net::restore(use.socket, transparent, why, false);
  if (fd < 0) return fail("re-creating the socket: " + why);
  if (before_thaw) before_thaw();
  why = net::thaw(fd);
  d.last_restore_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  if (!why.empty()) {
    ::close(fd);
    return fail(why);
  }
  asio::error_code ec;
  c->sock.assign(tcp::v4(), fd, ec);
  if (ec) {
    ::close(fd);
    return fail("adopting the socket: " + ec.message());
  }
  c->sock.non_blocking(true, ec);
  c->flow = t.flow;
  c->position = t.position;
  c->taken = true;
  d.conns[id_of(c->flow)] = c;
  d.counters.connections = d.conns.size();
  ++d.counters.taken_over;
  d.write_more(c);
  return {};
}

std::string service::take_back(protocol::rim_take t, std::uint32_t window, const std::function<void()>& before_thaw) {
  auto& d = *impl_;
  connection probe(d.io);
  std::string why;
  if (!d.open_content(probe, t.content, why)) return why;
  const std::string header = header_for(probe.size);
  const std::uint64_t total = header.size() + probe.size;
  if (t.position > total) return "the client acknowledged past the end of the response";
  const std::uint64_t n = std::min<std::uint64_t>(window, total - t.position);
  t.socket.send_queue.clear();
  t.socket.unsent = 0;
  t.position += n;
  t.refill = static_cast<std::uint32_t>(n);
  return take(t, false, before_thaw);
}

std::vector<protocol::rim_flow> service::ended() { return std::exchange(impl_->ended, {}); }

service_snapshot service::snapshot() const {
  service_snapshot s;
  s.counters = impl_->counters;
  s.last_freeze_us = impl_->last_freeze_us;
  s.last_restore_us = impl_->last_restore_us;
  for (const auto& [id, c] : impl_->conns)
    s.connections.push_back({c->flow, c->content, c->size, c->position, c->total(), c->taken, c->frozen});
  return s;
}

std::vector<protocol::rim_flow_report> service::tcp_reports() const {
  std::vector<protocol::rim_flow_report> out;
  for (const auto& [id, c] : impl_->conns) {
    net::tcp_counters t;
    if (c->frozen || !net::read_tcp_counters(c->sock.native_handle(), t)) continue;
    protocol::rim_flow_report r;
    r.flow = c->flow;
    r.segs_out = t.segs_out;
    r.retransmitted = t.retransmitted;
    r.rtt_us = t.rtt_us;
    r.bytes_acked = t.bytes_acked;
    out.push_back(r);
  }
  return out;
}

}  // namespace baton::rim
