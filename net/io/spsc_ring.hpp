#pragma once
// A bounded single-producer single-consumer ring of preallocated slots. The producer fills a
// slot in place and publishes it; the consumer reads it in place and frees it. Neither side locks
// or allocates after construction.

#include <atomic>
#include <cstddef>
#include <stdexcept>
#include <vector>

namespace baton::net {

template <class T>
class spsc_ring {
 public:
  /// A ring of at least `capacity` slots (rounded up to a power of two), each default-constructed
  /// and then passed to `init` so a slot can reserve its storage. Throws std::invalid_argument for
  /// capacity 0, std::bad_alloc when memory is short.
  template <class Init>
  spsc_ring(std::size_t capacity, Init init) {
    if (capacity == 0) throw std::invalid_argument("spsc_ring: capacity 0");
    std::size_t n = 1;
    while (n < capacity) n <<= 1;
    slots_.resize(n);
    for (auto& s : slots_) init(s);
    mask_ = n - 1;
  }
  explicit spsc_ring(std::size_t capacity) : spsc_ring(capacity, [](T&) {}) {}

  std::size_t capacity() const noexcept { return slots_.size(); }

  // Producer side. ------------------------------------------------------------------------------
  /// The slot to fill next, or nullptr when the ring is full.
  T* write_slot() noexcept {
    const std::size_t t = tail_.load(std::memory_order_relaxed);
    if (t - head_.load(std::memory_order_acquire) == slots_.size()) return nullptr;
    return &slots_[t & mask_];
  }
  /// Publishes the slot from write_slot(). Returns true when the ring looked empty just before,
  /// i.e. the consumer may be waiting and should be woken. Sequentially consistent, so a consumer
  /// that saw the ring empty and then sleeps is always seen here as having an empty ring.
  bool publish() noexcept {
    const std::size_t t = tail_.load(std::memory_order_relaxed);
    tail_.store(t + 1, std::memory_order_seq_cst);
    return head_.load(std::memory_order_seq_cst) == t;
  }

  // Consumer side. ------------------------------------------------------------------------------
  /// The oldest published slot, or nullptr when the ring is empty.
  T* read_slot() noexcept {
    const std::size_t h = head_.load(std::memory_order_relaxed);
    if (h == tail_.load(std::memory_order_acquire)) return nullptr;
    return &slots_[h & mask_];
  }
  /// Frees the slot from read_slot() for the producer to reuse.
  void consume() noexcept {
    head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_seq_cst);
  }
  /// True when nothing is published (sequentially consistent: pairs with publish()).
  bool empty() const noexcept {
    return head_.load(std::memory_order_seq_cst) == tail_.load(std::memory_order_seq_cst);
  }
  /// Published slots not yet consumed (approximate while the other side runs).
  std::size_t size() const noexcept {
    return tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire);
  }

 private:
  std::vector<T> slots_;
  std::size_t mask_ = 0;
  alignas(64) std::atomic<std::size_t> head_{0};  // next slot to read (consumer writes)
  alignas(64) std::atomic<std::size_t> tail_{0};  // next slot to write (producer writes)
};

}  // namespace baton::net
