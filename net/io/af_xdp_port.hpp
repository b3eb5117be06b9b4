#pragma once
// An interface as a port through an AF_XDP socket (issue 15's fast path), beside AF_PACKET.
//
// libxdp (Debian's libxdp-dev) makes the UMEM and the socket and attaches its default XDP
// program (xsk_def_xdp_prog: every frame of the bound queue is redirected to the socket when one
// is bound, XDP_PASS otherwise), in native (driver) mode, copy mode. Zero copy needs driver
// support that veth does not have.
//
// Frames and buffers. The UMEM holds `frame_count` frames of `frame_size` bytes: half stay on the
// fill ring for the kernel to receive into, half carry outgoing frames. A received frame is copied
// into a pool buffer (at the pool's headroom, so IP-in-IP encapsulation prepends in place) and its
// frame goes straight back to the fill ring; a datagram to send is copied behind an Ethernet
// header into a free TX frame. One copy each way, as AF_PACKET's receive; nothing is allocated per
// packet. (Receiving into pool buffers directly would need the pool to live in the UMEM.)
//
// Link layer. The port strips the Ethernet header on receive and builds it on send (to the
// configured or per-packet next-hop MAC, from the interface's MAC). The XDP program takes every
// frame, ARP included, away from the kernel: the port answers ARP requests for the interface's own
// IPv4 address itself (xdp_arp_answered), so peers keep resolving it; ARP replies and other non-IPv4
// frames are counted (rx_not_ipv4) and dropped. The kernel's own neighbour resolution on the
// interface stops working while the socket is bound: the next hop MAC is resolved before.
//
// Kernel drops (XDP_STATISTICS) are read every 256 receive calls (every 32 when idle, a system
// call each): rx_dropped (no fill frame) and rx_ring_full go to rx_kernel_drops (rx_ring_full also to xdp_rx_ring_full),
// fill-ring-empty and TX-ring-empty events and invalid descriptors to their xdp_* counters.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "net/io/af_packet_port.hpp"
#include "net/io/interface.hpp"
#include "net/io/packet_port.hpp"

namespace baton::net {

struct af_xdp_config {
  std::string interface;             // bound by name in the caller's network namespace
  std::size_t mtu = 0;               // 0: the interface's MTU
  mac_address next_hop{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};  // destination MAC for sent frames
  std::uint32_t queue = 0;           // the device queue to bind (veth: 0)
  std::size_t frame_count = 8192;    // UMEM frames (16 MiB), half for receive, half for send
  std::size_t frame_size = 2048;     // a power of two; must hold the kernel's 256-byte XDP headroom,
                                     // an Ethernet header and the MTU
  std::size_t ring_size = 4096;      // rx, tx, fill and completion rings (a power of two)
  bool native = true;                // XDP_FLAGS_DRV_MODE; false: generic (SKB) mode
  bool promiscuous = false;          // IFF_PROMISC while the port is open (frames for other MACs)
  bool answer_arp = true;            // answer ARP requests for the interface's IPv4 address
};

class af_xdp_port final : public packet_port {
 public:
  /// Makes the UMEM and the socket and attaches libxdp's program. Throws std::system_error with
  /// the errno of the step that failed (its text names the step: "xsk_socket__create", ...),
  /// std::invalid_argument for a geometry the MTU does not fit.
  af_xdp_port(buffer_pool& pool, af_xdp_config config);
  ~af_xdp_port() override;

  std::size_t receive_batch(packet_batch& batch, std::chrono::milliseconds timeout) noexcept override;
  /// Copies each datagram behind an Ethernet header into a free TX frame and kicks the kernel
  /// (sendto); when no frame or ring slot is free, the rest is counted as tx_errors.
  std::size_t send_batch(const packet_batch& batch) noexcept override;
  const char* backend() const noexcept override { return "af_xdp"; }
  int wait_fd() const noexcept override { return fd_; }

 private:
  struct rings;
  void read_kernel_stats() noexcept;
  void reap_completions() noexcept;
  void kick_tx() noexcept;
  bool answer_arp(const std::uint8_t* frame, std::size_t length) noexcept;

  buffer_pool& pool_;
  af_xdp_config config_;
  std::unique_ptr<rings> r_;
  int fd_ = -1;
  int ifindex_ = 0;
  mac_address own_mac_{};
  std::uint32_t own_address_ = 0;  // network byte order; 0: none (no ARP answers)
  bool promisc_set_ = false;
  std::uint32_t calls_since_stats_ = 0;
};

/// What open_af_xdp_or_packet() opened.
struct opened_port {
  std::unique_ptr<packet_port> port;
  std::string fallback_reason;  // empty: AF_XDP; else why AF_PACKET serves instead
};

/// Opens an AF_XDP port; when the kernel, the driver or the permissions refuse one (or the MTU
/// does not fit its frames), an AF_PACKET port on the same interface with the same next hop and
/// promiscuity, whose fallback_reason() says why ("af_xdp refused on eth0: xsk_socket__create:
/// Operation not supported"). Throws only when AF_PACKET fails too.
opened_port open_af_xdp_or_packet(buffer_pool& pool, const af_xdp_config& xdp,
                                  const af_packet_config& packet);

}  // namespace baton::net
