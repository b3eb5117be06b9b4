#include "net/io/interface.hpp"

#include <linux/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace baton::net {

namespace {

// One ioctl on a throwaway datagram socket, as the interface ioctls need a socket of any family.
void interface_ioctl(const std::string& name, unsigned long request, ifreq& ifr, const char* what) {
  if (name.size() >= IFNAMSIZ) throw std::invalid_argument(std::string(what) + ": name too long");
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_name[name.size()] = '\0';
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) throw std::system_error(errno, std::system_category(), what);
  const int r = ::ioctl(s, request, &ifr);
  const int e = errno;
  ::close(s);
  if (r < 0) throw std::system_error(e, std::system_category(), std::string(what) + " " + name);
}

}  // namespace

int interface_index(const std::string& name) {
  ifreq ifr{};
  interface_ioctl(name, SIOCGIFINDEX, ifr, "SIOCGIFINDEX");
  return ifr.ifr_ifindex;
}

std::size_t interface_mtu(const std::string& name) {
  ifreq ifr{};
  interface_ioctl(name, SIOCGIFMTU, ifr, "SIOCGIFMTU");
  return static_cast<std::size_t>(ifr.ifr_mtu);
}

mac_address interface_mac(const std::string& name) {
  ifreq ifr{};
  interface_ioctl(name, SIOCGIFHWADDR, ifr, "SIOCGIFHWADDR");
  mac_address m{};
  std::memcpy(m.data(), ifr.ifr_hwaddr.sa_data, m.size());
  return m;
}

void set_interface_mtu(const std::string& name, std::size_t mtu) {
  ifreq ifr{};
  ifr.ifr_mtu = static_cast<int>(mtu);
  interface_ioctl(name, SIOCSIFMTU, ifr, "SIOCSIFMTU");
}

void set_interface_up(const std::string& name) {
  ifreq ifr{};
  interface_ioctl(name, SIOCGIFFLAGS, ifr, "SIOCGIFFLAGS");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  interface_ioctl(name, SIOCSIFFLAGS, ifr, "SIOCSIFFLAGS");
}

mac_address parse_mac(const std::string& text) {
  mac_address m{};
  unsigned v[6];
  char tail;
  if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                  &tail) != 6)
    throw std::invalid_argument("not a MAC address: " + text);
  for (int i = 0; i < 6; ++i) {
    if (v[i] > 0xff) throw std::invalid_argument("not a MAC address: " + text);
    m[i] = static_cast<std::uint8_t>(v[i]);
  }
  return m;
}

}  // namespace baton::net
