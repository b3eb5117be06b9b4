#pragma once
// Small ioctl helpers for network interfaces in the caller's network namespace. Control-path only.

#include <array>
#include <cstdint>
#include <string>

namespace baton::net {

using mac_address = std::array<std::uint8_t, 6>;

/// The interface's index. Throws std::system_error when there is no such interface.
int interface_index(const std::string& name);
/// The interface's MTU. Throws std::system_error.
std::size_t interface_mtu(const std::string& name);
/// The interface's hardware address. Throws std::system_error.
mac_address interface_mac(const std::string& name);
/// Sets the MTU. Throws std::system_error.
void set_interface_mtu(const std::string& name, std::size_t mtu);
/// Sets IFF_UP. Throws std::system_error.
void set_interface_up(const std::string& name);
/// Parses "aa:bb:cc:dd:ee:ff". Throws std::invalid_argument.
mac_address parse_mac(const std::string& text);

}  // namespace baton::net
