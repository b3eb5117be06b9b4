#pragma once
// The in-memory port: tests and benchmarks inject datagrams and collect what the loop sent,
// without root and without a kernel. Both directions are preallocated single-producer
// single-consumer queues of byte vectors, so the loop side never allocates.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/io/packet_port.hpp"
#include "net/io/spsc_ring.hpp"

namespace baton::net {

struct memory_port_config {
  std::string name = "mem";
  std::size_t queue_depth = 1024;  // datagrams each direction holds (rounded up to a power of two)
  std::size_t mtu = 1500;          // larger datagrams are refused on receive and on send
};

class memory_port final : public packet_port {
 public:
  /// Receives into buffers from `pool`, which must outlive the port. Throws std::system_error when
  /// the wake-up eventfds cannot be made, std::bad_alloc when memory is short.
  memory_port(buffer_pool& pool, memory_port_config config = {});
  ~memory_port() override;

  // Test side: one injecting thread and one collecting thread (may be the same). -------------
  /// Queues a copy of `packet` for the loop to receive. False when the queue is full. A datagram
  /// larger than the MTU is queued anyway: the port refuses it on receive, as a NIC would.
  bool inject(bytes_view packet) noexcept;
  /// Moves the oldest datagram the loop sent into `out` (replacing its contents). False when none.
  bool collect(std::vector<std::uint8_t>& out);
  /// Waits until a sent datagram is ready to collect or `timeout` passes; true when one is ready.
  bool wait_sent(std::chrono::milliseconds timeout) noexcept;
  /// Makes the port act as a link-layer port: every datagram injected from now on came from
  /// `source` (as an AF_PACKET port reports its frames' source MAC). Call before the loop runs.
  void set_link_source(std::array<std::uint8_t, 6> source) noexcept { link_source_ = source; }
  /// Datagrams injected and not yet received by the loop.
  std::size_t pending_receive() const noexcept { return rx_.size(); }
  /// The next hop the loop gave the last datagram it sent here (has_next_hop), if any. Read it
  /// from the thread that runs the loop (run_once), between turns.
  std::optional<std::array<std::uint8_t, 6>> last_next_hop() const noexcept { return last_next_hop_; }

  // Loop side. --------------------------------------------------------------------------------
  std::size_t receive_batch(packet_batch& batch, std::chrono::milliseconds timeout) noexcept override;
  std::size_t send_batch(const packet_batch& batch) noexcept override;
  const char* backend() const noexcept override { return "memory"; }
  int wait_fd() const noexcept override { return rx_event_; }
  /// Clears the receive eventfd, then says whether datagrams were injected meanwhile.
  bool prepare_wait() noexcept override;

 private:
  buffer_pool& pool_;
  std::optional<std::array<std::uint8_t, 6>> link_source_;
  std::optional<std::array<std::uint8_t, 6>> last_next_hop_;
  spsc_ring<std::vector<std::uint8_t>> rx_;  // test -> loop
  spsc_ring<std::vector<std::uint8_t>> tx_;  // loop -> test
  int rx_event_ = -1;  // eventfd: the loop waits on it
  int tx_event_ = -1;  // eventfd: the collector waits on it
};

}  // namespace baton::net
