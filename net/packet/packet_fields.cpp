#include "net/packet/packet_fields.hpp"

#include "net/packet/ipv4.hpp"
#include "net/packet/tcp.hpp"
#include "net/packet/udp.hpp"

namespace baton::net {

const char* to_string(parse_status s) noexcept {
  switch (s) {
    case parse_status::ok: return "ok";
    case parse_status::truncated: return "truncated";
    case parse_status::bad_version: return "bad_version";
    case parse_status::bad_ihl: return "bad_ihl";
    case parse_status::bad_total_length: return "bad_total_length";
    case parse_status::bad_data_offset: return "bad_data_offset";
    case parse_status::bad_option_length: return "bad_option_length";
    case parse_status::bad_length: return "bad_length";
    case parse_status::bad_checksum: return "bad_checksum";
    case parse_status::unsupported: return "unsupported";
    case parse_status::fragment: return "fragment";
    case parse_status::bad_l4_checksum: return "bad_l4_checksum";
  }
  return "unknown";
}

parse_status parse_fields(bytes_view packet, packet_fields& out) noexcept {
  out = packet_fields{};
  const ipv4_view ip(packet);
  if (auto s = ip.validate(); s != parse_status::ok) return s;
  out.src = ip.src();
  out.dst = ip.dst();
  out.protocol = ip.protocol();
  out.dscp = ip.dscp();
  out.fragment = ip.is_fragment();
  out.first_fragment = ip.is_first_fragment();
  out.ip_header_len = static_cast<std::uint16_t>(ip.header_length());
  out.total_len = ip.total_length();
  if (!out.first_fragment) return parse_status::ok;  // no transport header in this piece

  const bytes_view l4 = ip.payload();
  if (out.protocol == ip_protocol_tcp) {
    const tcp_view tcp(l4);
    if (auto s = tcp.validate(); s != parse_status::ok) return s;
    out.src_port = tcp.src_port();
    out.dst_port = tcp.dst_port();
    out.tcp_flags = tcp.flags();
    out.l4_header_len = static_cast<std::uint16_t>(tcp.header_length());
    // Presence bits only: the decoded values are for whoever needs them (tcp.hpp).
    tcp_option_walker walker(tcp.options());
    tcp_option opt;
    while (walker.next(opt)) out.tcp_options |= tcp_option_bit(opt.kind);
    out.tcp_options_bad = walker.status() != parse_status::ok;
    return walker.status();
  }
  if (out.protocol == ip_protocol_udp) {
    const udp_view udp(l4);
    // In a first fragment the UDP length covers bytes of later fragments.
    const parse_status s = out.fragment ? udp.validate_header() : udp.validate();
    if (s != parse_status::ok) return s;
    out.src_port = udp.src_port();
    out.dst_port = udp.dst_port();
    out.l4_header_len = static_cast<std::uint16_t>(udp_header_length);
    return parse_status::ok;
  }
  if (out.protocol == ip_protocol_icmp) {
    if (l4.size < 8) return parse_status::truncated;
    out.l4_header_len = 8;
  }
  return parse_status::ok;
}

}  // namespace baton::net
