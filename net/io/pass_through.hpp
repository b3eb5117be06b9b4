#pragma once
// The first role stage: pass-through. Every datagram arriving on a port goes out on the port its
// route names (interface <-> interface, TUN <-> interface), unchanged, or wrapped in / unwrapped
// from IP-in-IP (RFC 2003, done in user space: DESIGN §3). Routes are a table indexed by input
// port, replaced whole by control code while the loop runs.

#include <array>
#include <cstdint>
#include <memory>

#include "net/io/stage.hpp"
#include "net/io/table_slot.hpp"
#include "net/packet/ipip.hpp"

namespace baton::net {

enum class tunnel_action : std::uint8_t {
  none,         // forward the datagram as it is
  encapsulate,  // prepend an outer header from `tunnel` (in the buffer's headroom)
  decapsulate,  // strip the outer header of a protocol-4 datagram; others are not ours
};

struct pass_through_route {
  bool enabled = false;  // false: datagrams from this port are dropped as no_route
  port_id out = 0;
  tunnel_action action = tunnel_action::none;
  ipip_tunnel tunnel;    // outer source/destination/TTL for encapsulate
};

/// Routes by input port.
struct pass_through_table {
  std::array<pass_through_route, 32> by_in_port{};

  /// Convenience for control code: enables in -> out with `action`.
  pass_through_table& route(port_id in, port_id out, tunnel_action action = tunnel_action::none,
                            ipip_tunnel tunnel = {}) {
    by_in_port.at(in) = pass_through_route{true, out, action, tunnel};
    return *this;
  }
};

class pass_through_stage final : public stage {
 public:
  /// A stage reading its routes through `epoch` (the loop's, which must outlive the stage).
  /// Throws std::bad_alloc.
  pass_through_stage(const reader_epoch& epoch, const pass_through_table& initial = {});

  /// Control thread: replaces the routes. Returns once the loop no longer uses the old table:
  /// every batch started afterwards sees the new one, and no datagram is lost by the swap.
  /// Throws std::bad_alloc.
  void publish(const pass_through_table& table);

  const char* name() const noexcept override { return "pass_through"; }
  /// forward(route.out); drop(no_route) when the input port has no route; for decapsulate,
  /// drop(not_owned) for a datagram that is not IP-in-IP and drop(malformed) with the inner
  /// datagram's status when it does not parse; for encapsulate, drop(oversize) when the headroom
  /// or 64 KiB limit is hit.
  verdict process(packet_context& ctx) noexcept override;

 private:
  table_slot<pass_through_table> routes_;
  std::uint16_t next_id_ = 0;  // outer identification for encapsulated datagrams
};

}  // namespace baton::net
