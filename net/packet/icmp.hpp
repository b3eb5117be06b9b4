#pragma once
// ICMP message view (RFC 792; next-hop MTU from RFC 1191) over a byte span, with access to the
// datagram an error message quotes (its IPv4 header and the first bytes of its transport header).

#include <cstddef>
#include <cstdint>

#include "net/packet/bytes.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/parse_status.hpp"

namespace baton::net {

inline constexpr std::size_t icmp_header_length = 8;

// Types (RFC 792).
inline constexpr std::uint8_t icmp_echo_reply = 0;
inline constexpr std::uint8_t icmp_destination_unreachable = 3;
inline constexpr std::uint8_t icmp_source_quench = 4;
inline constexpr std::uint8_t icmp_redirect = 5;
inline constexpr std::uint8_t icmp_echo = 8;
inline constexpr std::uint8_t icmp_time_exceeded = 11;
inline constexpr std::uint8_t icmp_parameter_problem = 12;
inline constexpr std::uint8_t icmp_timestamp = 13;
inline constexpr std::uint8_t icmp_timestamp_reply = 14;

// Destination Unreachable codes (RFC 792).
inline constexpr std::uint8_t icmp_net_unreachable = 0;
inline constexpr std::uint8_t icmp_host_unreachable = 1;
inline constexpr std::uint8_t icmp_protocol_unreachable = 2;
inline constexpr std::uint8_t icmp_port_unreachable = 3;
inline constexpr std::uint8_t icmp_fragmentation_needed = 4;  // "fragmentation needed and DF set"
inline constexpr std::uint8_t icmp_source_route_failed = 5;

// Time Exceeded codes (RFC 792).
inline constexpr std::uint8_t icmp_ttl_exceeded_in_transit = 0;
inline constexpr std::uint8_t icmp_fragment_reassembly_time_exceeded = 1;

/// The datagram quoted by an ICMP error: its header (validated with validate_header(), since
/// the quote is cut short) and what follows it (RFC 792 promises 8 bytes, RFC 1812 routers may
/// send more). Ports are read when the quote is a first fragment of TCP/UDP with >= 4 bytes.
struct icmp_quoted {
  ipv4_view ip;
  bytes_view transport;       // bytes after the quoted header, as many as were quoted
  bool has_ports = false;
  std::uint16_t src_port = 0;  // host order, as in the quoted (original) datagram
  std::uint16_t dst_port = 0;
  bool has_tcp_seq = false;
  std::uint32_t tcp_seq = 0;   // quoted TCP sequence number, when 8 bytes were quoted
};

/// Read-only view of an ICMP message (type, code, checksum, the 4-byte rest of header, data).
/// Accessors need validate() == ok first. The view does not own the bytes.
class icmp_view {
 public:
  icmp_view() = default;
  explicit icmp_view(bytes_view message) noexcept : b_(message) {}

  /// truncated when fewer than the 8 header bytes. The quoted datagram is checked by quoted().
  parse_status validate() const noexcept;

  std::uint8_t type() const noexcept { return b_.data[0]; }
  std::uint8_t code() const noexcept { return b_.data[1]; }
  std::uint16_t checksum() const noexcept { return load_be16(b_.data + 2); }
  /// True when the checksum over the whole message is right.
  bool checksum_ok() const noexcept;

  /// Echo / echo reply (and timestamp) identifier and sequence number.
  std::uint16_t identifier() const noexcept { return load_be16(b_.data + 4); }
  std::uint16_t sequence() const noexcept { return load_be16(b_.data + 6); }
  /// Destination unreachable code 4: the next-hop MTU (RFC 1191); 0 from pre-1191 routers.
  std::uint16_t next_hop_mtu() const noexcept { return load_be16(b_.data + 6); }
  /// Redirect: the gateway address, host order.
  std::uint32_t gateway() const noexcept { return load_be32(b_.data + 4); }
  /// Parameter problem: the pointer octet.
  std::uint8_t pointer() const noexcept { return b_.data[4]; }

  bool is_echo() const noexcept { return type() == icmp_echo || type() == icmp_echo_reply; }
  /// Error messages carry a quoted datagram: destination unreachable, source quench, redirect,
  /// time exceeded, parameter problem.
  bool is_error() const noexcept;
  bool is_fragmentation_needed() const noexcept {
    return type() == icmp_destination_unreachable && code() == icmp_fragmentation_needed;
  }

  /// The bytes after the 8-byte header (echo data, or the quoted datagram of an error).
  bytes_view data() const noexcept { return b_.sub(icmp_header_length); }

  /// Parses the quoted datagram of an error message into `out`. Returns unsupported for a
  /// non-error type, otherwise the quoted header's validate_header() status (truncated,
  /// bad_version, bad_ihl, bad_option_length) or ok.
  parse_status quoted(icmp_quoted& out) const noexcept;

 private:
  bytes_view b_;
};

/// Writes an ICMP error in front of a quote already in place: the IPv4 header at p (IHL 5, TTL
/// 64, protocol ICMP, `from` -> `to`), the ICMP header at p + 20 (`type`, `code`, then `rest`,
/// the 4 bytes RFC 792 gives each type), and both checksums over the `quote` bytes at p + 28.
/// Returns the datagram's length (28 + quote). No checks: the callers have made the room.
std::size_t write_icmp_error(std::uint8_t* p, std::uint32_t from, std::uint32_t to, std::uint8_t type,
                             std::uint8_t code, std::uint32_t rest, std::size_t quote) noexcept;

}  // namespace baton::net
