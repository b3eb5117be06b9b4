#include "actors/group/discovery.hpp"
#include "policy/rules.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <system_error>

namespace baton::group {
namespace {

constexpr const char* magic = "baton-beacon";
constexpr int version = 1;

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

std::string encode_beacon(const beacon& b) {
  return std::string(magic) + " " + std::to_string(version) + " " + b.name + " " +
         policy::format_ipv4(b.address) + " " + std::to_string(b.port);
}

bool decode_beacon(const std::string& datagram, beacon& out) {
  if (datagram.size() > 256) return false;
  std::istringstream in{datagram};
  std::string m, name, address, extra;
  int v = 0;
  long port = 0;
  if (!(in >> m >> v >> name >> address >> port) || (in >> extra)) return false;
  if (m != magic || v != version || name.empty() || port <= 0 || port > 65535) return false;
  in_addr a{};
  if (inet_pton(AF_INET, address.c_str(), &a) != 1) return false;
  out = {name, ntohl(a.s_addr), static_cast<std::uint16_t>(port)};
  return true;
}

discovery::discovery(beacon self, std::uint16_t udp_port, std::chrono::milliseconds interval,
                     std::function<void(const beacon&)> found)
    : self_(std::move(self)), udp_port_(udp_port), interval_(interval), found_(std::move(found)) {}

discovery::~discovery() {
  stop();
  for (int fd : {listen_fd_, send_fd_, stop_fd_})
    if (fd >= 0) ::close(fd);
}

void discovery::start() {
  int one = 1;
  listen_fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) fail("discovery socket");
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_port = htons(udp_port_);
  any.sin_addr.s_addr = htonl(INADDR_ANY);  // broadcasts arrive addressed to 255.255.255.255
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0)
    fail("discovery bind");
  send_fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (send_fd_ < 0) fail("discovery socket");
  ::setsockopt(send_fd_, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
  // Bound to our own address, the kernel sends limited broadcasts out of that address's interface:
  // the segment the group lives on.
  sockaddr_in mine{};
  mine.sin_family = AF_INET;
  mine.sin_addr.s_addr = htonl(self_.address);
  if (::bind(send_fd_, reinterpret_cast<sockaddr*>(&mine), sizeof mine) != 0)
    fail("discovery bind to own address");
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) fail("discovery eventfd");
  thread_ = std::thread([this] { run(); });
}

void discovery::stop() noexcept {
  if (!thread_.joinable()) return;
  std::uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
  thread_.join();
}

void discovery::run() noexcept {
  const std::string mine = encode_beacon(self_);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(udp_port_);
  to.sin_addr.s_addr = htonl(INADDR_BROADCAST);
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    if (now >= next) {
      if (::sendto(send_fd_, mine.data(), mine.size(), 0, reinterpret_cast<sockaddr*>(&to),
                   sizeof to) == static_cast<ssize_t>(mine.size()))
        ++sent_;
      next = now + interval_;
    }
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count();
    if (::poll(fds, 2, static_cast<int>(wait < 0 ? 0 : wait)) < 0 && errno != EINTR) return;
    if (fds[1].revents & POLLIN) return;
    if (!(fds[0].revents & POLLIN)) continue;
    char buf[512];
    for (;;) {
      auto n = ::recv(listen_fd_, buf, sizeof buf, 0);
      if (n < 0) break;
      beacon b;
      if (!decode_beacon(std::string(buf, static_cast<std::size_t>(n)), b)) {
        ++malformed_;
        continue;
      }
      if (b.address == self_.address) continue;  // our own, looped back
      ++received_;
      found_(b);
    }
  }
}

}  // namespace baton::group
