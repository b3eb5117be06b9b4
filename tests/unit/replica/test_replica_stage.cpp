// The replica stage (document 002, Figures 4A-4C): cracked start packets reach the local stack
// addressed to the replica; busy and dead replicas drop them; B's and C's answers leave as the
// configuration says.

#include <doctest/doctest.h>

#include "net/replica/replica_stage.hpp"
#include "tests/unit/replica/replica_rig.hpp"

namespace baton::net::test {
namespace {

constexpr port_id tunnel = 0, local = 1;

struct replica_rig : rig {
  explicit replica_rig(replica_configuration mode) : rig({"ipip", "tun"}) {
    replica_stage_config c;
    c.configuration = mode;
    c.tunnel = tunnel;
    c.local = local;
    c.self = r1;
    c.servers = {server};
    c.capacity = 64;
    auto s = std::make_unique<replica_stage>(c);
    stage = s.get();
    loop.add_stage(std::move(s));
  }
  replica_stage* stage = nullptr;
};

}  // namespace

TEST_CASE("replica: start packets cracked to the replica's own address; busy and dead drop them") {
  for (auto mode : {replica_configuration::a, replica_configuration::b, replica_configuration::c}) {
    CAPTURE(to_string(mode));
    replica_rig g(mode);
    const bytes syn_in = syn_with_mss(client, server, 40000, 80, 1000);
    auto out = g.send(tunnel, ipip_wrap(syn_in, sgw_addr, r1));
    REQUIRE(out[local].size() == 1);
    auto s = decode(out[local][0]);
    CHECK(s.src == client);
    CHECK(s.dst == r1);
    CHECK(s.flags == syn);
    CHECK(g.stage->counters().start_packets == 1);

    g.stage->set_health(replica_health::busy);
    CHECK(g.send(tunnel, ipip_wrap(syn_with_mss(client, server, 40001, 80), sgw_addr, r1))[local].empty());
    g.stage->set_health(replica_health::dead);
    CHECK(g.send(tunnel, ipip_wrap(syn_with_mss(client, server, 40002, 80), sgw_addr, r1))[local].empty());
    CHECK(g.stage->counters().busy_drops == 1);
    CHECK(g.stage->counters().dead_drops == 1);
    // Established connections still get their segments (C: tunnelled by the client gateway).
    out = g.send(tunnel, ipip_wrap(tcp_segment(client, server, 40000, 80, ack, 0, 1001), cgw_addr, r1));
    REQUIRE(out[local].size() == 1);
    CHECK(decode(out[local][0]).dst == r1);
    // Not a server it replicates: not ours.
    out = g.send(tunnel, ipip_wrap(syn_with_mss(client, ip4(10, 3, 0, 99), 40003, 80), sgw_addr, r1));
    CHECK(out[local].empty());
    CHECK(g.stage->counters().not_served == 1);
  }
}

TEST_CASE("replica: B answers encapsulated then as the server; C always encapsulated") {
  {
    replica_rig g(replica_configuration::b);
    g.send(tunnel, ipip_wrap(syn_with_mss(client, server, 40000, 80, 1000), sgw_addr, r1));
    auto out = g.send(local, syn_ack_of(r1, client, 80, 40000, 1000));
    REQUIRE(out[tunnel].size() == 1);
    auto s = decode(unwrap(out[tunnel][0], server, client));
    CHECK(s.src == r1);
    CHECK(s.flags == syn_ack);
    out = g.send(local, tcp_segment(r1, client, 80, 40000, psh_ack, 100));
    REQUIRE(out[tunnel].size() == 1);
    s = decode(out[tunnel][0]);
    CHECK(s.src == server);
    CHECK(g.stage->counters().answers_spoofed == 1);
  }
  {
    replica_rig g(replica_configuration::c);
    g.send(tunnel, ipip_wrap(syn_with_mss(client, server, 40000, 80, 1000), sgw_addr, r1));
    for (const bytes& p : {syn_ack_of(r1, client, 80, 40000, 1000), tcp_segment(r1, client, 80, 40000, psh_ack, 100)}) {
      auto out = g.send(local, p);
      REQUIRE(out[tunnel].size() == 1);
      const auto s = decode(unwrap(out[tunnel][0], r1, client));
      CHECK(s.src == server);
      CHECK(s.dst == client);
    }
    CHECK(g.stage->counters().answers_encapsulated == 2);
  }
}

}  // namespace baton::net::test

namespace baton::net::test {

TEST_CASE("replica: connections not made through a tunnel leave untouched (B, C)") {
  for (auto mode : {replica_configuration::b, replica_configuration::c}) {
    CAPTURE(to_string(mode));
    replica_rig g(mode);
    const bytes direct = syn_ack_of(r1, client, 80, 45000, 1000);
    auto out = g.send(local, direct);
    REQUIRE(out[tunnel].size() == 1);
    CHECK(out[tunnel][0] == direct);
    CHECK(g.stage->counters().direct == 1);
  }
}

TEST_CASE("replica: a tunnelled segment whose inner checksum is wrong is dropped and counted by reason") {
  for (const auto& r : inner_checksum_faults) {
    CAPTURE(r.name);
    replica_rig g(replica_configuration::c);
    bytes wrapped = ipip_wrap(syn_with_mss(client, server, 40000, 80, 1000), sgw_addr, r1);
    wrapped[r.byte] ^= 0x01;
    CHECK(g.send(tunnel, wrapped)[local].empty());
    CHECK(g.stage->counters().decap_errors == 1);
    CHECK(g.stage->counters().start_packets == 0);
    CHECK(g.loop.snapshot().malformed_for(r.reason) == 1);
    // The same segment with its bytes right is cracked as usual.
    wrapped[r.byte] ^= 0x01;
    CHECK(g.send(tunnel, wrapped)[local].size() == 1);
    CHECK(g.stage->counters().start_packets == 1);
  }
}

}  // namespace baton::net::test
