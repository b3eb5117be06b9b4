#pragma once
// Document 003's prioritization kernel (PK) for one backbone: the messages waiting for the
// backbone's byte stream, in one queue per priority. The top priority is served first whenever it
// has anything queued (strict); the others share what is left by weight.
//
// Why not net/sched/sfq.hpp as it is: sfq keeps one ring slot per packet (a packet_buffer
// pointer and a length) in rings sized at construction, and refuses a packet when its class is
// full. A backbone's queue holds framed messages of 12 bytes to 64 KiB that must never be
// dropped, and it is drained into a stream in batches of whole messages, not packet by packet.
// So this keeps sfq's rule (start-time fair queueing, Goyal et al.: a batch's start tag is
// max(v, the level's last finish tag), finish = start + bytes / weight, the smallest start tag is
// served, idling earns no credit) over batches, with the tags per level instead of per packet,
// and the bytes in one growable buffer per level.
//
// Messages of one level leave in the order they came (a connection's messages all go at its
// priority, so its stream stays in order). Buffers are reused: after warm-up a push or take
// allocates nothing.
//
// Threading: one thread (the PEP engine's).

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace baton::net {

/// One level's counters.
struct priority_level_stats {
  std::uint64_t queued_bytes = 0;     // waiting now
  std::uint64_t queued_messages = 0;
  std::uint64_t sent_bytes = 0;       // taken for the stream since construction (or clear())
  std::uint64_t sent_messages = 0;
};

class priority_queues {
 public:
  static constexpr std::size_t levels = 4;         // priorities 0..3
  static constexpr std::size_t top = levels - 1;   // served strictly first
  static constexpr std::uint32_t max_weight = 1000;
  using weights_t = std::array<std::uint32_t, levels - 1>;  // of priorities 0..top-1

  /// Weights are clipped to 1..max_weight; the default is 1/2/4 for priorities 0/1/2.
  priority_queues() noexcept : priority_queues(weights_t{1, 2, 4}) {}
  explicit priority_queues(const weights_t& weights) noexcept;

  /// New weights (clipped), for batches taken from now on.
  void set_weights(const weights_t& weights) noexcept;
  const weights_t& weights() const noexcept { return weights_; }

  /// Appends one whole message at `level` (clipped to top): `append(std::vector<unsigned char>&)`
  /// writes its bytes at the end of the vector it is given, and nothing else.
  template <class Append>
  void push(std::size_t level, Append&& append) {
    level = level > top ? top : level;
    auto& q = q_[level];
    const std::size_t before = q.bytes.size();
    append(q.bytes);
    const std::size_t n = q.bytes.size() - before;
    if (n == 0) return;
    if (q.lens.size() == q.lens_head && level != top) activate(level);
    q.lens.push_back(static_cast<std::uint32_t>(n));
  }

  /// Moves whole messages of the level served next to the end of `out`: at least one message,
  /// then more of the same level while the batch stays within `max` bytes. Returns the level
  /// served, or -1 when nothing is queued (out unchanged).
  int take(std::vector<unsigned char>& out, std::size_t max);

  bool empty() const noexcept;
  /// Bytes queued at `level` (0 for a level out of range).
  std::size_t queued(std::size_t level) const noexcept;
  std::size_t queued_total() const noexcept;
  priority_level_stats stats(std::size_t level) const noexcept;

  /// Drops everything queued (the backbone is gone) and zeroes the counters; keeps the weights
  /// and the buffers' capacity.
  void clear() noexcept;

  /// The virtual time (tests).
  std::uint64_t virtual_time() const noexcept { return v_; }

 private:
  struct level_queue {
    std::vector<unsigned char> bytes;   // messages back to back; [head, size) still queued
    std::size_t head = 0;
    std::vector<std::uint32_t> lens;    // each message's length; [lens_head, size) still queued
    std::size_t lens_head = 0;
    std::uint64_t start = 0;            // start tag of its next batch (while backlogged)
    std::uint64_t finish = 0;           // finish tag of its last batch
    std::uint64_t sent_bytes = 0, sent_messages = 0;
    bool backlogged() const noexcept { return lens_head < lens.size(); }
  };

  void activate(std::size_t level) noexcept;  // an idle weighted level gets work
  void compact(level_queue& q);
  void rebase() noexcept;

  weights_t weights_{};
  std::array<level_queue, levels> q_;
  std::uint64_t v_ = 0;  // virtual time: the start tag of the last batch of a weighted level
};

}  // namespace baton::net
