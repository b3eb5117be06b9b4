#pragma once
// The cluster's ARP side (document 004): the master answers ARP requests for the cluster
// addresses, a member that becomes master "sends broadcast ARP responses to tell anyone on the
// network what Ethernet address to use for the cluster IP address" (Figure 6, 621 and 637;
// Figure 8A, 827), and, in forwarding mode, the members' MACs are learned so the master can send
// each unit's datagrams to its owner.
//
// It has its own AF_PACKET sockets (ETH_P_ARP, one per segment) and thread, apart from the packet
// loop: ARP is a few frames a second, and the data ports keep seeing IPv4 only. The thread owns
// the sockets; the control side (the cluster actor) flips master on and off, names the members to
// resolve and reads what was learned. Plain C++, no CAF. Needs CAP_NET_RAW.
//
// Frames are written with the segment interface's own MAC as Ethernet source; the address the
// ARP packet names (sender hardware address) is the segment's answer MAC: the interface's own MAC
// in forwarding mode, the cluster MAC in the cluster MAC modes. So a learning switch never ties
// the cluster MAC to one member's port.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "net/io/counter_list.hpp"
#include "net/packet/arp.hpp"

namespace baton::net {

/// One segment the speaker serves.
struct arp_segment {
  std::string interface;
  std::uint32_t cluster_ip = 0;  // answered and announced here (0: nothing to answer)
  bool answer_with_own_mac = true;  // false: the cluster MAC below
  net::mac_address cluster_mac{};
};

struct arp_speaker_config {
  std::vector<arp_segment> segments;
  std::uint32_t announcements = 3;                       // gratuitous ARPs per announce()
  std::chrono::milliseconds announce_interval{100};      // apart
  std::chrono::milliseconds resolve_interval{500};       // re-ask an unresolved member
  std::chrono::milliseconds refresh_interval{5000};      // re-ask a resolved member
};

/// Where a member's group address was seen: the segment (index into the config) and its MAC.
struct arp_neighbor {
  std::size_t segment = 0;
  net::mac_address mac{};
};

/// The ARP side's counters, declared once (net/io/counter_list.hpp).
#define BATON_ARP_COUNTERS(COUNTER, GAUGE)                        \
  COUNTER(received, "ARP frames read")                            \
  COUNTER(malformed, "ARP frames that did not parse")             \
  COUNTER(answered, "replies sent for a cluster address")         \
  COUNTER(announced, "gratuitous ARPs sent")                      \
  COUNTER(resolutions, "requests sent for members")               \
  COUNTER(learned, "member MACs learned or changed")              \
  COUNTER(send_errors, "ARP frames the socket did not take")

BATON_COUNTER_STRUCT(arp_speaker_stats, BATON_ARP_COUNTERS)

/// The reply a master sends to `request` received on a segment answering `cluster_ip` at
/// `answer_mac`, or nothing: not a request, not for `cluster_ip` (or cluster_ip is 0), or a
/// gratuitous request (an announcement by someone else, which asks nothing). Probes (sender 0)
/// are answered, so a host checking the address learns it is taken. Pure; never throws.
std::optional<net::arp_message> answer_for(const net::arp_view& request, std::uint32_t cluster_ip,
                                           const net::mac_address& answer_mac) noexcept;

class arp_speaker {
 public:
  /// Opens one ARP socket per segment and starts the thread. Not master at first. Throws
  /// std::system_error (no CAP_NET_RAW, no such interface) or std::invalid_argument (no segment).
  explicit arp_speaker(arp_speaker_config config);
  /// Stops the thread and closes the sockets.
  ~arp_speaker();
  arp_speaker(const arp_speaker&) = delete;
  arp_speaker& operator=(const arp_speaker&) = delete;

  /// Answer requests for the cluster addresses (true) or stop (false). Becoming master also
  /// starts an announcement (config.announcements gratuitous ARPs per segment).
  void set_master(bool master);
  bool master() const noexcept { return master_.load(std::memory_order_relaxed); }
  /// Sends the announcement again (a won tie-break, Figure 8A 827). Does nothing unless master.
  void announce();
  /// The members whose MACs to learn (group addresses, host order); replaces the previous list.
  /// Unknown ones are asked for at once on every segment.
  void watch(const std::vector<std::uint32_t>& members);
  /// What was learned of `member` (watched or not, the last frame it sent), or nothing.
  std::optional<arp_neighbor> neighbor(std::uint32_t member) const;
  /// The MAC of segment `i`'s interface.
  net::mac_address interface_mac(std::size_t i) const { return sockets_.at(i).mac; }
  arp_speaker_stats stats() const noexcept;

 private:
  struct socket_state {
    int fd = -1;
    int ifindex = 0;
    net::mac_address mac{};
    std::uint32_t address = 0;  // the interface's IPv4 address, sender of our requests (0: none)
  };
  BATON_LIVE_COUNTER_STRUCT(live_stats, arp_speaker_stats, BATON_ARP_COUNTERS)
  using clock = std::chrono::steady_clock;

  void run() noexcept;
  void on_frame(std::size_t segment, const std::uint8_t* data, std::size_t size) noexcept;
  void send_frame(std::size_t segment, const std::uint8_t* frame, std::size_t size) noexcept;
  void send_announcements() noexcept;
  // Asks for the members whose time has come; returns when the next one is due.
  clock::time_point resolve_due(clock::time_point now) noexcept;
  void wake() noexcept;

  arp_speaker_config config_;
  std::vector<socket_state> sockets_;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> master_{false};
  std::atomic<std::uint32_t> announce_requests_{0};  // announce() calls not yet started
  live_stats stats_;

  mutable std::mutex mutex_;  // guards what follows (control path only; never the packet loop)
  struct watched {
    clock::time_point next_ask{};
  };
  std::map<std::uint32_t, watched> watched_;
  std::map<std::uint32_t, arp_neighbor> neighbors_;

  // Thread-only state.
  std::uint32_t announcements_left_ = 0;
  clock::time_point next_announcement_{};
  std::thread thread_;
};

}  // namespace baton::net
