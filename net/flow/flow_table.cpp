#include "net/flow/flow_table.hpp"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace baton::net {

const char* to_string(flow_state s) noexcept {
  switch (s) {
    case flow_state::tcp_syn_seen: return "tcp_syn_seen";
    case flow_state::tcp_established: return "tcp_established";
    case flow_state::tcp_closing: return "tcp_closing";
    case flow_state::tcp_closed: return "tcp_closed";
    case flow_state::udp: return "udp";
    case flow_state::other: return "other";
  }
  return "unknown";
}

flow_state initial_state(std::uint8_t protocol, std::uint8_t tcp_flags) noexcept {
  if (protocol == 17) return flow_state::udp;
  if (protocol != 6) return flow_state::other;
  if (tcp_flags & tcp_flag_rst) return flow_state::tcp_closed;
  if (tcp_flags & tcp_flag_fin) return flow_state::tcp_closing;
  if (opens_flow(protocol, tcp_flags)) return flow_state::tcp_syn_seen;
  return flow_state::tcp_established;
}

flow_state next_state(flow_state s, std::uint8_t tcp_flags) noexcept {
  switch (s) {
    case flow_state::udp:
    case flow_state::other:
      return s;
    default:
      break;
  }
  if (tcp_flags & tcp_flag_rst) return flow_state::tcp_closed;
  if ((s == flow_state::tcp_closing || s == flow_state::tcp_closed) &&
      opens_flow(ip_protocol_tcp, tcp_flags))
    return flow_state::tcp_syn_seen;
  if (tcp_flags & tcp_flag_fin) return s == flow_state::tcp_closed ? s : flow_state::tcp_closing;
  if (s == flow_state::tcp_syn_seen && (tcp_flags & (tcp_flag_syn | tcp_flag_ack)) == tcp_flag_ack)
    return flow_state::tcp_established;
  return s;
}

std::chrono::milliseconds flow_timeouts::of(flow_state s) const noexcept {
  switch (s) {
    case flow_state::tcp_syn_seen: return tcp_syn_seen;
    case flow_state::tcp_established: return tcp_established;
    case flow_state::tcp_closing: return tcp_closing;
    case flow_state::tcp_closed: return tcp_closed;
    case flow_state::udp: return udp;
    case flow_state::other: return other;
  }
  return other;
}

flow_value make_flow_value(std::uint8_t protocol, std::uint8_t tcp_flags, std::uint32_t work_unit,
                           std::chrono::milliseconds now, std::uint32_t user) noexcept {
  flow_value v;
  v.user = user;
  v.last_seen = flow_stamp(now);
  v.work_unit = static_cast<std::uint16_t>(work_unit);
  v.state = initial_state(protocol, tcp_flags);
  return v;
}

void touch(flow_value& v, std::chrono::milliseconds now, std::uint8_t tcp_flags) noexcept {
  v.last_seen = flow_stamp(now);
  v.state = next_state(v.state, tcp_flags);
}

flow_table::flow_table(std::size_t capacity, const flow_timeouts& timeouts, std::uint64_t seed)
    : capacity_(capacity), seed_(seed), timeouts_(timeouts) {
  if (capacity == 0 || capacity > max_capacity) {
    throw std::invalid_argument("flow table capacity must be 1.." + std::to_string(max_capacity) +
                                ", got " + std::to_string(capacity));
  }
  for (std::size_t i = 0; i < flow_state_count; ++i) {
    const auto s = static_cast<flow_state>(i);
    const auto ms = timeouts.of(s).count();
    if (ms < 1 || ms > 0x7fffffff) {
      throw std::invalid_argument(std::string("flow timeout for ") + to_string(s) +
                                  " must be 1 ms .. 2^31-1 ms, got " + std::to_string(ms) + " ms");
    }
    timeout_ms_[i] = static_cast<std::uint32_t>(ms);
  }
  nslots_ = slots_for(capacity);
  // Round the allocation up to whole 2 MiB pages and ask for huge pages: random probes into a
  // table of tens of MiB otherwise pay a TLB miss on top of the cache miss.
  constexpr std::size_t huge_page = std::size_t{2} << 20;
  const std::size_t bytes = nslots_ * slot_bytes;
  // Only from 16 MiB on, so the rounding costs at most 1/8 (max_bytes_per_entry counts it).
  const bool huge = bytes >= 8 * huge_page;
  const std::size_t align = huge ? huge_page : 64;
  const std::size_t rounded = (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded);
  if (p == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (huge) ::madvise(p, rounded, MADV_HUGEPAGE);  // a hint; failure is harmless
#endif
  std::memset(p, 0, rounded);  // every dib 0 (empty); also faults every page in now
  slots_.reset(static_cast<slot*>(p));
  alloc_bytes_ = rounded;
}

void flow_table::release::operator()(slot* p) const noexcept { std::free(p); }

insert_result flow_table::insert(const flow_key& k, const flow_value& v) noexcept {
  std::size_t i = home(k);
  std::uint32_t dib = 1;
  // Walk the chain as find() does: either meet k, or reach the slot where k belongs.
  for (;; ++dib, i = next(i)) {
    const slot& s = slots_[i];
    if (s.dib < dib) break;
    if (s.key == k) return {insert_status::exists, &slots_[i].value};
  }
  if (size_ == capacity_) return {insert_status::full, nullptr};

  // Robin Hood: place k here and push the displaced entries on, each taking the place of the
  // first entry that is nearer its home than it is. There is always an empty slot to end in,
  // because slots outnumber capacity.
  slot carry{k, v, dib};
  flow_value* stored = &slots_[i].value;
  for (;;) {
    slot& s = slots_[i];
    if (s.dib == 0) {
      s = carry;
      break;
    }
    if (s.dib < carry.dib) std::swap(s, carry);
    i = next(i);
    ++carry.dib;
  }
  ++size_;
  return {insert_status::inserted, stored};
}

void flow_table::erase_at(std::size_t i) noexcept {
  // Backward shift: pull each following displaced entry one slot nearer its home.
  for (std::size_t j = next(i); slots_[j].dib > 1; i = j, j = next(j)) {
    slots_[i] = slots_[j];
    --slots_[i].dib;
  }
  slots_[i].dib = 0;
  --size_;
}

bool flow_table::erase(const flow_key& k) noexcept {
  const std::size_t i = index_of(k);
  if (i == npos) return false;
  erase_at(i);
  return true;
}

void flow_table::clear() noexcept {
  for (std::size_t i = 0; i < nslots_; ++i) slots_[i].dib = 0;
  size_ = 0;
  cursor_ = 0;
}

std::size_t flow_table::longest_probe() const noexcept {
  std::size_t longest = 0;
  for (std::size_t i = 0; i < nslots_; ++i)
    if (slots_[i].dib > longest) longest = slots_[i].dib;
  return longest;
}

}  // namespace baton::net
