#include "net/packet/flow_advert.hpp"

#include "net/packet/checksum.hpp"
#include "net/packet/icmp.hpp"
#include "net/packet/ipv4.hpp"

namespace baton::net {

namespace {
constexpr std::size_t ip_header = ipv4_min_header_length;
constexpr std::uint8_t echo_pattern_start = 0x10;  // ping(8)'s default fill: 0x10, 0x11, ...
}  // namespace

std::size_t flow_advert_size() noexcept { return ip_header + flow_advert_icmp_size; }

edit_status build_flow_advert(bytes_span out, const flow_advert& a, std::uint16_t id,
                              std::uint16_t seq) noexcept {
  const std::size_t total = flow_advert_size();
  if (out.size < total) return edit_status::no_room;
  std::uint8_t* p = out.data;

  // IPv4 header (RFC 791): an atomic datagram, so identification 0 with DF (RFC 6864).
  p[0] = static_cast<std::uint8_t>((ipv4_version << 4) | 5);
  p[1] = 0;
  store_be16(p + 2, static_cast<std::uint16_t>(total));
  store_be16(p + 4, 0);
  store_be16(p + 6, ipv4_flag_df);
  p[8] = flow_advert_ttl;
  p[9] = ip_protocol_icmp;
  store_be16(p + 10, 0);
  store_be32(p + 12, a.virtual_address);
  store_be32(p + 16, a.client_address);
  store_be16(p + 10, internet_checksum(bytes_view(p, ip_header)));

  // ICMP echo request carrying the advertisement.
  std::uint8_t* m = p + ip_header;
  m[0] = icmp_echo;
  m[1] = 0;
  store_be16(m + 2, 0);
  store_be16(m + 4, id);
  store_be16(m + 6, seq);
  for (std::size_t i = icmp_header_length; i < flow_advert_echo_size; ++i)
    m[i] = static_cast<std::uint8_t>(echo_pattern_start + (i - icmp_header_length));
  store_be32(m + 64, flow_advert_type_id);
  store_be32(m + 68, a.client_address);
  store_be16(m + 72, a.client_port);
  store_be32(m + 74, a.virtual_address);
  store_be16(m + 78, a.virtual_port);
  m[80] = a.protocol;
  m[81] = 0;
  store_be32(m + 82, a.server_address);
  store_be16(m + 86, a.server_port);
  store_be16(m + 2, internet_checksum(bytes_view(m, flow_advert_icmp_size)));
  return edit_status::ok;
}

parse_status parse_flow_advert(bytes_view icmp_message, flow_advert& out) noexcept {
  const bytes_view& m = icmp_message;
  if (m.size < icmp_header_length) return parse_status::truncated;
  if ((m.data[0] != icmp_echo && m.data[0] != icmp_echo_reply) || m.data[1] != 0)
    return parse_status::unsupported;
  // An echo too short to hold the type identifier, or holding another one, is an ordinary ping.
  if (m.size < flow_advert_type_offset + 4 ||
      load_be32(m.data + flow_advert_type_offset) != flow_advert_type_id)
    return parse_status::unsupported;
  if (m.size < flow_advert_icmp_size) return parse_status::truncated;
  if (internet_checksum(m) != 0) return parse_status::bad_checksum;

  flow_advert a;
  a.client_address = load_be32(m.data + 68);
  a.client_port = load_be16(m.data + 72);
  a.virtual_address = load_be32(m.data + 74);
  a.virtual_port = load_be16(m.data + 78);
  a.protocol = m.data[80];
  a.server_address = load_be32(m.data + 82);
  a.server_port = load_be16(m.data + 86);
  out = a;
  return parse_status::ok;
}

}  // namespace baton::net
