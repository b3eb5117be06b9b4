#pragma once
// Raw IPv4 send (SOCK_RAW, IP_HDRINCL): datagrams leave through the kernel's routing and
// neighbour resolution, headers exactly as the loop built them (DESIGN §3 "steal routed traffic:
// ... send out with a raw socket"). Send-only: receive_batch() returns nothing and wait_fd() is -1.
//
// With IP_HDRINCL the kernel still fills in a zero identification and always recomputes the
// header checksum; everything else is sent as given.

#include <array>
#include <chrono>
#include <string>

#include <netinet/in.h>
#include <sys/socket.h>

#include "net/io/packet_port.hpp"

namespace baton::net {

struct raw_ipv4_config {
  std::string name = "raw";
  std::string bind_interface;  // empty: the routing table chooses; else SO_BINDTODEVICE
  std::size_t mtu = 1500;      // larger datagrams are refused by the loop (oversize)
};

class raw_ipv4_port final : public packet_port {
 public:
  /// Opens the socket in the caller's network namespace. Throws std::system_error (needs
  /// CAP_NET_RAW; the interface must exist when one is named).
  explicit raw_ipv4_port(raw_ipv4_config config);
  ~raw_ipv4_port() override;

  /// Never receives: returns 0 at once.
  std::size_t receive_batch(packet_batch& batch, std::chrono::milliseconds timeout) noexcept override;
  /// sendmmsg, each datagram to its own IPv4 destination. A refused message (no route, EMSGSIZE,
  /// a datagram too short to hold an IPv4 header) is skipped and counted; when the socket buffer
  /// is full the rest of the batch is counted as tx_errors.
  std::size_t send_batch(const packet_batch& batch) noexcept override;
  int wait_fd() const noexcept override { return -1; }

 private:
  int fd_ = -1;
  std::array<sockaddr_in, max_batch_size> to_{};
  std::array<mmsghdr, max_batch_size> msgs_{};
  std::array<iovec, max_batch_size> iov_{};
};

}  // namespace baton::net
