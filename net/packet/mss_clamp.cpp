#include "net/packet/mss_clamp.hpp"

#include "net/packet/checksum.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/tcp.hpp"

namespace baton::net {

mss_clamp_result clamp_syn_mss(bytes_span ip_packet, std::uint16_t max_mss) noexcept {
  const bytes_view whole(ip_packet.data, ip_packet.size);
  const ipv4_view ip(whole);
  if (ip.validate_header() != parse_status::ok) return mss_clamp_result::malformed;
  if (ip.protocol() != ip_protocol_tcp || ip.fragment_offset() != 0) return mss_clamp_result::not_syn;
  const std::size_t at = ip.header_length();
  const std::size_t end = ip.total_length() < whole.size ? ip.total_length() : whole.size;
  if (end < at + tcp_min_header_length) return mss_clamp_result::malformed;
  const tcp_view tcp(whole.sub(at, end - at));
  if (tcp.validate() != parse_status::ok) return mss_clamp_result::malformed;
  if (!tcp.syn() || tcp.rst()) return mss_clamp_result::not_syn;
  tcp_option_walker walk(tcp.options());
  tcp_option o;
  while (walk.next(o)) {
    if (o.kind != tcp_option_maximum_segment_size) continue;
    const std::uint16_t mss = load_be16(o.value.data);
    if (mss <= max_mss) return mss_clamp_result::within;
    // The option's value sits inside ip_packet: write through the mutable span.
    std::uint8_t* value = ip_packet.data + (o.value.data - whole.data);
    std::uint8_t* checksum = ip_packet.data + at + tcp_checksum_offset;
    // The MSS is 2-byte aligned within the segment only by convention: update the checksum
    // over the 16-bit word pair that holds it.
    const std::size_t offset = static_cast<std::size_t>(value - (ip_packet.data + at));
    if (offset % 2 == 0) {
      store_be16(checksum, checksum_update16(load_be16(checksum), mss, max_mss));
      store_be16(value, max_mss);
    } else {
      // Odd offset: the two bytes straddle words; recompute from the words before and after.
      std::uint8_t* word = value - 1;
      const std::uint32_t before = load_be32(word);
      store_be16(value, max_mss);
      const std::uint32_t after = load_be32(word);
      store_be16(checksum, checksum_update32(load_be16(checksum), before, after));
    }
    return mss_clamp_result::clamped;
  }
  if (walk.status() != parse_status::ok) return mss_clamp_result::malformed;
  return mss_clamp_result::within;  // no option: the peer assumes 536 (RFC 9293)
}

mss_clamp_result clamp_tunnelled_syn_mss(bytes_span outer, std::uint16_t max_mss) noexcept {
  const ipv4_view ip(bytes_view(outer.data, outer.size));
  if (ip.validate_header() != parse_status::ok) return mss_clamp_result::malformed;
  if (ip.protocol() != ip_protocol_ipip || ip.fragment_offset() != 0 || ip.more_fragments())
    return mss_clamp_result::not_syn;
  const std::size_t at = ip.header_length();
  const std::size_t end = ip.total_length() < outer.size ? ip.total_length() : outer.size;
  if (end <= at) return mss_clamp_result::malformed;
  return clamp_syn_mss(bytes_span(outer.data + at, end - at), max_mss);
}

}  // namespace baton::net
