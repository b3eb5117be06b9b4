#include "net/sched/sfq.hpp"

#include <stdexcept>
#include <utility>

namespace baton::net {

namespace {
// Fixed-point scale of the tags: len * 2^20 / weight keeps shares exact to about 1e-6 even for
// weights near len.
constexpr unsigned tag_shift = 20;
// Rebase well before 2^64: a class's head may be up to max_queue_limit packets of at most
// 2^(16 + 20) units ahead of v, i.e. 2^52, so tags stay below 2^62 + 2^53.
constexpr std::uint64_t default_rebase_at = std::uint64_t{1} << 62;
}  // namespace

sfq::sfq(std::size_t classes, std::size_t queue_limit, std::size_t total_limit,
         std::uint64_t rebase_threshold)
    : limit_(queue_limit),
      rebase_at_(rebase_threshold == 0 || rebase_threshold > default_rebase_at ? default_rebase_at
                                                                                : rebase_threshold) {
  if (classes == 0) throw std::invalid_argument("sfq: no classes");
  if (classes > (std::size_t{1} << 24)) throw std::invalid_argument("sfq: too many classes");
  if (queue_limit == 0 || queue_limit > max_queue_limit)
    throw std::invalid_argument("sfq: queue limit must be 1 .. 65536");
  total_limit_ = total_limit == 0 ? classes * queue_limit : total_limit;
  classes_.resize(classes);
  rings_.resize(classes * queue_limit, slot{nullptr, 0});
  heap_.resize(classes, 0);
  counters_ = std::make_unique<counters_t[]>(classes);
}

void sfq::set_weight(std::size_t c, std::uint32_t weight) noexcept {
  if (c >= classes_.size()) return;
  if (weight == 0) weight = 1;
  if (weight > max_weight) weight = max_weight;
  classes_[c].weight = weight;
}

std::uint64_t sfq::cost(std::uint32_t len, std::uint32_t weight) const noexcept {
  return (std::uint64_t{len} << tag_shift) / weight;
}

std::uint64_t sfq::next_start_tag(std::size_t c) const noexcept {
  const class_state& k = classes_[c];
  if (k.count > 0) return k.head_start;
  return k.last_finish > v_ ? k.last_finish : v_;
}

bool sfq::enqueue(std::size_t c, packet_buffer* buffer, std::uint32_t len) noexcept {
  if (c >= classes_.size()) return false;
  class_state& k = classes_[c];
  counters_t& n = counters_[c];
  if (k.count == limit_ || total_ == total_limit_ || len > max_len) {
    bump(n.dropped);
    bump(n.dropped_bytes, len);
    return false;
  }
  std::size_t tail = k.head + k.count;
  if (tail >= limit_) tail -= limit_;
  rings_[c * limit_ + tail] = slot{buffer, len};
  ++k.count;
  ++total_;
  bump(n.enqueued);
  bump(n.enqueued_bytes, len);
  if (k.count == 1) {
    // S = max(v, F_prev): a class back from idle starts at the virtual time, with no credit.
    k.head_start = k.last_finish > v_ ? k.last_finish : v_;
    heap_push(static_cast<std::uint32_t>(c));
  }
  // A backlogged class needs nothing here: its packets' start tags follow from the head's when
  // they reach the head (S = F_prev >= v while backlogged).
  return true;
}

bool sfq::peek(item& out) const noexcept {
  if (heap_size_ == 0) return false;
  const std::uint32_t c = heap_[0];
  const class_state& k = classes_[c];
  const slot& s = rings_[c * limit_ + k.head];
  out = item{s.buffer, s.len, c};
  return true;
}

bool sfq::dequeue(item& out) noexcept {
  if (!peek(out)) return false;
  counters_t& n = counters_[out.cls];
  bump(n.sent);
  bump(n.sent_bytes, out.len);
  pop_head(out.cls);
  return true;
}

void sfq::pop_head(std::uint32_t c) noexcept {
  class_state& k = classes_[c];
  const slot& s = rings_[c * limit_ + k.head];
  // The packet goes into service: v is its start tag.
  v_ = k.head_start;
  const std::uint64_t finish = k.head_start + cost(s.len, k.weight);
  k.last_finish = finish;
  if (finish > max_finish_) max_finish_ = finish;
  if (++k.head == limit_) k.head = 0;
  --k.count;
  --total_;
  if (k.count > 0) {
    k.head_start = finish;  // the next packet of a backlogged class starts where this one ends
    sift_down(0);
  } else {
    heap_pop();
  }
  if (total_ == 0) {
    // End of the busy period: v becomes the largest finish tag served.
    v_ = max_finish_;
  }
  if (v_ >= rebase_at_) rebase();
}

void sfq::rebase() noexcept {
  // Shift every tag down by the same amount; order between tags and their distance to v stay.
  const std::uint64_t base = v_;
  auto down = [base](std::uint64_t t) { return t > base ? t - base : 0; };
  v_ = 0;
  ++rebases_;
  max_finish_ = down(max_finish_);
  for (auto& k : classes_) {
    k.last_finish = down(k.last_finish);
    if (k.count > 0) k.head_start = down(k.head_start);  // >= v while backlogged: exact
  }
}

// The heap: heap_[0 .. heap_size_) holds backlogged classes, ordered by (head start tag, index).

bool sfq::heap_less(std::size_t a, std::size_t b) const noexcept {
  const class_state& x = classes_[heap_[a]];
  const class_state& y = classes_[heap_[b]];
  if (x.head_start != y.head_start) return x.head_start < y.head_start;
  return heap_[a] < heap_[b];
}

void sfq::heap_push(std::uint32_t c) noexcept {
  heap_[heap_size_] = c;
  sift_up(heap_size_++);
}

void sfq::heap_pop() noexcept {
  --heap_size_;
  if (heap_size_ == 0) return;
  heap_[0] = heap_[heap_size_];
  sift_down(0);
}

void sfq::sift_up(std::size_t i) noexcept {
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (!heap_less(i, parent)) break;
    std::swap(heap_[i], heap_[parent]);
    i = parent;
  }
}

void sfq::sift_down(std::size_t i) noexcept {
  for (;;) {
    const std::size_t l = 2 * i + 1, r = l + 1;
    std::size_t m = i;
    if (l < heap_size_ && heap_less(l, m)) m = l;
    if (r < heap_size_ && heap_less(r, m)) m = r;
    if (m == i) return;
    std::swap(heap_[i], heap_[m]);
    i = m;
  }
}

sfq_class_stats sfq::counters(std::size_t c) const noexcept {
  auto r = [](const std::atomic<std::uint64_t>& x) { return x.load(std::memory_order_relaxed); };
  const counters_t& n = counters_[c];
  return {r(n.enqueued), r(n.enqueued_bytes), r(n.sent), r(n.sent_bytes), r(n.dropped),
          r(n.dropped_bytes)};
}

}  // namespace baton::net
