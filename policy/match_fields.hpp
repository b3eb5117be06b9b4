#pragma once
// What the rule matcher reads of a packet (DESIGN §5): the fields the document's criteria name.
// The data path's parsed fields (net::packet_fields) extend this record, so the matcher reads
// them in place and the policy needs nothing from the data path.

#include <cstdint>

namespace baton::policy {

/// Bit for TCP option kind k in match_fields::tcp_options (kinds >= 63 share the last bit).
constexpr std::uint64_t tcp_option_bit(std::uint8_t kind) {
  return std::uint64_t{1} << (kind < 63 ? kind : 63);
}

struct match_fields {
  std::uint32_t src = 0;         // IPv4 source, host byte order
  std::uint32_t dst = 0;         // IPv4 destination, host byte order
  std::uint8_t protocol = 0;     // IP protocol number (6 TCP, 17 UDP, 1 ICMP, 4 IP-in-IP)
  std::uint8_t dscp = 0;         // the 6 DSCP bits of the TOS byte
  std::uint16_t src_port = 0;    // TCP/UDP source port, host order; 0 when absent
  std::uint16_t dst_port = 0;    // TCP/UDP destination port, host order; 0 when absent
  std::uint64_t tcp_options = 0; // tcp_option_bit(kind) for each option present
};

}  // namespace baton::policy
