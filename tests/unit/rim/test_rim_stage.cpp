// The rim stage (net/rim/rim_stage.hpp), one datagram at a time: what it does with each kind of
// packet on each port, table-driven, and what it leaves in the buffer.

#include <doctest/doctest.h>

#include <vector>

#include "net/io/packet_buffer.hpp"
#include "net/packet/ipip.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/packet_fields.hpp"
#include "net/rim/rim_stage.hpp"
#include "tests/bench/bench_packets.hpp"

using namespace baton::net;
using baton::bench::ip4;
using baton::bench::tcp_datagram;

namespace {

const std::uint32_t a = ip4(10, 41, 1, 2), c = ip4(10, 41, 2, 2), e = ip4(10, 41, 3, 2),
                    outsider = ip4(10, 41, 9, 9), client = ip4(10, 40, 0, 2);
constexpr port_id uplink = 1, tunnel = 2, tun = 3;

std::vector<std::uint8_t> wrap(std::uint32_t from, std::uint32_t to, const std::vector<std::uint8_t>& inner) {
  std::vector<std::uint8_t> out(20 + inner.size());
  std::copy(inner.begin(), inner.end(), out.begin() + 20);
  bytes_span outer;
  REQUIRE(ipip_encapsulate(bytes_span(out.data(), out.size()), 20, ipip_tunnel{from, to, 64, 1}, outer) ==
          edit_status::ok);
  return out;
}

}  // namespace

TEST_CASE("the rim stage forwards, injects, relays and refuses by its tables") {
  reader_epoch epoch;
  buffer_pool pool(buffer_pool_config{8, 128, 2048});
  // This stage is c's: it holds a's flow 40000, relays a's flow 40001 to e, sends a's flow 40002.
  rim_stage stage(epoch, rim_stage_config{c, uplink, tunnel, tun});
  rim_tables t;
  t.members = {a, e};
  t.held = {{client, 40000, a, 8080}};
  t.relays = {{{client, 40001, a, 8080}, e}, {{client, 40002, a, 8080}, 0}};
  t.forwarded = {{{client, 40003, c, 8080}, e}};  // c's own flow, held by e
  t.exits = {{{client, 40004, c, 8080}, a}};      // c's own flow, masqueraded via a
  stage.publish(t);

  struct row {
    const char* what;
    port_id in;
    std::vector<std::uint8_t> packet;
    verdict::kind expected;
    port_id out;             // when forwarded
    std::uint32_t outer_dst; // when forwarded on the tunnel wrapped; 0: sent as it is (or to the TUN)
    std::uint32_t src;       // the source of what leaves (inner, when wrapped)
  };
  const row rows[] = {
    {"held: the client's ACK into the stack", tunnel, wrap(a, c, tcp_datagram(client, a, 40000, 8080, 1, 1, 0x10, 0)),
     verdict::kind::forward, tun, 0, client},
    {"not held: dropped, never into the stack", tunnel, wrap(a, c, tcp_datagram(client, a, 40009, 8080, 1, 1, 0x10, 0)),
     verdict::kind::drop, 0, 0, 0},
    {"an outsider's tunnel: refused", tunnel, wrap(outsider, c, tcp_datagram(client, a, 40000, 8080, 1, 1, 0x10, 0)),
     verdict::kind::drop, 0, 0, 0},
    {"reflector chain: on to e, a's address kept", tunnel,
     wrap(a, c, tcp_datagram(a, client, 8080, 40001, 1, 1, 0x10, 100)), verdict::kind::forward, tunnel, e, a},
    {"masquerade: sent to the client in a's name", tunnel,
     wrap(a, c, tcp_datagram(a, client, 8080, 40002, 1, 1, 0x10, 100)), verdict::kind::forward, tunnel, 0, a},
    {"owner: a client packet of a flow held by e, tunnelled there", uplink,
     tcp_datagram(client, c, 40003, 8080, 1, 1, 0x10, 0), verdict::kind::forward, tunnel, e, client},
    {"owner: anything else on the uplink is the kernel's", uplink, tcp_datagram(client, c, 40005, 8080, 1, 1, 0x10, 0),
     verdict::kind::drop, 0, 0, 0},
    {"sender: a masqueraded segment from the TUN, to a", tun, tcp_datagram(c, client, 8080, 40004, 1, 1, 0x10, 100),
     verdict::kind::forward, tunnel, a, c},
    {"sender: an unknown segment from the TUN, dropped", tun, tcp_datagram(c, client, 8080, 40006, 1, 1, 0x10, 100),
     verdict::kind::drop, 0, 0, 0},
  };
  for (const auto& x : rows) {
    CAPTURE(x.what);
    packet_buffer* b = pool.acquire();
    b->assign(x.packet);
    packet_context ctx;
    ctx.buffer = b;
    ctx.in_port = x.in;
    ctx.pool = &pool;
    ctx.status = parse_fields(b->data(), ctx.fields);
    REQUIRE(ctx.status == parse_status::ok);
    const verdict v = stage.process(ctx);
    CHECK(v.what == x.expected);
    if (x.expected == verdict::kind::forward) {
      CHECK(v.port == x.out);
      const ipv4_view ip(b->data());
      if (x.outer_dst != 0) {
        CHECK(ip.protocol() == ip_protocol_ipip);
        CHECK(ip.dst() == x.outer_dst);
        CHECK(ip.src() == c);
        bytes_view inner;
        REQUIRE(ipip_decapsulate(b->data(), inner, true) == parse_status::ok);
        CHECK(ipv4_view(inner).src() == x.src);
      } else {
        CHECK(ip.protocol() == ip_protocol_tcp);
        CHECK(ip.src() == x.src);
      }
    }
    pool.release(b);
  }
  const auto n = stage.counters();
  CHECK(n.injected == 1);
  CHECK(n.not_held == 1);
  CHECK(n.refused_tunnels == 1);
  CHECK(n.relayed == 1);
  CHECK(n.sent_for_others == 1);
  CHECK(n.forwarded == 1);
  CHECK(n.masqueraded == 1);
  CHECK(n.tun_unrouted == 1);
  CHECK(n.held_flows == 1);
  CHECK(n.forwarded_flows == 1);
}

TEST_CASE("the owner remembers each forwarded flow's last client segment (for a take-back)") {
  reader_epoch epoch;
  buffer_pool pool(buffer_pool_config{4, 128, 2048});
  rim_stage stage(epoch, rim_stage_config{c, uplink, tunnel, tun});
  rim_tables t;
  t.members = {a, e};
  t.forwarded = {{{client, 40003, c, 8080}, e}};
  stage.publish(t);
  struct row {
    const char* what;
    std::vector<std::uint8_t> packet;
    std::uint32_t ack, seq_end;  // expected mark after it
  };
  const row rows[] = {
    {"an ACK", tcp_datagram(client, c, 40003, 8080, 500, 7000, 0x10, 0), 7000, 500},
    {"an ACK with 100 bytes", tcp_datagram(client, c, 40003, 8080, 500, 9000, 0x10, 100), 9000, 600},
    {"a FIN counts one", tcp_datagram(client, c, 40003, 8080, 600, 9500, 0x11, 0), 9500, 601},
    {"a reset is not a mark", tcp_datagram(client, c, 40003, 8080, 601, 1, 0x14, 0), 9500, 601},
    {"another flow's segment leaves it alone", tcp_datagram(client, c, 40007, 8080, 1, 1, 0x10, 0), 9500, 601},
  };
  for (const auto& x : rows) {
    CAPTURE(x.what);
    packet_buffer* b = pool.acquire();
    b->assign(x.packet);
    packet_context ctx;
    ctx.buffer = b;
    ctx.in_port = uplink;
    ctx.pool = &pool;
    REQUIRE(parse_fields(b->data(), ctx.fields) == parse_status::ok);
    stage.process(ctx);
    pool.release(b);
    rim_client_mark m;
    REQUIRE(stage.client_mark({client, 40003, c, 8080}, m));
    CHECK(m.ack == x.ack);
    CHECK(m.seq_end == x.seq_end);
  }
  rim_client_mark none;
  CHECK_FALSE(stage.client_mark({client, 40007, c, 8080}, none));
}
