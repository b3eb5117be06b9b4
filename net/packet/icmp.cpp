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

std::size_t write_icmp_error(std::uint8_t* p, std::uint32_t from, std::uint32_t to, std::uint8_t type,
                             std::uint8_t code, std::uint32_t rest, std::size_t quote) noexcept {
  const std::size_t total = 20 + icmp_header_length + quote;
  p[0] = 0x45;
  p[1] = 0;
  store_be16(p + 2, static_cast<std::uint16_t>(total));
  store_be16(p + 4, 0);
  store_be16(p + 6, 0);
  p[8] = 64;
  p[9] = ip_protocol_icmp;
  store_be16(p + 10, 0);
  store_be32(p + 12, from);
  store_be32(p + 16, to);
  store_be16(p + 10, internet_checksum(bytes_view(p, 20)));
  std::uint8_t* icmp = p + 20;
  icmp[0] = type;
  icmp[1] = code;
  store_be16(icmp + 2, 0);
  store_be32(icmp + 4, rest);
  store_be16(icmp + 2, internet_checksum(bytes_view(icmp, icmp_header_length + quote)));
  return total;
}

}  // namespace baton::net
