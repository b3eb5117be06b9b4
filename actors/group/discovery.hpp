#pragma once
// Finding group members by broadcast on a segment (DESIGN §4: "discovery by broadcast on a segment
// where the policy says so"; document 004's members "broadcast" their join requests). Each node
// sends a small UDP beacon to the limited broadcast address from its own address, every
// `interval`, and listens for the others'. A beacon only says where a node's group actor listens:
// the node is admitted, or refused, by the TLS handshake and the group's join, never by the beacon.
// Plain C++ with its own thread; no CAF.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

namespace baton::group {

struct beacon {
  std::string name;        // the sender's node name
  std::uint32_t address;   // where its group actor listens, host order
  std::uint16_t port;
};

/// "baton-beacon 1 NAME ADDRESS PORT": the whole datagram, text so tcpdump shows what it is.
std::string encode_beacon(const beacon& b);
/// Parses a datagram; false for anything that is not a well-formed beacon (counted by the caller).
bool decode_beacon(const std::string& datagram, beacon& out);

class discovery {
public:
  /// Calls `found` (on the discovery thread) for each beacon from another node; it may repeat.
  discovery(beacon self, std::uint16_t udp_port, std::chrono::milliseconds interval,
            std::function<void(const beacon&)> found);
  /// Stops the thread.
  ~discovery();

  /// Opens the sockets and starts beaconing. Throws std::system_error when the port cannot be
  /// bound.
  void start();
  void stop() noexcept;

  std::uint64_t beacons_sent() const noexcept { return sent_.load(); }
  std::uint64_t beacons_received() const noexcept { return received_.load(); }
  std::uint64_t malformed() const noexcept { return malformed_.load(); }

private:
  void run() noexcept;

  beacon self_;
  std::uint16_t udp_port_;
  std::chrono::milliseconds interval_;
  std::function<void(const beacon&)> found_;
  int listen_fd_ = -1;
  int send_fd_ = -1;
  int stop_fd_ = -1;
  std::thread thread_;
  std::atomic<std::uint64_t> sent_{0}, received_{0}, malformed_{0};
};

}  // namespace baton::group
