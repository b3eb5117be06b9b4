#pragma once
// The SLR flow advertisement (document 001, Figure 10, "augmented PING"): when a host server sees
// no progress on a flow it serves, it sends the client an ICMP echo request whose source is the
// virtual host address. The client echoes the payload back in its echo reply, which is routed
// towards the virtual host like the flow's other datagrams and so reaches the SLR now receiving
// the flow; that SLR reads the flow classifier and the server out of the payload and re-pins the
// flow (slr_stage). The state thereby shares its fate with the connection's end points.
//
// Layout of the ICMP message (all integers in network byte order), 88 bytes:
//
//   offset size  field
//        0    1  type: 8 echo request (from the server) or 0 echo reply (from the client)
//        1    1  code: 0
//        2    2  checksum over the whole ICMP message (RFC 792)
//        4    2  identifier
//        6    2  sequence number
//        8   56  ordinary echo data: the bytes 0x10, 0x11, ... 0x47 (the pattern ping(8) uses), so
//                the first 64 bytes are an ordinary echo "as required by ICMP"
//       64    4  type identifier: 'S' 'L' 'R' 'A' (0x534c5241) = SLR flow advertisement
//       68    4  client address (the flow's source address)
//       72    2  client port (source port)
//       74    4  virtual host address (destination address)
//       78    2  virtual port (destination port)
//       80    1  protocol (IP protocol number of the flow)
//       81    1  reserved: 0 when sent, ignored when read
//       82    4  server address (the tunnel termination point: the selected host server)
//       86    2  server port
//
// The whole datagram build_flow_advert() writes is a 20-byte IPv4 header (no options) followed by
// that message: 108 bytes.

#include <cstddef>
#include <cstdint>

#include "net/packet/bytes.hpp"
#include "net/packet/edit_status.hpp"
#include "net/packet/parse_status.hpp"

namespace baton::net {

/// The flow classifier and the server identification an advertisement carries. Host byte order.
struct flow_advert {
  std::uint32_t client_address = 0;   // the flow's source
  std::uint16_t client_port = 0;
  std::uint32_t virtual_address = 0;  // the virtual host: the flow's destination
  std::uint16_t virtual_port = 0;
  std::uint8_t protocol = 0;          // 6 TCP, 17 UDP, ...
  std::uint32_t server_address = 0;   // the host server serving the flow (tunnel termination)
  std::uint16_t server_port = 0;
};

constexpr bool operator==(const flow_advert& a, const flow_advert& b) noexcept {
  return a.client_address == b.client_address && a.client_port == b.client_port &&
         a.virtual_address == b.virtual_address && a.virtual_port == b.virtual_port &&
         a.protocol == b.protocol && a.server_address == b.server_address &&
         a.server_port == b.server_port;
}
constexpr bool operator!=(const flow_advert& a, const flow_advert& b) noexcept { return !(a == b); }

inline constexpr std::size_t flow_advert_echo_size = 64;     // the ordinary echo part
inline constexpr std::size_t flow_advert_type_offset = 64;   // where the type identifier sits
inline constexpr std::uint32_t flow_advert_type_id = 0x534c5241;  // "SLRA"
inline constexpr std::size_t flow_advert_icmp_size = 88;     // the whole ICMP message
inline constexpr std::uint8_t flow_advert_ttl = 64;

/// Bytes of the complete IPv4 datagram build_flow_advert() writes (20 + 88 = 108).
std::size_t flow_advert_size() noexcept;

/// Writes a complete IPv4 + ICMP echo request into out[0, flow_advert_size()): IPv4 version 4,
/// IHL 5, TOS 0, total length 108, identification 0, DF, TTL 64, protocol 1, source
/// a.virtual_address, destination a.client_address, header checksum; then the ICMP message above
/// with type 8, `id` and `seq`, and its checksum. Returns no_room (nothing written) when out is
/// shorter than flow_advert_size(); bytes of `out` after the datagram are not touched. The caller
/// owns `out`. Never throws.
edit_status build_flow_advert(bytes_span out, const flow_advert& a, std::uint16_t id,
                              std::uint16_t seq) noexcept;

/// Reads an advertisement out of an ICMP message (the IPv4 payload, from the ICMP type byte).
/// Accepts an echo request (type 8) or echo reply (type 0) with code 0. Returns, checked in
/// this order:
///   truncated    fewer than 8 bytes (not even an ICMP header);
///   unsupported  not an echo / echo reply, a code other than 0, or an echo that is not an
///                advertisement (shorter than 68 bytes, or another type identifier at 64): an
///                ordinary ping;
///   truncated    the type identifier is there but the message is shorter than 88 bytes;
///   bad_checksum the ICMP checksum over the whole message is wrong;
///   ok           `out` filled (on any other status `out` is left unchanged).
/// Bytes after the 88th (an echo may be padded) are ignored. Never reads outside `icmp_message`.
parse_status parse_flow_advert(bytes_view icmp_message, flow_advert& out) noexcept;

}  // namespace baton::net
