#pragma once
// How control code changes what the loop does without the loop ever locking (DESIGN §3): a table
// is immutable once published; the control thread publishes a new one with an atomic pointer swap
// and frees the old one only after the loop has left the batch it was processing (an epoch).
//
// reader_epoch has one reader thread (the packet loop). Any number of control threads may publish;
// they serialise among themselves.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

namespace baton::net {

/// The loop's read-side critical sections. The counter is odd while the loop is inside one
/// (processing a batch) and even while it waits or is not running.
class reader_epoch {
 public:
  /// Loop thread: before reading any table for a batch. Sequentially consistent so the table
  /// pointer loads that follow cannot be ordered before it.
  void enter() noexcept { state_.fetch_add(1, std::memory_order_seq_cst); }
  /// Loop thread: after the last use of any table pointer read since enter().
  void leave() noexcept { state_.fetch_add(1, std::memory_order_release); }

  /// Control thread, after swapping a pointer: returns once the loop no longer holds a pointer it
  /// may have read before the swap (it was outside a critical section, or has left the one it was
  /// in). Spins with yields: a batch is microseconds long.
  void synchronize() const noexcept {
    const std::uint64_t seen = state_.load(std::memory_order_seq_cst);
    if ((seen & 1) == 0) return;
    while (state_.load(std::memory_order_acquire) == seen) std::this_thread::yield();
  }

 private:
  std::atomic<std::uint64_t> state_{0};
};

/// One table read by the loop and replaced by control code.
template <class T>
class table_slot {
 public:
  /// Starts with `initial`; `epoch` is the reading loop's and must outlive the slot.
  table_slot(const reader_epoch& epoch, std::unique_ptr<const T> initial)
      : epoch_(epoch), current_(initial.release()) {}
  table_slot(const table_slot&) = delete;
  table_slot& operator=(const table_slot&) = delete;
  ~table_slot() { delete current_.load(std::memory_order_acquire); }

  /// Loop thread, between epoch enter() and leave(): the current table (may be null if published
  /// so). Valid until leave().
  const T* read() const noexcept { return current_.load(std::memory_order_seq_cst); }

  /// Control thread (never the loop thread, which would wait for itself): makes `next` current.
  /// When it returns the loop no longer uses the old table, which has been freed, so behaviour
  /// has changed for every batch that starts afterwards. Throws nothing but what T's destructor does.
  void publish(std::unique_ptr<const T> next) {
    std::lock_guard<std::mutex> guard(writers_);
    const T* old = current_.exchange(next.release(), std::memory_order_seq_cst);
    epoch_.synchronize();
    delete old;
  }

 private:
  const reader_epoch& epoch_;
  std::atomic<const T*> current_;
  std::mutex writers_;  // control side only; the loop never touches it
};

}  // namespace baton::net
