#pragma once
// The "rim" section's types (document 000's rim hosts), kept apart from policy.hpp, which holds
// one member for them. Parsed in rim_section.cpp.
//
// "rim": {
//   "content": "/srv/rim",       the local copy of the content (the document's "multiple copies"
//                                embodiment): every rim host holds the same files
//   "origin": "http://10.0.0.9:8000/files/",  or (and) the document's host "D": any HTTP server
//                                that answers Range requests. An object not in `content` is
//                                fetched from it chunk by chunk (content, origin: at least one;
//                                both: the local copy first, the origin for what it lacks)
//   "chunk_bytes": 1048576,      the size of one Range request to the origin
//   "cache_bytes": 67108864,     the chunks of origin objects kept in memory (least recently used
//                                go first); chunks a connection is writing stay until it moves on
//   "origin_timeout_ms": 5000,   an origin silent this long (connect, or between reads) fails the
//                                request: 502 before a response's header, a close after it
//   "service_port": 8080,        where clients fetch it over HTTP, at the node's identity address
//   "port": 7410,                where the other rim hosts' links arrive (TLS, mutual certificates)
//   "uplink": "eth0",            the interface clients' packets arrive on: the packets of a flow
//                                handed to another rim host are taken here and forwarded to it
//                                (reverse-flow forwarding) (required)
//   "tun": "rim0",               the TUN device forwarded packets enter the local stack through
//   "route_table": 7410,         the policy routing table that delivers them locally
//   "handoff_timeout_ms": 1000,  a take that is not answered this soon: the flow stays here
//   "max_flows": 1024,           connections a rim host serves or holds at once
//   "mss": 1440,                 the largest segment the service sends (TCP_MAXSEG): room for the
//                                IP-in-IP header when a masquerader carries its segments over
//                                1500-byte links, whatever the client's MSS. 0: the kernel's
//   "manage": {                  the management object (document 000), run by the group's master
//     "rules": [...],            which flows it watches, and each one's profile (the node's rule
//                                grammar: src is the client, dst the rim host, dst_port the
//                                service's); a profile's "rim" object says what it does to them
//     "interval_ms": 500         how often each rim host reports its flows' TCP_INFO, its ICMP
//   }                            errors and its load to the master; absent: no automatic moves
// }
//
// A profile's "rim" object (see rim_reaction): what the management object does to a flow whose
// retransmission rate is above loss_pct for `samples` reports in a row:
//   "rim": {"on_loss": "handoff", "loss_pct": 2, "samples": 3, "dwell_ms": 10000, "icmp_errors": 3,
//           "chain": ["c", "e"]}
//   on_loss: "stay" (watch only), "masquerade" (its segments leave from the best other rim host),
//   "funnel" (a copy also leaves from it), "handoff" (masquerade first; once the new path has been
//   good for `samples` reports, hand the connection to that host). A flow is not moved again
//   within dwell_ms; a host that received icmp_errors or more ICMP errors (unreachable, time
//   exceeded, source quench) in a report counts as bad for its flows too. "chain" (optional, the
//   rim members' names, /peers or the host itself: every host loads the same profiles): the flow is masqueraded through these hosts in order (a reflector chain) instead of
//   via the best single host, and a hand-off goes to the chain's last host.
// The rim's members are the node's group (/peers): only they may hand a flow here or take one.

#include <cstdint>
#include <string>
#include <vector>

#include "policy/rules.hpp"

namespace baton::policy {

enum class rim_move : std::uint8_t { stay, masquerade, funnel, handoff };
const char* to_string(rim_move m) noexcept;

/// A profile's reaction to a rim flow whose path degrades (the management object's rule).
struct rim_reaction {
  rim_move on_loss = rim_move::stay;
  double loss_pct = 2.0;          // retransmitted / sent segments in one report, percent
  std::uint32_t samples = 3;      // bad reports in a row before moving (good ones before hand-off)
  std::uint32_t dwell_ms = 10000; // a flow moved is not moved again sooner
  std::uint32_t icmp_errors = 3;  // ICMP errors at the sending host in one report that count as bad
  /// A reflector chain (document 000): the masqueraders a moved flow's segments pass, first to
  /// last, by their /peers names; empty: the best single host. A hand-off goes to the last one.
  std::vector<std::string> chain;
};
bool operator==(const rim_reaction& x, const rim_reaction& y);
inline bool operator!=(const rim_reaction& x, const rim_reaction& y) { return !(x == y); }

struct rim_manage {
  rule_set rules;                 // empty: no management object (no automatic moves)
  std::uint32_t interval_ms = 500;
};
bool operator==(const rim_manage& x, const rim_manage& y);

struct rim_section {
  std::string content;
  std::string origin;
  std::uint32_t chunk_bytes = 1u << 20;
  std::uint64_t cache_bytes = 64ull << 20;
  std::uint32_t origin_timeout_ms = 5000;
  std::uint16_t service_port = 8080;
  std::uint16_t port = 7410;
  std::string uplink;
  std::string tun = "rim0";
  std::uint32_t route_table = 7410;
  std::uint32_t handoff_timeout_ms = 1000;
  std::uint32_t max_flows = 1024;
  std::uint32_t mss = 1440;
  rim_manage manage;
};

bool operator==(const rim_section& x, const rim_section& y);

}  // namespace baton::policy
