#pragma once
// IPv4 fragmentation (RFC 791 §3.2) of a datagram too long for the port it leaves by, when its
// DF bit allows it: a tunnel datagram whose inner datagram had DF clear (RFC 2003 §5.1: the
// outer datagram may then be fragmented). The receiving node's kernel reassembles it before its
// raw socket sees it. The first fragment stays in the datagram's own buffer; each later one is
// written into a buffer the caller provides. No allocation.

#include <cstddef>

#include "net/packet/bytes.hpp"

namespace baton::net {

/// Fragments needed for `packet` to fit `mtu`: 1 when it fits; 0 when it may not be fragmented
/// (DF set, header options, not a valid IPv4 datagram, or an MTU below 68 (RFC 791's minimum)).
std::size_t ipv4_fragment_count(bytes_view packet, std::size_t mtu) noexcept;

/// Writes fragment `index` (1 .. count - 1) of `packet` into `out` (at least `mtu` bytes) and
/// returns its length: the header with its offset, MF and checksum, then its share of the data.
/// `packet` must be unchanged since ipv4_fragment_count() returned more than `index`.
std::size_t write_ipv4_fragment(bytes_view packet, std::size_t mtu, std::size_t index, bytes_span out) noexcept;

/// Rewrites `packet` in place into its first fragment (MF set, total length, checksum) and
/// returns its length. Call after the later fragments were written: it cuts their data off.
std::size_t cut_to_first_ipv4_fragment(bytes_span packet, std::size_t mtu) noexcept;

}  // namespace baton::net
