#pragma once
// The classification fields of one IPv4 packet: what rules match on (DESIGN §5) and what
// flow keys are made from. Filled in place by parse_fields(); no allocation.

#include <cstdint>

#include "net/packet/bytes.hpp"
#include "net/packet/parse_status.hpp"

namespace baton::net {

/// Bit for TCP option kind k in packet_fields::tcp_options (kinds >= 63 share the last bit).
constexpr std::uint64_t tcp_option_bit(std::uint8_t kind) {
  return std::uint64_t{1} << (kind < 63 ? kind : 63);
}

struct packet_fields {
  std::uint32_t src = 0;         // IPv4 source, host byte order
  std::uint32_t dst = 0;         // IPv4 destination, host byte order
  std::uint8_t protocol = 0;     // IP protocol number (6 TCP, 17 UDP, 1 ICMP, 4 IP-in-IP)
  std::uint8_t dscp = 0;         // the 6 DSCP bits of the TOS byte
  std::uint8_t tcp_flags = 0;    // TCP flags byte (FIN 0x01 .. CWR 0x80); 0 for other protocols
  bool fragment = false;         // MF set or fragment offset non-zero
  bool first_fragment = true;    // fragment offset is zero (transport header present)
  std::uint16_t src_port = 0;    // TCP/UDP source port, host order; 0 when absent
  std::uint16_t dst_port = 0;    // TCP/UDP destination port, host order; 0 when absent
  std::uint16_t ip_header_len = 0;   // bytes of the IPv4 header including options
  std::uint16_t l4_header_len = 0;   // bytes of the transport header (TCP incl. options)
  std::uint16_t total_len = 0;       // IPv4 total length
  std::uint64_t tcp_options = 0;     // tcp_option_bit(kind) for each option present
};

/// Parses the IPv4 packet at the start of `packet` (no link header) into `out`.
/// Returns ok, or why the bytes are not a packet we can classify; never reads past the span.
/// A non-first fragment returns ok with fragment = true and no ports.
parse_status parse_fields(bytes_view packet, packet_fields& out) noexcept;

}  // namespace baton::net
