#include "net/packet/frag_needed.hpp"

#include <algorithm>
#include <cstring>

#include "net/packet/checksum.hpp"
#include "net/packet/icmp.hpp"
#include "net/packet/ipv4.hpp"

namespace baton::net {

frag_needed_result make_frag_needed(bytes_span packet, std::size_t port_mtu, std::size_t& out_length) noexcept {
  const bytes_view whole(packet.data, packet.size);
  const ipv4_view outer(whole);
  if (outer.validate() != parse_status::ok || outer.protocol() != ip_protocol_ipip)
    return frag_needed_result::not_tunnelled;
  const std::size_t outer_len = outer.header_length();
  if (port_mtu <= outer_len + 68) return frag_needed_result::not_tunnelled;  // RFC 791's minimum
  const auto mtu = static_cast<std::uint16_t>(std::min<std::size_t>(port_mtu - outer_len, 65535));
  const bytes_view inner_bytes = whole.sub(outer_len, outer.total_length() - outer_len);
  const ipv4_view inner(inner_bytes);
  if (inner.validate_header() != parse_status::ok) return frag_needed_result::not_tunnelled;
  if (!inner.dont_fragment()) return frag_needed_result::may_fragment;
  const std::size_t inner_header = inner.header_length();
  if (inner.protocol() == ip_protocol_icmp && inner.fragment_offset() == 0 && inner_bytes.size > inner_header) {
    const std::uint8_t type = inner_bytes.data[inner_header];
    if (type != icmp_echo && type != icmp_echo_reply && type != icmp_timestamp && type != icmp_timestamp_reply)
      return frag_needed_result::is_icmp_error;
  }
  const std::uint32_t to = inner.src(), from = outer.src();
  const std::size_t quote = std::min(inner_bytes.size, inner_header + frag_needed_quote);
  std::uint8_t* p = packet.data;
  // The quote moves 8 bytes up to make room for the ICMP header (the regions overlap).
  std::memmove(p + 20 + icmp_header_length, p + outer_len, quote);
  const std::size_t total =
    write_icmp_error(p, from, to, icmp_destination_unreachable, icmp_fragmentation_needed, mtu, quote);
  out_length = total;
  return frag_needed_result::made;
}

}  // namespace baton::net
