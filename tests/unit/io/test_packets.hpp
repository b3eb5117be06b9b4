#pragma once
// Datagrams for the I/O tests, built byte by byte with the checksums right, and the ways to
// break them.

#include <cstdint>
#include <vector>

#include "net/packet/bytes.hpp"
#include "net/packet/checksum.hpp"

namespace baton::net::test {

inline std::uint32_t ip4(int a, int b, int c, int d) {
  return (std::uint32_t(a) << 24) | (std::uint32_t(b) << 16) | (std::uint32_t(c) << 8) |
         std::uint32_t(d);
}

inline void fill_ipv4_header(std::vector<std::uint8_t>& p, std::uint32_t src, std::uint32_t dst,
                             std::uint8_t protocol) {
  p[0] = 0x45;
  p[1] = 0;
  store_be16(&p[2], static_cast<std::uint16_t>(p.size()));
  store_be16(&p[4], 0x1234);
  store_be16(&p[6], 0x4000);  // DF
  p[8] = 64;
  p[9] = protocol;
  store_be16(&p[10], 0);
  store_be32(&p[12], src);
  store_be32(&p[16], dst);
  store_be16(&p[10], internet_checksum(bytes_view(p.data(), 20)));
}

/// IPv4/UDP with a 4-byte sequence number followed by `extra` payload bytes; all checksums right.
inline std::vector<std::uint8_t> udp_packet(std::uint32_t seq, std::size_t extra = 0,
                                            std::uint32_t src = ip4(10, 0, 0, 1),
                                            std::uint32_t dst = ip4(10, 0, 0, 2),
                                            std::uint16_t sport = 4000, std::uint16_t dport = 5000) {
  std::vector<std::uint8_t> p(20 + 8 + 4 + extra);
  // Walked by iterator: GCC's -Wstringop-overflow misreads p[32 + i] when `extra` is a constant.
  std::size_t i = 0;
  for (auto it = p.begin() + 32; it != p.end(); ++it, ++i) *it = static_cast<std::uint8_t>(i * 7 + seq);
  store_be32(&p[28], seq);
  store_be16(&p[20], sport);
  store_be16(&p[22], dport);
  store_be16(&p[24], static_cast<std::uint16_t>(p.size() - 20));
  fill_ipv4_header(p, src, dst, 17);
  std::uint16_t c = transport_checksum(src, dst, 17, bytes_view(p.data() + 20, p.size() - 20));
  store_be16(&p[26], c == 0 ? 0xffff : c);
  return p;
}

/// IPv4/TCP (20-byte header, data offset 5) with `payload` bytes; all checksums right.
inline std::vector<std::uint8_t> tcp_packet(std::size_t payload = 8) {
  const std::uint32_t src = ip4(10, 0, 0, 1), dst = ip4(10, 0, 0, 2);
  std::vector<std::uint8_t> p(40 + payload);
  store_be16(&p[20], 1234);
  store_be16(&p[22], 80);
  store_be32(&p[24], 1000);
  p[32] = 5 << 4;
  p[33] = 0x18;  // PSH ACK
  store_be16(&p[34], 65535);
  fill_ipv4_header(p, src, dst, 6);
  store_be16(&p[36], transport_checksum(src, dst, 6, bytes_view(p.data() + 20, p.size() - 20)));
  return p;
}

/// The sequence number udp_packet() put in `p` (which may be encapsulated: pass the inner offset).
inline std::uint32_t udp_seq(const std::vector<std::uint8_t>& p, std::size_t ip_offset = 0) {
  return load_be32(&p[ip_offset + 28]);
}

}  // namespace baton::net::test
