#include "net/io/raw_ipv4_port.hpp"
#include "net/io/send_messages.hpp"

#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace baton::net {

namespace {

int checked_protocol(const raw_ipv4_config& config) {
  if (config.receive_protocol < 0 || config.receive_protocol > 254)
    throw std::invalid_argument("raw_ipv4_port: receive_protocol must be in [0, 254]");
  return config.receive_protocol;
}

// A raw socket of `protocol` with IP_HDRINCL, bound to the configured interface if any.
// IPPROTO_RAW (send-only) implies IP_HDRINCL and never receives; another protocol receives that
// protocol, and IP_HDRINCL keeps sending exactly as the loop built the datagram, whatever its
// protocol field says.
int open_socket(const raw_ipv4_config& config, int protocol) {
  const int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
  if (fd < 0) throw std::system_error(errno, std::system_category(), "socket(SOCK_RAW)");
  const int one = 1;
  if (::setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof one) < 0 ||
      (!config.bind_interface.empty() &&
       ::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, config.bind_interface.c_str(),
                    static_cast<socklen_t>(config.bind_interface.size())) < 0)) {
    const int e = errno;
    ::close(fd);
    throw std::system_error(e, std::system_category(), "raw_ipv4_port setsockopt");
  }
  return fd;
}

// A receiving raw socket holds a burst at line rate: the kernel's default (about 200 KiB, some
// 140 datagrams) overflowed under a transfer through the SLR hierarchy. FORCE passes the
// rmem_max limit (root); without it the kernel clamps to rmem_max. SO_RXQ_OVFL makes every
// datagram carry the socket's drop count, which becomes rx_kernel_drops.
void prepare_receive(int fd) {
  const int bytes = raw_receive_buffer_bytes, one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  ::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
}

}  // namespace

raw_ipv4_port::raw_ipv4_port(raw_ipv4_config config) : packet_port(config.name, config.mtu) {
  if (config.receive_protocol != 0)
    throw std::invalid_argument("raw_ipv4_port: receiving needs a buffer pool");
  fd_ = open_socket(config, IPPROTO_RAW);
  init_messages();
}

raw_ipv4_port::raw_ipv4_port(buffer_pool& pool, raw_ipv4_config config)
    : packet_port(config.name, config.mtu), pool_(&pool), receive_protocol_(checked_protocol(config)) {
  if (receive_protocol_ != 0 && config.mtu > pool.data_size())
    throw std::invalid_argument("raw_ipv4_port: MTU larger than the pool's buffers");
  fd_ = open_socket(config, receive_protocol_ != 0 ? receive_protocol_ : IPPROTO_RAW);
  if (receive_protocol_ != 0) prepare_receive(fd_);
  init_messages();
}

void raw_ipv4_port::init_messages() noexcept {
  for (std::size_t i = 0; i < max_batch_size; ++i) {
    to_[i].sin_family = AF_INET;
    msgs_[i].msg_hdr.msg_name = &to_[i];
    msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
    msgs_[i].msg_hdr.msg_iov = &iov_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
    rx_msgs_[i].msg_hdr.msg_iov = &rx_iov_[i];
    rx_msgs_[i].msg_hdr.msg_iovlen = 1;
    rx_msgs_[i].msg_hdr.msg_control = rx_control_[i].data();
    rx_msgs_[i].msg_hdr.msg_controllen = rx_control_[i].size();
  }
}

raw_ipv4_port::~raw_ipv4_port() { ::close(fd_); }

std::size_t raw_ipv4_port::receive_batch(packet_batch& batch, std::chrono::milliseconds timeout) noexcept {
  if (receive_protocol_ == 0 || pool_ == nullptr) return 0;
  std::size_t added = 0;
  bool waited = timeout.count() <= 0;
  while (!batch.full()) {
    // Buffers for as many datagrams as the batch has room for.
    std::size_t want = 0;
    while (want < batch.room()) {
      packet_buffer* b = pool_->acquire();
      if (b == nullptr) break;
      const bytes_span room = b->reset();
      rx_buffers_[want] = b;
      rx_iov_[want].iov_base = room.data;
      rx_iov_[want].iov_len = room.size;
      rx_msgs_[want].msg_hdr.msg_flags = 0;
      rx_msgs_[want].msg_hdr.msg_controllen = rx_control_[want].size();
      rx_msgs_[want].msg_len = 0;
      ++want;
    }
    if (want == 0) {
      bump(counters_.rx_no_buffer);  // the socket keeps them queued until buffers come back
      break;
    }
    int n;
    do {
      n = ::recvmmsg(fd_, rx_msgs_.data(), static_cast<unsigned>(want), MSG_DONTWAIT, nullptr);
    } while (n < 0 && errno == EINTR);
    const int err = n < 0 ? errno : 0;
    const std::size_t got = n > 0 ? static_cast<std::size_t>(n) : 0;
    for (std::size_t i = 0; i < got; ++i) {
      packet_buffer* b = rx_buffers_[i];
      const std::size_t len = rx_msgs_[i].msg_len;
      note_kernel_drops(rx_msgs_[i].msg_hdr);
      // Longer than the MTU is fine: the kernel reassembled a datagram that came in fragments
      // (a tunnel datagram whose inner one allowed it). Only what the buffer cut is refused.
      if ((rx_msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0) {
        bump(counters_.rx_oversize);
        pool_->release(b);
        continue;
      }
      if (len < 20 || (static_cast<const std::uint8_t*>(rx_iov_[i].iov_base)[0] >> 4) != 4) {
        bump(counters_.rx_not_ipv4);
        pool_->release(b);
        continue;
      }
      b->set_size(len);
      hand_over(batch, b);
      ++added;
    }
    for (std::size_t i = got; i < want; ++i) pool_->release(rx_buffers_[i]);
    if (n < 0 && err != EAGAIN && err != EWOULDBLOCK) {
      bump(counters_.rx_errors);
      break;
    }
    if (got == want) continue;  // there may be more
    if (added != 0 || waited || !wait_readable(fd_, timeout)) break;
    waited = true;
  }
  return added;
}

void raw_ipv4_port::note_kernel_drops(const msghdr& m) noexcept {
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&m), c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL) continue;
    std::uint32_t dropped = 0;
    std::memcpy(&dropped, CMSG_DATA(c), sizeof dropped);
    // The socket's count since it was opened (it wraps at 2^32): what is new since the last one.
    if (dropped != kernel_drops_seen_) bump(counters_.rx_kernel_drops, dropped - kernel_drops_seen_);
    kernel_drops_seen_ = dropped;
  }
}

std::size_t raw_ipv4_port::send_batch(const packet_batch& batch) noexcept {
  // Messages to send: datagrams too short for a destination address are refused here.
  std::size_t n = 0;
  for (packet_buffer* b : batch) {
    const bytes_view d = b->data();
    if (d.size < 20) {
      bump(counters_.tx_errors);
      continue;
    }
    std::memcpy(&to_[n].sin_addr.s_addr, d.data + 16, 4);  // already network order
    iov_[n].iov_base = const_cast<std::uint8_t*>(d.data);
    iov_[n].iov_len = d.size;
    ++n;
  }
  return send_messages(fd_, msgs_.data(), n, counters_);
}

}  // namespace baton::net
