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

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "actors/rim/chunk_cache.hpp"
#include "actors/rim/origin_fetch.hpp"
#include "actors/rim/origin_range.hpp"
#include "actors/runtime/cpu_affinity.hpp"
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
// Chunks fetched beyond the one a connection writes from: one arriving while the other is
// written keeps a client faster than one chunk's round trip to the origin busy.
constexpr std::uint32_t readahead_chunks = 2;

// A member whose chunk request failed is not asked again for this long: its chunks come from the
// origin directly meanwhile (a dead member would otherwise cost a timeout per chunk).
constexpr std::chrono::seconds member_rest{10};

enum class local { opened, absent };

/// The value of header `name` (lower case, with the colon) in a request head, "" when absent.
std::string header_value(const std::string& head, const std::string& name) {
  std::string lowered(head.size(), '\0');
  std::transform(head.begin(), head.end(), lowered.begin(),
                 [](char ch) { return static_cast<char>(std::tolower(static_cast<unsigned char>(ch))); });
  const auto at = lowered.find("\r\n" + name);
  if (at == std::string::npos) return {};
  const auto from = at + 2 + name.size();
  return head.substr(from, head.find("\r\n", from) - from);
}

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
  // An object from the origin: written from `held`, chunk `held_index`, kept alive here even when
  // the cache has evicted it. `waiting`: for a chunk from the origin (write_more() does nothing).
  bool from_origin = false;
  chunk_ptr held;
  std::uint64_t held_index = 0;
  bool waiting = false;
  // A range request (a client's "Range:", or another rim host asking for a chunk it is not
  // responsible for): the body is object bytes body_first.. (length of them), the response a 206.
  std::optional<range_request> asked;
  bool partial = false;
  bool for_member = false;  // the request came from another rim host: served, never passed on
  std::uint64_t body_first = 0;
  std::uint64_t length = 0;  // body bytes
  std::uint64_t total() const { return header.size() + length; }
  /// The object offset of the next byte to write (position is past the header).
  std::uint64_t offset() const { return body_first + (position - header.size()); }
};

struct service::impl {
  explicit impl(const service_config& c)
      : cfg(c), acceptor(io), guard(asio::make_work_guard(io)), cache(c.origin.cache_bytes) {
    if (!cfg.origin.enabled) return;
    fetcher = std::make_unique<origin_fetcher>(io, cfg.origin.at, cfg.origin.timeout_ms);
    for (auto m : cfg.origin.members) {
      if (m == cfg.address) continue;
      policy::http_origin at;
      at.address = m;
      at.port = cfg.port;  // every rim host serves on the same port
      members[m] = std::make_unique<origin_fetcher>(io, at, cfg.origin.timeout_ms);
    }
  }

  service_config cfg;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  std::thread thread;
  std::map<flow_id, std::shared_ptr<connection>> conns;
  std::vector<protocol::rim_flow> ended;
  service_counters counters;
  double last_freeze_us = 0, last_restore_us = 0;
  // The origin's side (cfg.origin.enabled): fetches in flight by (object, chunk), each with the
  // connections waiting for it; a fetch ahead of a connection has none.
  chunk_cache cache;
  std::unique_ptr<origin_fetcher> fetcher;
  // Fetches by (object, chunk, source): source 0 is the origin, else the member asked for it.
  using fetch_key = std::tuple<std::string, std::uint64_t, std::uint32_t>;
  std::map<fetch_key, std::vector<std::weak_ptr<connection>>> inflight;
  std::map<std::uint32_t, std::unique_ptr<origin_fetcher>> members;  // their services, by address
  std::map<std::uint32_t, std::chrono::steady_clock::time_point> resting;
  origin_counters origin;

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
    reply_status(c, status);
  }

  void reply_status(const std::shared_ptr<connection>& c, const std::string& status) {
    c->from_origin = false;
    c->header = "HTTP/1.1 " + status + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    c->size = 0;
    c->length = 0;
    write_more(c);
  }

  /// The response header for an object of c.size bytes: the whole of it (the same bytes on every
  /// rim host, for hand-offs), or the range asked for (206), or 416 when none of it is there.
  void set_header(connection& c) {
    c.body_first = 0;
    c.length = c.size;
    c.header = header_for(c.size);
    if (!c.asked) return;
    c.partial = true;
    auto r = resolve(*c.asked, c.size);
    if (!r) {
      c.length = 0;
      c.header = "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */" + std::to_string(c.size) +
                 "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      return;
    }
    c.body_first = r->first;
    c.length = r->size();
    c.header = "HTTP/1.1 206 Partial Content\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes " +
               std::to_string(r->first) + "-" + std::to_string(r->last) + "/" + std::to_string(c.size) +
               "\r\nContent-Length: " + std::to_string(c.length) + "\r\nConnection: close\r\n\r\n";
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
    if (!valid_name(name)) return reply_error(c, "404 Not Found");
    c->asked = parse_range_request(header_value(c->request, "range:"));
    const auto& m = cfg.origin.members;
    c->for_member = c->flow.client_address != cfg.address &&
                    std::find(m.begin(), m.end(), c->flow.client_address) != m.end();
    if (c->for_member) ++origin.served_to_members;
    std::string why;
    if (open_local(*c, name, why) == local::opened) {
      set_header(*c);
      ++counters.responses;
      return write_more(c);
    }
    if (!fetcher) return reply_error(c, "404 Not Found");
    // The local copy first, the origin for what it lacks.
    c->content = name;
    c->from_origin = true;
    if (auto size = cache.size_of(name)) return start_response(c, *size);
    // The header needs the size: the Content-Range of the first chunk asked for brings it.
    c->waiting = true;
    fetch_chunk(name, c->asked ? chunk_of(c->asked->first, cfg.origin.chunk_bytes) : 0, std::nullopt, c);
  }

  void start_response(const std::shared_ptr<connection>& c, std::uint64_t size) {
    c->size = size;
    set_header(*c);
    ++counters.responses;
    write_more(c);
  }

  /// `n` bytes of c's response (its header, then its object) from `from`, into `out`: from the
  /// local file, or for an origin object from the chunk cache (a chunk not there: false).
  bool read_response(const connection& c, std::uint64_t from, std::uint64_t n, std::vector<std::uint8_t>& out,
                     std::string& why) {
    out.resize(static_cast<std::size_t>(n));
    std::uint64_t at = from, filled = 0;
    for (; filled < n && at < c.header.size(); ++filled, ++at) out[filled] = static_cast<std::uint8_t>(c.header[at]);
    while (filled < n) {
      if (c.from_origin) {
        const std::uint64_t off = at - c.header.size();
        const std::uint64_t index = chunk_of(off, cfg.origin.chunk_bytes);
        const auto data = cache.find(c.content, index);
        const std::uint64_t in = off - index * cfg.origin.chunk_bytes;
        if (!data || in >= data->size()) {
          why = "chunk " + std::to_string(index) + " of " + c.content + " is not in this host's cache";
          return false;
        }
        const std::uint64_t k = std::min<std::uint64_t>(n - filled, data->size() - in);
        std::memcpy(out.data() + filled, data->data() + in, static_cast<std::size_t>(k));
        filled += k;
        at += k;
        continue;
      }
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

  /// Opens `name` in the local copy; absent (why says why) when there is none or no such file.
  local open_local(connection& c, const std::string& name, std::string& why) {
    if (cfg.content.empty()) {
      why = "no local copy";
      return local::absent;
    }
    const std::string path = cfg.content + "/" + name;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      if (fd >= 0) ::close(fd);
      why = "no object " + path;
      return local::absent;
    }
    c.file = fd;
    c.size = static_cast<std::uint64_t>(st.st_size);
    c.content = name;
    return local::opened;
  }

  void log(const std::string& event, const std::string& detail) {
    if (cfg.log) cfg.log(event, detail);
  }

  /// Where chunk `index` of `object` comes from: the member responsible for it (chunk_owner over
  /// the sorted members), or the origin (0) when that is this host, the member is resting after a
  /// failure, or `for_member` (a member's request is never passed on: no loops, no waiting in a
  /// circle when two hosts' views differ).
  std::uint32_t source_of(const std::string& object, std::uint64_t index, bool for_member) {
    const auto& m = cfg.origin.members;
    if (for_member || m.size() < 2) return 0;
    const std::uint32_t owner = m[chunk_owner(object, index, m.size())];
    if (owner == cfg.address || !members.count(owner)) return 0;
    auto r = resting.find(owner);
    if (r != resting.end()) {
      if (std::chrono::steady_clock::now() < r->second) return 0;
      resting.erase(r);
    }
    return owner;
  }

  bool in_flight(const std::string& object, std::uint64_t index) const {
    auto it = inflight.lower_bound({object, index, 0});
    return it != inflight.end() && std::get<0>(it->first) == object && std::get<1>(it->first) == index;
  }

  /// Starts fetching chunk `index` of `object` from `source` unless that is in flight; `waiter`
  /// (may be null) resumes when it arrives. `known`: the size the object is served at.
  void fetch_from(std::uint32_t source, const std::string& object, std::uint64_t index,
                  std::optional<std::uint64_t> known, std::vector<std::weak_ptr<connection>> waiters) {
    fetch_key key{object, index, source};
    auto [it, fresh] = inflight.try_emplace(key);
    it->second.insert(it->second.end(), waiters.begin(), waiters.end());
    if (!fresh) return;
    if (source == 0) ++origin.origin_requests;
    else ++origin.member_requests;
    origin.fetches_in_flight = inflight.size();
    auto& f = source == 0 ? *fetcher : *members.at(source);
    f.fetch(object, chunk_range(index, cfg.origin.chunk_bytes, known), known,
            [this, key](fetch_result r) { fetched(key, std::move(r)); });
  }

  void fetch_chunk(const std::string& object, std::uint64_t index, std::optional<std::uint64_t> known,
                   const std::shared_ptr<connection>& waiter) {
    std::vector<std::weak_ptr<connection>> waiters;
    if (waiter) waiters.push_back(waiter);
    fetch_from(source_of(object, index, waiter && waiter->for_member), object, index, known, std::move(waiters));
  }

  /// The chunks after a reader's at object offset `offset` (up to the end of its body), fetched
  /// ahead unless held or in flight.
  void fetch_ahead(const connection& c, std::uint64_t offset) {
    const auto wanted = chunks_wanted(offset, c.body_first + c.length, cfg.origin.chunk_bytes, readahead_chunks);
    for (std::size_t k = 1; k < wanted.size(); ++k)
      if (!in_flight(c.content, wanted[k]) && !cache.find(c.content, wanted[k]))
        fetch_from(source_of(c.content, wanted[k], c.for_member), c.content, wanted[k], c.size, {});
  }

  void fetched(const fetch_key& key, fetch_result r) {
    auto node = inflight.extract(key);
    origin.fetches_in_flight = inflight.size();
    const auto& [object, index, source] = key;
    (source == 0 ? origin.origin_bytes : origin.member_bytes) += r.received;
    const bool ok = r.verdict == origin_verdict::ok;
    if (!ok && source != 0 && r.verdict == origin_verdict::failed && !r.changed) {
      // The member did not deliver: the origin directly; a member that did not answer at all
      // rests a while (one that answered, say 502 for its own origin failure, is alive).
      ++origin.member_errors;
      log("rim_member_fetch_failed", r.why);
      if (r.status == 0) resting[source] = std::chrono::steady_clock::now() + member_rest;
      return fetch_from(0, object, index, cache.size_of(object),
                        node.empty() ? std::vector<std::weak_ptr<connection>>{} : std::move(node.mapped()));
    }
    if (ok) {
      cache.set_size(object, r.total);
      if (r.data && !r.data->empty()) cache.insert(object, index, r.data);
    } else {
      ++origin.origin_errors;
      log(r.verdict == origin_verdict::not_found ? "rim_origin_not_found" : "rim_origin_error", r.why);
      // The object's cached size and chunks are stale: the next request learns it afresh.
      if (r.changed) cache.forget(object);
    }
    origin.cache_bytes = cache.bytes();
    origin.cache_evictions = cache.evicted();
    if (node.empty()) return;
    for (auto& w : node.mapped()) {
      auto c = w.lock();
      if (!c || !c->sock.is_open() || !c->waiting) continue;
      c->waiting = false;
      if (c->header.empty()) {  // a response whose header waited for the object's size
        if (r.verdict == origin_verdict::not_found) {
          ++origin.origin_not_found;
          reply_status(c, "404 Not Found");
        } else if (!ok) {
          ++origin.bad_gateway;
          reply_status(c, "502 Bad Gateway");
        } else {
          c->held = r.data;
          c->held_index = index;
          start_response(c, r.total);
        }
        continue;
      }
      if (!ok || r.total != c->size) {
        ++origin.origin_aborted;
        log("rim_origin_aborted", text_of(c->flow) + " closed at " + std::to_string(c->position) + " of " +
                                      std::to_string(c->total()) + ": " +
                                      (ok ? "the object changed at the origin" : r.why));
        end(c, false);
        continue;
      }
      c->held = r.data;
      c->held_index = index;
      write_more(c);
    }
  }

  static std::string text_of(const protocol::rim_flow& f) {
    return policy::format_ipv4(f.client_address) + ":" + std::to_string(f.client_port);
  }

  /// Writes from the connection's origin chunk at its position; false when it has to wait for one
  /// (the fetch resumes it). Sets `n` as send() does.
  bool send_origin(connection& c, const std::shared_ptr<connection>& self, ssize_t& n) {
    const std::uint64_t offset = c.offset();
    const std::uint64_t index = chunk_of(offset, cfg.origin.chunk_bytes);
    if (!c.held || c.held_index != index) {
      c.held = cache.find(c.content, index);
      c.held_index = index;
      if (!c.held) {
        ++origin.cache_misses;
        c.waiting = true;
        fetch_chunk(c.content, index, c.size, self);
        fetch_ahead(c, offset);
        return false;
      }
      ++origin.cache_hits;
      fetch_ahead(c, offset);
    }
    const std::uint64_t in = offset - index * cfg.origin.chunk_bytes;
    if (in >= c.held->size()) {  // check_range_answer makes every chunk whole: never here
      errno = EIO;
      n = -1;
      return true;
    }
    const std::uint64_t count = std::min<std::uint64_t>(c.held->size() - in, c.total() - c.position);
    n = ::send(c.sock.native_handle(), c.held->data() + in, count, MSG_DONTWAIT | MSG_NOSIGNAL);
    return true;
  }

  void write_more(const std::shared_ptr<connection>& c) {
    if (c->frozen || c->waiting || !c->sock.is_open()) return;
    const int fd = c->sock.native_handle();
    while (c->position < c->total()) {
      ssize_t n;
      if (c->position < c->header.size()) {
        n = ::send(fd, c->header.data() + c->position, c->header.size() - c->position, MSG_DONTWAIT | MSG_NOSIGNAL);
      } else if (c->from_origin) {
        if (!send_origin(*c, c, n)) return;
      } else {
        off_t off = static_cast<off_t>(c->offset());
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
    c->held.reset();
    if (conns.erase(id_of(c->flow)) > 0) ended.push_back(c->flow);
    counters.connections = conns.size();
  }
};

origin_settings origin_settings_of(const policy::policy& p) {
  const auto& r = *p.rim;
  origin_settings o;
  o.members.push_back(p.identity.address);
  for (const auto& peer : p.peers) o.members.push_back(peer.at.address);
  std::sort(o.members.begin(), o.members.end());
  o.members.erase(std::unique(o.members.begin(), o.members.end()), o.members.end());
  o.enabled = !r.origin.empty();
  if (o.enabled) {
    const std::string why = policy::parse_http_origin(r.origin, o.at);
    if (!why.empty()) throw std::invalid_argument("rim.origin \"" + r.origin + "\" " + why);
  }
  o.chunk_bytes = r.chunk_bytes;
  o.cache_bytes = r.cache_bytes;
  o.timeout_ms = r.origin_timeout_ms;
  return o;
}

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
  // The hand-off service carries traffic: any CPU, not only the control plane's.
  node::start_data_path_thread(
      [this] { impl_->thread = std::thread([this] { impl_->io.run(); }); });
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
  if (c.partial) return "a range response (another rim host's chunk, or a client's range) is not handed off";
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
  // The taker has the same copy: what is in flight is read there, not carried. Not so for an
  // object from the origin: the taker holds only the chunks it is responsible for (chunk_owner),
  // rarely those just behind the position, so the bytes in flight go with the socket.
  if (!c.from_origin) {
    out.refill = static_cast<std::uint32_t>(out.socket.send_queue.size());
    out.socket.send_queue.clear();
  }
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
  if (!valid_name(t.content)) return fail("\"" + t.content + "\" is not an object name");
  if (d.open_local(*c, t.content, why) == local::opened) {
    if (c->size != t.size)
      return fail("this host's copy of " + t.content + " has " + std::to_string(c->size) + " bytes, the giver's " +
                  std::to_string(t.size));
  } else if (d.fetcher) {
    // From the origin, from the taken position on (write_more fetches the chunk there first).
    auto known = d.cache.size_of(t.content);
    if (known && *known != t.size)
      return fail("the origin's " + t.content + " had " + std::to_string(*known) + " bytes here, the giver's " +
                  std::to_string(t.size));
    c->content = t.content;
    c->from_origin = true;
    c->size = t.size;
    c->length = t.size;
  } else {
    return fail(why);
  }
  c->header = header_for(c->size);
  c->length = c->size;
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
  if (!valid_name(t.content)) return "\"" + t.content + "\" is not an object name";
  if (d.open_local(probe, t.content, why) != local::opened) {
    // An origin object: the window is refilled from the chunks this host holds (its own, and
    // those it fetched for connections it served); missing ones fail the take-back.
    if (!d.fetcher) return why;
    const auto size = d.cache.size_of(t.content);
    if (!size || *size != t.size) return "this host knows no " + std::to_string(t.size) + "-byte " + t.content;
    probe.size = *size;
    probe.from_origin = true;
  }
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
  s.origin = impl_->origin;
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
