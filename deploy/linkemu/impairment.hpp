// The impairments of one direction of an emulated link: loss, rate limit with a tail-drop queue,
// delay with jitter, and reordering. Pure logic over caller-supplied time (nanoseconds on any
// monotonic clock), so it runs the same under the real event loop and under a test's fake clock.
//
// Order of stages, per frame (netem's order for loss, a real link's for the rest):
//   1. loss (Bernoulli, or Gilbert-Elliott): a lost frame never takes the link;
//   2. rate: a token bucket drains a FIFO queue of at most queue_frames frames; an arrival that
//      finds the queue full is dropped (tail drop). This is serialization on the bottleneck;
//   3. delay: propagation delay plus jitter, uniform in [-jitter, +jitter] and clamped at zero.
//      Without jitter_reorder a frame is never released before the one ahead of it, so jitter
//      keeps order; with it, jittered frames may overtake;
//   4. reorder: with probability `reorder` a frame skips the delay line and is released as soon
//      as it leaves the rate stage, ahead of the frames still in flight.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace baton::linkemu {

// Two-state Markov loss model. In each state a frame is lost with that state's loss probability;
// after each frame the state moves good->bad with probability p and bad->good with probability r.
// Long-run loss rate: (r * loss_good + p * loss_bad) / (p + r).
struct gilbert_elliott {
  double p = 0.0;
  double r = 1.0;
  double loss_good = 0.0;
  double loss_bad = 1.0;
};

struct direction_spec {
  std::int64_t delay_ns = 0;
  std::int64_t jitter_ns = 0;
  bool jitter_reorder = false;        // jittered frames may overtake each other
  double loss = 0.0;                  // Bernoulli loss probability in [0, 1]; unused when ge is set
  std::optional<gilbert_elliott> ge;  // when set, replaces Bernoulli loss
  double rate_bps = 0.0;              // bits per second of Ethernet frame bytes; 0 = unlimited
  std::uint64_t burst_bytes = 0;      // token bucket depth; 0 = max(2 full frames, 1 ms of rate)
  std::size_t queue_frames = 100;     // frames that may wait for tokens; more are tail-dropped
  double reorder = 0.0;               // probability that a frame skips the delay line
};

// Parses "delay=20ms,jitter=2ms,loss=2%,rate=20mbit,queue=100" on top of `base` (keys not named
// keep base's value). Keys: delay, jitter (durations: ns/us/ms/s, bare number = ms),
// jitter_reorder (0/1/true/false), loss, reorder, ge_p, ge_r, ge_loss_good, ge_loss_bad
// (probabilities: "2%" or "0.02"; any ge_* key turns Gilbert-Elliott on), rate (bit/s with
// optional k/m/g[bit] suffix, decimal), burst (bytes with optional k/m suffix, binary), queue
// (frames). Returns the spec; throws std::invalid_argument naming the key and the reason.
direction_spec parse_direction_spec(std::string_view text, const direction_spec& base = {});

// One line of text describing a spec, for logs.
std::string describe(const direction_spec& spec);

struct counters {
  std::uint64_t frames_in = 0;       // frames offered to this direction
  std::uint64_t bytes_in = 0;
  std::uint64_t frames_out = 0;      // frames handed to the sender
  std::uint64_t bytes_out = 0;
  std::uint64_t dropped_loss = 0;    // lost by the loss model
  std::uint64_t dropped_queue = 0;   // tail-dropped: the rate queue was full
  std::uint64_t dropped_pool = 0;    // no free frame buffer (pool too small for rate x delay)
  std::uint64_t dropped_oversize = 0;  // longer than the frame capacity
  std::uint64_t reordered = 0;       // frames that skipped the delay line
};

// One direction's pipeline. Owns a fixed pool of frame buffers allocated at construction; offer()
// and release() never allocate. Not thread-safe (one event loop owns it).
class direction {
 public:
  // pool_frames: how many frames may be inside the direction at once (queued + in flight);
  // frame_capacity: the longest frame accepted, in bytes. Throws std::invalid_argument when
  // either is zero. The seed makes every random choice reproducible.
  direction(const direction_spec& spec, std::uint64_t seed, std::size_t pool_frames,
            std::size_t frame_capacity);

  // Takes a copy of the frame that arrived at `now_ns`. The frame is dropped (and counted) when
  // lost, when the rate queue is full, when the pool is empty or when it is too long.
  void offer(const std::uint8_t* data, std::size_t len, std::int64_t now_ns);

  // Hands every frame due at or before `now_ns` to send(const std::uint8_t*, std::size_t), in
  // release order. Frames are accounted at the exact time they became due, not at `now_ns`, so a
  // late wake-up does not stretch the delay or slow the rate.
  template <class Send>
  void release(std::int64_t now_ns, Send&& send) {
    advance_rate(now_ns);
    while (!delay_line_.empty() && delay_line_.front().release_ns <= now_ns) {
      const in_flight f = pop_delay_line();
      ++counters_.frames_out;
      counters_.bytes_out += f.len;
      send(slot_data(f.slot), static_cast<std::size_t>(f.len));
      free_slots_.push_back(f.slot);
    }
  }

  // The earliest time something is due (a frame leaving the rate queue or the delay line), or
  // nullopt when the direction is empty.
  std::optional<std::int64_t> next_event() const;

  // Changes the impairments while frames are inside (a path that turns lossy mid-transfer): loss,
  // the loss model, delay and jitter take effect for frames offered from now on. The rate stage's
  // shape (rate, burst, queue) is fixed at construction: a `next` that changes it throws
  // std::invalid_argument, and nothing changes.
  void change(const direction_spec& next);

  const counters& stats() const { return counters_; }
  const direction_spec& spec() const { return spec_; }
  std::size_t frames_inside() const { return pool_frames_ - free_slots_.size(); }

 private:
  struct in_flight {
    std::int64_t release_ns;
    std::uint64_t seq;  // ties on release time keep arrival order
    std::uint32_t slot;
    std::uint32_t len;
  };
  struct queued {
    std::uint32_t slot;
    std::uint32_t len;
  };

  bool lose();
  void advance_rate(std::int64_t now_ns);
  void refill(std::int64_t now_ns);
  std::int64_t departure_time(std::uint32_t len) const;
  void enter_delay_line(std::uint32_t slot, std::uint32_t len, std::int64_t t_ns);
  /// Copies the frame into a free pool slot and returns it; false (counted as dropped_pool) when
  /// the pool is empty.
  bool take_slot(const std::uint8_t* data, std::size_t len, std::uint32_t& slot);
  in_flight pop_delay_line();
  std::uint8_t* slot_data(std::uint32_t slot) { return &storage_[std::size_t{slot} * capacity_]; }

  direction_spec spec_;
  std::size_t pool_frames_;
  std::size_t capacity_;
  std::vector<std::uint8_t> storage_;
  std::vector<std::uint32_t> free_slots_;
  std::vector<in_flight> delay_line_;  // min-heap on (release_ns, seq)
  std::vector<queued> queue_;          // ring buffer of the rate stage
  std::size_t queue_head_ = 0;
  std::size_t queue_count_ = 0;
  double tokens_ = 0.0;                // bytes
  std::int64_t tokens_at_ns_ = 0;      // time `tokens_` was computed for
  bool tokens_started_ = false;
  double burst_ = 0.0;
  std::int64_t last_release_ns_ = 0;   // keeps order when jitter may not reorder
  std::uint64_t seq_ = 0;
  bool ge_bad_ = false;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> unit_{0.0, 1.0};
  counters counters_;
};

}  // namespace baton::linkemu
