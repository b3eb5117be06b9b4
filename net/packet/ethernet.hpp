#pragma once
// Ethernet II frame view (IEEE 802.3) with IEEE 802.1Q VLAN tags skipped.

#include <array>
#include <cstdint>

#include "net/packet/bytes.hpp"
#include "net/packet/parse_status.hpp"

namespace baton::net {

inline constexpr std::size_t ethernet_header_length = 14;
inline constexpr std::size_t ethernet_vlan_tag_length = 4;
inline constexpr std::size_t ethernet_max_vlan_tags = 2;  // 802.1ad outer + 802.1Q inner

// EtherType values (IEEE registry names).
inline constexpr std::uint16_t ethertype_ipv4 = 0x0800;
inline constexpr std::uint16_t ethertype_arp = 0x0806;
inline constexpr std::uint16_t ethertype_vlan = 0x8100;  // 802.1Q C-TAG TPID
inline constexpr std::uint16_t ethertype_qinq = 0x88a8;  // 802.1ad S-TAG TPID
inline constexpr std::uint16_t ethertype_ipv6 = 0x86dd;

using mac_address = std::array<std::uint8_t, 6>;

/// Read-only view of an Ethernet frame. Build it empty and call parse(); the accessors are
/// meaningful only after parse() returned ok (or unsupported, which still fills the header).
class ethernet_view {
 public:
  /// Reads destination, source and EtherType, skipping up to two VLAN tags (0x8100 / 0x88a8).
  /// Returns ok for IPv4; unsupported for another EtherType or more than two tags (the
  /// accessors are still filled); truncated when the header or a tag is cut short.
  /// The view keeps a pointer into `frame`; the bytes must outlive it.
  parse_status parse(bytes_view frame) noexcept;

  mac_address dst() const noexcept;
  mac_address src() const noexcept;
  /// The EtherType after any VLAN tags: what the payload is.
  std::uint16_t ethertype() const noexcept { return ethertype_; }
  /// Number of VLAN tags skipped (0..2).
  std::size_t vlan_count() const noexcept { return vlan_count_; }
  /// VLAN identifier (12 bits) of the outermost tag; 0 when untagged.
  std::uint16_t vlan_id() const noexcept { return tci_ & 0x0fff; }
  /// Priority code point (3 bits) of the outermost tag.
  std::uint8_t vlan_pcp() const noexcept { return static_cast<std::uint8_t>(tci_ >> 13); }
  /// Bytes before the payload: 14 plus 4 per tag.
  std::size_t header_length() const noexcept { return header_length_; }
  /// The network-layer packet (may include link padding after the IP datagram).
  bytes_view payload() const noexcept { return frame_.sub(header_length_); }

 private:
  bytes_view frame_;
  std::uint16_t ethertype_ = 0;
  std::uint16_t tci_ = 0;
  std::size_t vlan_count_ = 0;
  std::size_t header_length_ = 0;
};

}  // namespace baton::net
