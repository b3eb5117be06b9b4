#pragma once
// The cluster member's role stage (document 004): the gateway stage (net/gateway) plus what the
// segment needs around it. Datagrams the gateway sends toward a backend get that backend's MAC as
// their next hop (one AF_PACKET port serves the whole backend pool); datagrams that are not the
// cluster's business (member-to-member links, other members' output seen on the shared segment)
// are left to the kernel and counted as not owned. Plain C++, no CAF.
//
// Traffic modes (document 004, "Normal IP packet processing"; the policy's cluster.traffic):
//  - cluster MAC (unicast_mac, multicast_mac; methods 2 and 3): every member captures the frames
//    sent to the cluster MAC; frames to a member's own MAC are its kernel's.
//  - forwarding (method 1): the cluster addresses are bound to the master's own MAC, so clients
//    and backends send every frame to the master. Each member handles only frames addressed to
//    its own MAC (what it sees of other MACs on a flooding segment is ignored). The master runs the
//    work-unit filter and sends a datagram whose unit another member owns on to that member's MAC
//    unchanged (Figure 9, 943); while the unit's assignment is not yet acknowledged it holds the
//    datagram in a bounded per-unit queue (941) and sends it once the owner has the unit, or
//    drops it (counted) after hold_ticks route installs. The owner answers directly: replies to
//    clients leave through its own outside port, datagrams to backends through its inside port.
//    Frames to a member's MAC for the cluster IP also reach its kernel, which has no cluster
//    address and does not forward (ip_forward 0): it drops them silently, so no RST leaks.
//
// Threading: process() runs on the loop thread; install_routes() and set_release_port() must run
// there too (packet_loop::run_on_loop), as must everything touching the gateway's flow table.
// counters() and settings() may be read from any thread.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "net/gateway/gateway_stage.hpp"
#include "net/io/counter_list.hpp"
#include "net/io/packet_port.hpp"

namespace baton::policy {
struct policy;
}

namespace baton::net {

/// A backend's address (host order) and the MAC frames to it carry.
struct backend_neighbor {
  std::uint32_t address = 0;
  std::array<std::uint8_t, 6> mac{};
};

enum class traffic : std::uint8_t {
  cluster_mac,  // unicast or multicast cluster MAC: every member sees the cluster's frames
  forwarding,   // the master's MAC; the master forwards to each unit's owner
};

/// A backend endpoint and the service (protocol, port on the cluster IP) it serves: what the stage
/// needs to place a backend's reply on its client-side unit before forwarding it.
struct backend_endpoint {
  std::uint8_t protocol = 6;
  std::uint32_t address = 0;
  std::uint16_t port = 0;
  std::uint16_t service_port = 0;
};

/// The cluster section as the segment side uses it; fixed for the life of the stage.
struct segment_settings {
  traffic mode = traffic::cluster_mac;
  std::uint32_t cluster_ip = 0;  // answered by ARP on the outside segment
  std::uint32_t inside_ip = 0;   // answered by ARP on the inside segment (0: none, DSR)
  std::array<std::uint8_t, 6> cluster_mac{};  // cluster_mac mode: what ARP answers name
  std::string outside, inside;   // interface names
  net::port_id client_port = 0, backend_port = 0;
  std::uint32_t self = 0;        // this member's group address (its policy identity)
  std::vector<std::uint32_t> peers;  // the other members' group addresses, from the policy
  std::vector<backend_endpoint> backends;
  std::uint32_t hold_per_unit = 32;   // datagrams held per unit while it is being assigned
  std::uint32_t hold_total = 512;     // datagrams held at once (pool buffers they keep)
  std::uint32_t hold_ticks = 25;      // route installs a held datagram survives
};

/// The settings the policy's cluster section gives, for a loop whose client and backend ports are
/// `client_port` and `backend_port`. Throws std::invalid_argument when the policy has no cluster
/// section or its cluster MAC does not parse.
segment_settings segment_settings_from(const policy::policy& p, net::port_id client_port,
                                       net::port_id backend_port);

/// What the master does with a unit's datagrams that reach it (forwarding mode).
enum class route_kind : std::uint8_t {
  none,     // not the master, or nobody owns the unit: drop (not owned)
  local,    // this member owns it: the gateway handles it
  forward,  // send on `port` to `mac`, the owner's MAC
  hold,     // its assignment is in progress: hold the datagram until the route changes
};

struct unit_route {
  route_kind kind = route_kind::none;
  net::port_id port = 0;
  std::array<std::uint8_t, 6> mac{};
};

/// Forwarding-mode counters, declared once (net/io/counter_list.hpp).
#define BATON_FORWARDING_COUNTERS(COUNTER, GAUGE)                                              \
  COUNTER(forwarded, "datagrams sent on to the unit's owner")                                 \
  COUNTER(held, "datagrams put on hold while their unit was being assigned")                  \
  COUNTER(released, "held datagrams sent once the owner had the unit")                        \
  COUNTER(hold_full, "not held (the unit's queue or all holding full): dropped")              \
  COUNTER(hold_expired, "held too long: dropped")                                             \
  COUNTER(hold_discarded, "held, then the unit became ours or nobody's: dropped")             \
  COUNTER(release_errors, "held datagrams the release port did not take")                     \
  COUNTER(foreign, "frames for another member's MAC, seen on a flooding segment")             \
  COUNTER(unplaced, "not owned here and not placeable on a unit: dropped")                    \
  COUNTER(fragments_relayed, "later fragments sent on to the owner their first fragment went to")

/// Forwarding-mode counters (a copy; each read relaxed).
BATON_COUNTER_STRUCT(forwarding_counters, BATON_FORWARDING_COUNTERS)

class cluster_stage final : public net::stage {
public:
  /// Takes the gateway over; `backends` are the resolved MACs of every backend address. The
  /// cluster MAC traffic mode with default settings (the stage as it was before forwarding).
  cluster_stage(std::unique_ptr<net::gateway_stage> gateway, std::vector<backend_neighbor> backends,
                net::port_id backend_port);
  /// The same with the policy's segment settings. Allocates the hold queues now.
  /// Throws std::invalid_argument when the hold sizes are 0 or hold_total exceeds 65535.
  cluster_stage(std::unique_ptr<net::gateway_stage> gateway, std::vector<backend_neighbor> backends,
                net::port_id backend_port, segment_settings settings);
  ~cluster_stage() override;

  const char* name() const noexcept override { return "cluster"; }
  net::verdict process(net::packet_context& ctx) noexcept override;
  /// The gateway's flow-table loads for the batch (stage.hpp).
  void prefetch(const net::packet_context& ctx, unsigned round) const noexcept override {
    gateway_->prefetch(ctx, round);
  }

  net::gateway_stage& gateway() noexcept { return *gateway_; }
  const segment_settings& settings() const noexcept { return settings_; }

  /// The unit a cluster datagram belongs to (the client-side key, both directions; see
  /// gateway_stage.hpp): true with `unit` set for a datagram to the cluster IP or from a backend
  /// endpoint, false otherwise (and for later fragments, which carry no ports). Never throws.
  bool unit_of(const net::packet_fields& f, std::uint32_t& unit) const noexcept;

  // Loop thread only. ---------------------------------------------------------------------------

  /// Replaces the per-unit routes by swapping with `routes` (which must have one entry per work
  /// unit; otherwise nothing happens and false is returned): the caller gets the previous table
  /// back, so the loop thread never allocates. Then, per unit with datagrams on hold: a unit now
  /// `forward` has them sent to its owner through the release port of the route's port; a unit
  /// now `local` or `none` has them dropped (hold_discarded); a unit still `hold` keeps them
  /// unless they have waited more than hold_ticks installs (hold_expired). Never throws.
  bool install_routes(std::vector<unit_route>& routes) noexcept;
  /// The port held datagrams leave by when their route names loop port `id` (the loop's own ports
  /// are not reachable from here). Replaces any previous one. Ids >= 8 are ignored.
  void set_release_port(net::port_id id, std::unique_ptr<net::packet_port> port);
  /// Datagrams on hold now.
  std::size_t held_now() const noexcept { return held_count_; }

  /// Counters, readable from any thread.
  forwarding_counters counters() const noexcept;

  // The owned-datagram wake (issue 15): an idle member's replication round need not run every
  // interval while no datagram of its units arrives, yet must run soon after one does.

  /// What arm_owned_wake() calls; set once, before the first arm (any thread).
  void set_owned_wake(std::function<void()> wake) { owned_wake_ = std::move(wake); }
  /// Any thread: the loop calls the wake once, at the next datagram of a unit this member owns
  /// (the gateway's verdict is not "not owned"), from process(), on the loop thread.
  void arm_owned_wake() noexcept { owned_wake_armed_.store(true, std::memory_order_release); }
  /// Any thread: cancels the wake; false when it had fired already (the call is made or coming).
  bool disarm_owned_wake() noexcept { return owned_wake_armed_.exchange(false, std::memory_order_acq_rel); }

private:
  static constexpr std::uint16_t no_slot = 0xffff;
  static constexpr std::size_t max_release_ports = 8;
  struct hold_slot {
    net::packet_buffer* buffer = nullptr;
    std::uint32_t since = 0;  // install tick when held
    std::uint16_t next = no_slot;
  };
  struct unit_queue {
    std::uint16_t head = no_slot, tail = no_slot;
    std::uint16_t count = 0;
  };
  struct live_counters;

  net::verdict forwarding_process(net::packet_context& ctx) noexcept;
  // Forwarding mode: the route for `unit` (forward, hold, or the gateway's verdict `v`).
  net::verdict relay(std::uint32_t unit, net::packet_context& ctx, const net::verdict& v) noexcept;
  void set_backend_next_hop(net::packet_context& ctx, const net::verdict& v) noexcept;
  bool hold(std::uint32_t unit, net::packet_context& ctx) noexcept;
  // Sends (route forward) or frees the held datagrams of `unit` from the head while `keep` says no.
  void flush_unit(std::uint32_t unit, const unit_route& r) noexcept;
  void expire_unit(std::uint32_t unit) noexcept;
  void free_slot(std::uint16_t s) noexcept;
  // A datagram of an owned unit passed the gateway: fires the owned wake when it is armed.
  void note_owned() noexcept {
    if (owned_wake_armed_.load(std::memory_order_relaxed) &&
        owned_wake_armed_.exchange(false, std::memory_order_acq_rel) && owned_wake_)
      owned_wake_();
  }

  std::unique_ptr<net::gateway_stage> gateway_;
  std::vector<backend_neighbor> backends_;  // fixed after construction: read without locks
  net::port_id backend_port_;
  segment_settings settings_;
  std::vector<unit_route> routes_;          // loop thread: swapped in by install_routes
  std::vector<hold_slot> slots_;
  std::vector<std::uint16_t> free_slots_;   // a stack
  std::vector<unit_queue> queues_;
  std::size_t held_count_ = 0;
  std::uint32_t tick_ = 0;
  // Forwarding mode: the unit each relayed first fragment belonged to, for its later pieces.
  net::fragment_follow fragments_;
  net::buffer_pool* pool_ = nullptr;        // where held buffers go back (the loop's)
  std::array<std::unique_ptr<net::packet_port>, max_release_ports> release_{};
  std::unique_ptr<live_counters> counters_;
  std::function<void()> owned_wake_;
  std::atomic<bool> owned_wake_armed_{false};
};

}  // namespace baton::net
