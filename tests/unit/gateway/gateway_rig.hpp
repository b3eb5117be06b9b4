#pragma once
// Shared by the gateway tests: TCP/UDP datagrams built byte by byte (checksums right), and a
// "member": a packet loop with a client-side and a backend-side memory port and a gateway stage.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "net/gateway/gateway_stage.hpp"
#include "net/io/memory_port.hpp"
#include "net/io/packet_loop.hpp"
#include "net/packet/checksum.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/tcp.hpp"
#include "tests/unit/io/test_packets.hpp"

namespace baton::net::test {

struct tcp_spec {
  std::uint32_t src = 0, dst = 0;
  std::uint16_t sport = 0, dport = 0;
  std::uint32_t seq = 0, ack = 0;
  std::uint8_t flags = tcp_flag_ack;
  std::uint16_t window = 65535;
  std::vector<std::uint8_t> options;  // raw option bytes; padded to 4 with zeros (End of Option List)
  std::size_t payload = 0;
};

/// IPv4/TCP datagram from `s`; all checksums right.
inline std::vector<std::uint8_t> tcp_datagram(const tcp_spec& s) {
  const std::size_t opt = (s.options.size() + 3) / 4 * 4;
  const std::size_t th = 20 + opt;
  std::vector<std::uint8_t> p(20 + th + s.payload);
  store_be16(&p[20], s.sport);
  store_be16(&p[22], s.dport);
  store_be32(&p[24], s.seq);
  store_be32(&p[28], s.ack);
  p[32] = static_cast<std::uint8_t>((th / 4) << 4);
  p[33] = s.flags;
  store_be16(&p[34], s.window);
  for (std::size_t i = 0; i < s.options.size(); ++i) p[40 + i] = s.options[i];
  for (std::size_t i = 0; i < s.payload; ++i) p[20 + th + i] = static_cast<std::uint8_t>(i * 13);
  fill_ipv4_header(p, s.src, s.dst, ip_protocol_tcp);
  store_be16(&p[36], transport_checksum(s.src, s.dst, ip_protocol_tcp,
                                        bytes_view(p.data() + 20, p.size() - 20)));
  return p;
}

/// SYN options: MSS, SACK-permitted, timestamps, NOP, window scale (the order Linux sends).
inline std::vector<std::uint8_t> syn_options(std::uint16_t mss, std::uint8_t wscale,
                                             std::uint32_t tsval, std::uint32_t tsecr = 0) {
  std::vector<std::uint8_t> o = {2, 4, static_cast<std::uint8_t>(mss >> 8),
                                 static_cast<std::uint8_t>(mss), 4, 2, 8, 10};
  for (int i = 3; i >= 0; --i) o.push_back(static_cast<std::uint8_t>(tsval >> (8 * i)));
  for (int i = 3; i >= 0; --i) o.push_back(static_cast<std::uint8_t>(tsecr >> (8 * i)));
  o.push_back(1);
  o.push_back(3);
  o.push_back(3);
  o.push_back(wscale);
  return o;
}

/// NOP NOP timestamps: what an established Linux segment carries.
inline std::vector<std::uint8_t> ts_options(std::uint32_t tsval, std::uint32_t tsecr) {
  std::vector<std::uint8_t> o = {1, 1, 8, 10};
  for (int i = 3; i >= 0; --i) o.push_back(static_cast<std::uint8_t>(tsval >> (8 * i)));
  for (int i = 3; i >= 0; --i) o.push_back(static_cast<std::uint8_t>(tsecr >> (8 * i)));
  return o;
}

inline std::chrono::milliseconds test_now{1'000'000};
inline std::chrono::milliseconds test_clock() noexcept { return test_now; }

// The cluster of the tests: VIP 10.0.0.100, member 10.0.0.11, service TCP 80 and UDP 53.
inline const std::uint32_t vip = ip4(10, 0, 0, 100);
inline const std::uint32_t member_a = ip4(10, 0, 0, 11);
inline const std::uint32_t client_ip = ip4(192, 0, 2, 10);

inline gateway_config base_config(gateway_mode mode = gateway_mode::nat, bool snat = false) {
  gateway_config c;
  c.cluster_ip = vip;
  c.member_addr = member_a;
  c.mode = mode;
  c.source_nat = snat;
  c.client_port = 0;
  c.backend_port = 1;
  gateway_service web;
  web.protocol = ip_protocol_tcp;
  web.port = 80;
  web.backends = {{ip4(10, 1, 0, 1), 8080, true},
                  {ip4(10, 1, 0, 2), 8080, true},
                  {ip4(10, 1, 0, 3), 8081, true}};
  gateway_service dns;
  dns.protocol = ip_protocol_udp;
  dns.port = 53;
  dns.backends = {{ip4(10, 1, 0, 1), 5353, true}, {ip4(10, 1, 0, 2), 5353, true}};
  c.services = {web, dns};
  return c;
}

inline owned_units all_units() {
  owned_units o;
  o.set_first(default_work_units);
  return o;
}

/// One cluster member: loop, client port (id 0), backend port (id 1), gateway stage.
struct member {
  buffer_pool pool{buffer_pool_config{256, 128, 2048}};
  packet_loop loop{pool};
  memory_port* client_side = nullptr;
  memory_port* backend_side = nullptr;
  gateway_stage* gw = nullptr;

  explicit member(const gateway_config& cfg = base_config(), const owned_units& owned = all_units(),
                  std::size_t capacity = 1024, work_unit_hasher hasher = work_unit_hasher{}) {
    auto a = std::make_unique<memory_port>(pool, memory_port_config{"clients"});
    auto b = std::make_unique<memory_port>(pool, memory_port_config{"backends"});
    client_side = a.get();
    backend_side = b.get();
    REQUIRE(loop.add_port(std::move(a)) == 0);
    REQUIRE(loop.add_port(std::move(b)) == 1);
    gateway_settings s;
    s.flow_capacity = capacity;
    s.clock = &test_clock;
    s.hasher = hasher;
    auto st = std::make_unique<gateway_stage>(loop.epoch(), s, cfg, owned);
    gw = st.get();
    loop.add_stage(std::move(st));
  }

  /// Injects `p` on `in`, runs one turn; returns what came out of `out`, if anything, and checks
  /// nothing came out anywhere else.
  std::optional<std::vector<std::uint8_t>> send(memory_port& in, memory_port& out,
                                                const std::vector<std::uint8_t>& p) {
    REQUIRE(in.inject(bytes_view(p.data(), p.size())));
    loop.run_once();
    memory_port& other = &out == client_side ? *backend_side : *client_side;
    std::vector<std::uint8_t> got;
    CHECK_FALSE(other.collect(got));
    if (!out.collect(got)) return std::nullopt;
    return got;
  }
  std::optional<std::vector<std::uint8_t>> from_client(const std::vector<std::uint8_t>& p) {
    return send(*client_side, *backend_side, p);
  }
  std::optional<std::vector<std::uint8_t>> from_backend(const std::vector<std::uint8_t>& p) {
    return send(*backend_side, *client_side, p);
  }
};

/// The client-side flow key of a client datagram.
inline flow_key client_key(std::uint32_t src, std::uint16_t sport, std::uint16_t dport,
                           std::uint8_t proto = ip_protocol_tcp) {
  flow_key k;
  k.src_addr = src;
  k.src_port = sport;
  k.dst_addr = vip;
  k.dst_port = dport;
  k.protocol = proto;
  return k;
}

/// True when the datagram's IPv4 header checksum and TCP/UDP checksum are right.
inline bool checksums_ok(const std::vector<std::uint8_t>& p) {
  const bytes_view v(p.data(), p.size());
  return ipv4_header_checksum_ok(v) && verify_l4_checksum(v) == parse_status::ok;
}

}  // namespace baton::net::test
