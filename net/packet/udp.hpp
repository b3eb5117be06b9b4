#pragma once
// UDP header view (RFC 768) over a byte span.

#include <cstdint>

#include "net/packet/bytes.hpp"
#include "net/packet/parse_status.hpp"

namespace baton::net {

inline constexpr std::size_t udp_header_length = 8;
inline constexpr std::size_t udp_checksum_offset = 6;

/// Read-only view of a UDP datagram (header and data). Accessors do not check bounds: use them
/// after validate() or validate_header() returned ok. The view does not own the bytes.
class udp_view {
 public:
  udp_view() = default;
  explicit udp_view(bytes_view datagram) noexcept : b_(datagram) {}

  /// truncated (< 8 bytes), or bad_length (length field < 8 or more than the bytes present).
  /// Bytes after the declared length are allowed and ignored by payload().
  parse_status validate() const noexcept;
  /// Only the 8 header bytes: for a first IPv4 fragment or a header quoted in ICMP, where the
  /// length covers bytes that are not here. truncated when fewer than 8 bytes.
  parse_status validate_header() const noexcept;

  std::uint16_t src_port() const noexcept { return load_be16(b_.data); }
  std::uint16_t dst_port() const noexcept { return load_be16(b_.data + 2); }
  std::uint16_t length() const noexcept { return load_be16(b_.data + 4); }
  /// 0 means the sender computed none (RFC 768).
  std::uint16_t checksum() const noexcept { return load_be16(b_.data + 6); }
  /// The data after the header, up to the length field (after validate() == ok).
  bytes_view payload() const noexcept { return b_.sub(8, length() - 8u); }
  bytes_view bytes() const noexcept { return b_; }

 private:
  bytes_view b_;
};

}  // namespace baton::net
