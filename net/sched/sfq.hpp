#pragma once
// Start-time fair queueing (P. Goyal, H. M. Vin, H. Cheng, "Start-time Fair Queuing", SIGCOMM 1996),
// the scheduler document 001 names for sharing an access link among virtual hosts: the reverse
// traffic of a virtual host carries its address as source, so it aggregates into one class, and
// each class gets a share of the link in proportion to its weight.
//
// The rules, as the paper gives them:
//  - a packet of class f arriving at time t gets the start tag S = max(v(t), F_prev(f)), where
//    F_prev(f) is the finish tag of f's previous packet, and the finish tag F = S + len / weight(f);
//  - packets are served in increasing order of start tag;
//  - the virtual time v(t) is the start tag of the packet in service; at the end of a busy period
//    (nothing queued) it is the largest finish tag of any packet served.
// A class that was idle starts at v, not at its old finish tag: idling earns no credit.
//
// Implementation: while a class is backlogged the start tag of its next packet is the finish tag
// of the one before, so only the head's start tag is kept per class (tags are not stored per
// packet); the backlogged classes sit in a binary heap ordered by (head start tag, class index).
// Enqueue and dequeue are O(log classes). Tags are fixed point (len * 2^20 / weight); they are
// rebased before they could overflow. Everything is allocated at construction.
//
// Threading: one thread (the packet loop's) calls everything except counters(), which any thread
// may read (relaxed atomics, one writer).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "net/io/packet_buffer.hpp"

namespace baton::net {

/// A copy of one class's counters.
struct sfq_class_stats {
  std::uint64_t enqueued = 0;        // packets accepted
  std::uint64_t enqueued_bytes = 0;
  std::uint64_t sent = 0;            // packets dequeued
  std::uint64_t sent_bytes = 0;
  std::uint64_t dropped = 0;         // packets refused because the queue was full (tail drop)
  std::uint64_t dropped_bytes = 0;
  std::uint64_t queued() const noexcept { return enqueued - sent; }
};

class sfq {
 public:
  /// Largest weight: keeps one packet's tag increment (len * 2^20 / weight) far below the rebase
  /// margin whatever the weights.
  static constexpr std::uint32_t max_weight = 1u << 20;
  /// Largest packet length (an IPv4 datagram's) and queue limit accepted.
  static constexpr std::uint32_t max_len = 65535;
  static constexpr std::size_t max_queue_limit = std::size_t{1} << 16;

  /// `classes` classes, all of weight 1, each holding at most `queue_limit` packets, and at most
  /// `total_limit` packets over all classes (0: classes * queue_limit). Throws
  /// std::invalid_argument when classes or queue_limit is 0, queue_limit > max_queue_limit or
  /// classes > 2^24, std::bad_alloc when memory is short.
  /// `rebase_threshold` (0: 2^62) is the virtual time at which tags are shifted down; tests set
  /// it low to exercise the shift, nothing else should.
  sfq(std::size_t classes, std::size_t queue_limit, std::size_t total_limit = 0,
      std::uint64_t rebase_threshold = 0);

  std::size_t classes() const noexcept { return classes_.size(); }
  std::size_t queue_limit() const noexcept { return limit_; }

  /// Sets class `c`'s weight (clipped to 1 .. max_weight). Applies to packets served from now on.
  /// Out-of-range `c` is ignored.
  void set_weight(std::size_t c, std::uint32_t weight) noexcept;
  std::uint32_t weight(std::size_t c) const noexcept { return classes_[c].weight; }

  /// Queues `buffer` (whose datagram is `len` bytes, at most max_len) in class `c`. Returns false
  /// when the class queue or the total is full, or len > max_len (the packet is counted as a drop
  /// of class c and the caller keeps the buffer), or `c` is out of range (not counted). On true the queue holds the pointer until
  /// dequeue(); it never touches the buffer itself.
  bool enqueue(std::size_t c, packet_buffer* buffer, std::uint32_t len) noexcept;

  /// One packet handed out by dequeue().
  struct item {
    packet_buffer* buffer = nullptr;
    std::uint32_t len = 0;
    std::uint32_t cls = 0;
  };
  /// The packet with the smallest start tag (ties: lowest class index), removed from its queue
  /// and counted as sent. False when nothing is queued.
  bool dequeue(item& out) noexcept;
  /// What dequeue() would return next, without removing it. False when nothing is queued.
  bool peek(item& out) const noexcept;

  /// Packets queued over all classes.
  std::size_t backlog() const noexcept { return total_; }
  bool empty() const noexcept { return total_ == 0; }

  /// The current virtual time (tests and introspection).
  std::uint64_t virtual_time() const noexcept { return v_; }
  /// Times the tags were shifted down to stay far from overflow.
  std::uint64_t rebases() const noexcept { return rebases_; }
  /// The start tag class c's next packet has, or would get if it arrived now.
  std::uint64_t next_start_tag(std::size_t c) const noexcept;

  /// Class c's counters (c < classes()); readable from any thread.
  sfq_class_stats counters(std::size_t c) const noexcept;

  /// Takes every queued packet out, oldest first per class, calling `f(packet_buffer*)` on each
  /// (to give buffers back to their pool). Counters are not changed (the packets count neither
  /// as sent nor as dropped).
  template <class F>
  void drain(F&& f) {
    item it;
    while (peek(it)) {
      pop_head(it.cls);
      f(it.buffer);
    }
  }

 private:
  struct slot {
    packet_buffer* buffer;
    std::uint32_t len;
  };
  struct counters_t {
    std::atomic<std::uint64_t> enqueued{0}, enqueued_bytes{0}, sent{0}, sent_bytes{0}, dropped{0},
        dropped_bytes{0};
  };
  struct class_state {
    std::uint32_t weight = 1;
    std::size_t head = 0;          // index of the oldest packet in this class's ring
    std::size_t count = 0;         // packets queued
    std::uint64_t head_start = 0;  // start tag of the head packet (valid while count > 0)
    std::uint64_t last_finish = 0; // finish tag of the last packet served from this class
  };

  std::uint64_t cost(std::uint32_t len, std::uint32_t weight) const noexcept;
  bool heap_less(std::size_t a, std::size_t b) const noexcept;
  void heap_push(std::uint32_t c) noexcept;
  void heap_pop() noexcept;
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void pop_head(std::uint32_t c) noexcept;  // removes the head of class c (the heap's top)
  void rebase() noexcept;

  std::size_t limit_;
  std::size_t total_limit_;
  std::uint64_t rebase_at_;
  std::size_t total_ = 0;
  std::uint64_t v_ = 0;            // virtual time
  std::uint64_t max_finish_ = 0;   // largest finish tag served in this busy period
  std::uint64_t rebases_ = 0;
  std::vector<class_state> classes_;
  std::vector<slot> rings_;        // classes * limit_ slots: class c owns [c * limit_, (c+1) * limit_)
  std::vector<std::uint32_t> heap_;  // backlogged classes; heap_size_ of them are live
  std::size_t heap_size_ = 0;
  std::unique_ptr<counters_t[]> counters_;
};

}  // namespace baton::net
