#include "net/cluster/arp_speaker.hpp"

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "net/io/interface.hpp"
#include "net/io/packet_buffer.hpp"

namespace baton::net {
namespace {

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::system_category(), what);
}

/// The interface's IPv4 address (host order), or 0 when it has none.
std::uint32_t interface_ipv4(const std::string& name) {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return 0;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  std::uint32_t out = 0;
  if (::ioctl(s, SIOCGIFADDR, &ifr) == 0) {
    sockaddr_in a{};
    std::memcpy(&a, &ifr.ifr_addr, sizeof a);
    out = ntohl(a.sin_addr.s_addr);
  }
  ::close(s);
  return out;
}

}  // namespace

std::optional<net::arp_message> answer_for(const net::arp_view& request, std::uint32_t cluster_ip,
                                           const net::mac_address& answer_mac) noexcept {
  if (cluster_ip == 0 || request.operation() != net::arp_op_request) return std::nullopt;
  if (request.target_ip() != cluster_ip || request.gratuitous()) return std::nullopt;
  return net::arp_reply(request, answer_mac);
}

arp_speaker::arp_speaker(arp_speaker_config config) : config_(std::move(config)) {
  if (config_.segments.empty()) throw std::invalid_argument("arp_speaker: no segment");
  auto close_all = [&] {
    for (auto& s : sockets_)
      if (s.fd >= 0) ::close(s.fd);
    if (wake_fd_ >= 0) ::close(wake_fd_);
  };
  try {
    for (const auto& seg : config_.segments) {
      socket_state s;
      s.ifindex = net::interface_index(seg.interface);
      s.mac = net::interface_mac(seg.interface);
      s.address = interface_ipv4(seg.interface);
      s.fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ARP));
      if (s.fd < 0) fail("socket(AF_PACKET, ETH_P_ARP)");
      sockets_.push_back(s);
#ifdef PACKET_IGNORE_OUTGOING
      int one = 1;
      ::setsockopt(s.fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
#endif
      sockaddr_ll addr{};
      addr.sll_family = AF_PACKET;
      addr.sll_protocol = htons(ETH_P_ARP);
      addr.sll_ifindex = s.ifindex;
      if (::bind(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) fail("bind(ETH_P_ARP)");
    }
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) fail("eventfd");
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    close_all();
    throw;
  }
}

arp_speaker::~arp_speaker() {
  stop_.store(true);
  wake();
  if (thread_.joinable()) thread_.join();
  for (auto& s : sockets_) ::close(s.fd);
  ::close(wake_fd_);
}

void arp_speaker::wake() noexcept {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void arp_speaker::set_master(bool master) {
  const bool was = master_.exchange(master);
  if (master && !was) announce();
}

void arp_speaker::announce() {
  if (!master()) return;
  announce_requests_.fetch_add(1);
  wake();
}

void arp_speaker::watch(const std::vector<std::uint32_t>& members) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::map<std::uint32_t, watched> next;
    for (auto m : members) {
      if (m == 0) continue;
      auto it = watched_.find(m);
      next[m] = it != watched_.end() ? it->second : watched{};  // new: asked at once
    }
    watched_ = std::move(next);
  }
  wake();
}

std::optional<arp_neighbor> arp_speaker::neighbor(std::uint32_t member) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = neighbors_.find(member);
  if (it == neighbors_.end()) return std::nullopt;
  return it->second;
}

arp_speaker_stats arp_speaker::stats() const noexcept { return stats_.snapshot(); }

void arp_speaker::send_frame(std::size_t segment, const std::uint8_t* frame, std::size_t size) noexcept {
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_ARP);
  to.sll_ifindex = sockets_[segment].ifindex;
  to.sll_halen = 6;
  std::memcpy(to.sll_addr, frame, 6);
  if (::sendto(sockets_[segment].fd, frame, size, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0)
    net::bump(stats_.send_errors);
}

void arp_speaker::on_frame(std::size_t segment, const std::uint8_t* data, std::size_t size) noexcept {
  net::bump(stats_.received);
  net::ethernet_view eth;
  net::arp_view arp;
  if (net::parse_arp_frame(net::bytes_view(data, size), eth, arp) != net::parse_status::ok) {
    net::bump(stats_.malformed);
    return;
  }
  const auto& seg = config_.segments[segment];
  const auto& own = sockets_[segment];
  if (arp.sender_mac() == own.mac) return;  // our own frame, looped back
  // Learn the members' MACs from whatever they send (their replies to our requests, their own
  // requests, their announcements). Probes (sender 0) say nothing about an address.
  if (arp.sender_ip() != 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (watched_.count(arp.sender_ip())) {
      auto& n = neighbors_[arp.sender_ip()];
      if (n.segment != segment || n.mac != arp.sender_mac()) net::bump(stats_.learned);
      n.segment = segment;
      n.mac = arp.sender_mac();
    }
  }
  if (!master()) return;
  const net::mac_address answer_mac = seg.answer_with_own_mac ? own.mac : seg.cluster_mac;
  if (auto reply = answer_for(arp, seg.cluster_ip, answer_mac)) {
    std::array<std::uint8_t, net::ethernet_min_frame_length> frame{};
    const std::size_t n = net::write_arp_frame(net::bytes_span(frame.data(), frame.size()),
                                               arp.sender_mac(), own.mac, *reply);
    send_frame(segment, frame.data(), n);
    net::bump(stats_.answered);
  }
}

void arp_speaker::send_announcements() noexcept {
  for (std::size_t i = 0; i < sockets_.size(); ++i) {
    const auto& seg = config_.segments[i];
    if (seg.cluster_ip == 0) continue;
    const net::mac_address mac = seg.answer_with_own_mac ? sockets_[i].mac : seg.cluster_mac;
    std::array<std::uint8_t, net::ethernet_min_frame_length> frame{};
    // "Broadcast ARP responses": a reply whose target is the sender itself, which Linux takes as
    // gratuitous and lets override an existing neighbour entry at once.
    const std::size_t n = net::write_arp_frame(net::bytes_span(frame.data(), frame.size()),
                                               net::broadcast_mac, sockets_[i].mac,
                                               net::gratuitous_arp(mac, seg.cluster_ip));
    send_frame(i, frame.data(), n);
    net::bump(stats_.announced);
  }
}

arp_speaker::clock::time_point arp_speaker::resolve_due(clock::time_point now) noexcept {
  std::vector<std::uint32_t> ask;
  auto next = clock::time_point::max();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [addr, w] : watched_) {
      if (now >= w.next_ask) {
        const bool known = neighbors_.count(addr) != 0;
        w.next_ask = now + (known ? config_.refresh_interval : config_.resolve_interval);
        ask.push_back(addr);
      }
      next = std::min(next, w.next_ask);
    }
  }
  // We do not know which segment a member's group address lives on: ask on every one; only the
  // right one answers.
  for (auto addr : ask)
    for (std::size_t i = 0; i < sockets_.size(); ++i) {
      std::array<std::uint8_t, net::ethernet_min_frame_length> frame{};
      const std::size_t n = net::write_arp_frame(
          net::bytes_span(frame.data(), frame.size()), net::broadcast_mac, sockets_[i].mac,
          net::arp_request(sockets_[i].mac, sockets_[i].address, addr));
      send_frame(i, frame.data(), n);
      net::bump(stats_.resolutions);
    }
  return next;
}

void arp_speaker::run() noexcept {
  std::vector<pollfd> fds(sockets_.size() + 1);
  for (std::size_t i = 0; i < sockets_.size(); ++i) fds[i] = {sockets_[i].fd, POLLIN, 0};
  fds.back() = {wake_fd_, POLLIN, 0};
  std::array<std::uint8_t, 2048> buf{};
  while (!stop_.load()) {
    const auto now = clock::now();
    if (announce_requests_.exchange(0) != 0 && master()) {
      announcements_left_ = config_.announcements;
      next_announcement_ = now;
    }
    if (announcements_left_ != 0 && now >= next_announcement_) {
      if (master()) {
        send_announcements();
        --announcements_left_;
        next_announcement_ = now + config_.announce_interval;
      } else {
        announcements_left_ = 0;  // stepped down meanwhile
      }
    }
    // Sleep until the next resolve or announcement is due (issue 15: no periodic wake-up while
    // idle); watch(), announce() and the destructor wake the thread through wake_fd_.
    auto next = resolve_due(now);
    if (announcements_left_ != 0) next = std::min(next, next_announcement_);
    int timeout_ms = 1000;  // a bound, not a timer: nothing waits for it
    if (next != clock::time_point::max()) {
      // Rounded up, so that the thread does not wake a little early and spin until it is due.
      auto left = std::chrono::ceil<std::chrono::milliseconds>(next - now);
      timeout_ms = static_cast<int>(std::max<long>(0, std::min<long>(timeout_ms, left.count())));
    }
    if (::poll(fds.data(), fds.size(), timeout_ms) <= 0) continue;
    if (fds.back().revents & POLLIN) {
      std::uint64_t v = 0;
      [[maybe_unused]] auto n = ::read(wake_fd_, &v, sizeof v);
    }
    for (std::size_t i = 0; i < sockets_.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      for (int k = 0; k < 64; ++k) {  // drain, bounded
        const ssize_t n = ::recv(sockets_[i].fd, buf.data(), buf.size(), 0);
        if (n <= 0) break;
        on_frame(i, buf.data(), static_cast<std::size_t>(n));
      }
    }
  }
}

}  // namespace baton::net
