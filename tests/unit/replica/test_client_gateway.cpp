// The client gateway stage (document 002, Figures 2, 5A-5C, 6A-6C), per configuration: the
// start packet is tagged and entered, the first SYN-ACK wins and reaches the client as if from
// the server, later ones become one RST each toward their sender, and the connection's segments
// are translated as the configuration says. Untagged and non-web traffic passes untouched.

#include <doctest/doctest.h>

#include "net/packet/checksum.hpp"

#include <string>

#include "net/classify/classify_stage.hpp"
#include "net/replica/client_gateway_stage.hpp"
#include "tests/unit/replica/replica_rig.hpp"

namespace baton::net::test {
namespace {

constexpr port_id client_side = 0, wan = 1;

struct cgw_rig : rig {
  explicit cgw_rig(replica_configuration mode, bool pass_bad_options = false) : rig({"client", "wan"}) {
    // As the role builds it: classify (no rules), the client gateway, pass-through.
    loop.add_stage(std::make_unique<classify_stage>(loop.epoch(), std::make_unique<classify_table>()));
    client_gateway_config c;
    c.pass_bad_options = pass_bad_options;
    c.configuration = mode;
    c.client_side = client_side;
    c.wan_side = wan;
    c.self = cgw_addr;
    c.capacity = 64;
    auto s = std::make_unique<client_gateway_stage>(c);
    stage = s.get();
    loop.add_stage(std::move(s));
    pass_through_table routes;
    routes.route(client_side, wan).route(wan, client_side);
    loop.add_stage(std::make_unique<pass_through_stage>(loop.epoch(), routes));
  }
  client_gateway_stage* stage = nullptr;
};

/// What the answerer's SYN-ACK looks like on the WAN, per configuration.
bytes answer_from(replica_configuration mode, std::uint32_t who, std::uint32_t syn_seq) {
  if (who == server) return syn_ack_of(server, client, 80, 40000, syn_seq);
  switch (mode) {
    case replica_configuration::a: return syn_ack_of(who, client, 80, 40000, syn_seq);
    case replica_configuration::b: return ipip_wrap(syn_ack_of(who, client, 80, 40000, syn_seq), server, client);
    case replica_configuration::c: return ipip_wrap(syn_ack_of(server, client, 80, 40000, syn_seq), who, client);
  }
  return {};
}

}  // namespace

TEST_CASE("client gateway: per configuration, the nearest answer wins, later ones are reset") {
  for (auto mode : {replica_configuration::a, replica_configuration::b, replica_configuration::c}) {
    CAPTURE(to_string(mode));
    cgw_rig g(mode);
    // Figure 2: the start packet is tagged and entered.
    auto out = g.send(client_side, syn_with_mss(client, server, 40000, 80, 1000));
    REQUIRE(out[wan].size() == 1);
    CHECK(out[client_side].empty());
    auto s = decode(out[wan][0]);
    CHECK(s.dst == server);
    CHECK(s.tagged);
    CHECK(s.tag_gateway == cgw_addr);
    CHECK(g.stage->counters().tagged == 1);

    // Figure 5: r1's answer is first; the client sees the server's SYN-ACK.
    out = g.send(wan, answer_from(mode, r1, 1000));
    REQUIRE(out[client_side].size() == 1);
    CHECK(out[wan].empty());
    s = decode(out[client_side][0]);
    CHECK(s.src == server);
    CHECK(s.dst == client);
    CHECK(s.flags == syn_ack);
    CHECK(g.stage->counters().replica_wins == 1);

    // Later answers (r2, then the origin) each get one RST from the client's address and port;
    // the client sees nothing.
    for (std::uint32_t late : {r2, server}) {
      CAPTURE(late);
      out = g.send(wan, answer_from(mode, late, 1000));
      CHECK(out[client_side].empty());
      REQUIRE(out[wan].size() == 1);
      s = decode(out[wan][0]);
      CHECK(s.src == client);
      CHECK(s.dst == (late == server ? server : late));
      CHECK(s.sport == 40000);
      CHECK(s.dport == 80);
      CHECK(s.flags == rst);
      CHECK(s.seq == 1001);  // the SYN-ACK's ACK field
    }
    CHECK(g.stage->counters().resets_sent == 2);

    // Figure 6: the client's ACK goes to r1.
    out = g.send(client_side, tcp_segment(client, server, 40000, 80, ack, 0, 1001));
    REQUIRE(out[wan].size() == 1);
    if (mode == replica_configuration::c) {
      s = decode(unwrap(out[wan][0], cgw_addr, r1));
      CHECK(s.dst == server);
    } else {
      s = decode(out[wan][0]);
      CHECK(s.dst == r1);
    }
    CHECK(s.src == client);

    // Data from r1 reaches the client from the server's address.
    bytes data;
    switch (mode) {
      case replica_configuration::a: data = tcp_segment(r1, client, 80, 40000, psh_ack, 100); break;
      case replica_configuration::b: data = tcp_segment(server, client, 80, 40000, psh_ack, 100); break;
      case replica_configuration::c:
        data = ipip_wrap(tcp_segment(server, client, 80, 40000, psh_ack, 100), r1, client);
        break;
    }
    out = g.send(wan, data);
    REQUIRE(out[client_side].size() == 1);
    s = decode(out[client_side][0]);
    CHECK(s.src == server);
    CHECK(s.dst == client);
    CHECK(out[client_side][0].size() == 140);

    // Scoreboard: r1 won once, r2 and the origin lost once each.
    int rows = 0;
    for (const auto& a : g.stage->scoreboard().snapshot()) {
      ++rows;
      CHECK(a.server == server);
      if (a.answerer == r1) CHECK((a.wins == 1 && a.losses == 0));
      else CHECK((a.wins == 0 && a.losses == 1));
    }
    CHECK(rows == 3);
  }
}

TEST_CASE("client gateway: the origin answering first is left alone, replicas after it are reset") {
  cgw_rig g(replica_configuration::a);
  g.send(client_side, syn_with_mss(client, server, 40000, 80, 5000));
  auto out = g.send(wan, syn_ack_of(server, client, 80, 40000, 5000));
  REQUIRE(out[client_side].size() == 1);
  CHECK(decode(out[client_side][0]).src == server);
  out = g.send(wan, syn_ack_of(r3, client, 80, 40000, 5000));
  REQUIRE(out[wan].size() == 1);
  CHECK(decode(out[wan][0]).flags == rst);
  CHECK(decode(out[wan][0]).dst == r3);
  out = g.send(client_side, tcp_segment(client, server, 40000, 80, ack, 0, 5001));
  REQUIRE(out[wan].size() == 1);
  CHECK(decode(out[wan][0]).dst == server);  // untranslated
  CHECK(g.stage->counters().origin_wins == 1);
}

TEST_CASE("client gateway: untouched traffic, retransmissions, garbage options") {
  struct row {
    std::string name;
    bytes packet;
  };
  cgw_rig g(replica_configuration::a);
  const row rows[] = {
    {"not web: port 22", syn_with_mss(client, server, 40000, 22)},
    {"UDP", udp_dgram(1, 10, client, server, 4000, 80)},
    {"not a start packet, no entry", tcp_segment(client, server, 40000, 80, ack)},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    auto out = g.send(client_side, r.packet);
    REQUIRE(out[wan].size() == 1);
    CHECK(out[wan][0] == r.packet);
  }
  CHECK(g.stage->counters().tagged == 0);

  // A retransmitted SYN is tagged again and keeps its entry; the winner's retransmitted
  // SYN-ACK reaches the client again.
  g.send(client_side, syn_with_mss(client, server, 41000, 80, 9000));
  auto out = g.send(client_side, syn_with_mss(client, server, 41000, 80, 9000));
  REQUIRE(out[wan].size() == 1);
  CHECK(decode(out[wan][0]).tagged);
  CHECK(g.stage->counters().syn_retransmits == 1);
  bytes a1 = syn_ack_of(r1, client, 80, 41000, 9000);
  CHECK(g.send(wan, a1)[client_side].size() == 1);
  CHECK(g.send(wan, a1)[client_side].size() == 1);
  CHECK(g.stage->counters().winner_retransmits == 1);
  // A tunnel that matches nothing is dropped (configuration C).
  cgw_rig c(replica_configuration::c);
  out = c.send(wan, ipip_wrap(tcp_segment(server, client, 80, 45000, psh_ack, 10), r1, client));
  CHECK(out[client_side].empty());
  CHECK(c.stage->counters().unknown_tunnel == 1);
  CHECK(c.loop.snapshot().drops_for(drop_reason::not_owned) == 1);
}

TEST_CASE("client gateway: a winner's tunnelled segment whose inner checksum is wrong is dropped and counted by reason") {
  for (const auto& r : inner_checksum_faults) {
    CAPTURE(r.name);
    cgw_rig c(replica_configuration::c);
    bytes wrapped = ipip_wrap(tcp_segment(server, client, 80, 45000, psh_ack, 10), r1, client);
    wrapped[r.byte] ^= 0x01;
    CHECK(c.send(wan, wrapped)[client_side].empty());
    CHECK(c.stage->counters().unknown_tunnel == 1);
    const auto s = c.loop.snapshot();
    CHECK(s.drops_for(drop_reason::malformed) == 1);
    CHECK(s.malformed_for(r.reason) == 1);
  }
}

TEST_CASE("client gateway: TCP options that do not walk are dropped or passed untouched, as the policy says") {
  // The MSS option's length octet 1: the option area does not walk.
  auto garbled = [](bytes p) {
    p[41] = 1;
    // The TCP checksum stays right: only the option area is wrong (the loop drops a segment
    // whose checksum is wrong as bad_l4_checksum before any stage).
    const std::size_t ihl = (p[0] & 0x0fu) * 4u;
    baton::net::store_be16(&p[ihl + 16], 0);
    baton::net::store_be16(&p[ihl + 16], baton::net::transport_checksum(
        baton::net::load_be32(&p[12]), baton::net::load_be32(&p[16]), 6,
        baton::net::bytes_view(p.data() + ihl, p.size() - ihl)));
    return p;
  };
  struct row {
    const char* name;
    bool pass;         // policy /replica/bad_options
    port_id in;
    bytes packet;
    port_id out;       // where it leaves untouched when passed
  };
  const row rows[] = {
    {"drop: a start packet", false, client_side, garbled(syn_with_mss(client, server, 40001, 80)), wan},
    {"drop: from the WAN", false, wan, garbled(syn_with_mss(server, client, 80, 40001)), client_side},
    {"pass: a start packet goes out untagged, no entry", true, client_side,
     garbled(syn_with_mss(client, server, 40001, 80)), wan},
    {"pass: not web", true, client_side, garbled(syn_with_mss(client, server, 40001, 22)), wan},
    {"pass: from the WAN, no entry", true, wan, garbled(syn_with_mss(server, client, 80, 40001)), client_side},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    cgw_rig g(replica_configuration::a, r.pass);
    auto out = g.send(r.in, r.packet);
    const auto s = g.loop.snapshot();
    if (r.pass) {
      REQUIRE(out[r.out].size() == 1);
      CHECK(out[r.out][0] == r.packet);
      CHECK(g.stage->counters().bad_options == 1);
      CHECK(s.malformed_for(parse_status::bad_option_length) == 0);
    } else {
      CHECK(out[r.out].empty());
      CHECK(g.stage->counters().bad_options == 0);
      CHECK(s.malformed_for(parse_status::bad_option_length) == 1);
    }
    CHECK(out[r.in].empty());
    CHECK(g.stage->counters().tagged == 0);
    CHECK(g.stage->table_counters().entries == 0);
  }

  // Passing: a connection a replica won is still translated when a segment's options are bad,
  // and the switch follows a reload.
  cgw_rig g(replica_configuration::a, true);
  g.send(client_side, syn_with_mss(client, server, 42000, 80, 5000));
  REQUIRE(g.send(wan, syn_ack_of(r1, client, 80, 42000, 5000))[client_side].size() == 1);
  bytes bad_data = tcp_segment(client, server, 42000, 80, ack, 0, 5001);
  bad_data.insert(bad_data.begin() + 40, {3, 1, 0, 0});  // window scale of length 1
  bad_data[32] = 6 << 4;
  store_be16(&bad_data[2], static_cast<std::uint16_t>(bad_data.size()));
  store_be16(&bad_data[10], 0);
  store_be16(&bad_data[10], internet_checksum(bytes_view(bad_data.data(), 20)));
  store_be16(&bad_data[36], 0);
  store_be16(&bad_data[36], transport_checksum(client, server, ip_protocol_tcp,
                                               bytes_view(bad_data.data() + 20, bad_data.size() - 20)));
  auto out = g.send(client_side, bad_data);
  REQUIRE(out[wan].size() == 1);
  CHECK(decode(out[wan][0]).dst == r1);
  CHECK(g.stage->counters().translated_to_replica == 1);
  g.stage->set_pass_bad_options(false);
  out = g.send(client_side, bad_data);
  CHECK(out[wan].empty());
  CHECK(g.loop.snapshot().malformed_for(parse_status::bad_option_length) == 1);
}

}  // namespace baton::net::test

namespace baton::net::test {

TEST_CASE("client gateway: nothing but a SYN-ACK (or a RST) reaches the client before the first answer") {
  for (auto mode : {replica_configuration::a, replica_configuration::b}) {
    CAPTURE(to_string(mode));
    cgw_rig g(mode);
    g.send(client_side, syn_with_mss(client, server, 40000, 80, 1000));
    // A replica's ACK from an old connection's TIME-WAIT (B: spoofed as the server).
    auto out = g.send(wan, tcp_segment(mode == replica_configuration::a ? r1 : server, client, 80, 40000, ack));
    CHECK(out[client_side].empty());
    CHECK(g.stage->counters().stray_answers == 1);
    out = g.send(wan, tcp_segment(server, client, 80, 40000, rst));
    CHECK(out[client_side].size() == 1);  // the server refusing: the client must know
  }
  // A: after r1 won, a late answerer's stray segment is dropped.
  cgw_rig g(replica_configuration::a);
  g.send(client_side, syn_with_mss(client, server, 40000, 80, 1000));
  g.send(wan, syn_ack_of(r1, client, 80, 40000, 1000));
  auto out = g.send(wan, tcp_segment(r2, client, 80, 40000, ack));
  CHECK(out[client_side].empty());
  CHECK(g.stage->counters().stray_answers == 1);
}

}  // namespace baton::net::test
