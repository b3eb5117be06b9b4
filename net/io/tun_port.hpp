#pragma once
// A TUN device as a port (DESIGN §3): routed traffic stolen by pointing a prefix at the device,
// and local delivery of decapsulated datagrams by writing them into it. IFF_TUN | IFF_NO_PI, so
// every read and write is exactly one IPv4 datagram. Batches are non-blocking read loops; the
// loop polls the descriptor when idle.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "net/io/packet_port.hpp"

namespace baton::net {

struct tun_port_config {
  std::string name = "baton%d";  // interface name; a %d lets the kernel pick the number
  std::size_t mtu = 1500;        // set on the device; longer reads are refused as oversize
  bool bring_up = true;          // set IFF_UP (addresses and routes are the caller's business)
  /// Datagrams the kernel queues for the reader before it drops (the device's txqueuelen; the
  /// default 500 is 6 ms at line rate on a 1 Gbit/s link of 1500-byte datagrams).
  int queue_length = 4096;
};

class link_counters;

class tun_port final : public packet_port {
 public:
  /// Opens /dev/net/tun in the caller's network namespace and creates (or attaches to) the
  /// device. Throws std::system_error (needs CAP_NET_ADMIN), std::invalid_argument for a name
  /// longer than IFNAMSIZ - 1 or an MTU the pool's buffers cannot hold.
  tun_port(buffer_pool& pool, tun_port_config config);
  ~tun_port() override;

  /// The name the kernel gave the device (the %d filled in).
  const std::string& interface_name() const noexcept { return name(); }

  /// Reads until the batch is full, the device has nothing more, or the pool is empty. IPv6 and
  /// other non-IPv4 reads are refused (rx_not_ipv4).
  std::size_t receive_batch(packet_batch& batch, std::chrono::milliseconds timeout) noexcept override;
  /// One write per datagram; a failed write is a tx_error.
  std::size_t send_batch(const packet_batch& batch) noexcept override;
  const char* backend() const noexcept override { return "tun"; }
  int wait_fd() const noexcept override { return fd_; }
  /// Adds what the kernel dropped since the last call (the device's tx_dropped: its queue for
  /// this reader was full) to rx_kernel_drops. The loop's thread; receive_batch calls it when
  /// the device is drained, at most every 100 ms.
  void read_kernel_drops() noexcept;

 private:
  struct opened {
    int fd;
    std::string name;
  };
  static opened open_device(const tun_port_config& config);
  tun_port(buffer_pool& pool, const tun_port_config& config, opened device);

  buffer_pool& pool_;
  int fd_ = -1;
  std::unique_ptr<link_counters> kernel_;  // null when the kernel's counters cannot be read
  std::uint64_t kernel_drops_seen_ = 0;
  std::int64_t drops_read_ns_ = 0;
};

}  // namespace baton::net
