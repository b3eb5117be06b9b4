#include "net/packet/checksum.hpp"

#include <cstring>

#include "net/packet/ipv4.hpp"
#include "net/packet/udp.hpp"
#include "net/packet/tcp.hpp"

namespace baton::net {

std::uint32_t checksum_add(bytes_view data, std::uint32_t sum) noexcept {
  // RFC 1071 §2(B): the one's-complement sum does not depend on byte order, so the words are
  // summed as the machine loads them and the folded 16-bit result is swapped to network order
  // once. 8 bytes a load, the carry out of each 64-bit add added back (end-around carry), four
  // independent accumulators: about 4x fewer instructions than one big-endian 16-bit load per
  // word.
  const std::uint8_t* p = data.data;
  std::size_t i = 0;
  // Four accumulators in registers (named, not an array: GCC kept an array on the stack).
  std::uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, c0 = 0, c1 = 0, c2 = 0, c3 = 0;
  auto add = [](std::uint64_t& a, std::uint64_t& c, const std::uint8_t* from) {
    std::uint64_t w;
    std::memcpy(&w, from, 8);
    a += w;
    c += a < w;  // the carry out, added back below
  };
  for (; i + 32 <= data.size; i += 32) {
    add(a0, c0, p + i);
    add(a1, c1, p + i + 8);
    add(a2, c2, p + i + 16);
    add(a3, c3, p + i + 24);
  }
  std::uint64_t acc = c0 + c1 + c2 + c3;  // each < 2^32: no overflow below
  acc += (a0 & 0xffffffffu) + (a0 >> 32) + (a1 & 0xffffffffu) + (a1 >> 32);
  acc += (a2 & 0xffffffffu) + (a2 >> 32) + (a3 & 0xffffffffu) + (a3 >> 32);
  for (; i + 4 <= data.size; i += 4) {
    std::uint32_t w;
    std::memcpy(&w, p + i, 4);
    acc += w;
  }
  if (i + 2 <= data.size) {
    std::uint16_t w;
    std::memcpy(&w, p + i, 2);
    acc += w;
    i += 2;
  }
  std::uint16_t odd[1] = {0};
  if (i < data.size) {
    // The odd trailing byte, padded with a zero byte on the right (in network order).
    std::uint8_t pad[2] = {p[i], 0};
    std::memcpy(odd, pad, 2);
    acc += odd[0];
  }
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  auto folded = static_cast<std::uint16_t>(acc);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  folded = static_cast<std::uint16_t>((folded >> 8) | (folded << 8));
#endif
  std::uint64_t total = std::uint64_t{sum} + folded;
  while (total >> 32) total = (total & 0xffffffffu) + (total >> 32);
  return static_cast<std::uint32_t>(total);
}

std::uint16_t checksum_fold(std::uint32_t sum) noexcept {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

std::uint16_t internet_checksum(bytes_view data) noexcept {
  return static_cast<std::uint16_t>(~checksum_fold(checksum_add(data)));
}

std::uint32_t pseudo_header_sum(std::uint32_t src, std::uint32_t dst, std::uint8_t protocol,
                                std::uint16_t l4_length) noexcept {
  std::uint32_t sum = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff);
  return sum + protocol + l4_length;
}

std::uint16_t transport_checksum(std::uint32_t src, std::uint32_t dst, std::uint8_t protocol,
                                 bytes_view segment) noexcept {
  const std::uint32_t sum =
      checksum_add(segment, pseudo_header_sum(src, dst, protocol,
                                              static_cast<std::uint16_t>(segment.size)));
  return static_cast<std::uint16_t>(~checksum_fold(sum));
}

std::uint16_t checksum_update16(std::uint16_t checksum, std::uint16_t old_value,
                                std::uint16_t new_value) noexcept {
  return checksum_replace(checksum, old_value, new_value);
}

std::uint16_t checksum_update32(std::uint16_t checksum, std::uint32_t old_value,
                                std::uint32_t new_value) noexcept {
  return checksum_replace(checksum, (old_value >> 16) + (old_value & 0xffff),
                          (new_value >> 16) + (new_value & 0xffff));
}

bool ipv4_header_checksum_ok(bytes_view packet) noexcept {
  ipv4_view ip(packet);
  if (ip.validate_header() != parse_status::ok) return false;
  return ip.checksum_ok();
}

namespace {

// Finds the transport segment of an unfragmented TCP/UDP datagram and the offset of its
// checksum field, or says why there is none.
parse_status locate_l4(bytes_view packet, ipv4_view& ip, bytes_view& segment,
                       std::size_t& checksum_offset) noexcept {
  ip = ipv4_view(packet);
  if (auto s = ip.validate(); s != parse_status::ok) return s;
  if (ip.is_fragment()) return parse_status::fragment;
  segment = ip.payload();
  if (ip.protocol() == ip_protocol_tcp) {
    if (auto s = tcp_view(segment).validate(); s != parse_status::ok) return s;
    checksum_offset = tcp_checksum_offset;
    return parse_status::ok;
  }
  if (ip.protocol() == ip_protocol_udp) {
    udp_view udp(segment);
    if (auto s = udp.validate(); s != parse_status::ok) return s;
    segment = segment.sub(0, udp.length());  // the UDP length rules what is summed
    checksum_offset = udp_checksum_offset;
    return parse_status::ok;
  }
  return parse_status::unsupported;
}

}  // namespace

parse_status verify_l4_checksum(bytes_view ip_packet) noexcept {
  ipv4_view ip;
  bytes_view segment;
  std::size_t off = 0;
  if (auto s = locate_l4(ip_packet, ip, segment, off); s != parse_status::ok) return s;
  if (ip.protocol() == ip_protocol_udp && load_be16(segment.data + off) == 0)
    return parse_status::ok;  // RFC 768: zero means the sender did not compute one
  const std::uint32_t sum = checksum_add(
      segment, pseudo_header_sum(ip.src(), ip.dst(), ip.protocol(),
                                 static_cast<std::uint16_t>(segment.size)));
  return checksum_fold(sum) == 0xffff ? parse_status::ok : parse_status::bad_checksum;
}

parse_status verify_checksums(bytes_view ip_packet) noexcept {
  if (!ipv4_header_checksum_ok(ip_packet)) return parse_status::bad_checksum;
  const ipv4_view ip(ip_packet);
  if (ip.is_fragment() || (ip.protocol() != ip_protocol_tcp && ip.protocol() != ip_protocol_udp))
    return parse_status::ok;
  return verify_l4_checksum(ip_packet) == parse_status::bad_checksum ? parse_status::bad_l4_checksum
                                                                      : parse_status::ok;
}

parse_status finish_l4_checksum(bytes_span ip_packet) noexcept {
  ipv4_view ip;
  bytes_view segment;
  std::size_t off = 0;
  if (auto s = locate_l4(ip_packet, ip, segment, off); s != parse_status::ok) return s;
  // segment points into ip_packet; write through the writable span at the same place.
  std::uint8_t* field = ip_packet.data + (segment.data - ip_packet.data) + off;
  store_be16(field, 0);
  std::uint16_t c = transport_checksum(ip.src(), ip.dst(), ip.protocol(), segment);
  if (c == 0 && ip.protocol() == ip_protocol_udp) c = 0xffff;
  store_be16(field, c);
  return parse_status::ok;
}

}  // namespace baton::net
