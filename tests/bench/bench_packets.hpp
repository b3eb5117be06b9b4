#pragma once
// Datagrams the benchmarks feed their stages: built once before timing starts.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/packet/bytes.hpp"
#include "net/packet/checksum.hpp"
#include "net/packet/ipv4.hpp"

namespace baton::bench {

constexpr std::uint32_t ip4(int a, int b, int c, int d) {
  return (std::uint32_t(a) << 24) | (std::uint32_t(b) << 16) | (std::uint32_t(c) << 8) |
         std::uint32_t(d);
}

/// An IPv4/TCP datagram (20-byte headers, `payload` bytes of zeros), checksums right.
inline std::vector<std::uint8_t> tcp_datagram(std::uint32_t src, std::uint32_t dst,
                                              std::uint16_t sport, std::uint16_t dport,
                                              std::uint32_t seq, std::uint32_t ack,
                                              std::uint8_t flags, std::size_t payload) {
  using namespace baton::net;
  std::vector<std::uint8_t> p(40 + payload);
  p[0] = 0x45;
  store_be16(&p[2], static_cast<std::uint16_t>(p.size()));
  store_be16(&p[6], 0x4000);
  p[8] = 64;
  p[9] = ip_protocol_tcp;
  store_be32(&p[12], src);
  store_be32(&p[16], dst);
  store_be16(&p[10], internet_checksum(bytes_view(p.data(), 20)));
  store_be16(&p[20], sport);
  store_be16(&p[22], dport);
  store_be32(&p[24], seq);
  store_be32(&p[28], ack);
  p[32] = 5 << 4;
  p[33] = flags;
  store_be16(&p[34], 1000);
  store_be16(&p[36], transport_checksum(src, dst, ip_protocol_tcp,
                                        bytes_view(p.data() + 20, p.size() - 20)));
  return p;
}

}  // namespace baton::bench
