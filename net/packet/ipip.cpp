#include "net/packet/ipip.hpp"

#include "net/packet/checksum.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/packet_fields.hpp"

namespace baton::net {

edit_status ipip_encapsulate(bytes_span buffer, std::size_t inner_offset, const ipip_tunnel& tunnel,
                             bytes_span& outer) noexcept {
  if (inner_offset < ipip_overhead || inner_offset > buffer.size) return edit_status::no_room;
  const ipv4_view inner(buffer.sub(inner_offset));
  if (inner.validate() != parse_status::ok) return edit_status::malformed;
  const std::size_t total = std::size_t{inner.total_length()} + ipip_overhead;
  if (total > 0xffff) return edit_status::no_room;

  std::uint8_t* h = buffer.data + inner_offset - ipip_overhead;
  h[0] = static_cast<std::uint8_t>((ipv4_version << 4) | 5);
  h[1] = inner.tos();
  store_be16(h + 2, static_cast<std::uint16_t>(total));
  store_be16(h + 4, tunnel.identification);
  store_be16(h + 6, inner.dont_fragment() ? ipv4_flag_df : 0);
  h[8] = tunnel.ttl;
  h[9] = ip_protocol_ipip;
  store_be32(h + 12, tunnel.src);
  store_be32(h + 16, tunnel.dst);
  outer = bytes_span(h, total);
  ipv4_mutable_view(outer).recompute_checksum();
  return edit_status::ok;
}

parse_status ipip_decapsulate(bytes_view packet, bytes_view& inner,
                              bool verify_outer_checksum) noexcept {
  const ipv4_view outer(packet);
  if (auto s = outer.validate(); s != parse_status::ok) return s;
  if (verify_outer_checksum && !outer.checksum_ok()) return parse_status::bad_checksum;
  if (outer.protocol() != ip_protocol_ipip) return parse_status::unsupported;
  if (outer.is_fragment()) return parse_status::fragment;
  const bytes_view payload = outer.payload();
  const ipv4_view in(payload);
  if (auto s = in.validate(); s != parse_status::ok) return s;
  inner = payload.sub(0, in.total_length());
  return parse_status::ok;
}

parse_status ipip_decapsulate(bytes_span packet, bytes_span& inner,
                              bool verify_outer_checksum) noexcept {
  bytes_view v;
  const parse_status s = ipip_decapsulate(bytes_view(packet), v, verify_outer_checksum);
  if (s == parse_status::ok)
    inner = bytes_span(packet.data + (v.data - packet.data), v.size);
  return s;
}

parse_status ipip_decapsulate_checked(bytes_span packet, bytes_span& inner,
                                      packet_fields* fields) noexcept {
  parse_status s = ipip_decapsulate(packet, inner, false);
  if (s == parse_status::ok && fields != nullptr) s = parse_fields(inner, *fields);
  if (s == parse_status::ok) s = verify_checksums(inner);
  return s;
}

}  // namespace baton::net
