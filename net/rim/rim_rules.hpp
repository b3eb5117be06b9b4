#pragma once
// The kernel rules a rim host needs (document 000's reverse-flow service), set with nft and ip:
//  - the owner of a flow handed away drops the client's packets of that flow before its TCP sees
//    them (its TCP no longer knows the flow and would reset it); the rim stage has its copy and
//    forwards it (an nftables set of four-tuples, table "ip baton_rim");
//  - a masqueraded flow's segments are routed into the TUN (a mark and a policy routing rule), a
//    funnel-cast flow's copied there (nft dup), where the rim stage tunnels them to a masquerader;
//  - the holder delivers what comes out of its TUN to its local stack whatever the destination
//    (the re-created socket is bound, IP_TRANSPARENT, to the owner's address): a policy routing
//    rule for the TUN to a table with a local default route, and no reverse-path filter there.
// No CAF. Each call runs the tools and throws std::runtime_error with their output on failure.

#include <cstdint>
#include <string>

#include "net/rim/rim_stage.hpp"

namespace baton::net {

struct rim_rules_config {
  std::string tun = "rim0";
  std::uint32_t route_table = 7410;
};

/// Installs the table, the set and the TUN's routing (replacing what a killed batond left).
void install_rim_rules(const rim_rules_config& c);
/// Removes them (errors ignored).
void remove_rim_rules(const rim_rules_config& c) noexcept;
/// Starts / stops dropping the kernel's copy of `flow`'s client packets.
void drop_flow(const rim_flow_key& flow);
void undrop_flow(const rim_flow_key& flow);
/// Masquerade: `flow`'s segments from this host's stack go into the TUN (and from there to the
/// first masquerader) instead of out of the uplink.
void masquerade_flow(const rim_flow_key& flow, bool on);
/// Funnel-cast: `flow`'s segments go out of the uplink as usual, and a copy into the TUN.
void funnel_flow(const rim_flow_key& flow, bool on);

}  // namespace baton::net
