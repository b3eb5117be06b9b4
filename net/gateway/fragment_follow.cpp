#include "net/gateway/fragment_follow.hpp"

namespace baton::net {

fragment_key fragment_key_of(bytes_view packet) noexcept {
  fragment_key k;
  k.src = load_be32(packet.data + 12);
  k.dst = load_be32(packet.data + 16);
  k.id = load_be16(packet.data + 4);
  k.protocol = packet.data[9];
  return k;
}

fragment_follow::fragment_follow(std::size_t slots, std::chrono::milliseconds lifetime)
    : lifetime_(lifetime) {
  std::size_t n = 4;
  while (n < slots) n <<= 1;
  slots_.assign(n, slot{});
  mask_ = n - 1;
}

std::size_t fragment_follow::home(const fragment_key& k) const noexcept {
  // The identification varies fastest between datagrams of one flow; mixing the addresses in
  // spreads many flows' datagrams with the same identification.
  std::uint64_t h = (std::uint64_t{k.src} << 32 | k.dst) * 0x9E3779B97F4A7C15ULL;
  h ^= (std::uint64_t{k.id} << 8 | k.protocol) * 0xC2B2AE3D27D4EB4FULL;
  return static_cast<std::size_t>(h >> 32) & mask_;
}

void fragment_follow::remember(const fragment_key& k, const fragment_decision& d,
                               std::chrono::milliseconds now) noexcept {
  const std::size_t h = home(k);
  slot* victim = nullptr;
  for (std::size_t i = 0; i < 4; ++i) {
    slot& s = slots_[(h + i) & mask_];
    if (s.expires.count() != 0 && same(s.key, k)) {
      victim = &s;
      break;
    }
    if (s.expires <= now) {  // empty or expired
      if (victim == nullptr || victim->expires > now) victim = &s;
    } else if (victim == nullptr || (victim->expires > now && s.expires < victim->expires)) {
      victim = &s;  // the oldest live one, unless a free slot turns up
    }
  }
  if (victim->expires > now && !same(victim->key, k)) ++evicted_;
  victim->key = k;
  victim->decision = d;
  victim->expires = now + lifetime_;
}

const fragment_decision* fragment_follow::find(const fragment_key& k,
                                               std::chrono::milliseconds now) const noexcept {
  const std::size_t h = home(k);
  for (std::size_t i = 0; i < 4; ++i) {
    const slot& s = slots_[(h + i) & mask_];
    if (s.expires > now && same(s.key, k)) return &s.decision;
  }
  return nullptr;
}

}  // namespace baton::net
