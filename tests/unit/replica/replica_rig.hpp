#pragma once
// Shared by the replica stage tests: a packet loop with memory ports and one of document 002's
// stages, driven on the test's thread (run_once), and the lab-like addresses.

#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "net/io/memory_port.hpp"
#include "net/io/packet_loop.hpp"
#include "net/io/pass_through.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/parse_status.hpp"
#include "net/packet/replica_tag.hpp"
#include "net/packet/rewrite.hpp"
#include "net/packet/tcp.hpp"
#include "tests/unit/slrnet/slr_rig.hpp"

namespace baton::net::test {

inline const std::uint32_t client = ip4(10, 1, 0, 2);
inline const std::uint32_t cgw_addr = ip4(10, 2, 0, 1);
inline const std::uint32_t sgw_addr = ip4(10, 2, 0, 2);
inline const std::uint32_t server = ip4(10, 3, 0, 2);
inline const std::uint32_t r1 = ip4(10, 4, 1, 2);
inline const std::uint32_t r2 = ip4(10, 4, 2, 2);
inline const std::uint32_t r3 = ip4(10, 4, 3, 2);

/// A loop with `names.size()` memory ports and the stages the test adds.
struct rig {
  explicit rig(std::vector<const char*> names) : pool(buffer_pool_config{256, 128, 2048}), loop(pool) {
    for (const char* n : names) {
      auto p = std::make_unique<memory_port>(pool, memory_port_config{n, 256, 1500});
      ports.push_back(p.get());
      loop.add_port(std::move(p));
    }
  }
  /// Injects `packet` on `port`, turns the loop until it is taken, then returns what every port
  /// sent, by port.
  std::vector<std::vector<bytes>> send(port_id port, const bytes& packet) {
    REQUIRE(ports[port]->inject(packet));
    for (int turns = 0; turns < 1000 && ports[port]->pending_receive() != 0; ++turns) loop.run_once();
    loop.run_once();
    std::vector<std::vector<bytes>> out(ports.size());
    for (std::size_t i = 0; i < ports.size(); ++i) {
      bytes b;
      while (ports[i]->collect(b)) out[i].push_back(b);
    }
    return out;
  }
  buffer_pool pool;
  packet_loop loop;
  std::vector<memory_port*> ports;
};

/// Where to flip a bit in a tunnelled TCP datagram (outer and inner IPv4 headers of 20 bytes)
/// so that one of the inner checksums is wrong, and the status the loop counts the drop under.
struct inner_checksum_fault {
  const char* name;
  std::size_t byte;
  parse_status reason;
};
inline const inner_checksum_fault inner_checksum_faults[] = {
    {"inner IPv4 header checksum", 20 + 10, parse_status::bad_checksum},
    {"inner TCP checksum", 20 + 20 + 16, parse_status::bad_l4_checksum},
};

/// A TCP segment with an MSS option (a SYN as a client sends it).
inline bytes syn_with_mss(std::uint32_t src, std::uint32_t dst, std::uint16_t sport, std::uint16_t dport,
                          std::uint32_t seq = 1000) {
  bytes p = tcp_segment(src, dst, sport, dport, syn, 0, seq);
  const std::uint8_t mss[4] = {2, 4, 0x05, 0xb4};
  std::size_t len = p.size();
  p.resize(200);
  REQUIRE(tcp_add_option(bytes_span(p.data(), p.size()), len, bytes_view(mss, 4)) == edit_status::ok);
  p.resize(len);
  return p;
}

/// A SYN-ACK answering `syn_seq`, with its own sequence number `seq`.
inline bytes syn_ack_of(std::uint32_t src, std::uint32_t dst, std::uint16_t sport, std::uint16_t dport,
                        std::uint32_t syn_seq, std::uint32_t seq = 7000) {
  bytes p = tcp_segment(src, dst, sport, dport, syn_ack, 0, seq);
  store_be32(&p[28], syn_seq + 1);
  store_be16(&p[36], 0);
  store_be16(&p[36], transport_checksum(src, dst, ip_protocol_tcp, bytes_view(p.data() + 20, p.size() - 20)));
  return p;
}

struct seg {
  std::uint32_t src = 0, dst = 0;
  std::uint16_t sport = 0, dport = 0;
  std::uint8_t flags = 0;
  std::uint32_t seq = 0;
  bool tagged = false;
  std::uint32_t tag_gateway = 0;
};

/// Decodes an IPv4/TCP datagram (checks both checksums on the way).
inline seg decode(const bytes& p) {
  const ipv4_view ip(p);
  REQUIRE(ip.validate() == parse_status::ok);
  CHECK(ip.checksum_ok());
  REQUIRE(ip.protocol() == ip_protocol_tcp);
  CHECK(verify_l4_checksum(p) == parse_status::ok);
  const tcp_view t(ip.payload());
  REQUIRE(t.validate() == parse_status::ok);
  seg s{ip.src(), ip.dst(), t.src_port(), t.dst_port(), t.flags(), t.seq()};
  replica_tag tag;
  if (find_replica_tag(t.options(), tag) == replica_tag_status::ok) {
    s.tagged = true;
    s.tag_gateway = tag.gateway;
  }
  return s;
}

/// The inner datagram of an IP-in-IP datagram, after checking its outer header.
inline bytes unwrap(const bytes& outer, std::uint32_t src, std::uint32_t dst) {
  const ipv4_view ov(outer);
  REQUIRE(ov.validate() == parse_status::ok);
  CHECK(ov.checksum_ok());
  CHECK(ov.protocol() == ip_protocol_ipip);
  CHECK(ov.src() == src);
  CHECK(ov.dst() == dst);
  return bytes(outer.begin() + 20, outer.end());
}

}  // namespace baton::net::test
