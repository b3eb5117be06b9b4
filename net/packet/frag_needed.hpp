#pragma once
// ICMP "fragmentation needed and DF set" (RFC 792 type 3 code 4, with RFC 1191's next-hop MTU),
// written in place over an IP-in-IP datagram that is too long for the port it should leave by:
// the inner datagram's sender learns the tunnel's MTU and its TCP lowers its segment size (path
// MTU discovery), instead of its segments vanishing (a black hole). No allocation.

#include <cstddef>
#include <cstdint>

#include "net/packet/bytes.hpp"

namespace baton::net {

/// Bytes of the quoted datagram after its header (RFC 792: 8, the ports and TCP's sequence
/// number: enough for the sender's stack to find the socket).
inline constexpr std::size_t frag_needed_quote = 8;

enum class frag_needed_result : std::uint8_t {
  made,          // `packet` now holds the ICMP datagram (length in `out_length`)
  not_tunnelled, // not a valid IP-in-IP datagram: nobody of ours to tell
  may_fragment,  // the inner datagram allows fragmentation (DF clear): no ICMP is due
  is_icmp_error, // the inner datagram is itself an ICMP error: never answered (RFC 1122)
};

/// Rewrites `packet` (an IPv4 datagram carrying IP-in-IP) into an ICMP fragmentation-needed from
/// the tunnel's source (this node) to the inner datagram's source, quoting the inner header and
/// its first 8 bytes, with the next-hop MTU the tunnel leaves: `port_mtu` (the longest datagram
/// the port sends) less the outer header.
frag_needed_result make_frag_needed(bytes_span packet, std::size_t port_mtu, std::size_t& out_length) noexcept;

}  // namespace baton::net
