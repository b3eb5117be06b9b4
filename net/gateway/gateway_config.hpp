#pragma once
// What the cluster member's gateway stage does (document 004 with DESIGN §1, issue 4): the cluster
// IP, the traffic mode, the services and their backends with their health. Control code builds a
// gateway_config and publishes it whole (table_slot); the loop reads it without locks.
//
// Backend choice is rendezvous (highest random weight) hashing of the client-side flow key over
// the service's backends: every member computes the same winner from the same key and backend
// list, whatever order the list is in, without any shared state. That is what lets a member that
// lost a flow's state (a failover before replication caught up) re-derive its backend, and what
// keeps a backend's removal or ill health from moving the flows of the other backends.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/flow/flow_key.hpp"
#include "net/io/packet_buffer.hpp"

namespace baton::net {

enum class gateway_mode : std::uint8_t {
  nat,                   // destination rewritten to the backend, rewritten back on return
  direct_server_return,  // IP-in-IP to the backend, which answers from the cluster IP itself
};

/// "nat" or "direct_server_return". Never returns null.
const char* to_string(gateway_mode m) noexcept;

struct gateway_backend {
  ipv4_host addr = 0;   // host order
  port_host port = 0;   // NAT: the backend's port; DSR: unused (the backend listens on the
                        // service port of the cluster IP)
  bool healthy = true;  // false: no new flow is sent here (existing flows keep it)
};

struct gateway_service {
  std::uint8_t protocol = 6;  // 6 TCP or 17 UDP
  port_host port = 0;         // the service port on the cluster IP
  std::vector<gateway_backend> backends;  // at most max_backends_per_service
};

inline constexpr std::size_t max_services = 16;
inline constexpr std::size_t max_backends_per_service = 64;

/// The table the stage reads per packet. Plain value; validate() before publishing.
struct gateway_config {
  ipv4_host cluster_ip = 0;    // the one virtual address of the cluster
  ipv4_host member_addr = 0;   // this member's own address: DSR outer source, NAT source if
                               // source_nat is on
  gateway_mode mode = gateway_mode::nat;
  // NAT only. false (default): the client's address is kept, so the backend sees the real client
  // and must route its replies via the cluster (the cluster IP, or this segment's member, is its
  // gateway); both directions then carry the client's address and port, so any member computes the
  // flow's work unit from either direction without state. true: the source becomes member_addr
  // (client port kept): backends need no route, but replies are addressed to this member, so only
  // a member holding the flow's state can map them back, and a failover keeps the flow only if
  // member_addr moves with the unit (use an address shared by all members).
  bool source_nat = false;
  port_id client_port = 0;   // loop port towards clients (return traffic leaves here)
  port_id backend_port = 0;  // loop port towards backends (NAT and DSR traffic leaves here)
  std::vector<gateway_service> services;  // at most max_services

  /// The service for (protocol, port) on the cluster IP, or nullptr. Linear: a handful of services.
  const gateway_service* find_service(std::uint8_t protocol, port_host port) const noexcept;
  /// The service and backend index of a backend endpoint (reply source), or false.
  bool find_backend(std::uint8_t protocol, ipv4_host addr, port_host port, std::size_t& service,
                    std::size_t& backend) const noexcept;
  /// Empty string when usable; otherwise why not ("more than 16 services",
  /// "a backend endpoint serves two services", ...): a static string. Never throws.
  const char* validate() const noexcept;
};

/// What select_backend found.
struct backend_choice {
  std::size_t index = 0;        // into service.backends; valid when found
  bool found = false;           // false: no healthy backend
  bool skipped_unhealthy = false;  // the highest-weight backend was unhealthy and passed over
};

/// Rendezvous hashing: the healthy backend with the highest weight(client_key, backend), where the
/// weight depends only on the key and the backend's address and port. Deterministic on every
/// machine (host-order integers, no seeds drawn at run time). O(backends); never allocates.
backend_choice select_backend(const gateway_service& service, const flow_key& client_key) noexcept;

/// The weight used by select_backend (exposed for tests and the console's "where would this go").
std::uint64_t rendezvous_weight(const flow_key& client_key, ipv4_host addr, port_host port) noexcept;

}  // namespace baton::net
