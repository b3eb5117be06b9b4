#pragma once
// Shared by the SLR data-path tests: datagrams built byte by byte (checksums right), IP-in-IP
// wrapping, and an "SLR": a packet loop with three memory ports (the TUN the kernel routes the
// virtual subnets into, the raw IP-in-IP port tunnels arrive on, the raw port tunnels leave by)
// and an slr_stage. Turns run on the test's thread (run_once), so everything is deterministic.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "net/io/memory_port.hpp"
#include "net/io/packet_loop.hpp"
#include "net/packet/checksum.hpp"
#include "net/packet/ipv4.hpp"
#include "net/slr/slr_stage.hpp"
#include "tests/unit/io/test_packets.hpp"

namespace baton::net::test {

using bytes = std::vector<std::uint8_t>;

/// IPv4/TCP, 20-byte header, `payload` bytes; all checksums right.
inline bytes tcp_segment(std::uint32_t src, std::uint32_t dst, std::uint16_t sport,
                         std::uint16_t dport, std::uint8_t flags, std::size_t payload = 0,
                         std::uint32_t seq = 1000) {
  bytes p(40 + payload);
  store_be16(&p[20], sport);
  store_be16(&p[22], dport);
  store_be32(&p[24], seq);
  store_be32(&p[28], (flags & 0x10) ? 5000 : 0);
  p[32] = 5 << 4;
  p[33] = flags;
  store_be16(&p[34], 65535);
  for (std::size_t i = 0; i < payload; ++i) p[40 + i] = static_cast<std::uint8_t>(i * 31 + 7);
  fill_ipv4_header(p, src, dst, ip_protocol_tcp);
  store_be16(&p[36], transport_checksum(src, dst, ip_protocol_tcp,
                                        bytes_view(p.data() + 20, p.size() - 20)));
  return p;
}

/// IPv4/UDP with a 4-byte sequence number followed by `extra` pattern bytes; checksums right.
/// (As test::udp_packet, written so that GCC 12 -O2 sees no out-of-bounds store in it.)
inline bytes udp_dgram(std::uint32_t seq, std::size_t extra, std::uint32_t src, std::uint32_t dst,
                       std::uint16_t sport = 4000, std::uint16_t dport = 5000) {
  bytes p(32);
  for (std::size_t i = 0; i < extra; ++i) p.push_back(static_cast<std::uint8_t>(i * 7 + seq));
  store_be32(&p[28], seq);
  store_be16(&p[20], sport);
  store_be16(&p[22], dport);
  store_be16(&p[24], static_cast<std::uint16_t>(p.size() - 20));
  fill_ipv4_header(p, src, dst, ip_protocol_udp);
  const std::uint16_t c = transport_checksum(src, dst, ip_protocol_udp,
                                             bytes_view(p.data() + 20, p.size() - 20));
  store_be16(&p[26], c == 0 ? 0xffff : c);
  return p;
}

inline constexpr std::uint8_t syn = 0x02;
inline constexpr std::uint8_t syn_ack = 0x12;
inline constexpr std::uint8_t ack = 0x10;
inline constexpr std::uint8_t psh_ack = 0x18;
inline constexpr std::uint8_t rst = 0x04;
inline constexpr std::uint8_t fin_ack = 0x11;

/// An IPv4 datagram of any protocol with `payload` pattern bytes; header checksum right.
inline bytes ip_datagram(std::uint32_t src, std::uint32_t dst, std::uint8_t protocol,
                         std::size_t payload) {
  bytes p(20 + payload);
  for (std::size_t i = 0; i < payload; ++i) p[20 + i] = static_cast<std::uint8_t>(i + 1);
  fill_ipv4_header(p, src, dst, protocol);
  return p;
}

/// Recomputes the IPv4 header checksum after an edit.
inline void fix_ip_checksum(bytes& p) {
  store_be16(&p[10], 0);
  store_be16(&p[10], internet_checksum(bytes_view(p.data(), (p[0] & 0x0f) * 4u)));
}

/// `inner` wrapped in an outer IPv4 header src -> dst, protocol 4 (or `protocol`).
inline bytes ipip_wrap(const bytes& inner, std::uint32_t src, std::uint32_t dst,
                       std::uint8_t protocol = ip_protocol_ipip) {
  bytes p(20 + inner.size());
  for (std::size_t i = 0; i < inner.size(); ++i) p[20 + i] = inner[i];
  fill_ipv4_header(p, src, dst, protocol);
  return p;
}

/// The key a datagram built above gives (parse_fields of its bytes).
inline flow_key key_of(const bytes& p) {
  packet_fields f;
  REQUIRE(parse_fields(p, f) == parse_status::ok);
  return from_fields(f);
}

inline std::chrono::milliseconds slr_now{5'000'000};
inline std::chrono::milliseconds slr_clock() noexcept { return slr_now; }

// The addresses of the tests.
inline const std::uint32_t self_addr = ip4(10, 9, 0, 1);        // this SLR
inline const std::uint32_t upstream_slr = ip4(10, 8, 0, 1);     // an SLR one level up
inline const std::uint32_t client_a = ip4(198, 51, 100, 7);
inline const std::uint32_t virtual_host = ip4(10, 50, 1, 10);   // in 10.50.0.0/16
inline const std::uint32_t site_1 = ip4(10, 20, 0, 1);
inline const std::uint32_t site_2 = ip4(10, 20, 0, 2);
inline const std::uint32_t site_3 = ip4(10, 20, 0, 3);

/// One virtual subnet 10.50.0.0/16 with three equal candidates.
inline slr_routes default_routes() {
  slr_routes r;
  r.subnets.push_back({ip4(10, 50, 0, 0), 16, {{site_1, 1}, {site_2, 1}, {site_3, 1}}});
  return r;
}

/// Where the default routes send a new flow `k`.
inline std::uint32_t expected_hop(const slr_routes& r, std::size_t subnet, const flow_key& k) {
  const auto& c = r.subnets.at(subnet).candidates;
  const long i = select_candidate(c.data(), c.size(), k);
  REQUIRE(i >= 0);
  return c[static_cast<std::size_t>(i)].next_hop;
}

struct slr_rig {
  static constexpr port_id tun = 0, tunnel_in = 1, out = 2;

  explicit slr_rig(slr_stage_config cfg = base_config(), buffer_pool_config pc = {512, 128, 2048},
                   std::size_t depth = 1024)
      : pool(pc), loop(pool) {
    for (const char* n : {"tun", "ipip_in", "raw_out"}) {
      auto p = std::make_unique<memory_port>(pool, memory_port_config{n, depth, 1500});
      ports.push_back(p.get());
      loop.add_port(std::move(p));
    }
    auto s = std::make_unique<slr_stage>(loop.epoch(), cfg);
    stage = s.get();
    loop.add_stage(std::move(s));
  }

  static slr_stage_config base_config() {
    slr_stage_config c;
    c.self = self_addr;
    c.tunnel_in = tunnel_in;
    c.out = out;
    c.flow_capacity = 4096;
    c.event_capacity = 256;
    c.clock = &slr_clock;
    return c;
  }

  /// Injects `packets` on `port`, runs turns until the loop has taken them all, and returns what
  /// left on the output port, in order.
  std::vector<bytes> send(port_id port, const std::vector<bytes>& packets) {
    for (const bytes& p : packets) REQUIRE(ports[port]->inject(p));
    for (int turns = 0; turns < 10000 && ports[port]->pending_receive() != 0; ++turns)
      loop.run_once();
    loop.run_once();  // a last turn flushes nothing new, but proves the queue is drained
    std::vector<bytes> sent;
    bytes b;
    while (ports[out]->collect(b)) sent.push_back(b);
    return sent;
  }
  std::vector<bytes> send(port_id port, const bytes& packet) {
    return send(port, std::vector<bytes>{packet});
  }

  /// Every event queued so far.
  std::vector<slr_event> events() {
    std::vector<slr_event> e;
    stage->drain_events([&](const slr_event& ev) { e.push_back(ev); });
    return e;
  }

  buffer_pool pool;
  packet_loop loop;
  std::vector<memory_port*> ports;
  slr_stage* stage = nullptr;
};

/// `p` one router hop later: TTL - 1, header checksum recomputed (what an SLR passes on from
/// tunnel_in).
inline bytes one_hop(bytes p) {
  --p[8];
  store_be16(&p[10], 0);
  store_be16(&p[10], internet_checksum(bytes_view(p.data(), 20)));
  return p;
}

/// Checks `outer` is `inner` tunneled by the SLR to `next_hop` (RFC 2003 header, TTL 64).
inline void check_tunneled(const bytes& outer, const bytes& inner, std::uint32_t next_hop) {
  REQUIRE(outer.size() == inner.size() + 20);
  const ipv4_view ov(outer);
  REQUIRE(ov.validate() == parse_status::ok);
  CHECK(ov.checksum_ok());
  CHECK(ov.header_length() == 20);
  CHECK(ov.protocol() == ip_protocol_ipip);
  CHECK(ov.src() == self_addr);
  CHECK(ov.dst() == next_hop);
  CHECK(ov.ttl() == 64);
  CHECK(ov.total_length() == outer.size());
  CHECK(bytes(outer.begin() + 20, outer.end()) == inner);
}

}  // namespace baton::net::test
