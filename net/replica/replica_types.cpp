#include "net/replica/replica_types.hpp"

#include "net/io/packet_buffer.hpp"

namespace baton::net {

const char* to_string(replica_configuration c) noexcept {
  switch (c) {
    case replica_configuration::a: return "A";
    case replica_configuration::b: return "B";
    case replica_configuration::c: return "C";
  }
  return "?";
}

const char* to_string(replica_health h) noexcept {
  switch (h) {
    case replica_health::active: return "active";
    case replica_health::busy: return "busy";
    case replica_health::dead: return "dead";
  }
  return "?";
}

void answer_scoreboard::record(std::uint32_t server, std::uint32_t answerer, bool won,
                               std::uint32_t rtt_us) noexcept {
  const std::size_t n = used_.load(std::memory_order_relaxed);
  slot* s = nullptr;
  for (std::size_t i = 0; i < n; ++i)
    if (slots_[i].server.load(std::memory_order_relaxed) == server &&
        slots_[i].answerer.load(std::memory_order_relaxed) == answerer) {
      s = &slots_[i];
      break;
    }
  if (!s) {
    if (n == capacity) {
      bump(overflow_);
      return;
    }
    s = &slots_[n];
    s->server.store(server, std::memory_order_relaxed);
    s->answerer.store(answerer, std::memory_order_relaxed);
    used_.store(n + 1, std::memory_order_release);
  }
  bump(won ? s->wins : s->losses);
  s->rtt_us_last.store(rtt_us, std::memory_order_relaxed);
  const std::uint32_t min = s->rtt_us_min.load(std::memory_order_relaxed);
  if (min == 0 || rtt_us < min) s->rtt_us_min.store(rtt_us, std::memory_order_relaxed);
  bump(s->rtt_us_sum, rtt_us);
}

std::vector<answer_stats> answer_scoreboard::snapshot() const {
  std::vector<answer_stats> out;
  const std::size_t n = used_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i) {
    const slot& s = slots_[i];
    out.push_back({s.server.load(std::memory_order_relaxed), s.answerer.load(std::memory_order_relaxed),
                   s.wins.load(std::memory_order_relaxed), s.losses.load(std::memory_order_relaxed),
                   s.rtt_us_last.load(std::memory_order_relaxed),
                   s.rtt_us_min.load(std::memory_order_relaxed),
                   s.rtt_us_sum.load(std::memory_order_relaxed)});
  }
  return out;
}

}  // namespace baton::net
