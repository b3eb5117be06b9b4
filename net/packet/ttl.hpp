#pragma once
// A router's hop (RFC 1812 §5.3.1): the TTL of a datagram the node forwards goes down by one,
// and one that would leave with TTL 0 is dropped and answered by ICMP time exceeded (type 11,
// code 0), so routing loops end and traceroute sees the hop. Used where a role forwards as a
// router (the cluster's NAT and tunnel to backends, an SLR passing a tunnelled datagram on), not
// where it is a bump in the wire. No allocation.

#include <cstddef>
#include <cstdint>

#include "net/packet/bytes.hpp"
#include "net/packet/edit_status.hpp"

namespace baton::net {

enum class ttl_result : std::uint8_t {
  decremented,  // TTL lowered by one, header checksum updated incrementally (RFC 1624)
  expired,      // TTL was 0 or 1: the datagram must not be forwarded (nothing changed)
};

/// The hop for the IPv4 datagram at the start of `packet` (at least 20 bytes, header parsed).
ttl_result decrement_ttl(bytes_span packet) noexcept;

/// Bytes of the expired datagram an ICMP error quotes after its header (RFC 792).
inline constexpr std::size_t time_exceeded_quote = 8;

/// Turns the datagram at storage[offset, offset + length) into an ICMP time exceeded in transit
/// from `from` to its source, quoting its header and first 8 bytes; the ICMP and IPv4 headers go
/// into the headroom (28 bytes). `out` is the new datagram. Returns ok; unsupported when no error
/// is due (RFC 1122 §3.2.2 / RFC 1812 §4.3.2.7: the datagram is itself an ICMP error, a later
/// fragment, or from a source that is not a host: 0, broadcast, multicast); no_room without 28
/// bytes of headroom; malformed when the header does not parse. Nothing changes unless ok.
edit_status make_time_exceeded(bytes_span storage, std::size_t offset, std::size_t length, std::uint32_t from,
                               bytes_span& out) noexcept;

}  // namespace baton::net
