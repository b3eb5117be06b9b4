#pragma once
// The "pep" section's types (document 003's PEP endpoint), kept apart from policy.hpp, which holds
// one member for them. Parsed in pep_section.cpp.
//
// "pep": {
//   "rules": [...],                  which TCP connections are spoofed, by profile (required)
//   "lan": "eth0",                   the interface toward the local hosts: SYNs arriving there are
//                                    decided by the rules (required for the role)
//   "listen_port": 7401,             the transparent listener spoofed connections are diverted to
//   "backbone_port": 7400,           where peers' backbones arrive (TLS, mutual certificates)
//   "queue": 7,                      the NFQUEUE number SYNs wait in for their verdict
//   "peers": [{"name": "hub", "address": "192.0.2.7", "port": 7400, "prefixes": ["10.2.0.0/24"]}],
//                                    the static peer map: destinations reached through each PEP
//                                    peer, and where its backbone port is. PEP peers are not the
//                                    node's group (/peers): a branch and its hub share no units.
//                                    A peer may list its WAN paths (document 003's PSK):
//     "paths": [{"name": "fibre", "local": "192.168.50.1", "address": "192.168.50.2",
//                "rate_mbit": 100, "cost": 1}, ...],
//                                    "rate_mbit" (a path's, else the peer's own "rate_mbit"):
//                                    the WAN link's rate (Ethernet frames). The backbone is paced
//                                    (SO_MAX_PACING_RATE) at 97% of its TCP payload share, so
//                                    the queue forms in the PEP's priority queues, not in the
//                                    link's. 0 or absent: not paced (the congestion control's
//                                    own estimate, which may keep a standing queue in the link)
//                                    one backbone per path is dialled from "local" (an address
//                                    of this node) to "address" (the peer's on that path; port:
//                                    the peer's). A connection takes the first path of its
//                                    profile's "paths" that is up, else (no list) the cheapest
//                                    path up (ties: the order listed); when its path fails it
//                                    moves to the next without a reset (unacknowledged data is
//                                    sent again). "revert": true (the default) moves connections
//                                    back to a preferred path when it comes up again. Without
//                                    "paths" the peer has one path, "address".
//                                    A peer that is a PEP group (a hub site running several
//                                    endpoints as one group, below) lists its members:
//     "members": ["192.0.2.7", "192.0.2.8", "192.0.2.9"],
//                                    its one backbone is dialled to them in turn, from "address"
//                                    on; a member that does not serve this node's work unit
//                                    answers NR not_owner naming the one that does, which is
//                                    dialled next (a lost or refused backbone: the next member at
//                                    once; a whole round refused: again after redial_ms). Not
//                                    with "paths". The addresses are the members' identity
//                                    addresses (their group node ids, which an NR names), where
//                                    their backbone ports listen.
//   "group": false,                  this endpoint is one member of a hub's PEP group (the node's
//                                    group, /peers: the other members; actors/group): a branch
//                                    peer's backbone is served only by the member that owns the
//                                    branch's work unit (a stable hash of the branch's name,
//                                    pep::branch_unit); the others refuse it (NR not_owner). When
//                                    the owner dies, the unit's backup takes it over within the
//                                    group's failover and accepts the branch's redial; the
//                                    spoofed connections that were on the dead member are reset
//                                    (their CCBs are not replicated)
//   "max_connections": 4096,         spoofed connections (CCBs) this endpoint keeps, 1..65534
//   "keepalive_ms": 250,             backbone keepalive interval
//   "backbone_timeout_ms": 3000,     a backbone silent this long is dead (its connections reset)
//   "connect_timeout_ms": 20000,     a far host that does not answer a SYN this long (its SYN is
//                                    retried by the kernel at 1, 3, 7 and 15 s): CT no_response
//   "user_timeout_ms": 30000,        a local host that leaves data unacknowledged this long: CT
//   "window_kbyte": 4096,            flow-control window per spoofed connection and direction
//   "buffer_kbyte": 8192,            socket buffers of the backbone
//   "congestion": "bbr",             the backbone's TCP congestion control
//   "redial_ms": 1000,               how soon a lost backbone is dialled again, and how long one
//                                    dial may wait for its SYN-ACK before it starts again with a
//                                    fresh SYN (at least 1 s and three of its last round trips)
//   "redundant_kbyte": 0             the first this many KiB of each connection and direction also
//                                    go over a second backbone to the same peer when there is one
//                                    (both ends list each other): a segment lost on one backbone
//                                    does not stall a short transfer for a round trip. 0: off
//                                    (the default; tests/bench/pep_bench.py measures both)
//   "priority_weights": [1, 2, 4],   document 003's PK: the backbone's share of priorities 0, 1
//                                    and 2 when more than one has data queued (each 1..1000);
//                                    priority 3, the top, is served first whenever it has any
//   "unsent_ms": 2                   the backbone socket holds at most this long of data not yet
//                                    sent (TCP_NOTSENT_LOWAT at the kernel's pacing rate, at
//                                    least 4 KiB), so the backlog waits in the per-priority queues
//                                    where priorities apply, not in the kernel's FIFO, and a path
//                                    that fails strands little unsent data. 0: no bound, so
//                                    priorities order only what waits in user space
//   "top_backbone": false            priority 3's connections get backbones of their own (one per
//                                    path, each with its keepalive; document 003 keys a backbone by
//                                    peer and priority), so a bulk backbone's congestion control
//                                    (BBR's PROBE_RTT: 4 segments in flight for 200 ms every 10 s)
//                                    never holds an interactive message behind its unsent bytes.
//                                    The other priorities share the weighted backbone
// }
// Profiles (shared): priority (0..3, 3 the top: its connections' messages go first on the
// backbone; document 003's PK), spoof, three_way_handshake, mss, disposition ("forward": pass the connection
// unspoofed when it cannot be spoofed, no backbone or no CCB; "discard": refuse it with a RST).

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "policy/rules.hpp"

namespace baton::policy {

/// A destination prefix (host order, no host bits).
struct pep_prefix {
  std::uint32_t address = 0;
  std::uint8_t length = 0;
  bool contains(std::uint32_t a) const noexcept {
    return length == 0 || (a >> (32 - length)) == (address >> (32 - length));
  }
};

/// One WAN path to a PEP peer (document 003's PSK).
struct pep_path {
  std::string name;
  std::uint32_t local = 0;     // this node's address on the path (the dial's source; 0: any)
  std::uint32_t address = 0;   // the peer's address on the path
  std::uint32_t rate_mbit = 0; // the path's link rate: its backbones are paced below it; 0: not given
  std::uint32_t cost = 0;      // the cheapest path up carries connections whose profile names none
};

/// One PEP peer and the destinations reached through it.
struct pep_peer {
  std::string peer;            // its name (logs, console; its certificate's CN by convention)
  std::uint32_t address = 0;
  std::uint16_t port = 7400;   // its backbone port
  std::vector<pep_prefix> prefixes;
  std::vector<pep_path> paths; // empty: one path, "address"
  std::vector<std::uint32_t> members;  // a PEP group's member addresses (dialled in turn); empty: none
  bool revert = true;          // connections go back to a preferred path when it returns
  std::uint32_t rate_mbit = 0; // the link rate toward it (paths without their own); 0: not given
};

struct pep_section {
  rule_set rules;
  std::string lan;
  std::uint16_t listen_port = 7401;
  std::uint16_t backbone_port = 7400;
  std::uint16_t queue = 7;
  std::vector<pep_peer> peers;
  std::uint32_t max_connections = 4096;
  std::uint32_t keepalive_ms = 250;
  std::uint32_t backbone_timeout_ms = 3000;
  std::uint32_t connect_timeout_ms = 20000;
  std::uint32_t user_timeout_ms = 30000;
  std::uint32_t window_kbyte = 4096;
  std::uint32_t buffer_kbyte = 8192;
  std::string congestion = "bbr";
  std::uint32_t redial_ms = 1000;
  std::uint32_t redundant_kbyte = 0;
  static constexpr std::size_t priorities = 4;  // profile priorities 0..3; the top is strict
  std::array<std::uint32_t, priorities - 1> priority_weights{1, 2, 4};
  std::uint32_t unsent_ms = 2;
  bool group = false;  // a hub group member: serves only the branches whose work unit it owns
  bool top_backbone = false;  // priority 3 rides backbones of its own (one per path)

  /// The peer whose prefixes hold `dst` (longest prefix), or nullptr.
  const pep_peer* peer_for(std::uint32_t dst) const noexcept {
    const pep_peer* best = nullptr;
    int best_len = -1;
    for (const auto& p : peers)
      for (const auto& x : p.prefixes)
        if (x.contains(dst) && x.length > best_len) {
          best = &p;
          best_len = x.length;
        }
    return best;
  }
};

bool operator==(const pep_prefix& x, const pep_prefix& y) noexcept;
bool operator==(const pep_path& x, const pep_path& y) noexcept;
bool operator==(const pep_peer& x, const pep_peer& y) noexcept;
bool operator==(const pep_section& x, const pep_section& y);

}  // namespace baton::policy
