#pragma once
// The kernel rules that bring a PEP endpoint's LAN TCP to it (DESIGN §3: TCP termination by the
// kernel's TCP via TPROXY and IP_TRANSPARENT):
//   1. iptables-legacy, mangle PREROUTING: a SYN from the LAN whose connection has no verdict yet
//      waits in NFQUEUE `queue` (--queue-bypass: with no batond listening, SYNs pass unspoofed);
//   2. nftables, prerouting after mangle: the verdict's mark is saved on the connection (ct mark),
//      and every packet of a spoofed connection goes to the transparent listener (tproxy);
//   3. policy routing: packets marked by tproxy are delivered locally (fwmark -> local route).
// Everything else, and TCP passed unspoofed, is routed by the kernel unchanged.
//
// install() first removes what a previous run may have left; remove() is idempotent.

#include <cstdint>
#include <string>
#include <vector>

namespace baton::net {

/// Marks on a SYN's verdict (and then on its connection).
inline constexpr std::uint32_t pep_mark_spoof = 0x100;
inline constexpr std::uint32_t pep_mark_pass = 0x200;

struct interception_config {
  std::string lan;               // interface toward the local hosts
  std::uint16_t queue = 7;       // NFQUEUE number
  std::uint16_t listen_port = 7401;
  std::uint32_t route_table = 7401;  // the policy routing table of the local route
};

/// Installs the rules. Throws std::runtime_error naming the command that failed and its output.
void install_interception(const interception_config& c);
/// Removes them (errors ignored: nothing may be left to remove).
void remove_interception(const interception_config& c) noexcept;

}  // namespace baton::net
