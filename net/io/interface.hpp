#pragma once
// Small ioctl helpers for network interfaces in the caller's network namespace. Control-path only.

#include <array>
#include <cstdint>
#include <optional>
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
/// Sets the device's transmit queue length (for a TUN: how many datagrams wait for the reader
/// before the kernel drops). Throws std::system_error.
void set_interface_tx_queue_length(const std::string& name, int length);
/// Parses "aa:bb:cc:dd:ee:ff". Throws std::invalid_argument.
mac_address parse_mac(const std::string& text);

/// An interface's kernel counters, asked over rtnetlink (RTM_GETLINK, IFLA_STATS64) in the network
/// namespace of the thread that made the reader (sysfs would show the namespace that mounted it).
class link_counters {
 public:
  /// Throws std::system_error when there is no such interface or no netlink socket.
  explicit link_counters(const std::string& name);
  ~link_counters();
  link_counters(const link_counters&) = delete;
  link_counters& operator=(const link_counters&) = delete;

  /// The device's tx_dropped: for a TUN, datagrams the kernel dropped because the reader's queue
  /// was full. nullopt when the kernel did not answer.
  std::optional<std::uint64_t> tx_dropped() noexcept;

 private:
  int fd_ = -1;
  int index_ = 0;
  std::uint32_t seq_ = 0;
};

}  // namespace baton::net
