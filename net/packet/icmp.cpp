#include "net/packet/icmp.hpp"

#include "net/packet/checksum.hpp"

namespace baton::net {

parse_status icmp_view::validate() const noexcept {
  return b_.size < icmp_header_length ? parse_status::truncated : parse_status::ok;
}

bool icmp_view::checksum_ok() const noexcept { return internet_checksum(b_) == 0; }

bool icmp_view::is_error() const noexcept {
  switch (type()) {
    case icmp_destination_unreachable:
    case icmp_source_quench:
    case icmp_redirect:
    case icmp_time_exceeded:
    case icmp_parameter_problem: return true;
    default: return false;
  }
}

parse_status icmp_view::quoted(icmp_quoted& out) const noexcept {
  out = icmp_quoted{};
  if (!is_error()) return parse_status::unsupported;
  const bytes_view inner = data();
  out.ip = ipv4_view(inner);
  if (auto s = out.ip.validate_header(); s != parse_status::ok) return s;
  out.transport = inner.sub(out.ip.header_length());
  const std::uint8_t proto = out.ip.protocol();
  // Only a first fragment starts with the transport header.
  if (out.ip.is_first_fragment() && (proto == ip_protocol_tcp || proto == ip_protocol_udp) &&
      out.transport.size >= 4) {
    out.has_ports = true;
    out.src_port = load_be16(out.transport.data);
    out.dst_port = load_be16(out.transport.data + 2);
    if (proto == ip_protocol_tcp && out.transport.size >= 8) {
      out.has_tcp_seq = true;
      out.tcp_seq = load_be32(out.transport.data + 4);
    }
  }
  return parse_status::ok;
}

}  // namespace baton::net
