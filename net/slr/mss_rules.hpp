#pragma once
// The host agent's half of MSS clamping (document 001's direct server return): a client's
// segments to a virtual address reach the host through the SLRs' IP-in-IP tunnels, but the
// service's SYN-ACK goes straight back to the client, so no tunnel sees it on the way. The host
// lowers the MSS its services advertise from virtual addresses (nftables, output hook), so the
// client's full segments still fit a 1500-byte link once wrapped. No CAF.

#include <cstdint>
#include <string>
#include <vector>

namespace baton::net {

/// Installs table ip baton_mss (replacing one left by an earlier run): SYN-ACKs from `sources`
/// ("a.b.c.d/len") with an MSS above `mss` get `mss`. Throws std::runtime_error with nft's
/// message when nft refuses.
void install_mss_clamp(const std::vector<std::string>& sources, std::uint16_t mss);
/// Removes the table; never throws.
void remove_mss_clamp() noexcept;
/// SYN-ACKs clamped so far (the rule's counter), or -1 when the table is not there.
std::int64_t mss_clamped_count() noexcept;

}  // namespace baton::net
