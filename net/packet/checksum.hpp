#pragma once
// The Internet checksum (RFC 1071), the TCP/UDP pseudo-header sum (RFC 793 §3.1, RFC 768) and the
// incremental update of RFC 1624. Pure functions over byte spans; nothing here allocates or throws.

#include <cstdint>

#include "net/packet/bytes.hpp"
#include "net/packet/parse_status.hpp"

namespace baton::net {

/// Adds the 16-bit big-endian words of `data` to the running one's-complement accumulator `sum`
/// and returns the new accumulator (not folded, not complemented). An odd trailing byte is padded
/// with a zero byte on the right, as RFC 1071 §4.1 does. `data` must start at an even offset of
/// the checksummed region when sums of several pieces are chained.
std::uint32_t checksum_add(bytes_view data, std::uint32_t sum = 0) noexcept;

/// Folds the carries of an accumulator into 16 bits (end-around carry); not complemented.
std::uint16_t checksum_fold(std::uint32_t sum) noexcept;

/// The Internet checksum of `data`: the one's complement of the one's-complement sum (RFC 1071).
/// Over a region whose checksum field already holds the right value the result is 0.
std::uint16_t internet_checksum(bytes_view data) noexcept;

/// The unfolded sum of the TCP/UDP pseudo-header: source, destination (host byte order),
/// zero + protocol, and the transport length in bytes.
std::uint32_t pseudo_header_sum(std::uint32_t src, std::uint32_t dst, std::uint8_t protocol,
                                std::uint16_t l4_length) noexcept;

/// The checksum to store in a TCP or UDP header: `segment` is the whole transport header and
/// payload with its checksum field set to zero. For UDP a result of 0 must be sent as 0xffff
/// (RFC 768); this function returns the raw value and leaves that to the caller.
std::uint16_t transport_checksum(std::uint32_t src, std::uint32_t dst, std::uint8_t protocol,
                                 bytes_view segment) noexcept;

/// RFC 1624 eqn. 3: the new checksum after one 16-bit word covered by `checksum` changed from
/// `old_value` to `new_value`: HC' = ~(~HC + ~m + m').
std::uint16_t checksum_update16(std::uint16_t checksum, std::uint16_t old_value,
                                std::uint16_t new_value) noexcept;

/// The same for a 32-bit field (an IPv4 address, a sequence number): two 16-bit word changes.
std::uint16_t checksum_update32(std::uint16_t checksum, std::uint32_t old_value,
                                std::uint32_t new_value) noexcept;

/// RFC 1624 generalised: the new checksum after the covered words summing to `old_sum` were
/// replaced by words summing to `new_sum` (accumulators as returned by checksum_add).
/// HC' = ~(~HC + ~m + m'), with m and m' folded to 16 bits first. Inline: the NAT rewrite
/// (nat_hop) calls it for every datagram.
inline std::uint16_t checksum_replace(std::uint16_t checksum, std::uint32_t old_sum,
                                      std::uint32_t new_sum) noexcept {
  // Two folds take any 32-bit sum to 16 bits (the first leaves at most 0x1fffe).
  auto fold = [](std::uint32_t s) {
    s = (s & 0xffff) + (s >> 16);
    return (s & 0xffff) + (s >> 16);
  };
  const std::uint32_t sum = static_cast<std::uint16_t>(~checksum) +
                            static_cast<std::uint16_t>(~fold(old_sum)) + fold(new_sum);
  return static_cast<std::uint16_t>(~fold(sum));
}

/// True when the IPv4 header at the start of `packet` is whole (IHL within the span, IHL >= 5)
/// and its header checksum is right. False for anything that is not such a header.
bool ipv4_header_checksum_ok(bytes_view packet) noexcept;

/// Checks the TCP or UDP checksum of the whole IPv4 datagram `ip_packet`.
/// Returns ok when it is right (a UDP checksum of 0, "not computed", counts as right), bad_checksum
/// when it is wrong, the parse failure when the packet does not parse, `fragment` for any
/// fragment (the checksum covers the reassembled datagram), unsupported for other protocols.
parse_status verify_l4_checksum(bytes_view ip_packet) noexcept;

/// The checksums of an IPv4 datagram that parses (a decapsulated inner datagram, say), as the
/// packet loop's parse step checks them: bad_checksum when the header checksum is wrong,
/// bad_l4_checksum when the TCP or UDP checksum of an unfragmented datagram is wrong, else ok
/// (other protocols and fragments: the header only; a UDP checksum of 0 is right).
parse_status verify_checksums(bytes_view ip_packet) noexcept;

/// Computes and stores the full TCP or UDP checksum of the IPv4 datagram `ip_packet`, whatever
/// its checksum field held before (a frame sent with TX checksum offload carries only the
/// pseudo-header sum there, DESIGN §3). Returns ok when written; otherwise the parse failure,
/// `fragment` for any fragment, unsupported for other protocols, and leaves the bytes unchanged.
/// A UDP result of 0 is stored as 0xffff (RFC 768).
parse_status finish_l4_checksum(bytes_span ip_packet) noexcept;

}  // namespace baton::net
