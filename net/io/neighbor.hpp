#pragma once
// Finding a next hop's MAC address for AF_PACKET ports, from the kernel's neighbour table.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "net/io/interface.hpp"

namespace baton::net {

/// The MAC of IPv4 `address` (host order) on `interface`, as the kernel's neighbour table
/// (/proc/net/arp) knows it. When it is not there yet, sends one UDP datagram toward the address
/// (to the discard port) so the kernel resolves it, and looks again until `timeout`.
/// Returns nullopt when the kernel could not resolve it in time.
std::optional<net::mac_address> resolve_neighbor(const std::string& interface,
                                                 std::uint32_t address,
                                                 std::chrono::milliseconds timeout);

}  // namespace baton::net
