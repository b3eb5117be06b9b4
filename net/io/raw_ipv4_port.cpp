#include "net/io/raw_ipv4_port.hpp"
#include "net/io/send_messages.hpp"

#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace baton::net {

raw_ipv4_port::raw_ipv4_port(raw_ipv4_config config)
    : packet_port(std::move(config.name), config.mtu) {
  // IPPROTO_RAW implies IP_HDRINCL and never receives, which is what a send-only port wants.
  fd_ = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_RAW);
  if (fd_ < 0) throw std::system_error(errno, std::system_category(), "socket(SOCK_RAW)");
  const int one = 1;
  if (::setsockopt(fd_, IPPROTO_IP, IP_HDRINCL, &one, sizeof one) < 0 ||
      (!config.bind_interface.empty() &&
       ::setsockopt(fd_, SOL_SOCKET, SO_BINDTODEVICE, config.bind_interface.c_str(),
                    static_cast<socklen_t>(config.bind_interface.size())) < 0)) {
    const int e = errno;
    ::close(fd_);
    throw std::system_error(e, std::system_category(), "raw_ipv4_port setsockopt");
  }
  for (std::size_t i = 0; i < max_batch_size; ++i) {
    to_[i].sin_family = AF_INET;
    msgs_[i].msg_hdr.msg_name = &to_[i];
    msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
    msgs_[i].msg_hdr.msg_iov = &iov_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
  }
}

raw_ipv4_port::~raw_ipv4_port() { ::close(fd_); }

std::size_t raw_ipv4_port::receive_batch(packet_batch&, std::chrono::milliseconds) noexcept {
  return 0;
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
