#pragma once
// MSS clamping of TCP SYNs that enter a tunnel: the peers' default MSS (1460 on a 1500-byte
// link) leaves no room for the 20-byte IP-in-IP header, so a full segment would be too long for
// the tunnel's link. Lowering the SYN's MSS option makes the receiver of the SYN send segments
// that fit, from the first one (no ICMP round trip, no loss). In place, no allocation.

#include <cstdint>

#include "net/packet/bytes.hpp"

namespace baton::net {

enum class mss_clamp_result : std::uint8_t {
  not_syn,    // not a TCP SYN (or a later fragment): nothing to do
  within,     // a SYN whose MSS (or the default 536 when it has none) already fits
  clamped,    // the SYN's MSS option was lowered to the limit, its checksum updated
  malformed,  // headers or options that do not walk: left as they are
};

/// The largest MSS whose segments fit `port_mtu` once wrapped in one IP-in-IP header (20 bytes)
/// with 20-byte IPv4 and TCP headers: port_mtu - 60.
constexpr std::uint16_t tunnelled_mss(std::size_t port_mtu) noexcept {
  return port_mtu > 60 + 536 ? static_cast<std::uint16_t>(port_mtu - 60) : 536;
}

/// `ip_packet` is an IPv4 datagram carrying TCP: a SYN whose MSS option is above `max_mss` gets
/// `max_mss` there, with the TCP checksum updated incrementally (RFC 1624), so a segment that
/// arrived with a wrong checksum still has a wrong one.
mss_clamp_result clamp_syn_mss(bytes_span ip_packet, std::uint16_t max_mss) noexcept;

/// The same for the datagram inside an IP-in-IP datagram `outer`; not_syn when it is not one.
mss_clamp_result clamp_tunnelled_syn_mss(bytes_span outer, std::uint16_t max_mss) noexcept;

}  // namespace baton::net
