// Document 003's PK over a backbone's byte stream. See priority_queues.hpp.

#include "net/sched/priority_queues.hpp"

#include <algorithm>
#include <cstring>

namespace baton::net {

namespace {
// Tags are bytes * 2^16 / weight: with weights up to 1000 a tag grows by at least 65 per byte,
// so ties between levels are rare; 2^62 leaves 2^46 bytes of headroom before rebase() runs.
constexpr unsigned tag_shift = 16;
constexpr std::uint64_t rebase_at = std::uint64_t{1} << 62;
}  // namespace

priority_queues::priority_queues(const weights_t& weights) noexcept { set_weights(weights); }

void priority_queues::set_weights(const weights_t& weights) noexcept {
  for (std::size_t i = 0; i < weights_.size(); ++i) weights_[i] = std::clamp<std::uint32_t>(weights[i], 1, max_weight);
}

void priority_queues::activate(std::size_t level) noexcept {
  // SFQ: a level that was idle starts at the virtual time, not at its old finish tag.
  auto& q = q_[level];
  q.start = std::max(v_, q.finish);
}

int priority_queues::take(std::vector<unsigned char>& out, std::size_t max) {
  std::size_t level = levels;
  if (q_[top].backlogged()) {
    level = top;
  } else {
    // Smallest start tag; on a tie the higher priority.
    for (std::size_t i = top; i-- > 0;)
      if (q_[i].backlogged() && (level == levels || q_[i].start < q_[level].start)) level = i;
    if (level == levels) return -1;
  }
  auto& q = q_[level];
  std::size_t n = 0, messages = 0;
  while (q.lens_head + messages < q.lens.size()) {
    const std::size_t len = q.lens[q.lens_head + messages];
    if (messages > 0 && n + len > max) break;
    n += len;
    ++messages;
  }
  out.insert(out.end(), q.bytes.begin() + static_cast<std::ptrdiff_t>(q.head),
             q.bytes.begin() + static_cast<std::ptrdiff_t>(q.head + n));
  q.head += n;
  q.lens_head += messages;
  q.sent_bytes += n;
  q.sent_messages += messages;
  compact(q);
  if (level != top) {
    v_ = q.start;
    q.finish = q.start + (static_cast<std::uint64_t>(n) << tag_shift) / weights_[level];
    q.start = q.finish;
    bool busy = false;
    for (std::size_t i = 0; i < top; ++i) busy = busy || q_[i].backlogged();
    if (!busy) {
      // End of the busy period: the virtual time moves to the largest finish tag served.
      for (std::size_t i = 0; i < top; ++i) v_ = std::max(v_, q_[i].finish);
    }
    if (v_ >= rebase_at) rebase();
  }
  return static_cast<int>(level);
}

void priority_queues::compact(level_queue& q) {
  if (q.lens_head == q.lens.size()) {
    q.bytes.clear();
    q.head = 0;
    q.lens.clear();
    q.lens_head = 0;
    return;
  }
  // Shift the rest down once the consumed front is both large and most of the buffer: the copy
  // is amortised over the bytes taken.
  if (q.head >= (64u << 10) && q.head * 2 >= q.bytes.size()) {
    q.bytes.erase(q.bytes.begin(), q.bytes.begin() + static_cast<std::ptrdiff_t>(q.head));
    q.head = 0;
    q.lens.erase(q.lens.begin(), q.lens.begin() + static_cast<std::ptrdiff_t>(q.lens_head));
    q.lens_head = 0;
  }
}

void priority_queues::rebase() noexcept {
  const std::uint64_t base = v_;
  for (auto& q : q_) {
    q.start = q.start > base ? q.start - base : 0;
    q.finish = q.finish > base ? q.finish - base : 0;
  }
  v_ = 0;
}

bool priority_queues::empty() const noexcept {
  for (const auto& q : q_)
    if (q.backlogged()) return false;
  return true;
}

std::size_t priority_queues::queued(std::size_t level) const noexcept {
  return level < levels ? q_[level].bytes.size() - q_[level].head : 0;
}

std::size_t priority_queues::queued_total() const noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < levels; ++i) n += queued(i);
  return n;
}

priority_level_stats priority_queues::stats(std::size_t level) const noexcept {
  priority_level_stats s;
  if (level >= levels) return s;
  const auto& q = q_[level];
  s.queued_bytes = queued(level);
  s.queued_messages = q.lens.size() - q.lens_head;
  s.sent_bytes = q.sent_bytes;
  s.sent_messages = q.sent_messages;
  return s;
}

void priority_queues::clear() noexcept {
  for (auto& q : q_) {
    q.bytes.clear();
    q.head = 0;
    q.lens.clear();
    q.lens_head = 0;
    q.start = q.finish = 0;
    q.sent_bytes = q.sent_messages = 0;
  }
  v_ = 0;
}

}  // namespace baton::net
