#include "net/io/interface.hpp"

#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/ioctl.h>
#include <sys/time.h>
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

void set_interface_tx_queue_length(const std::string& name, int length) {
  ifreq ifr{};
  ifr.ifr_qlen = length;
  interface_ioctl(name, SIOCSIFTXQLEN, ifr, "SIOCSIFTXQLEN");
}

link_counters::link_counters(const std::string& name) : index_(interface_index(name)) {
  fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd_ < 0) throw std::system_error(errno, std::system_category(), "netlink socket");
  // The kernel answers a GETLINK at once; the timeout only bounds a kernel that does not.
  timeval tv{0, 100000};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

link_counters::~link_counters() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<std::uint64_t> link_counters::tx_dropped() noexcept {
  struct {
    nlmsghdr header;
    ifinfomsg link;
  } request{};
  request.header.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
  request.header.nlmsg_type = RTM_GETLINK;
  request.header.nlmsg_flags = NLM_F_REQUEST;
  request.header.nlmsg_seq = ++seq_;
  request.link.ifi_family = AF_UNSPEC;
  request.link.ifi_index = index_;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_, &request, request.header.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return std::nullopt;
  alignas(nlmsghdr) char answer[16384];
  for (;;) {
    const ssize_t n = ::recv(fd_, answer, sizeof answer, 0);
    if (n <= 0) return std::nullopt;
    auto len = static_cast<unsigned>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(answer); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq_) continue;  // a late answer to an earlier request
      if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE) return std::nullopt;
      if (h->nlmsg_type != RTM_NEWLINK) continue;
      auto* link = static_cast<ifinfomsg*>(NLMSG_DATA(h));
      int attributes = static_cast<int>(IFLA_PAYLOAD(h));
      for (auto* a = IFLA_RTA(link); RTA_OK(a, attributes); a = RTA_NEXT(a, attributes)) {
        if (a->rta_type != IFLA_STATS64 || RTA_PAYLOAD(a) < sizeof(rtnl_link_stats64)) continue;
        rtnl_link_stats64 stats;
        std::memcpy(&stats, RTA_DATA(a), sizeof stats);
        return stats.tx_dropped;
      }
      return std::nullopt;
    }
  }
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
