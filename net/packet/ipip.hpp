#pragma once
// IP in IP tunnelling (RFC 2003) done in user space (DESIGN §3: the kernel has no ipip module).
// Encapsulation is an in-place prepend into headroom the receive buffer left in front of the
// inner datagram (STYLE habit 6); decapsulation is a sub-span. Nothing is copied or allocated.

#include <cstdint>

#include "net/packet/bytes.hpp"
#include "net/packet/edit_status.hpp"
#include "net/packet/parse_status.hpp"

namespace baton::net {

inline constexpr std::size_t ipip_overhead = 20;  // the outer header, no options
inline constexpr std::uint8_t ipip_default_ttl = 64;

/// The tunnel end points and the outer header fields the caller chooses.
struct ipip_tunnel {
  std::uint32_t src = 0;  // outer source: the encapsulator (tunnel entry), host order
  std::uint32_t dst = 0;  // outer destination: the decapsulator (tunnel exit), host order
  std::uint8_t ttl = ipip_default_ttl;
  std::uint16_t identification = 0;
};

/// Writes an outer IPv4 header (RFC 2003 §3.1) into the 20 bytes before the inner datagram
/// that starts at buffer[inner_offset]. The inner datagram's length is its total length field.
/// Outer fields: version 4, IHL 5, TOS copied from the inner header, total length inner + 20,
/// the caller's identification, DF copied from the inner header, fragment offset 0, the
/// caller's TTL, protocol 4, a computed header checksum. The inner datagram is not changed
/// (RFC 2003 leaves its TTL to the forwarding decision, which is the caller's).
/// On ok, `outer` is buffer[inner_offset - 20, inner_offset + inner total length).
/// Returns no_room when inner_offset < 20 or the result would pass 65535 bytes; malformed
/// when the inner datagram does not validate. Nothing is written unless ok.
edit_status ipip_encapsulate(bytes_span buffer, std::size_t inner_offset, const ipip_tunnel& tunnel,
                             bytes_span& outer) noexcept;

/// Checks the outer datagram and returns the inner one in `inner` (a sub-span of `packet`,
/// cut to the inner total length). Returns ok; the outer validate() failure; bad_checksum when
/// `verify_outer_checksum` and the outer header checksum is wrong; unsupported when the outer
/// protocol is not 4; fragment when the outer datagram is a fragment (reassembly is not done
/// here); otherwise the inner datagram's validate() failure.
parse_status ipip_decapsulate(bytes_view packet, bytes_view& inner,
                              bool verify_outer_checksum = true) noexcept;
/// The same over writable bytes, so the inner datagram can be changed in place.
parse_status ipip_decapsulate(bytes_span packet, bytes_span& inner,
                              bool verify_outer_checksum = true) noexcept;

struct packet_fields;

/// A tunnelled datagram as a stage receives it, whose outer header the loop's parse step has
/// checked (its checksum too): the inner datagram, parsed into `fields` when given, and its own
/// IPv4 and TCP/UDP checksums checked, as the loop checks every datagram it receives, so that
/// nothing whose checksum is wrong goes on (issue 15). ok; ipip_decapsulate's failure; the parse
/// failure; bad_checksum or bad_l4_checksum.
parse_status ipip_decapsulate_checked(bytes_span packet, bytes_span& inner,
                                      packet_fields* fields = nullptr) noexcept;

}  // namespace baton::net
