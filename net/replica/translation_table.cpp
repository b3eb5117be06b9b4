#include "net/replica/translation_table.hpp"

#include <stdexcept>

#include "net/io/packet_buffer.hpp"

namespace baton::net {

struct translation_table::live_counters {
  BATON_TRANSLATION_COUNTERS(BATON_COUNTER_ATOMIC, BATON_COUNTER_ATOMIC)
};

const char* to_string(translation_state s) noexcept {
  switch (s) {
    case translation_state::pending: return "pending";
    case translation_state::replica: return "replica";
    case translation_state::origin: return "origin";
  }
  return "?";
}

translation_table::translation_table(std::size_t capacity) : capacity_(capacity) {
  if (capacity == 0 || capacity > (std::size_t{1} << 22))
    throw std::invalid_argument("translation table capacity must be 1 .. 4194304");
  slots_ = 2;
  while (slots_ < 2 * capacity) slots_ <<= 1;
  entries_ = std::make_unique<translation_entry[]>(slots_);
  used_ = std::make_unique<bool[]>(slots_);
  live_ = std::make_unique<live_counters>();
  live_->capacity.store(capacity, std::memory_order_relaxed);
}

translation_table::~translation_table() = default;

std::size_t translation_table::slot_of(const translation_key& key) const noexcept {
  std::uint64_t h = (std::uint64_t{key.client} << 32) | (std::uint64_t{key.client_port} << 16) |
                    key.server_port;
  // splitmix64's finalizer.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return static_cast<std::size_t>(h) & (slots_ - 1);
}

translation_entry* translation_table::find(const translation_key& key) noexcept {
  bump(live_->lookups);
  for (std::size_t i = slot_of(key);; i = (i + 1) & (slots_ - 1)) {
    if (!used_[i]) return nullptr;
    if (entries_[i].key == key) {
      bump(live_->hits);
      return &entries_[i];
    }
  }
}

translation_entry* translation_table::insert(const translation_key& key, bool& created) noexcept {
  created = false;
  std::size_t i = slot_of(key);
  for (;; i = (i + 1) & (slots_ - 1)) {
    if (!used_[i]) break;
    if (entries_[i].key == key) return &entries_[i];
  }
  if (size() >= capacity_) {
    bump(live_->full);
    return nullptr;
  }
  entries_[i] = translation_entry{};
  entries_[i].key = key;
  used_[i] = true;
  size_.store(size() + 1, std::memory_order_relaxed);
  live_->entries.store(size(), std::memory_order_relaxed);
  bump(live_->inserts);
  created = true;
  return &entries_[i];
}

void translation_table::remove_at(std::size_t i) noexcept {
  // Backward-shift deletion: move later members of the probe run into the hole when their home
  // slot does not lie cyclically in (hole, their slot].
  const std::size_t mask = slots_ - 1;
  std::size_t hole = i;
  for (std::size_t j = (i + 1) & mask; used_[j]; j = (j + 1) & mask) {
    const std::size_t home = slot_of(entries_[j].key);
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    entries_[hole] = entries_[j];
    hole = j;
  }
  used_[hole] = false;
  size_.store(size() - 1, std::memory_order_relaxed);
  live_->entries.store(size(), std::memory_order_relaxed);
}

bool translation_table::erase(const translation_key& key) noexcept {
  for (std::size_t i = slot_of(key);; i = (i + 1) & (slots_ - 1)) {
    if (!used_[i]) return false;
    if (entries_[i].key == key) {
      remove_at(i);
      bump(live_->erased);
      return true;
    }
  }
}

bool translation_expired(const translation_entry& e, std::uint32_t now_ms,
                         const translation_timeouts& t) noexcept {
  const std::uint32_t idle = now_ms - e.last_seen_ms;
  if (e.closing) return idle >= t.closing_ms;
  if (e.state == translation_state::pending) return idle >= t.pending_ms;
  return idle >= t.idle_ms;
}

std::size_t translation_table::expire(std::uint32_t now_ms, const translation_timeouts& t,
                                      std::size_t max_slots) noexcept {
  std::size_t removed = 0;
  if (max_slots > slots_) max_slots = slots_;
  for (std::size_t n = 0; n < max_slots; ++n) {
    const std::size_t i = sweep_;
    if (used_[i] && translation_expired(entries_[i], now_ms, t)) {
      remove_at(i);  // a later entry may have moved into i: look at it again next
      ++removed;
      continue;
    }
    sweep_ = (sweep_ + 1) & (slots_ - 1);
  }
  if (removed) bump(live_->expired, removed);
  return removed;
}

translation_counters translation_table::counters() const noexcept {
  translation_counters c;
#define BATON_TT_COPY(name, help) c.name = live_->name.load(std::memory_order_relaxed);
  BATON_TRANSLATION_COUNTERS(BATON_TT_COPY, BATON_TT_COPY)
#undef BATON_TT_COPY
  return c;
}

}  // namespace baton::net
