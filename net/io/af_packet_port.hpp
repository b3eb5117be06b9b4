#pragma once
// An interface as a port through AF_PACKET (DESIGN §3): receive from a TPACKET_V3 ring (mmap'ed
// blocks the kernel fills and hands over whole), send with sendmmsg.
//
// The socket is SOCK_DGRAM receiving IPv4: the kernel strips the link header on receive and builds
// it on send (to the configured next-hop MAC), so the loop sees IPv4 datagrams only, as from the
// other ports.
//
// Why sendmmsg rather than a TX ring: the datagram to send already sits in a pool buffer (with
// the headroom the encapsulation used), so a TX ring would cost one more copy per packet into its
// frames plus a status protocol and a send() kick; sendmmsg points iovecs at the pool buffers and
// hands a whole batch over in one system call, and reports which message failed.
//
// Offloads (DESIGN §3): a frame captured from a veth whose sender uses TX checksum offload
// arrives with TP_STATUS_CSUMNOTREADY and only the pseudo-header sum in its TCP/UDP checksum: the
// port finishes the checksum before the datagram goes anywhere (csum_finished). With GRO/GSO the
// ring sees frames larger than the MTU: the port refuses them (rx_oversize); turn GRO off on the
// link where that matters. The kernel's own outgoing frames on the interface are ignored
// (PACKET_IGNORE_OUTGOING), so a forwarder does not take its own output as input.
//
// The socket is a tap (ETH_P_ALL, with a kernel filter that keeps IPv4 only), so it sees frames
// before tc and nftables ingress hooks: a node that steals traffic can drop it at ingress (nft
// netdev family) and its own stack never touches it, while the ring still receives it.

#include <array>
#include <chrono>
#include <string>

#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "net/io/interface.hpp"
#include "net/io/packet_port.hpp"

namespace baton::net {

struct af_packet_config {
  std::string interface;              // bound by name in the caller's network namespace
  std::size_t mtu = 0;                // 0: the interface's MTU
  mac_address next_hop{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};  // destination MAC for sent frames
  bool receive = true;                // false: a send-only port (no ring)
  std::size_t block_size = 1 << 18;   // ring block, a power-of-two multiple of the page size
  std::size_t block_count = 16;
  std::chrono::milliseconds block_timeout{2};  // the kernel hands over a part-filled block after this
  bool promiscuous = false;           // shared segment: see frames for other MACs (cluster VIP)
  bool ignore_outgoing = true;        // PACKET_IGNORE_OUTGOING
  bool qdisc_bypass = false;          // PACKET_QDISC_BYPASS: faster, but skips tc shaping
};

class af_packet_port final : public packet_port {
 public:
  /// Opens and binds the socket, sets up and maps the ring. Throws std::system_error (needs
  /// CAP_NET_RAW; the interface must exist), std::invalid_argument for a bad ring geometry or an
  /// MTU the pool's buffers cannot hold.
  af_packet_port(buffer_pool& pool, af_packet_config config);
  ~af_packet_port() override;

  /// Copies frames out of ready ring blocks into pool buffers (so blocks go back to the kernel
  /// at once and the datagram gets headroom). Refuses oversize and cut frames; finishes
  /// unfinished checksums; counts kernel drops reported by the ring.
  std::size_t receive_batch(packet_batch& batch, std::chrono::milliseconds timeout) noexcept override;
  /// sendmmsg to the next-hop MAC; a message the kernel refuses is skipped and counted, and when
  /// the socket buffer is full the rest of the batch is counted as tx_errors.
  std::size_t send_batch(const packet_batch& batch) noexcept override;
  const char* backend() const noexcept override { return "af_packet"; }
  int wait_fd() const noexcept override { return config_.receive ? fd_ : -1; }

  int interface_index() const noexcept { return ifindex_; }

  /// Keeps the frames addressed to this host's own MAC (PACKET_HOST) out of the ring as well, in
  /// the kernel's filter: for a role that never takes them (a cluster member in a cluster-MAC
  /// mode, whose shared segment also carries its own group links), so the loop is not woken for
  /// them (issue 15). Throws std::system_error when the filter cannot be attached. No-op on a
  /// send-only port.
  void drop_frames_to_host();

 private:
  void release_block() noexcept;
  void attach_filter(bool drop_to_host);
  void read_kernel_drops() noexcept;

  buffer_pool& pool_;
  af_packet_config config_;
  int fd_ = -1;
  int ifindex_ = 0;
  std::uint8_t* ring_ = nullptr;
  std::size_t ring_size_ = 0;
  // Receive cursor: a block may be consumed over several calls when batches are small.
  std::size_t block_ = 0;          // current block index
  std::uint32_t left_in_block_ = 0;  // packets not yet taken from the current block
  const std::uint8_t* next_frame_ = nullptr;
  // Send scratch, sized once.
  sockaddr_ll to_{};
  std::array<sockaddr_ll, max_batch_size> to_each_{};  // per-packet next hops (has_next_hop)
  std::array<mmsghdr, max_batch_size> msgs_{};
  std::array<iovec, max_batch_size> iov_{};
};

}  // namespace baton::net
