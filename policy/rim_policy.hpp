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
//   "mss": 1440                  the largest segment the service sends (TCP_MAXSEG): room for the
//                                IP-in-IP header when a masquerader carries its segments over
//                                1500-byte links, whatever the client's MSS. 0: the kernel's
// }
// The rim's members are the node's group (/peers): only they may hand a flow here or take one.

#include <cstdint>
#include <string>

namespace baton::policy {

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
};

bool operator==(const rim_section& x, const rim_section& y);

}  // namespace baton::policy
