#include "net/io/neighbor.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace baton::net {
namespace {

std::optional<net::mac_address> lookup(const std::string& interface, std::uint32_t address) {
  std::ifstream arp{"/proc/net/arp"};
  std::string line;
  std::getline(arp, line);  // header
  in_addr a{};
  a.s_addr = htonl(address);
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &a, text, sizeof text);
  const std::string want_text = text;
  while (std::getline(arp, line)) {
    std::istringstream in{line};
    std::string ip, hw_type, flags, mac, mask, device;
    in >> ip >> hw_type >> flags >> mac >> mask >> device;
    // Flags 0x0 is an incomplete entry; its MAC reads 00:00:00:00:00:00.
    if (ip == want_text && device == interface && flags != "0x0") {
      try {
        return net::parse_mac(mac);
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

void nudge(const std::string& interface, std::uint32_t address) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  ::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, interface.c_str(),
               static_cast<socklen_t>(interface.size()));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(9);  // discard
  to.sin_addr.s_addr = htonl(address);
  char byte = 0;
  ::sendto(fd, &byte, 1, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to), sizeof to);
  ::close(fd);
}

}  // namespace

std::optional<net::mac_address> resolve_neighbor(const std::string& interface,
                                                 std::uint32_t address,
                                                 std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  if (auto mac = lookup(interface, address)) return mac;
  nudge(interface, address);
  // The kernel offers no event for "entry resolved" short of a netlink subscription; start-up
  // polls the table briefly instead.
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (auto mac = lookup(interface, address)) return mac;
  }
  return std::nullopt;
}

}  // namespace baton::net
