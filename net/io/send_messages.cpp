#include "net/io/send_messages.hpp"

#include <cerrno>

namespace baton::net {

std::size_t send_messages(int fd, mmsghdr* msgs, std::size_t n, port_counters& counters) noexcept {
  std::size_t i = 0, sent = 0;
  while (i < n) {
    const int r = ::sendmmsg(fd, &msgs[i], static_cast<unsigned>(n - i), MSG_DONTWAIT);
    if (r > 0) {
      for (int k = 0; k < r; ++k) bump(counters.tx_bytes, msgs[i + k].msg_hdr.msg_iov->iov_len);
      i += static_cast<std::size_t>(r);
      sent += static_cast<std::size_t>(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      bump(counters.tx_errors, n - i);  // the device queue is full: the rest is lost
      break;
    }
    bump(counters.tx_errors);  // this message is refused (e.g. EMSGSIZE); go on with the next
    ++i;
  }
  bump(counters.tx_packets, sent);
  return sent;
}

}  // namespace baton::net
