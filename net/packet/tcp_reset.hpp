#pragma once
// Building a TCP reset (RFC 9293 §3.10.7.3: a RST answering a segment that carries an ACK takes
// its sequence number from that ACK field) into a buffer the caller owns: a 40-byte IPv4 + TCP
// datagram, both checksums computed. Used where a gateway resets a connection on behalf of a
// client (document 002: the replicas that answer after the first). Nothing allocates.

#include <cstdint>

#include "net/packet/bytes.hpp"

namespace baton::net {

inline constexpr std::size_t tcp_reset_size = 40;

struct tcp_reset_fields {
  std::uint32_t src = 0;   // host order
  std::uint32_t dst = 0;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t seq = 0;   // the ACK field of the segment being answered
  /// Answering a segment without ACK (a SYN): RST+ACK with sequence 0 and this acknowledgement
  /// (the segment's sequence number + its length, SYN counting 1), RFC 9293 §3.10.7.1.
  bool with_ack = false;
  std::uint32_t ack = 0;
};

/// Writes the reset into out[0, 40): IPv4 (IHL 5, DF, TTL 64, protocol 6) and TCP (data offset
/// 5, RST (+ACK when with_ack), window 0). Returns false (nothing written) when out.size < 40.
bool write_tcp_reset(bytes_span out, const tcp_reset_fields& f) noexcept;

}  // namespace baton::net
