#pragma once
// The packet source/sink the loop is built on (STYLE habit 2): one interface, with TUN, AF_PACKET,
// raw IPv4 and in-memory implementations, injected into the packet loop so every stage is
// testable without root.
//
// Every port hands IPv4 datagrams (no link header) to the loop and takes IPv4 datagrams from it.
// A port is used by one thread (the loop's) once the loop has started; stats() is readable from
// any thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "net/io/counter_list.hpp"
#include "net/io/packet_buffer.hpp"

namespace baton::net {

/// One port's counters, declared once (net/io/counter_list.hpp).
#define BATON_PORT_COUNTERS(COUNTER, GAUGE)                                                  \
  COUNTER(rx_packets, "datagrams handed to the loop")                                        \
  COUNTER(rx_bytes, "bytes handed to the loop")                                              \
  COUNTER(rx_oversize, "refused: larger than the MTU (GRO/GSO) or cut by the ring")         \
  COUNTER(rx_not_ipv4, "refused: not an IPv4 datagram (e.g. IPv6 read from a TUN)")         \
  COUNTER(rx_no_buffer, "receive stopped short because the pool was empty")                 \
  COUNTER(rx_kernel_drops, "datagrams the kernel dropped for want of ring or socket buffer space") \
  COUNTER(xdp_rx_ring_full, "AF_XDP: frames dropped because the RX ring was full (also in rx_kernel_drops)") \
  COUNTER(xdp_fill_ring_empty, "AF_XDP: times the kernel found the fill ring empty")          \
  COUNTER(xdp_tx_ring_empty, "AF_XDP: times the kernel found the TX ring empty when woken")    \
  COUNTER(xdp_invalid_descs, "AF_XDP: RX and TX descriptors the kernel refused as invalid")   \
  COUNTER(xdp_arp_answered, "AF_XDP: ARP requests for the interface's address the port answered") \
  COUNTER(rx_errors, "failed receive system calls")                                         \
  COUNTER(csum_finished, "TCP/UDP checksums completed for frames sent with offload")        \
  COUNTER(tx_packets, "datagrams sent")                                                      \
  COUNTER(tx_bytes, "bytes sent")                                                            \
  COUNTER(tx_errors, "datagrams the kernel or queue did not take")

/// A copy of one port's counters.
BATON_COUNTER_STRUCT(port_stats, BATON_PORT_COUNTERS)

/// The live counters behind port_stats: written by the loop thread only, read relaxed by anyone.
BATON_LIVE_COUNTER_STRUCT(port_counters, port_stats, BATON_PORT_COUNTERS)

class packet_port {
 public:
  virtual ~packet_port() = default;

  /// Moves up to batch.room() received datagrams into `batch`, each in a buffer taken from the
  /// port's pool and tagged with in_port(); the caller owns them from then on and gives them back
  /// to that pool. Waits at most `timeout` for the first datagram (zero: does not wait). Returns
  /// how many were added. Never throws; failures and refusals are counted in stats().
  virtual std::size_t receive_batch(packet_batch& batch, std::chrono::milliseconds timeout) noexcept = 0;

  /// Sends the datagrams of `batch` in order. Returns how many the kernel (or queue) took; the rest
  /// are counted as tx_errors. Buffers stay owned by the caller. Never throws.
  virtual std::size_t send_batch(const packet_batch& batch) noexcept = 0;

  /// A descriptor that polls readable when receive_batch() may find datagrams, or -1 for a port
  /// that only sends. Owned by the port.
  virtual int wait_fd() const noexcept = 0;

  /// Called by the loop before it sleeps on wait_fd(): re-arms a level-triggered wake-up (an
  /// eventfd) and returns true when datagrams are already waiting, so the loop must not sleep.
  /// Ports whose descriptor is readable exactly while data waits keep the default.
  virtual bool prepare_wait() noexcept { return false; }
  /// Whether the port sends IPv4 datagrams through the kernel's routing (any destination can be
  /// reached through it): the loop answers a tunnel datagram too long for it with an ICMP error.
  virtual bool routes_by_address() const noexcept { return false; }

  /// The kind of socket or device behind the port ("af_packet", "af_xdp", "tun", ...).
  virtual const char* backend() const noexcept { return "other"; }
  /// Why this port is not what the policy asked for (an AF_XDP socket the kernel refused, so
  /// AF_PACKET serves instead); empty when it is. Set before the loop starts, constant after.
  const std::string& fallback_reason() const noexcept { return fallback_reason_; }
  void set_fallback_reason(std::string reason) { fallback_reason_ = std::move(reason); }

  /// Largest datagram the port sends or accepts; bigger ones are refused and counted.
  std::size_t mtu() const noexcept { return mtu_; }
  const std::string& name() const noexcept { return name_; }
  /// The id the loop gave this port (stamped on received buffers).
  port_id id() const noexcept { return id_; }
  void set_id(port_id id) noexcept { id_ = id; }
  port_stats stats() const noexcept { return counters_.snapshot(); }

 protected:
  packet_port(std::string name, std::size_t mtu) : name_(std::move(name)), mtu_(mtu) {}
  /// For receive_batch(): tags a received datagram (its size set) with this port, adds it to
  /// `batch` and counts it.
  void hand_over(packet_batch& batch, packet_buffer* b) noexcept {
    b->in_port = id_;
    batch.push(b);
    bump(counters_.rx_packets);
    bump(counters_.rx_bytes, b->size());
  }
  port_counters counters_;

 private:
  std::string name_;
  std::string fallback_reason_;
  std::size_t mtu_;
  port_id id_ = 0;
};

/// Waits until `fd` is readable or `timeout` passes; true when readable. For ports' blocking receive.
bool wait_readable(int fd, std::chrono::milliseconds timeout) noexcept;

/// Reads and discards an eventfd's count (non-blocking descriptor); used to re-arm a wake-up.
void drain_eventfd(int fd) noexcept;
/// Adds one to an eventfd's count, waking anyone polling it.
void signal_eventfd(int fd) noexcept;

}  // namespace baton::net
