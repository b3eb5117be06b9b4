#include "net/io/packet_buffer.hpp"

#include <cstring>
#include <stdexcept>

namespace baton::net {

bool packet_buffer::assign(bytes_view bytes) noexcept {
  bytes_span room = reset();
  if (bytes.size > room.size) return false;
  if (bytes.size != 0) std::memcpy(room.data, bytes.data, bytes.size);
  length_ = static_cast<std::uint32_t>(bytes.size);
  return true;
}

buffer_pool::buffer_pool(const buffer_pool_config& config) : config_(config) {
  if (config.count == 0 || config.data_size == 0)
    throw std::invalid_argument("buffer_pool: count and data_size must be non-zero");
  const std::size_t stride = config.headroom + config.data_size;
  if (stride > UINT32_MAX) throw std::invalid_argument("buffer_pool: buffer too large");
  storage_.reset(new std::uint8_t[stride * config.count]);
  buffers_.resize(config.count);
  free_.reserve(config.count);
  for (std::size_t i = 0; i < config.count; ++i) {
    packet_buffer& b = buffers_[i];
    b.base_ = storage_.get() + i * stride;
    b.capacity_ = static_cast<std::uint32_t>(stride);
    b.default_headroom_ = static_cast<std::uint32_t>(config.headroom);
    b.reset();
  }
  // Pushed in reverse so the first acquire() hands out buffer 0.
  for (std::size_t i = config.count; i-- > 0;) free_.push_back(&buffers_[i]);
  free_count_.store(free_.size(), std::memory_order_relaxed);
}

packet_buffer* buffer_pool::acquire() noexcept {
  if (free_.empty()) {
    bump(exhausted_);
    return nullptr;
  }
  packet_buffer* b = free_.back();
  free_.pop_back();
  free_count_.store(free_.size(), std::memory_order_relaxed);
  b->reset();
  b->in_port = 0;
  b->has_next_hop = false;
  b->has_link_source = false;
  b->addressed_to_host = false;
  b->l4_checksum_known_good = false;
  return b;
}

void buffer_pool::release(packet_buffer* buffer) noexcept {
  // free_ has capacity for every buffer, so this never allocates.
  free_.push_back(buffer);
  free_count_.store(free_.size(), std::memory_order_relaxed);
}

}  // namespace baton::net
