#pragma once
// IPv4 header view (RFC 791) over a byte span: no copies, fields read with load_be16/32.

#include <cstdint>

#include "net/packet/bytes.hpp"
#include "net/packet/parse_status.hpp"

namespace baton::net {

// Protocol numbers (IANA "Assigned Internet Protocol Numbers").
inline constexpr std::uint8_t ip_protocol_icmp = 1;
inline constexpr std::uint8_t ip_protocol_ipip = 4;  // "IP in IP", RFC 2003
inline constexpr std::uint8_t ip_protocol_tcp = 6;
inline constexpr std::uint8_t ip_protocol_udp = 17;

// RFC 791 §3.1 header layout.
inline constexpr std::size_t ipv4_min_header_length = 20;
inline constexpr std::size_t ipv4_max_header_length = 60;
inline constexpr std::uint8_t ipv4_version = 4;
inline constexpr std::uint16_t ipv4_flag_df = 0x4000;  // Don't Fragment, in the flags/offset word
inline constexpr std::uint16_t ipv4_flag_mf = 0x2000;  // More Fragments
inline constexpr std::uint16_t ipv4_fragment_offset_mask = 0x1fff;  // in units of 8 octets

// RFC 791 option types.
inline constexpr std::uint8_t ipv4_option_end_of_list = 0;
inline constexpr std::uint8_t ipv4_option_no_operation = 1;
inline constexpr std::uint8_t ipv4_option_record_route = 7;
inline constexpr std::uint8_t ipv4_option_timestamp = 68;
inline constexpr std::uint8_t ipv4_option_loose_source_route = 131;
inline constexpr std::uint8_t ipv4_option_security = 130;
inline constexpr std::uint8_t ipv4_option_strict_source_route = 137;
inline constexpr std::uint8_t ipv4_option_router_alert = 148;  // RFC 2113

/// Read-only view of an IPv4 datagram starting at its first header byte. The view does not own
/// the bytes; they must outlive it. Accessors do not check bounds: call validate() (or
/// validate_header() for a quoted header) first and use them only after it returned ok.
class ipv4_view {
 public:
  ipv4_view() = default;
  explicit ipv4_view(bytes_view packet) noexcept : b_(packet) {}

  /// Checks that the bytes hold a whole datagram: truncated (< 20 bytes), bad_version,
  /// bad_ihl (IHL < 5 or header past the span), bad_total_length (total length < header length
  /// or > bytes present), bad_option_length (option walk). Bytes after total length (link
  /// padding) are allowed and ignored by payload().
  parse_status validate() const noexcept;

  /// As validate() but without the total-length check: for the header quoted in an ICMP error,
  /// whose datagram is cut after 8 bytes of payload.
  parse_status validate_header() const noexcept;

  std::uint8_t version() const noexcept { return b_.data[0] >> 4; }
  std::uint8_t ihl() const noexcept { return b_.data[0] & 0x0f; }  // in 32-bit words
  std::size_t header_length() const noexcept { return std::size_t{ihl()} * 4; }
  std::uint8_t tos() const noexcept { return b_.data[1]; }
  std::uint8_t dscp() const noexcept { return b_.data[1] >> 2; }   // RFC 2474
  std::uint8_t ecn() const noexcept { return b_.data[1] & 0x03; }  // RFC 3168
  std::uint16_t total_length() const noexcept { return load_be16(b_.data + 2); }
  std::uint16_t identification() const noexcept { return load_be16(b_.data + 4); }
  std::uint16_t flags_fragment() const noexcept { return load_be16(b_.data + 6); }
  bool dont_fragment() const noexcept { return flags_fragment() & ipv4_flag_df; }
  bool more_fragments() const noexcept { return flags_fragment() & ipv4_flag_mf; }
  /// Fragment offset in units of 8 octets, as on the wire.
  std::uint16_t fragment_offset() const noexcept {
    return flags_fragment() & ipv4_fragment_offset_mask;
  }
  /// MF set or offset non-zero: this datagram is a piece of a larger one.
  bool is_fragment() const noexcept { return more_fragments() || fragment_offset() != 0; }
  /// Offset zero: the transport header (if any) starts in this datagram.
  bool is_first_fragment() const noexcept { return fragment_offset() == 0; }
  std::uint8_t ttl() const noexcept { return b_.data[8]; }
  std::uint8_t protocol() const noexcept { return b_.data[9]; }
  std::uint16_t checksum() const noexcept { return load_be16(b_.data + 10); }
  std::uint32_t src() const noexcept { return load_be32(b_.data + 12); }  // host byte order
  std::uint32_t dst() const noexcept { return load_be32(b_.data + 16); }  // host byte order

  /// The option bytes between the fixed header and IHL * 4 (empty when IHL is 5).
  bytes_view options() const noexcept { return b_.sub(20, header_length() - 20); }
  /// The whole header, options included.
  bytes_view header() const noexcept { return b_.sub(0, header_length()); }
  /// The bytes after the header up to total length (valid after validate() == ok).
  bytes_view payload() const noexcept {
    return b_.sub(header_length(), total_length() - header_length());
  }
  /// The bytes the view was made over.
  bytes_view bytes() const noexcept { return b_; }

  /// True when the header checksum is right (valid after validate_header() == ok).
  bool checksum_ok() const noexcept;

 private:
  bytes_view b_;
};

/// Writable view: ipv4_view plus setters that keep the header checksum right by RFC 1624
/// incremental update (so a wrong checksum stays exactly as wrong). Same preconditions.
class ipv4_mutable_view : public ipv4_view {
 public:
  ipv4_mutable_view() = default;
  explicit ipv4_mutable_view(bytes_span packet) noexcept : ipv4_view(packet), w_(packet) {}

  void set_ttl(std::uint8_t ttl) noexcept;
  void set_src(std::uint32_t addr) noexcept;  // host byte order
  void set_dst(std::uint32_t addr) noexcept;  // host byte order
  void set_tos(std::uint8_t tos) noexcept;
  void set_total_length(std::uint16_t len) noexcept;
  /// Stores a freshly computed header checksum (after building a header from scratch).
  void recompute_checksum() noexcept;

  bytes_span span() const noexcept { return w_; }

 private:
  void set_word(std::size_t offset, std::uint16_t value) noexcept;
  bytes_span w_;
};

/// Walks IPv4 options (RFC 791 §3.1): single-octet End of Option List / No Operation, others
/// type-length-value. Returns ok, or bad_option_length when a length is < 2, missing, or runs
/// past the option area. Does not look inside option values.
parse_status walk_ipv4_options(bytes_view options) noexcept;

/// Dotted-quad text of a host-order address into `out` (at least 16 bytes); returns `out`.
const char* ipv4_to_text(std::uint32_t addr, char* out) noexcept;

}  // namespace baton::net
