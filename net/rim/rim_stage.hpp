#pragma once
// A rim host's data path (document 000): reverse-flow forwarding. After a hand-off the client's
// packets still reach the flow's owner (the host whose address the flow carries); the owner's
// stage takes them from its uplink and tunnels them (IP-in-IP) to the host now holding the flow,
// whose stage unwraps them into its TUN, where the kernel delivers them to the re-created socket.
// Everything else on the uplink is the kernel's: the loop sees a copy (AF_PACKET) and drops it;
// the owner's netfilter drops the kernel's copy of a flow handed away (net/rim/rim_rules.hpp), so
// its TCP, which no longer knows the flow, does not reset it.
//
// The tables (flows handed away, flows held here, the rim's members) are replaced whole by the
// control thread (publish), never edited under the loop. counters() may be read from any thread.

#include <cstdint>
#include <memory>
#include <vector>

#include "net/io/counter_list.hpp"
#include "net/io/stage.hpp"
#include "net/io/table_slot.hpp"

namespace baton::net {

/// A TCP flow seen from the rim host's side of the wire: client -> service (host order).
struct rim_flow_key {
  std::uint32_t client_address = 0;
  std::uint16_t client_port = 0;
  std::uint32_t service_address = 0;
  std::uint16_t service_port = 0;
  friend bool operator<(const rim_flow_key& a, const rim_flow_key& b) noexcept {
    if (a.client_address != b.client_address) return a.client_address < b.client_address;
    if (a.client_port != b.client_port) return a.client_port < b.client_port;
    if (a.service_address != b.service_address) return a.service_address < b.service_address;
    return a.service_port < b.service_port;
  }
  friend bool operator==(const rim_flow_key& a, const rim_flow_key& b) noexcept {
    return !(a < b) && !(b < a);
  }
};

struct rim_forward {
  rim_flow_key flow;
  std::uint32_t holder = 0;  // the rim host its packets are tunnelled to
};

/// What the stage reads; built by control code, sorted by publish().
struct rim_tables {
  std::vector<rim_forward> forwarded;   // flows this host owns and another holds
  std::vector<rim_flow_key> held;       // flows another host owns and this one holds
  std::vector<std::uint32_t> members;   // the rim hosts tunnels are taken from
  /// Masquerade, this host's side: flows whose segments its stack routes into the TUN, tunnelled
  /// to the first masquerader (holder = that host).
  std::vector<rim_forward> exits;
  /// Masquerade, a masquerader's side: flows whose segments arrive tunnelled from another rim
  /// host; holder = the next masquerader of a reflector chain, or 0: send it to the client here,
  /// with the source's address as it is.
  std::vector<rim_forward> relays;
};

/// The last client segment an owner forwarded of a flow (what it needs to take the flow back
/// when its holder dies: where the client's stream and acknowledgements stand).
struct rim_client_mark {
  rim_flow_key flow;
  bool valid = false;
  std::uint32_t ack = 0;       // the client's acknowledgement: the data it holds in order
  std::uint32_t seq_end = 0;   // the sequence number after the client's segment (its next byte)
  std::uint16_t window = 0;    // as sent (not scaled)
  bool timestamps = false;
  std::uint32_t ts_val = 0, ts_ecr = 0;
};

struct rim_stage_config {
  std::uint32_t self = 0;  // outer source of the tunnels this host makes
  port_id uplink = 0;      // where clients' packets arrive (AF_PACKET: a copy of each)
  port_id tunnel = 0;      // the raw IP-in-IP port
  port_id tun = 0;         // into the local stack
};

#define BATON_RIM_COUNTERS(COUNTER, GAUGE)                                                   \
  COUNTER(forwarded, "client packets of flows held elsewhere, tunnelled to their holder")    \
  COUNTER(injected, "tunnelled packets of flows held here, given to the local stack")         \
  COUNTER(not_held, "tunnelled packets of a flow this host does not hold (dropped)")          \
  COUNTER(refused_tunnels, "IP-in-IP from a host that is not a rim member (dropped)")         \
  COUNTER(decap_errors, "tunnel packets that are not IP-in-IP or whose inner datagram is bad") \
  COUNTER(oversize, "no headroom or over 64 KiB after encapsulation")                         \
  COUNTER(masqueraded, "segments of this host's flows tunnelled to their first masquerader")  \
  COUNTER(relayed, "segments tunnelled on to the next masquerader of a reflector chain")      \
  COUNTER(sent_for_others, "segments sent to a client in another rim host's name")            \
  COUNTER(tun_unrouted, "datagrams from the TUN of no masqueraded flow (dropped)")            \
  GAUGE(forwarded_flows, "flows whose packets this host forwards now")                        \
  GAUGE(held_flows, "flows handed here that this host holds now")

BATON_COUNTER_STRUCT(rim_counters, BATON_RIM_COUNTERS)

class rim_stage final : public stage {
 public:
  /// Reads its tables through `epoch` (the loop's; must outlive the stage). Throws std::bad_alloc.
  rim_stage(const reader_epoch& epoch, const rim_stage_config& config);
  ~rim_stage() override;

  const char* name() const noexcept override { return "rim"; }
  verdict process(packet_context& ctx) noexcept override;

  /// Control thread: replaces the tables (sorts copies). Returns once the loop uses the new ones.
  void publish(rim_tables tables);

  rim_counters counters() const noexcept;

  /// The last segment forwarded of `flow`'s client. Loop thread only (the loop writes them: ask
  /// through a loop command). False when none is known (a slot holds the last flow hashed to it).
  bool client_mark(const rim_flow_key& flow, rim_client_mark& out) const noexcept;

 private:
  struct live_counters;
  verdict from_uplink(packet_context& ctx, const rim_tables& t) noexcept;
  void remember_client(const packet_context& ctx) noexcept;
  verdict from_tunnel(packet_context& ctx, const rim_tables& t) noexcept;
  verdict from_tun(packet_context& ctx, const rim_tables& t) noexcept;
  // Wraps the datagram in IP-in-IP to `to` and forwards it on the tunnel port.
  verdict tunnel_to(packet_context& ctx, std::uint32_t to) noexcept;

  rim_stage_config config_;
  table_slot<rim_tables> tables_;
  std::uint16_t ipip_id_ = 0;
  std::unique_ptr<live_counters> counters_;
  std::vector<rim_client_mark> marks_;  // fixed size, indexed by the flow's hash: no allocation per packet
};

}  // namespace baton::net
