#include "actors/cluster/cluster_stage.hpp"

#include "net/packet/ipv4.hpp"

namespace baton::cluster {

cluster_stage::cluster_stage(std::unique_ptr<net::gateway_stage> gateway,
                             std::vector<backend_neighbor> backends, net::port_id backend_port)
    : gateway_(std::move(gateway)), backends_(std::move(backends)), backend_port_(backend_port) {}

net::verdict cluster_stage::process(net::packet_context& ctx) noexcept {
  // Frames to this member's own MAC are the kernel's (links to peers, its own connections to
  // backends); the cluster's traffic is addressed to the cluster MAC.
  if (ctx.buffer->addressed_to_host) return net::verdict::drop(net::drop_reason::not_owned);
  auto v = gateway_->process(ctx);
  if (v.what == net::verdict::kind::next) return net::verdict::drop(net::drop_reason::not_owned);
  if (v.what == net::verdict::kind::forward && v.port == backend_port_) {
    // NAT rewrote the destination to the backend; DSR wrapped it with the backend as outer
    // destination: either way the IPv4 destination now names the backend.
    auto packet = ctx.buffer->data();
    if (packet.size >= 20) {
      std::uint32_t dst = net::load_be32(packet.data + 16);
      for (const auto& b : backends_)
        if (b.address == dst) {
          ctx.buffer->next_hop = b.mac;
          ctx.buffer->has_next_hop = true;
          break;
        }
    }
  }
  return v;
}

}  // namespace baton::cluster
