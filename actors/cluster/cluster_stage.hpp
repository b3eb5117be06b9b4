#pragma once
// The cluster member's role stage (document 004): the gateway stage (net/gateway) plus what the
// segment needs around it. Datagrams the gateway sends toward a backend get that backend's MAC as
// their next hop (one AF_PACKET port serves the whole backend pool); datagrams that are not the
// cluster's business (member-to-member links, other members' output seen on the shared segment)
// are left to the kernel and counted as not owned. Plain C++, no CAF.

#include <array>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "net/gateway/gateway_stage.hpp"

namespace baton::cluster {

/// A backend's address (host order) and the MAC frames to it carry.
struct backend_neighbor {
  std::uint32_t address = 0;
  std::array<std::uint8_t, 6> mac{};
};

class cluster_stage final : public net::stage {
public:
  /// Takes the gateway over; `backends` are the resolved MACs of every backend address.
  cluster_stage(std::unique_ptr<net::gateway_stage> gateway, std::vector<backend_neighbor> backends,
                net::port_id backend_port);

  const char* name() const noexcept override { return "cluster"; }
  net::verdict process(net::packet_context& ctx) noexcept override;

  net::gateway_stage& gateway() noexcept { return *gateway_; }

private:
  std::unique_ptr<net::gateway_stage> gateway_;
  std::vector<backend_neighbor> backends_;  // fixed after construction: read without locks
  net::port_id backend_port_;
};

}  // namespace baton::cluster
