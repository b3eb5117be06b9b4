#pragma once
// Raw IPv4 (SOCK_RAW, IP_HDRINCL): datagrams leave through the kernel's routing and neighbour
// resolution, headers exactly as the loop built them (DESIGN §3 "steal routed traffic: ... send
// out with a raw socket").
//
// Optionally the port also receives one IP protocol (receive_protocol): the socket is then
// SOCK_RAW of that protocol and receive_batch() reads whole IPv4 datagrams, outer header
// included, as the kernel delivers them to local addresses. The use is IP-in-IP (protocol 4):
// this kernel has no ipip module, so tunnels end in user space (an SLR's tunnel_in, a host
// agent); and while a raw IPPROTO_IPIP socket is open the kernel no longer answers IP-in-IP
// datagrams with ICMP protocol-unreachable (a raw socket counts as a handler for the protocol).
// With receive_protocol 0 the port is send-only: receive_batch() returns nothing, wait_fd() is -1.
//
// With IP_HDRINCL the kernel still fills in a zero identification and always recomputes the
// header checksum; everything else is sent as given (whatever the socket's own protocol is).

#include <array>
#include <cstdint>
#include <chrono>
#include <string>

#include <netinet/in.h>
#include <sys/socket.h>

#include "net/io/packet_port.hpp"

namespace baton::net {

/// The receive buffer a receiving raw socket asks for: 4 MiB, some 2,800 full-size datagrams (a
/// 10 ms stall of the loop at 2 Gbit/s).
inline constexpr int raw_receive_buffer_bytes = 4 << 20;

struct raw_ipv4_config {
  std::string name = "raw";
  std::string bind_interface;  // empty: the routing table chooses; else SO_BINDTODEVICE (which
                               // also limits receiving to datagrams that came in on it)
  std::size_t mtu = 1500;      // larger datagrams leave in fragments (DF clear) or are refused by the
                               // loop (oversize); received ones may be longer (reassembled)
  int receive_protocol = 0;    // 0: send-only; 1..254: also receive this IP protocol (4: IP-in-IP)
};

class raw_ipv4_port final : public packet_port {
 public:
  /// A send-only port (config.receive_protocol must be 0). Opens the socket in the caller's
  /// network namespace. Throws std::system_error (needs CAP_NET_RAW; the interface must exist
  /// when one is named), std::invalid_argument when receive_protocol is not 0.
  explicit raw_ipv4_port(raw_ipv4_config config);
  /// A port that receives config.receive_protocol (or sends only, when it is 0) into buffers from
  /// `pool`, which must outlive the port. Throws std::system_error as above,
  /// std::invalid_argument for a receive_protocol outside [0, 254] or an MTU the pool's buffers
  /// cannot hold.
  raw_ipv4_port(buffer_pool& pool, raw_ipv4_config config);
  ~raw_ipv4_port() override;

  /// Receiving ports: recvmmsg into pool buffers, without blocking; when nothing is there and
  /// `timeout` > 0, waits once for the socket to become readable. Datagrams longer than the MTU
  /// or cut by the buffer are refused (rx_oversize); a pool running dry stops the batch
  /// (rx_no_buffer; the kernel keeps the rest queued). Send-only ports return 0 at once.
  std::size_t receive_batch(packet_batch& batch, std::chrono::milliseconds timeout) noexcept override;
  /// sendmmsg, each datagram to its own IPv4 destination. A refused message (no route, EMSGSIZE,
  /// a datagram too short to hold an IPv4 header) is skipped and counted; when the socket buffer
  /// is full the rest of the batch is counted as tx_errors.
  std::size_t send_batch(const packet_batch& batch) noexcept override;
  /// The socket when receiving, else -1.
  const char* backend() const noexcept override { return "raw"; }
  int wait_fd() const noexcept override { return receive_protocol_ != 0 ? fd_ : -1; }

  bool routes_by_address() const noexcept override { return true; }

  /// The protocol received (0: send-only).
  int receive_protocol() const noexcept { return receive_protocol_; }

 private:
  void init_messages() noexcept;
  void note_kernel_drops(const msghdr& m) noexcept;

  buffer_pool* pool_ = nullptr;
  int receive_protocol_ = 0;
  int fd_ = -1;
  std::array<sockaddr_in, max_batch_size> to_{};
  std::array<mmsghdr, max_batch_size> msgs_{};
  std::array<iovec, max_batch_size> iov_{};
  // Receive side: separate headers so a send never sees a receive's lengths and flags.
  std::array<mmsghdr, max_batch_size> rx_msgs_{};
  std::array<iovec, max_batch_size> rx_iov_{};
  std::array<packet_buffer*, max_batch_size> rx_buffers_{};
  std::array<std::array<char, CMSG_SPACE(sizeof(std::uint32_t))>, max_batch_size> rx_control_{};
  std::uint32_t kernel_drops_seen_ = 0;  // the socket's SO_RXQ_OVFL count last seen
};

}  // namespace baton::net
