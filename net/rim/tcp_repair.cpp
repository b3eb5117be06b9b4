#include "net/rim/tcp_repair.hpp"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace baton::net {
namespace {

// The queue selector of TCP_REPAIR_QUEUE (linux/tcp.h's enum, not in glibc's header).
constexpr int no_queue = 0;
constexpr int receive_queue = 1;
constexpr int send_queue = 2;

std::string failed(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

bool set_int(int fd, int level, int name, int value) {
  return ::setsockopt(fd, level, name, &value, sizeof value) == 0;
}

bool get_u32(int fd, int level, int name, std::uint32_t& out) {
  int v = 0;
  socklen_t len = sizeof v;
  if (::getsockopt(fd, level, name, &v, &len) != 0) return false;
  out = static_cast<std::uint32_t>(v);
  return true;
}

/// Peeks `n` bytes of the queue TCP_REPAIR_QUEUE selects (repair mode reads without consuming).
bool peek_queue(int fd, std::size_t n, std::vector<std::uint8_t>& out) {
  out.resize(n);
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::recv(fd, out.data() + got, n - got, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0) errno = ENODATA;
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
    // MSG_PEEK starts from the queue's head each time: a short read means the queue holds less.
    if (got < n) {
      errno = EMSGSIZE;
      return false;
    }
  }
  return true;
}

/// Writes `data` into the queue TCP_REPAIR_QUEUE selects; in repair mode the send queue takes it
/// as sent and unacknowledged, the receive queue as received and unread.
bool fill_queue(int fd, const std::vector<std::uint8_t>& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t w = ::send(fd, data.data() + done, data.size() - done, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w <= 0) return false;
    done += static_cast<std::size_t>(w);
  }
  return true;
}

sockaddr_in to_sockaddr(std::uint32_t address, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(address);
  a.sin_port = htons(port);
  return a;
}

}  // namespace

std::string freeze(int fd, tcp_snapshot& s) {
  if (!set_int(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON)) return failed("TCP_REPAIR");
  // With the send queue selected, the kernel no longer transmits: data its pacing or TSQ timers
  // would still send is marked sent without leaving. Without it, a byte sent between the reads
  // below would be one the snapshot calls unsent, and the peer's ACK for it one the new socket
  // refuses as acknowledging data it never sent: the connection would hang.
  if (!set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, send_queue)) return failed("TCP_REPAIR_QUEUE");
  sockaddr_in local{}, remote{};
  socklen_t len = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) return failed("getsockname");
  len = sizeof remote;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &len) != 0) return failed("getpeername");
  s.local_address = ntohl(local.sin_addr.s_addr);
  s.local_port = ntohs(local.sin_port);
  s.remote_address = ntohl(remote.sin_addr.s_addr);
  s.remote_port = ntohs(remote.sin_port);

  int outq = 0, unsent = 0, inq = 0;
  if (::ioctl(fd, SIOCOUTQ, &outq) != 0) return failed("SIOCOUTQ");
  if (::ioctl(fd, SIOCOUTQNSD, &unsent) != 0) return failed("SIOCOUTQNSD");
  if (::ioctl(fd, SIOCINQ, &inq) != 0) return failed("SIOCINQ");
  s.unsent = static_cast<std::uint32_t>(unsent);

  // The send queue: its end is the sequence number the next write gets (write_seq); only the
  // part that went out travels (the caller sends the unsent rest again from its own copy).
  std::uint32_t write_seq = 0, rcv_nxt = 0;
  if (!set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, send_queue)) return failed("TCP_REPAIR_QUEUE");
  if (!get_u32(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, write_seq)) return failed("TCP_QUEUE_SEQ (send)");
  s.send_seq = write_seq - static_cast<std::uint32_t>(outq);
  std::vector<std::uint8_t> whole;
  if (outq > 0 && !peek_queue(fd, static_cast<std::size_t>(outq), whole)) return failed("reading the send queue");
  whole.resize(static_cast<std::size_t>(outq - unsent));
  s.send_queue = std::move(whole);

  if (!set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, receive_queue)) return failed("TCP_REPAIR_QUEUE");
  if (!get_u32(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, rcv_nxt)) return failed("TCP_QUEUE_SEQ (receive)");
  s.receive_seq = rcv_nxt - static_cast<std::uint32_t>(inq);
  s.receive_queue.clear();
  if (inq > 0 && !peek_queue(fd, static_cast<std::size_t>(inq), s.receive_queue))
    return failed("reading the receive queue");
  // The send queue stays selected while the socket is frozen: with no queue selected, a frozen
  // socket's pacing and TSQ timers transmit again (repair mode alone does not stop them), and the
  // taker would start below what the peer holds.
  if (!set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, send_queue)) return failed("TCP_REPAIR_QUEUE");

  tcp_info info{};
  len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return failed("TCP_INFO");
  s.timestamps = (info.tcpi_options & TCPI_OPT_TIMESTAMPS) != 0;
  s.sack = (info.tcpi_options & TCPI_OPT_SACK) != 0;
  s.wscale = (info.tcpi_options & TCPI_OPT_WSCALE) != 0;
  s.snd_wscale = info.tcpi_snd_wscale;
  s.rcv_wscale = info.tcpi_rcv_wscale;
  // The peer's MSS (the clamp): the segment size in use plus the timestamp option it leaves room for.
  s.mss = info.tcpi_snd_mss + (s.timestamps ? 12u : 0u);
  if (!get_u32(fd, IPPROTO_TCP, TCP_TIMESTAMP, s.timestamp)) return failed("TCP_TIMESTAMP");

  tcp_repair_window w{};
  len = sizeof w;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &len) != 0) return failed("TCP_REPAIR_WINDOW");
  s.snd_wl1 = w.snd_wl1;
  s.snd_wnd = w.snd_wnd;
  s.max_window = w.max_window;
  s.rcv_wnd = w.rcv_wnd;
  s.rcv_wup = w.rcv_wup;
  return {};
}

std::string thaw(int fd) {
  set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, no_queue);
  if (!set_int(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF)) return failed("TCP_REPAIR off");
  return {};
}

int restore(const tcp_snapshot& s, bool transparent, std::string& error, bool leave_repair) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = failed("socket");
    return -1;
  }
  auto fail = [&](const char* what) {
    error = failed(what);
    ::close(fd);
    return -1;
  };
  // Repair mode first: it also lets the socket share its address with a listener (SK_FORCE_REUSE).
  if (!set_int(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON)) return fail("TCP_REPAIR");
  if (transparent && !set_int(fd, SOL_IP, IP_TRANSPARENT, 1)) return fail("IP_TRANSPARENT");
  // Room for the send queue in one go (the kernel doubles the value and caps it at wmem_max
  // unless forced; SO_SNDBUFFORCE needs CAP_NET_ADMIN, which repair mode needs anyway).
  const int room = static_cast<int>(s.send_queue.size() * 2 + (1 << 20));
  set_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, room);
  const sockaddr_in local = to_sockaddr(s.local_address, s.local_port);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) return fail("bind");
  if (!set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, send_queue)) return fail("TCP_REPAIR_QUEUE");
  if (!set_int(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, static_cast<int>(s.send_seq))) return fail("TCP_QUEUE_SEQ (send)");
  if (!set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, receive_queue)) return fail("TCP_REPAIR_QUEUE");
  if (!set_int(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, static_cast<int>(s.receive_seq)))
    return fail("TCP_QUEUE_SEQ (receive)");
  // The peer's MSS before connect(): connect() sizes the segments from it, and the MSS repair
  // option given afterwards would not resize them (they would stay at the default 536).
  if (s.mss > 0 && !set_int(fd, IPPROTO_TCP, TCP_MAXSEG, static_cast<int>(s.mss))) return fail("TCP_MAXSEG");
  // In repair mode connect() sends nothing: the socket is established at once.
  const sockaddr_in remote = to_sockaddr(s.remote_address, s.remote_port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&remote), sizeof remote) != 0) return fail("connect");

  tcp_repair_opt opts[4];
  int n = 0;
  opts[n++] = {TCPOPT_MAXSEG, s.mss};
  if (s.wscale) opts[n++] = {TCPOPT_WINDOW, static_cast<std::uint32_t>(s.snd_wscale) | (static_cast<std::uint32_t>(s.rcv_wscale) << 16)};
  if (s.sack) opts[n++] = {TCPOPT_SACK_PERMITTED, 0};
  if (s.timestamps) opts[n++] = {TCPOPT_TIMESTAMP, 0};
  if (::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts, static_cast<socklen_t>(n * sizeof opts[0])) != 0)
    return fail("TCP_REPAIR_OPTIONS");
  if (s.timestamps && !set_int(fd, IPPROTO_TCP, TCP_TIMESTAMP, static_cast<int>(s.timestamp)))
    return fail("TCP_TIMESTAMP");

  if (!set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, send_queue)) return fail("TCP_REPAIR_QUEUE");
  if (!fill_queue(fd, s.send_queue)) return fail("refilling the send queue");
  // Every byte refilled counts as sent (it was: the peer may hold it). The kernel marks queued
  // data sent when it pushes in repair mode, and may hold the tail back (autocorking); TCP_NODELAY
  // pushes it now. Data left unmarked would go out as new data after snd_nxt, below what the peer
  // acknowledges, and the peer's ACKs would be refused: the connection would hang.
  if (!set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1)) return fail("TCP_NODELAY");
  int not_sent = 0;
  if (::ioctl(fd, SIOCOUTQNSD, &not_sent) != 0) return fail("SIOCOUTQNSD");
  if (not_sent != 0) {
    error = "the send queue's last " + std::to_string(not_sent) + " bytes were not marked sent";
    ::close(fd);
    return -1;
  }
  if (!set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, receive_queue)) return fail("TCP_REPAIR_QUEUE");
  if (!fill_queue(fd, s.receive_queue)) return fail("refilling the receive queue");
  set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, no_queue);

  tcp_repair_window w{};
  w.snd_wl1 = s.snd_wl1;
  w.snd_wnd = s.snd_wnd;
  w.max_window = s.max_window;
  w.rcv_wnd = s.rcv_wnd;
  w.rcv_wup = s.rcv_wup;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof w) != 0) return fail("TCP_REPAIR_WINDOW");
  // Leaving repair mode sends a window probe: the peer's answer restarts the ACK clock here.
  if (leave_repair && !set_int(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF)) return fail("TCP_REPAIR off");
  return fd;
}

}  // namespace baton::net
