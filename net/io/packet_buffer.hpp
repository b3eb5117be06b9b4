#pragma once
// Packet buffers with headroom (STYLE habit 6), the pool they come from, and the batch that carries
// them through the loop. Everything is allocated when the pool is made; the data path only moves
// pointers (DESIGN §3: no allocation per packet).
//
// Threading: a pool, its buffers and batches belong to one thread (the packet loop's). Only the
// counters are readable from other threads.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "net/packet/bytes.hpp"

namespace baton::net {

/// Index of a port inside one packet loop.
using port_id = std::uint16_t;

/// One packet: a fixed-size piece of pool storage, of which [offset, offset + size) is the packet.
/// The bytes before the packet are headroom, so an outer header is prepended in place.
class packet_buffer {
 public:
  /// The packet bytes (writable) / read-only.
  bytes_span data() noexcept { return {base_ + offset_, length_}; }
  bytes_view data() const noexcept { return {base_ + offset_, length_}; }
  std::size_t size() const noexcept { return length_; }
  /// Bytes free before / after the packet.
  std::size_t headroom() const noexcept { return offset_; }
  std::size_t tailroom() const noexcept { return capacity_ - offset_ - length_; }

  /// Empties the buffer at the pool's default headroom and returns all room after it, for a
  /// receive call to fill; follow with set_size(bytes received).
  bytes_span reset() noexcept {
    offset_ = default_headroom_;
    length_ = 0;
    return {base_ + offset_, capacity_ - offset_};
  }
  /// Sets the packet length from the current start. False (and no change) beyond the capacity.
  bool set_size(std::size_t n) noexcept {
    if (n > capacity_ - offset_) return false;
    length_ = static_cast<std::uint32_t>(n);
    return true;
  }
  /// reset() and copy `bytes` in. False (buffer left empty) when they do not fit.
  bool assign(bytes_view bytes) noexcept;

  /// Grows the packet by `n` bytes at the front (an in-place prepend) and returns the packet's new
  /// first `n` bytes for the caller to fill. Empty span (and no change) when headroom < n.
  bytes_span push_front(std::size_t n) noexcept {
    if (n > offset_) return {};
    offset_ -= static_cast<std::uint32_t>(n);
    length_ += static_cast<std::uint32_t>(n);
    return {base_ + offset_, n};
  }
  /// Removes `n` bytes from the front (a decapsulation). False (and no change) when n > size().
  bool pull_front(std::size_t n) noexcept {
    if (n > length_) return false;
    offset_ += static_cast<std::uint32_t>(n);
    length_ -= static_cast<std::uint32_t>(n);
    return true;
  }

  /// All the buffer's storage (headroom, packet, tailroom) and where the packet starts in it: for
  /// edits such as ipip_encapsulate() that take a buffer and an offset.
  bytes_span storage() noexcept { return {base_, capacity_}; }
  std::size_t offset() const noexcept { return offset_; }
  /// Makes `packet` (a span inside storage(), as an edit returned it) the packet. False (and no
  /// change) when it is not inside the storage.
  bool set_data(bytes_span packet) noexcept {
    if (packet.data < base_ || packet.data > base_ + capacity_ ||
        packet.size > static_cast<std::size_t>(base_ + capacity_ - packet.data))
      return false;
    offset_ = static_cast<std::uint32_t>(packet.data - base_);
    length_ = static_cast<std::uint32_t>(packet.size);
    return true;
  }

  /// The port this packet arrived on (set by the receiving port).
  port_id in_port = 0;
  /// Where a link-layer port sends this packet: a stage that knows the next hop per packet (a
  /// gateway choosing among backends) sets it; otherwise the port's configured next hop is used.
  std::array<std::uint8_t, 6> next_hop{};
  bool has_next_hop = false;
  /// Link-layer ports: the MAC the frame came from (the client or its router), where an answer to
  /// the datagram's sender goes (ICMP fragmentation needed, packet_loop::emit).
  std::array<std::uint8_t, 6> link_source{};
  bool has_link_source = false;
  /// Link-layer ports: the frame was addressed to this host's own MAC (the kernel takes it too),
  /// as opposed to one seen promiscuously for another MAC (a cluster MAC) or broadcast.
  bool addressed_to_host = false;
  /// The receiving port knows the TCP/UDP checksum is right: the kernel validated it
  /// (TP_STATUS_CSUM_VALID) or the port computed it (TX offload left it partial). The parse
  /// step then does not sum the datagram again.
  bool l4_checksum_known_good = false;

 private:
  friend class buffer_pool;
  std::uint8_t* base_ = nullptr;
  std::uint32_t capacity_ = 0;
  std::uint32_t default_headroom_ = 0;
  std::uint32_t offset_ = 0;
  std::uint32_t length_ = 0;
};

struct buffer_pool_config {
  std::size_t count = 4096;     // buffers
  std::size_t headroom = 128;   // bytes before the packet: room for outer headers (IP-in-IP: 20)
  std::size_t data_size = 2048; // bytes for the packet itself: an Ethernet MTU with room to spare
};

/// A fixed number of fixed-size buffers allocated at construction.
class buffer_pool {
 public:
  /// Allocates count * (headroom + data_size) bytes. Throws std::invalid_argument for a zero
  /// count or data_size, std::bad_alloc when the memory is not there.
  explicit buffer_pool(const buffer_pool_config& config);
  buffer_pool(const buffer_pool&) = delete;
  buffer_pool& operator=(const buffer_pool&) = delete;

  /// A free buffer, reset (empty at default headroom); nullptr when none is left, which is counted
  /// in exhausted(). The caller owns the buffer until release().
  packet_buffer* acquire() noexcept;
  /// Gives a buffer from this pool back. Releasing a foreign or already free buffer is a bug.
  void release(packet_buffer* buffer) noexcept;

  std::size_t capacity() const noexcept { return buffers_.size(); }
  std::size_t available() const noexcept { return free_count_.load(std::memory_order_relaxed); }
  /// Times acquire() found the pool empty. Readable from any thread.
  std::uint64_t exhausted() const noexcept { return exhausted_.load(std::memory_order_relaxed); }
  std::size_t headroom() const noexcept { return config_.headroom; }
  std::size_t data_size() const noexcept { return config_.data_size; }

 private:
  buffer_pool_config config_;
  std::unique_ptr<std::uint8_t[]> storage_;
  std::vector<packet_buffer> buffers_;
  std::vector<packet_buffer*> free_;  // a stack: the most recently used buffer is warm in cache
  std::atomic<std::size_t> free_count_{0};
  std::atomic<std::uint64_t> exhausted_{0};
};

/// Most packets one batch holds.
inline constexpr std::size_t max_batch_size = 64;

/// A run of buffers moved through the loop together. Does not own the buffers.
class packet_batch {
 public:
  /// A batch that holds at most `capacity` (clipped to 1..max_batch_size) packets.
  explicit packet_batch(std::size_t capacity = max_batch_size) noexcept
      : capacity_(capacity == 0 ? 1 : (capacity < max_batch_size ? capacity : max_batch_size)) {}

  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t room() const noexcept { return capacity_ - size_; }
  bool empty() const noexcept { return size_ == 0; }
  bool full() const noexcept { return size_ == capacity_; }
  /// Appends; false when full.
  bool push(packet_buffer* b) noexcept {
    if (size_ == capacity_) return false;
    items_[size_++] = b;
    return true;
  }
  packet_buffer* operator[](std::size_t i) const noexcept { return items_[i]; }
  void clear() noexcept { size_ = 0; }
  packet_buffer* const* begin() const noexcept { return items_.data(); }
  packet_buffer* const* end() const noexcept { return items_.data() + size_; }

 private:
  std::array<packet_buffer*, max_batch_size> items_{};
  std::size_t size_ = 0;
  std::size_t capacity_;
};

/// Adds to a counter that has one writing thread and any number of readers: a relaxed load and
/// store instead of a locked read-modify-write.
inline void bump(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace baton::net
