#pragma once
// In-place rewrites of IPv4 datagrams: addresses and ports (NAT, DESIGN §1 configurations A-C,
// rim masquerading) and TCP option insertion/removal (document 002 tags a start packet, the SYN,
// with an option). Checksums are kept right incrementally (RFC 1624): a datagram whose checksum
// was wrong stays exactly as wrong, so the receiver still drops it. Nothing here allocates.

#include <cstdint>

#include "net/packet/bytes.hpp"
#include "net/packet/edit_status.hpp"
#include "net/packet/packet_fields.hpp"

namespace baton::net {

/// Sets the IPv4 source (host order) of the datagram at the start of `packet`, updating the
/// header checksum and, for TCP/UDP whose header is in this datagram, the transport checksum
/// (pseudo-header); a UDP checksum of 0 ("none") stays 0. Works for fragments too: the
/// transport checksum lives in the first fragment and changes by the same amount.
/// Returns ok, or malformed (nothing changed).
edit_status rewrite_ipv4_src(bytes_span packet, std::uint32_t addr) noexcept;
/// As rewrite_ipv4_src for the destination address.
edit_status rewrite_ipv4_dst(bytes_span packet, std::uint32_t addr) noexcept;

/// Sets the TCP/UDP source port (host order), updating the transport checksum.
/// Returns ok; unsupported for other protocols and non-first fragments; malformed when the
/// datagram or transport header does not parse. Nothing changes unless ok.
edit_status rewrite_src_port(bytes_span packet, std::uint16_t port) noexcept;
/// As rewrite_src_port for the destination port.
edit_status rewrite_dst_port(bytes_span packet, std::uint16_t port) noexcept;

/// Source address and port in one pass (one parse). Same results as rewrite_src_port; nothing
/// changes unless ok.
edit_status rewrite_source(bytes_span packet, std::uint32_t addr, std::uint16_t port) noexcept;
/// Destination address and port in one pass.
edit_status rewrite_destination(bytes_span packet, std::uint32_t addr,
                                std::uint16_t port) noexcept;

/// What a NAT hop sets (host order): the source endpoint, the destination endpoint, or both.
struct nat_endpoints {
  bool source = false;  // set src_addr:src_port
  std::uint32_t src_addr = 0;
  std::uint16_t src_port = 0;
  bool destination = false;  // set dst_addr:dst_port
  std::uint32_t dst_addr = 0;
  std::uint16_t dst_port = 0;
};

/// A NAT hop in one pass over a datagram the packet loop has parsed: `f` is parse_fields()'s
/// result for these bytes, an unfragmented TCP or UDP datagram. Sets the endpoints `to` names
/// and, with `decrement_ttl`, lowers the TTL by one; the header and the transport checksum each
/// get one RFC 1624 update for all the changes, so a wrong checksum stays exactly as wrong and a
/// UDP checksum of 0 stays 0, as with the calls above. Instead of parsing again it checks that
/// the bytes still say what `f` says (version and IHL, total length within the span, protocol,
/// TCP data offset). Returns ok; malformed when the bytes disagree with `f`; unsupported for a
/// fragment or another protocol; bad_argument when the TTL is to go down from 1 or 0 (the
/// caller answers that, see ttl.hpp). Nothing changes unless ok. Gives the same bytes as
/// rewrite_source / rewrite_destination (and decrement_ttl) one after the other, except that a
/// checksum may come out as the other zero (0x0000 for 0xffff or back), which checks the same.
edit_status nat_hop(bytes_span packet, const packet_fields& f, const nat_endpoints& to,
                    bool decrement_ttl) noexcept;

/// Inserts the TCP option `option` (kind, length, value; its length octet must equal
/// option.size, kind not EOL/NOP) into the unfragmented TCP/IPv4 datagram held in
/// buffer[0, packet_len). `buffer.size` is the capacity. The option goes after the existing
/// options, before any End of Option List, preceded by as many NOPs as keep the header a
/// multiple of 4 bytes; the payload moves back. Data offset, IP total length and both checksums
/// are updated; `packet_len` becomes the new total length (link padding past the old total
/// length is dropped). Returns ok; bad_argument for a malformed `option`; no_room when the TCP
/// header would pass 60 bytes, the datagram 65535 bytes, or the capacity; unsupported for a
/// non-TCP datagram or a fragment; malformed when the datagram or its options do not parse.
/// Nothing changes unless ok.
edit_status tcp_add_option(bytes_span buffer, std::size_t& packet_len, bytes_view option) noexcept;

/// Removes the first TCP option of `kind` from the datagram in buffer[0, packet_len) and moves
/// the payload forward. When the option's length is not a multiple of 4, the NOPs that
/// tcp_add_option put before it are removed with it (so add then strip gives the original
/// bytes); without such NOPs, the option is replaced by length % 4 NOPs. Data offset, total
/// length, both checksums and `packet_len` are updated. Returns ok; not_found; bad_argument
/// for kind EOL or NOP; unsupported / malformed as tcp_add_option. Nothing changes unless ok.
edit_status tcp_strip_option(bytes_span buffer, std::size_t& packet_len,
                             std::uint8_t kind) noexcept;

}  // namespace baton::net
