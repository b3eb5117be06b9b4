#pragma once
// The flow key, defined once (STYLE habit 7): the IPv4 5-tuple shared by the flow table, the
// work-unit hash and the control-plane messages that name a flow.
//
// Byte order is part of the types. Every integer inside flow_key is in HOST byte order (the
// aliases ipv4_host / port_host say so); values still in network order, as the kernel hands them
// over in sockaddr_in or as they sit in a header, are wrapped in wire_u32 / wire_u16 and must go
// through to_host() before they can become part of a key. Header bytes are read with
// load_be16/load_be32 (net/packet/bytes.hpp) or with from_wire_bytes() below.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "net/packet/packet_fields.hpp"

namespace baton::net {

/// An IPv4 address as a number in host byte order: 10.0.0.1 is 0x0A000001 on every machine.
using ipv4_host = std::uint32_t;
/// A TCP/UDP port in host byte order: port 80 is 80 on every machine.
using port_host = std::uint16_t;

/// A 32-bit value in network byte order, exactly as it sits in memory on the wire
/// (e.g. sockaddr_in::sin_addr.s_addr). Only to_host() turns it into a number.
struct wire_u32 {
  std::uint32_t raw = 0;
};
/// A 16-bit value in network byte order (e.g. sockaddr_in::sin_port).
struct wire_u16 {
  std::uint16_t raw = 0;
};

namespace detail {
constexpr bool host_is_big_endian() { return __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__; }
}  // namespace detail

/// Network order to host order. Pure; never throws.
constexpr ipv4_host to_host(wire_u32 v) noexcept {
  return detail::host_is_big_endian() ? v.raw : __builtin_bswap32(v.raw);
}
constexpr port_host to_host(wire_u16 v) noexcept {
  return detail::host_is_big_endian() ? v.raw : __builtin_bswap16(v.raw);
}
/// Host order to network order. Pure; never throws.
constexpr wire_u32 to_wire32(std::uint32_t host) noexcept {
  return {detail::host_is_big_endian() ? host : __builtin_bswap32(host)};
}
constexpr wire_u16 to_wire16(std::uint16_t host) noexcept {
  return {detail::host_is_big_endian() ? host : __builtin_bswap16(host)};
}

/// The IPv4 5-tuple of one direction of a flow. 16 bytes, trivially copyable, no hidden padding:
/// the three reserved bytes are explicit and always zero, so a key can be copied into messages
/// and compared or hashed field by field.
struct flow_key {
  ipv4_host src_addr = 0;   // IPv4 source, host order
  ipv4_host dst_addr = 0;   // IPv4 destination, host order
  port_host src_port = 0;   // TCP/UDP source port, host order; 0 for other protocols
  port_host dst_port = 0;   // TCP/UDP destination port, host order; 0 for other protocols
  std::uint8_t protocol = 0;            // IP protocol number (6 TCP, 17 UDP, 1 ICMP, ...)
  std::uint8_t reserved[3] = {0, 0, 0};  // explicit padding; always zero, ignored by == and hash

  /// The key of the return direction: addresses and ports swapped, protocol kept.
  /// reverse().reverse() == *this. Pure; never throws.
  constexpr flow_key reverse() const noexcept {
    flow_key r;
    r.src_addr = dst_addr;
    r.dst_addr = src_addr;
    r.src_port = dst_port;
    r.dst_port = src_port;
    r.protocol = protocol;
    return r;
  }

  /// A key from values still in network order (sockaddr_in fields, raw header words).
  static constexpr flow_key from_wire(wire_u32 src, wire_u32 dst, wire_u16 sport, wire_u16 dport,
                                      std::uint8_t proto) noexcept {
    flow_key k;
    k.src_addr = to_host(src);
    k.dst_addr = to_host(dst);
    k.src_port = to_host(sport);
    k.dst_port = to_host(dport);
    k.protocol = proto;
    return k;
  }

  /// Size of the fixed network-order encoding used by to_wire_bytes / from_wire_bytes.
  static constexpr std::size_t wire_size = 13;

  /// Writes the key as 13 network-order bytes: src(4) dst(4) sport(2) dport(2) protocol(1).
  /// `out` must hold wire_size bytes; the caller owns it. Never throws.
  void to_wire_bytes(std::uint8_t* out) const noexcept {
    store_be32(out, src_addr);
    store_be32(out + 4, dst_addr);
    store_be16(out + 8, src_port);
    store_be16(out + 10, dst_port);
    out[12] = protocol;
  }
  /// Reads the 13-byte encoding written by to_wire_bytes. `in` must hold wire_size bytes.
  static flow_key from_wire_bytes(const std::uint8_t* in) noexcept {
    flow_key k;
    k.src_addr = load_be32(in);
    k.dst_addr = load_be32(in + 4);
    k.src_port = load_be16(in + 8);
    k.dst_port = load_be16(in + 10);
    k.protocol = in[12];
    return k;
  }
};

static_assert(std::is_trivially_copyable_v<flow_key>);
static_assert(sizeof(flow_key) == 16, "flow_key must stay 16 bytes (two per cache-line quarter)");
static_assert(alignof(flow_key) == 4);

/// Field-wise equality (the reserved bytes do not take part).
constexpr bool operator==(const flow_key& a, const flow_key& b) noexcept {
  return a.src_addr == b.src_addr && a.dst_addr == b.dst_addr && a.src_port == b.src_port &&
         a.dst_port == b.dst_port && a.protocol == b.protocol;
}
constexpr bool operator!=(const flow_key& a, const flow_key& b) noexcept { return !(a == b); }

/// The key of a parsed packet (parse_fields() fills `f`). Ports are taken as parse_fields left
/// them: 0 for protocols without ports and for non-first fragments, so a fragmented datagram's
/// later fragments do NOT map to the same key as its first one (reassemble first if that matters).
constexpr flow_key from_fields(const packet_fields& f) noexcept {
  flow_key k;
  k.src_addr = f.src;
  k.dst_addr = f.dst;
  k.src_port = f.src_port;
  k.dst_port = f.dst_port;
  k.protocol = f.protocol;
  return k;
}

/// murmur3's 64-bit finaliser: every input bit reaches every output bit.
constexpr std::uint64_t mix64(std::uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

/// A fast 64-bit hash of the key (reserved bytes ignored), for hash tables. `seed` lets a table
/// pick its own function so that keys crafted to collide in one table do not collide in every
/// table. Equal keys give equal hashes for the same seed. Direction matters: hash(k) and
/// hash(k.reverse()) generally differ.
constexpr std::uint64_t hash(const flow_key& k, std::uint64_t seed = 0) noexcept {
  const std::uint64_t a = (std::uint64_t{k.src_addr} << 32) | k.dst_addr;
  const std::uint64_t b = (std::uint64_t{k.src_port} << 32) | (std::uint64_t{k.dst_port} << 16) |
                          k.protocol;
  // Two odd-constant multiplies make each word's bits depend on its lower bits; the finaliser
  // then spreads everything over the whole word.
  return mix64((a ^ seed) * 0x9e3779b97f4a7c15ULL + b * 0xd6e8feb86659fd93ULL);
}

/// Hash functor for std::unordered_map<flow_key, ...> and similar.
struct flow_key_hash {
  std::size_t operator()(const flow_key& k) const noexcept {
    return static_cast<std::size_t>(hash(k));
  }
};

}  // namespace baton::net
