#pragma once
// Document 002's tag: the client gateway marks a connection's start packet (the TCP SYN) with an
// option saying the connection may be answered by any replica of the server it names. The option
// is an experimental TCP option (kind 253 or 254, RFC 4727) carrying an RFC 6994 Experiment
// Identifier, so other experiments' options with the same kinds are told apart and ignored:
//
//   +--------+--------+--------+--------+--------+--------+--------+--------+--------+--------+
//   |  253   |  len   |    ExID 0xBA70  | flags  |reserved|    client gateway address (IPv4)  |
//   +--------+--------+--------+--------+--------+--------+--------+--------+--------+--------+
//     len = 10; flags bit 0 (redirect_permitted): the document's "option byte", one of two
//     states (redirection permissible or not); reserved is 0 when sent and ignored when read;
//     the address is the tagging gateway's, so a server gateway can refuse tags from gateways it
//     does not know (no amplification by forged tags).
//
// View functions over byte spans (STYLE habit 3); nothing allocates.

#include <cstdint>

#include "net/packet/bytes.hpp"
#include "net/packet/parse_status.hpp"

namespace baton::net {

inline constexpr std::uint16_t replica_tag_exid = 0xBA70;   // RFC 6994 16-bit ExID
inline constexpr std::uint8_t replica_tag_length = 10;       // kind, length, ExID, flags, rsvd, addr
inline constexpr std::uint8_t replica_tag_redirect_permitted = 0x01;

struct replica_tag {
  bool redirect_permitted = true;
  std::uint32_t gateway = 0;  // the tagging client gateway, host order
};

/// What find_replica_tag() saw in an option area.
enum class replica_tag_status : std::uint8_t {
  absent = 0,   // no experimental option with our ExID (other experiments' options are skipped)
  ok,           // found and decoded into the tag
  malformed,    // our ExID but the wrong length
  bad_options,  // the option area itself does not walk (tcp_option_walker's bad_option_length)
};
/// "absent", "ok", "malformed", "bad_options".
const char* to_string(replica_tag_status s) noexcept;

/// Looks for the tag among the TCP options `options` (tcp_view::options()). Stops at the first
/// option with our ExID. On ok fills `out`; otherwise leaves it unchanged. Never reads past the
/// span.
replica_tag_status find_replica_tag(bytes_view options, replica_tag& out) noexcept;

/// Writes the option (replica_tag_length bytes, kind 253) into `out`, ready for
/// tcp_add_option(). Returns false (nothing written) when out.size < replica_tag_length.
bool write_replica_tag(bytes_span out, const replica_tag& tag) noexcept;

}  // namespace baton::net
