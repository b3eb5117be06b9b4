// NETLINK_SOCK_DIAG inet_diag dumps of TCP sockets. See sock_diag.hpp.

#include "actors/slr/sock_diag.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace baton::slr {

namespace {

constexpr std::uint8_t tcp_established = 1;  // TCP_ESTABLISHED in the kernel's numbering

// Netlink aligns messages and attributes to 4 bytes.
constexpr std::size_t align4(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

// The tcp_info prefix we read must be present; older kernels send shorter structs.
constexpr std::size_t info_needed = offsetof(struct tcp_info, tcpi_last_ack_recv) + sizeof(std::uint32_t);

void read_info(net::bytes_view payload, tcp_socket& s) {
  if (payload.size < info_needed) return;
  struct tcp_info info;
  std::memset(&info, 0, sizeof info);
  std::memcpy(&info, payload.data, payload.size < sizeof info ? payload.size : sizeof info);
  s.has_info = true;
  s.unacked = info.tcpi_unacked;
  s.last_ack_recv_ms = info.tcpi_last_ack_recv;
  s.retransmits = info.tcpi_retransmits;
  s.probes = info.tcpi_probes;
}

}  // namespace

diag_parse_result parse_inet_diag(net::bytes_view buffer, std::vector<tcp_socket>& out) {
  diag_parse_result result;
  std::size_t offset = 0;
  while (offset < buffer.size) {
    net::bytes_view rest = buffer.sub(offset);
    struct nlmsghdr h;
    if (rest.size < sizeof h) {
      result.status = net::parse_status::truncated;
      return result;
    }
    std::memcpy(&h, rest.data, sizeof h);
    if (h.nlmsg_len < sizeof h || h.nlmsg_len > rest.size) {
      result.status = net::parse_status::truncated;
      return result;
    }
    net::bytes_view payload = rest.sub(sizeof h, h.nlmsg_len - sizeof h);
    if (h.nlmsg_type == NLMSG_DONE) {
      result.done = true;
      return result;
    }
    if (h.nlmsg_type == NLMSG_ERROR) {
      struct nlmsgerr e;
      if (payload.size < sizeof e.error) {
        result.status = net::parse_status::truncated;
        return result;
      }
      std::memcpy(&e.error, payload.data, sizeof e.error);
      result.error = e.error < 0 ? -e.error : e.error;
      result.done = true;  // an error ends the dump; error 0 is an acknowledgement
      return result;
    }
    if (h.nlmsg_type == SOCK_DIAG_BY_FAMILY) {
      struct inet_diag_msg m;
      if (payload.size < sizeof m) {
        result.status = net::parse_status::truncated;
        return result;
      }
      std::memcpy(&m, payload.data, sizeof m);
      if (m.idiag_family == AF_INET) {
        tcp_socket s;
        s.local_address = ntohl(m.id.idiag_src[0]);
        s.local_port = ntohs(m.id.idiag_sport);
        s.remote_address = ntohl(m.id.idiag_dst[0]);
        s.remote_port = ntohs(m.id.idiag_dport);
        s.state = m.idiag_state;
        // Attributes (struct rtattr: u16 length, u16 type, payload) follow the message.
        std::size_t at = align4(sizeof m);
        while (at + 4 <= payload.size) {
          std::uint16_t len, type;
          std::memcpy(&len, payload.data + at, 2);
          std::memcpy(&type, payload.data + at + 2, 2);
          if (len < 4 || len > payload.size - at) {
            result.status = net::parse_status::truncated;
            return result;
          }
          if (type == INET_DIAG_INFO) read_info(payload.sub(at + 4, len - 4u), s);
          at += align4(len);
        }
        out.push_back(s);
      }
    }
    offset += align4(h.nlmsg_len);
  }
  return result;
}

std::vector<tcp_socket> dump_tcp_sockets(std::uint32_t state_mask, bool with_info) {
  int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket(NETLINK_SOCK_DIAG)");
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_fd{fd};

  struct {
    struct nlmsghdr h;
    struct inet_diag_req_v2 r;
  } request;
  std::memset(&request, 0, sizeof request);
  request.h.nlmsg_len = sizeof request;
  request.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  request.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.h.nlmsg_seq = 1;
  request.r.sdiag_family = AF_INET;
  request.r.sdiag_protocol = IPPROTO_TCP;
  request.r.idiag_states = state_mask;
  if (with_info) request.r.idiag_ext = 1u << (INET_DIAG_INFO - 1);
  struct sockaddr_nl kernel;
  std::memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, &request, sizeof request, 0, reinterpret_cast<struct sockaddr*>(&kernel),
               sizeof kernel) < 0)
    throw std::system_error(errno, std::generic_category(), "sendto(NETLINK_SOCK_DIAG)");

  std::vector<tcp_socket> out;
  // 32 KiB holds many messages; the kernel never splits one message across reads.
  std::vector<std::uint8_t> buffer(32768);
  for (;;) {
    ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "recv(NETLINK_SOCK_DIAG)");
    }
    if (n == 0) throw std::runtime_error("sock_diag: the kernel closed the dump early");
    diag_parse_result r = parse_inet_diag(net::bytes_view(buffer.data(), static_cast<std::size_t>(n)), out);
    if (r.status != net::parse_status::ok)
      throw std::runtime_error(std::string("sock_diag: malformed answer: ") + net::to_string(r.status));
    if (r.error != 0) throw std::system_error(r.error, std::generic_category(), "sock_diag dump");
    if (r.done) return out;
  }
}

std::vector<std::size_t> count_established(const std::vector<subnet>& virtual_subnets) {
  std::vector<std::size_t> counts(virtual_subnets.size(), 0);
  for (const auto& s : dump_tcp_sockets(1u << tcp_established, false)) {
    if (s.state != tcp_established) continue;
    for (std::size_t i = 0; i < virtual_subnets.size(); ++i)
      if (virtual_subnets[i].contains(s.local_address)) ++counts[i];
  }
  return counts;
}

bool is_stalled(const tcp_socket& s, std::chrono::milliseconds no_ack_for) noexcept {
  if (s.state != tcp_established || !s.has_info) return false;
  if (static_cast<std::int64_t>(s.last_ack_recv_ms) <= no_ack_for.count()) return false;
  return (s.unacked > 0 && s.retransmits > 0) || s.probes > 0;
}

std::vector<stalled_flow> stalled_flows(const std::vector<subnet>& virtual_subnets,
                                        std::chrono::milliseconds no_ack_for) {
  std::vector<stalled_flow> out;
  for (const auto& s : dump_tcp_sockets(1u << tcp_established, true)) {
    bool ours = false;
    for (const auto& net : virtual_subnets) ours = ours || net.contains(s.local_address);
    if (!ours || !is_stalled(s, no_ack_for)) continue;
    out.push_back({s.local_address, s.local_port, s.remote_address, s.remote_port, s.unacked,
                   s.last_ack_recv_ms, s.retransmits});
  }
  return out;
}

}  // namespace baton::slr
