#include "deploy/linkemu/impairment.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <stdexcept>

namespace baton::linkemu {
namespace {

[[noreturn]] void bad(std::string_view key, std::string_view value, std::string_view why) {
  throw std::invalid_argument(std::string(key) + "=" + std::string(value) + ": " + std::string(why));
}

// Splits "12.5ms" into 12.5 and "ms"; the number must be finite and non-negative.
std::pair<double, std::string> number_and_unit(std::string_view key, std::string_view value) {
  const std::string text(value);
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(begin, &end);
  if (end == begin || errno != 0 || !std::isfinite(v)) bad(key, value, "not a number");
  if (v < 0) bad(key, value, "must not be negative");
  std::string unit(end);
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return {v, unit};
}

std::int64_t parse_duration(std::string_view key, std::string_view value) {
  auto [v, unit] = number_and_unit(key, value);
  double scale = 0;
  if (unit.empty() || unit == "ms") scale = 1e6;
  else if (unit == "us") scale = 1e3;
  else if (unit == "ns") scale = 1;
  else if (unit == "s") scale = 1e9;
  else bad(key, value, "unit must be ns, us, ms or s");
  return static_cast<std::int64_t>(std::llround(v * scale));
}

double parse_probability(std::string_view key, std::string_view value) {
  auto [v, unit] = number_and_unit(key, value);
  if (unit == "%") v /= 100.0;
  else if (!unit.empty()) bad(key, value, "expected a probability such as 0.02 or 2%");
  if (v > 1.0) bad(key, value, "a probability is at most 1 (100%)");
  return v;
}

double parse_rate(std::string_view key, std::string_view value) {
  auto [v, unit] = number_and_unit(key, value);
  if (unit.size() >= 3 && unit.compare(unit.size() - 3, 3, "bit") == 0) unit.resize(unit.size() - 3);
  else if (unit.size() >= 3 && unit.compare(unit.size() - 3, 3, "bps") == 0) unit.resize(unit.size() - 3);
  double scale = 0;
  if (unit.empty()) scale = 1;
  else if (unit == "k") scale = 1e3;
  else if (unit == "m") scale = 1e6;
  else if (unit == "g") scale = 1e9;
  else bad(key, value, "unit must be bit, kbit, mbit or gbit");
  return v * scale;
}

std::uint64_t parse_bytes(std::string_view key, std::string_view value) {
  auto [v, unit] = number_and_unit(key, value);
  double scale = 0;
  if (unit.empty() || unit == "b") scale = 1;
  else if (unit == "k" || unit == "kb") scale = 1024;
  else if (unit == "m" || unit == "mb") scale = 1024.0 * 1024.0;
  else bad(key, value, "unit must be b, k or m");
  return static_cast<std::uint64_t>(std::llround(v * scale));
}

bool parse_bool(std::string_view key, std::string_view value) {
  if (value == "1" || value == "true" || value == "yes" || value == "on") return true;
  if (value == "0" || value == "false" || value == "no" || value == "off") return false;
  bad(key, value, "expected 0/1/true/false");
}

std::size_t parse_count(std::string_view key, std::string_view value) {
  auto [v, unit] = number_and_unit(key, value);
  if (!unit.empty() || v != std::floor(v) || v < 1) bad(key, value, "expected a whole number >= 1");
  return static_cast<std::size_t>(v);
}

constexpr std::size_t max_ethernet_frame = 1518;  // 1500 + header + one VLAN tag

}  // namespace

direction_spec parse_direction_spec(std::string_view text, const direction_spec& base) {
  direction_spec s = base;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) continue;
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) bad(item, "", "expected key=value");
    const std::string_view key = item.substr(0, eq);
    const std::string_view value = item.substr(eq + 1);
    auto ge = [&s]() -> gilbert_elliott& {
      if (!s.ge) s.ge = gilbert_elliott{};
      return *s.ge;
    };
    if (key == "delay") s.delay_ns = parse_duration(key, value);
    else if (key == "jitter") s.jitter_ns = parse_duration(key, value);
    else if (key == "jitter_reorder") s.jitter_reorder = parse_bool(key, value);
    else if (key == "loss") s.loss = parse_probability(key, value);
    else if (key == "reorder") s.reorder = parse_probability(key, value);
    else if (key == "ge_p") ge().p = parse_probability(key, value);
    else if (key == "ge_r") ge().r = parse_probability(key, value);
    else if (key == "ge_loss_good") ge().loss_good = parse_probability(key, value);
    else if (key == "ge_loss_bad") ge().loss_bad = parse_probability(key, value);
    else if (key == "rate") s.rate_bps = parse_rate(key, value);
    else if (key == "burst") s.burst_bytes = parse_bytes(key, value);
    else if (key == "queue") s.queue_frames = parse_count(key, value);
    else bad(key, value, "unknown key");
  }
  if (s.ge && s.ge->p + s.ge->r <= 0) bad("ge_p", "0", "ge_p + ge_r must be > 0");
  return s;
}

std::string describe(const direction_spec& s) {
  std::ostringstream o;
  o << "delay=" << s.delay_ns / 1e6 << "ms jitter=" << s.jitter_ns / 1e6 << "ms"
    << (s.jitter_reorder ? " (may reorder)" : "");
  if (s.ge) {
    o << " loss=gilbert-elliott(p=" << s.ge->p << " r=" << s.ge->r << " good=" << s.ge->loss_good
      << " bad=" << s.ge->loss_bad << ")";
  } else {
    o << " loss=" << s.loss * 100 << "%";
  }
  if (s.rate_bps > 0) o << " rate=" << s.rate_bps / 1e6 << "Mbit/s queue=" << s.queue_frames;
  else o << " rate=unlimited";
  o << " reorder=" << s.reorder * 100 << "%";
  return o.str();
}

direction::direction(const direction_spec& spec, std::uint64_t seed, std::size_t pool_frames,
                     std::size_t frame_capacity)
    : spec_(spec), pool_frames_(pool_frames), capacity_(frame_capacity), rng_(seed) {
  if (pool_frames == 0 || frame_capacity == 0) {
    throw std::invalid_argument("pool_frames and frame_capacity must be > 0");
  }
  storage_.resize(pool_frames * frame_capacity);
  free_slots_.reserve(pool_frames);
  for (std::size_t i = pool_frames; i > 0; --i) free_slots_.push_back(static_cast<std::uint32_t>(i - 1));
  delay_line_.reserve(pool_frames);
  queue_.resize(std::max<std::size_t>(spec_.queue_frames, 1));
  // The bucket must hold at least one full frame or a full-size frame would never pass.
  const double one_ms = spec_.rate_bps / 8.0 / 1000.0;
  const double floor_bytes = static_cast<double>(std::max(capacity_, max_ethernet_frame));
  burst_ = spec_.burst_bytes > 0 ? std::max<double>(static_cast<double>(spec_.burst_bytes), floor_bytes)
                                 : std::max(2 * floor_bytes, one_ms);
}

void direction::change(const direction_spec& next) {
  if (next.rate_bps != spec_.rate_bps || next.burst_bytes != spec_.burst_bytes || next.queue_frames != spec_.queue_frames)
    throw std::invalid_argument("rate, burst and queue cannot change while running (loss, ge_*, delay, jitter, reorder can)");
  if (!next.ge) ge_bad_ = false;
  spec_ = next;
}

bool direction::lose() {
  if (spec_.ge) {
    const gilbert_elliott& g = *spec_.ge;
    const bool lost = unit_(rng_) < (ge_bad_ ? g.loss_bad : g.loss_good);
    ge_bad_ = ge_bad_ ? !(unit_(rng_) < g.r) : (unit_(rng_) < g.p);
    return lost;
  }
  return spec_.loss > 0 && unit_(rng_) < spec_.loss;
}

void direction::offer(const std::uint8_t* data, std::size_t len, std::int64_t now_ns) {
  ++counters_.frames_in;
  counters_.bytes_in += len;
  if (len > capacity_) {
    ++counters_.dropped_oversize;
    return;
  }
  if (lose()) {
    ++counters_.dropped_loss;
    return;
  }
  // Let earlier frames leave the queue first, so the queue length seen here is the true one.
  advance_rate(now_ns);
  const auto flen = static_cast<std::uint32_t>(len);
  const bool limited = spec_.rate_bps > 0;
  if (limited) {
    refill(now_ns);
    const bool pass_now = queue_count_ == 0 && tokens_ >= static_cast<double>(len);
    if (!pass_now && queue_count_ >= queue_.size()) {
      ++counters_.dropped_queue;
      return;
    }
    std::uint32_t slot = 0;
    if (!take_slot(data, len, slot)) return;
    if (pass_now) {
      tokens_ -= static_cast<double>(len);
      enter_delay_line(slot, flen, now_ns);
    } else {
      queue_[(queue_head_ + queue_count_) % queue_.size()] = queued{slot, flen};
      ++queue_count_;
    }
    return;
  }
  std::uint32_t slot = 0;
  if (take_slot(data, len, slot)) enter_delay_line(slot, flen, now_ns);
}

bool direction::take_slot(const std::uint8_t* data, std::size_t len, std::uint32_t& slot) {
  if (free_slots_.empty()) {
    ++counters_.dropped_pool;
    return false;
  }
  slot = free_slots_.back();
  free_slots_.pop_back();
  std::copy(data, data + len, slot_data(slot));
  return true;
}

void direction::refill(std::int64_t now_ns) {
  if (!tokens_started_) {
    tokens_ = burst_;
    tokens_at_ns_ = now_ns;
    tokens_started_ = true;
    return;
  }
  if (now_ns <= tokens_at_ns_) return;
  tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ns - tokens_at_ns_) * spec_.rate_bps / 8e9);
  tokens_at_ns_ = now_ns;
}

std::int64_t direction::departure_time(std::uint32_t len) const {
  const double need = static_cast<double>(len) - tokens_;
  if (need <= 0) return tokens_at_ns_;
  return tokens_at_ns_ + static_cast<std::int64_t>(std::ceil(need * 8e9 / spec_.rate_bps));
}

void direction::advance_rate(std::int64_t now_ns) {
  if (spec_.rate_bps <= 0) return;
  // While frames wait, the bucket is empty or nearly so: every token goes to the head frame at
  // the moment it is earned, which is what makes departures exact even when we wake up late.
  while (queue_count_ > 0) {
    const queued head = queue_[queue_head_];
    const std::int64_t t = departure_time(head.len);
    if (t > now_ns) break;
    tokens_ = std::min(burst_, tokens_ + static_cast<double>(t - tokens_at_ns_) * spec_.rate_bps / 8e9) -
              static_cast<double>(head.len);
    tokens_ = std::max(tokens_, 0.0);
    tokens_at_ns_ = t;
    queue_head_ = (queue_head_ + 1) % queue_.size();
    --queue_count_;
    enter_delay_line(head.slot, head.len, t);
  }
}

void direction::enter_delay_line(std::uint32_t slot, std::uint32_t len, std::int64_t t_ns) {
  std::int64_t release = t_ns;
  if (spec_.reorder > 0 && unit_(rng_) < spec_.reorder) {
    ++counters_.reordered;  // skips ahead of everything still in flight
  } else {
    std::int64_t d = spec_.delay_ns;
    if (spec_.jitter_ns > 0) {
      d += static_cast<std::int64_t>((unit_(rng_) * 2.0 - 1.0) * static_cast<double>(spec_.jitter_ns));
    }
    release = t_ns + std::max<std::int64_t>(d, 0);
    if (!spec_.jitter_reorder) release = std::max(release, last_release_ns_);
    last_release_ns_ = release;
  }
  delay_line_.push_back(in_flight{release, seq_++, slot, len});
  std::push_heap(delay_line_.begin(), delay_line_.end(), [](const in_flight& a, const in_flight& b) {
    return a.release_ns != b.release_ns ? a.release_ns > b.release_ns : a.seq > b.seq;
  });
}

direction::in_flight direction::pop_delay_line() {
  std::pop_heap(delay_line_.begin(), delay_line_.end(), [](const in_flight& a, const in_flight& b) {
    return a.release_ns != b.release_ns ? a.release_ns > b.release_ns : a.seq > b.seq;
  });
  const in_flight f = delay_line_.back();
  delay_line_.pop_back();
  return f;
}

std::optional<std::int64_t> direction::next_event() const {
  std::optional<std::int64_t> t;
  if (!delay_line_.empty()) t = delay_line_.front().release_ns;
  if (spec_.rate_bps > 0 && queue_count_ > 0) {
    const std::int64_t d = departure_time(queue_[queue_head_].len);
    t = t ? std::min(*t, d) : d;
  }
  return t;
}

}  // namespace baton::linkemu
