#pragma once
// The classification fields of one IPv4 packet: what rules match on (DESIGN §5) and what
// flow keys are made from. Filled in place by parse_fields(); no allocation.

#include <cstdint>

#include "net/packet/bytes.hpp"
#include "net/packet/parse_status.hpp"
#include "policy/match_fields.hpp"

namespace baton::net {

using policy::tcp_option_bit;

/// What rules match on (src, dst, protocol, dscp, ports, TCP options: policy::match_fields) and
/// what the data path reads besides.
struct packet_fields : policy::match_fields {
  std::uint8_t tcp_flags = 0;    // TCP flags byte (FIN 0x01 .. CWR 0x80); 0 for other protocols
  bool fragment = false;         // MF set or fragment offset non-zero
  bool first_fragment = true;    // fragment offset is zero (transport header present)
  std::uint16_t ip_header_len = 0;   // bytes of the IPv4 header including options
  std::uint16_t l4_header_len = 0;   // bytes of the transport header (TCP incl. options)
  std::uint16_t total_len = 0;       // IPv4 total length
  /// The TCP option area does not walk (parse_fields returned bad_option_length for it, not for
  /// the IPv4 options): every field above is filled, tcp_options holds the options seen before
  /// the bad one.
  bool tcp_options_bad = false;
};

/// Parses the IPv4 packet at the start of `packet` (no link header) into `out`.
/// Returns ok, or why the bytes are not a packet we can classify; never reads past the span.
/// A non-first fragment returns ok with fragment = true and no ports. A TCP segment whose options
/// do not walk returns bad_option_length with tcp_options_bad set and the other fields filled.
parse_status parse_fields(bytes_view packet, packet_fields& out) noexcept;

}  // namespace baton::net
