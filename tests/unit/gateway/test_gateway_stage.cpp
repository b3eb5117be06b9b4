// The gateway stage in a real packet loop over in-memory ports: the work-unit filter, NAT both
// ways, DSR, consistent backends across members, recovery without state, and replication of a
// unit's flows from one member to another.

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>

#include "net/packet/checksum.hpp"
#include "net/packet/fragment.hpp"
#include "net/packet/icmp.hpp"
#include "net/packet/ipip.hpp"
#include "net/packet/tcp.hpp"
#include "tests/unit/gateway/gateway_rig.hpp"

using namespace baton::net;
using namespace baton::net::test;
using namespace std::chrono_literals;

namespace {

tcp_spec syn_from(std::uint16_t sport, std::uint32_t isn = 1000) {
  tcp_spec s;
  s.src = client_ip;
  s.dst = vip;
  s.sport = sport;
  s.dport = 80;
  s.seq = isn;
  s.flags = tcp_flag_syn;
  s.window = 64240;
  s.options = syn_options(1460, 7, 111);
  return s;
}

tcp_spec data_from_client(std::uint16_t sport, std::uint32_t seq, std::uint32_t ack,
                          std::size_t len, std::uint16_t window = 1000) {
  tcp_spec s;
  s.src = client_ip;
  s.dst = vip;
  s.sport = sport;
  s.dport = 80;
  s.seq = seq;
  s.ack = ack;
  s.flags = tcp_flag_ack | tcp_flag_psh;
  s.window = window;
  s.payload = len;
  return s;
}

// A reply of backend (addr, port) to the client's port `cport`; `to` is the client or, with source
// NAT, the member.
tcp_spec reply(std::uint32_t backend, std::uint16_t bport, std::uint16_t cport, std::uint32_t seq,
               std::uint32_t ack, std::uint8_t flags, std::size_t len = 0,
               std::uint32_t to = client_ip) {
  tcp_spec s;
  s.src = backend;
  s.dst = to;
  s.sport = bport;
  s.dport = cport;
  s.seq = seq;
  s.ack = ack;
  s.flags = flags;
  s.window = 500;
  s.payload = len;
  if (flags & tcp_flag_syn) s.options = syn_options(1400, 8, 222, 111);
  return s;
}

std::uint32_t unit_of(const flow_key& k) { return work_unit_hasher{}(k, filter::work_set); }

owned_units only(std::uint32_t u) {
  owned_units o;
  o.set(u);
  return o;
}

struct endpoint {
  std::uint32_t addr;
  std::uint16_t port;
};
endpoint dst_of(const std::vector<std::uint8_t>& p) {
  return {load_be32(&p[16]), load_be16(&p[22])};
}
endpoint src_of(const std::vector<std::uint8_t>& p) {
  return {load_be32(&p[12]), load_be16(&p[20])};
}
bool same_l4_payload(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  // Everything after the ports' checksum-covered header words: payload bytes unchanged.
  return a.size() == b.size() && std::equal(a.begin() + 40, a.end(), b.begin() + 40);
}

}  // namespace

TEST_CASE("gateway: a datagram of a unit this member does not own is dropped silently") {
  const flow_key k = client_key(client_ip, 40000, 80);
  const std::uint32_t u = unit_of(k);
  owned_units all_but = all_units();
  all_but.reset(u);
  struct row {
    const char* name;
    owned_units owned;
    bool forwarded;
  };
  const row rows[] = {
    {"only this unit owned", only(u), true},
    {"every unit but this one", all_but, false},
    {"no unit owned", owned_units{}, false},
    {"neighbouring unit owned", only((u + 1) % default_work_units), false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    member m(base_config(), r.owned);
    auto out = m.from_client(tcp_datagram(syn_from(40000)));  // send() checks nothing went back
    CHECK(out.has_value() == r.forwarded);
    const auto snap = m.loop.snapshot();
    CHECK(snap.drops_for(drop_reason::not_owned) == (r.forwarded ? 0 : 1));
    CHECK(m.gw->counters().not_owned == (r.forwarded ? 0 : 1));
    CHECK(m.gw->flows() == (r.forwarded ? 1 : 0));
    CHECK(m.client_side->stats().tx_packets == 0);  // no RST, no ICMP: nothing towards clients
  }
}

TEST_CASE("gateway: a backend's reply is filtered by the client's unit too") {
  const flow_key k = client_key(client_ip, 40001, 80);
  const std::uint32_t u = unit_of(k);
  owned_units all_but = all_units();
  all_but.reset(u);
  member m(base_config(), all_but);
  auto out = m.from_backend(tcp_datagram(
    reply(ip4(10, 1, 0, 1), 8080, 40001, 5000, 1001, tcp_flag_syn | tcp_flag_ack)));
  CHECK_FALSE(out.has_value());
  CHECK(m.gw->counters().not_owned == 1);
  CHECK(m.loop.snapshot().drops_for(drop_reason::not_owned) == 1);
}

TEST_CASE("gateway: both directions of a flow land on one unit under either hash") {
  struct row {
    const char* name;
    work_unit_hash hash;
  };
  const row rows[] = {{"document", work_unit_hash::document}, {"mixed", work_unit_hash::mixed}};
  for (const auto& r : rows) {
    CAPTURE(r.name);
    const work_unit_hasher hasher(r.hash);
    for (std::uint16_t sport = 51000; sport < 51016; ++sport) {
      CAPTURE(sport);
      const std::uint32_t u = hasher(client_key(client_ip, sport, 80), filter::work_set);
      member m(base_config(), only(u), 64, hasher);
      auto out = m.from_client(tcp_datagram(syn_from(sport)));
      REQUIRE(out.has_value());
      const endpoint be = dst_of(*out);
      // The reply's own 5-tuple hashes elsewhere; the stage must use the client-side key.
      auto back = m.from_backend(tcp_datagram(
        reply(be.addr, be.port, sport, 5000, 1001, tcp_flag_syn | tcp_flag_ack)));
      CHECK(back.has_value());
      CHECK(m.gw->counters().not_owned == 0);
    }
  }
}

TEST_CASE("gateway: NAT rewrites the destination to the chosen backend with valid checksums") {
  struct row {
    const char* name;
    bool source_nat;
    bool udp;
  };
  const row rows[] = {
    {"TCP SYN, client address kept", false, false},
    {"TCP SYN, source NAT", true, false},
    {"UDP datagram, client address kept", false, true},
    {"UDP datagram, source NAT", true, true},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    const gateway_config cfg = base_config(gateway_mode::nat, r.source_nat);
    member m(cfg);
    const std::uint16_t sport = 40100;
    const auto in = r.udp ? udp_packet(7, 16, client_ip, vip, sport, 53)
                          : tcp_datagram(syn_from(sport));
    auto out = m.from_client(in);
    REQUIRE(out.has_value());
    const flow_key k = client_key(client_ip, sport, r.udp ? 53 : 80,
                                  r.udp ? ip_protocol_udp : ip_protocol_tcp);
    gateway_flow_info info;
    REQUIRE(m.gw->find_flow(k, info));
    const gateway_service& svc = cfg.services[r.udp ? 1 : 0];
    bool is_backend = false;
    for (const auto& b : svc.backends)
      is_backend |= b.addr == info.backend_addr && b.port == info.backend_port;
    CHECK(is_backend);
    CHECK(dst_of(*out).addr == info.backend_addr);
    CHECK(dst_of(*out).port == info.backend_port);
    CHECK(src_of(*out).addr == (r.source_nat ? member_a : client_ip));
    CHECK(src_of(*out).port == sport);
    CHECK(checksums_ok(*out));
    CHECK(same_l4_payload(in, *out));
    CHECK(m.gw->counters().nat_new == 1);
    CHECK(m.gw->counters().owned == 1);
  }
}

TEST_CASE("gateway: the return path gets the cluster address and service port back") {
  struct row {
    const char* name;
    bool source_nat;
  };
  const row rows[] = {{"client address kept", false}, {"source NAT", true}};
  for (const auto& r : rows) {
    CAPTURE(r.name);
    member m(base_config(gateway_mode::nat, r.source_nat));
    const std::uint16_t sport = 40200;
    auto to_backend = m.from_client(tcp_datagram(syn_from(sport)));
    REQUIRE(to_backend.has_value());
    const endpoint be = dst_of(*to_backend);
    const auto back = tcp_datagram(reply(be.addr, be.port, sport, 5000, 1001,
                                         tcp_flag_syn | tcp_flag_ack, 0,
                                         r.source_nat ? member_a : client_ip));
    auto out = m.from_backend(back);
    REQUIRE(out.has_value());
    CHECK(src_of(*out).addr == vip);
    CHECK(src_of(*out).port == 80);
    CHECK(dst_of(*out).addr == client_ip);
    CHECK(dst_of(*out).port == sport);
    CHECK(checksums_ok(*out));
    const auto c = m.gw->counters();
    CHECK(c.returned == 1);
    CHECK(c.recovered == 0);
    CHECK(c.owned == 2);
  }
}

TEST_CASE("gateway: two members choose the same backend for the same flow") {
  gateway_config reordered = base_config();
  auto& b = reordered.services[0].backends;
  std::reverse(b.begin(), b.end());  // the list order must not matter
  member a(base_config()), other(reordered);
  std::set<std::uint32_t> used;
  for (std::uint16_t port = 41000; port < 41064; ++port) {
    CAPTURE(port);
    auto x = a.from_client(tcp_datagram(syn_from(port)));
    auto y = other.from_client(tcp_datagram(syn_from(port)));
    REQUIRE(x.has_value());
    REQUIRE(y.has_value());
    CHECK(dst_of(*x).addr == dst_of(*y).addr);
    CHECK(dst_of(*x).port == dst_of(*y).port);
    used.insert(dst_of(*x).addr);
  }
  CHECK(used.size() == 3);  // 64 flows over 3 backends: all take some
}

TEST_CASE("gateway: unhealthy backends are skipped for new flows only") {
  member healthy(base_config());
  // Which backend each flow gets while all are healthy.
  std::vector<endpoint> first;
  for (std::uint16_t port = 42000; port < 42032; ++port)
    first.push_back(dst_of(*healthy.from_client(tcp_datagram(syn_from(port)))));
  const std::uint32_t sick = ip4(10, 1, 0, 2);
  gateway_config cfg = base_config();
  cfg.services[0].backends[1].healthy = false;

  member m(cfg);
  std::uint64_t expected_skips = 0;
  for (std::uint16_t i = 0; i < 32; ++i) {
    CAPTURE(i);
    auto out = m.from_client(tcp_datagram(syn_from(static_cast<std::uint16_t>(42000 + i))));
    REQUIRE(out.has_value());
    CHECK(dst_of(*out).addr != sick);
    if (first[i].addr == sick) ++expected_skips;
    else CHECK(dst_of(*out).addr == first[i].addr);  // others keep their backend
  }
  CHECK(expected_skips > 0);
  CHECK(m.gw->counters().unhealthy_skipped == expected_skips);

  // Marking a backend unhealthy on a running member leaves its established flows alone.
  healthy.gw->publish_config(cfg);
  for (std::uint16_t i = 0; i < 32; ++i) {
    auto out = healthy.from_client(
      tcp_datagram(data_from_client(static_cast<std::uint16_t>(42000 + i), 1001, 1, 10)));
    REQUIRE(out.has_value());
    CHECK(dst_of(*out).addr == first[i].addr);
  }
  CHECK(healthy.gw->counters().nat_hit == 32);

  gateway_config none_healthy = base_config();
  for (auto& be : none_healthy.services[0].backends) be.healthy = false;
  member dead(none_healthy);
  CHECK_FALSE(dead.from_client(tcp_datagram(syn_from(42100))).has_value());
  CHECK(dead.gw->counters().no_backend == 1);
  CHECK(dead.loop.snapshot().drops_for(drop_reason::no_route) == 1);
}

TEST_CASE("gateway: a mid-flow segment without state re-derives the backend and is recovered") {
  const std::uint16_t sport = 43000;
  const flow_key k = client_key(client_ip, sport, 80);
  member a;
  auto syn = a.from_client(tcp_datagram(syn_from(sport)));
  REQUIRE(syn.has_value());
  const endpoint be = dst_of(*syn);

  struct row {
    const char* name;
    bool fresh_member;  // true: another member that never saw the flow; false: the table cleared
  };
  const row rows[] = {{"state dropped on the same member", false},
                      {"another member without the state", true}};
  for (const auto& r : rows) {
    CAPTURE(r.name);
    member fresh;
    member& m = r.fresh_member ? fresh : a;
    if (!r.fresh_member) CHECK(a.gw->drop_unit(unit_of(k)) == 1);
    REQUIRE(m.gw->flows() == 0);
    const auto before = m.gw->counters();
    auto out = m.from_client(tcp_datagram(data_from_client(sport, 1001, 5001, 100)));
    REQUIRE(out.has_value());
    CHECK(dst_of(*out).addr == be.addr);
    CHECK(dst_of(*out).port == be.port);
    CHECK(checksums_ok(*out));
    const auto c = m.gw->counters();
    CHECK(c.recovered == before.recovered + 1);
    CHECK(c.nat_new == before.nat_new);
    gateway_flow_info info;
    REQUIRE(m.gw->find_flow(k, info));
    CHECK(info.state == flow_state::tcp_established);
    CHECK(info.essential.rcv_nxt == 1101);  // tracking resumed from the segment

    // The reply direction without state is recovered too (drop it again first).
    CHECK(m.gw->drop_unit(unit_of(k)) == 1);
    auto back = m.from_backend(tcp_datagram(reply(be.addr, be.port, sport, 5001, 1101,
                                                  tcp_flag_ack, 20)));
    REQUIRE(back.has_value());
    CHECK(src_of(*back).addr == vip);
    CHECK(m.gw->counters().recovered == before.recovered + 2);
    REQUIRE(m.gw->find_flow(k, info));
    CHECK(info.backend_addr == be.addr);
  }
}

TEST_CASE("gateway: a unit's flows move from member A to member B with their state") {
  const std::uint16_t sport = 44000;
  const flow_key k = client_key(client_ip, sport, 80);
  const std::uint32_t u = unit_of(k);
  member a(base_config(), all_units());
  member b(base_config(), owned_units{});

  // Handshake and some data both ways through A.
  auto syn = a.from_client(tcp_datagram(syn_from(sport, 1000)));
  REQUIRE(syn.has_value());
  const endpoint be = dst_of(*syn);
  REQUIRE(a.from_backend(tcp_datagram(reply(be.addr, be.port, sport, 5000, 1001,
                                            tcp_flag_syn | tcp_flag_ack))));
  REQUIRE(a.from_client(tcp_datagram(data_from_client(sport, 1001, 5001, 100))));
  REQUIRE(a.from_backend(tcp_datagram(reply(be.addr, be.port, sport, 5001, 1101, tcp_flag_ack,
                                            200))));
  gateway_flow_info on_a;
  REQUIRE(a.gw->find_flow(k, on_a));
  CHECK(on_a.essential.rcv_nxt == 1101);
  CHECK(on_a.essential.snd_nxt == 5201);
  CHECK(on_a.essential.snd_wnd == 1000u << 7);  // client's window, scaled by its WS 7
  CHECK(on_a.essential.rcv_adv == 1101 + (500u << 8));

  std::vector<std::uint8_t> initial, essential;
  const unit_export ex = a.gw->export_unit(u, 0, initial, essential);
  CHECK(ex.initial_flows == 1);
  CHECK(ex.essential_flows == 1);
  CHECK(initial.size() == gateway_state_header_size + gateway_initial_record_size);
  CHECK(essential.size() == gateway_state_header_size + gateway_essential_record_size);

  // Only what changed after a version goes in the next batch.
  REQUIRE(a.from_client(tcp_datagram(data_from_client(sport, 1101, 5201, 10))));
  std::vector<std::uint8_t> i2, e2;
  const unit_export delta = a.gw->export_unit(u, ex.version, i2, e2);
  CHECK(delta.initial_flows == 0);
  CHECK(delta.essential_flows == 1);
  std::vector<std::uint8_t> i3, e3;
  const unit_export nothing = a.gw->export_unit(u, delta.version, i3, e3);
  CHECK(nothing.initial_flows == 0);
  CHECK(nothing.essential_flows == 0);

  // B takes the unit over: the full blobs, then the delta.
  unit_import im = b.gw->import_unit(bytes_view(initial), bytes_view(essential));
  CHECK(im.status == parse_status::ok);
  CHECK(im.created == 1);
  CHECK(im.updated == 1);
  im = b.gw->import_unit(bytes_view(i2), bytes_view(e2));
  CHECK(im.status == parse_status::ok);
  CHECK(im.created == 0);
  CHECK(im.updated == 1);
  REQUIRE(a.gw->find_flow(k, on_a));
  gateway_flow_info on_b;
  REQUIRE(b.gw->find_flow(k, on_b));
  CHECK(on_b.backend_addr == on_a.backend_addr);
  CHECK(on_b.backend_port == on_a.backend_port);
  CHECK(on_b.essential == on_a.essential);
  CHECK(on_b.initial.client_mss == 1460);
  CHECK(on_b.initial.backend_mss == 1400);
  CHECK(on_b.state == on_a.state);
  CHECK(b.gw->flow_count(u) == 1);

  // Ownership moves: A stops and forgets, B carries on with the same backend and tracking.
  a.gw->publish_owned(owned_units{});
  CHECK(a.gw->drop_unit(u) == 1);
  CHECK(a.gw->flow_count(u) == 0);
  b.gw->publish_owned(only(u));
  CHECK_FALSE(a.from_client(tcp_datagram(data_from_client(sport, 1111, 5201, 50))).has_value());
  auto out = b.from_client(tcp_datagram(data_from_client(sport, 1111, 5201, 50)));
  REQUIRE(out.has_value());
  CHECK(dst_of(*out).addr == be.addr);
  CHECK(dst_of(*out).port == be.port);
  const auto c = b.gw->counters();
  CHECK(c.nat_hit == 1);
  CHECK(c.recovered == 0);
  CHECK(c.nat_new == 0);
  REQUIRE(b.gw->find_flow(k, on_b));
  CHECK(on_b.essential.rcv_nxt == 1161);
  auto back = b.from_backend(tcp_datagram(reply(be.addr, be.port, sport, 5201, 1161, tcp_flag_ack,
                                                30)));
  REQUIRE(back.has_value());
  REQUIRE(b.gw->find_flow(k, on_b));
  CHECK(on_b.essential.snd_nxt == 5231);
}

TEST_CASE("gateway: imported bytes are checked before use") {
  member a;
  const std::uint16_t sport = 45000;
  const flow_key k = client_key(client_ip, sport, 80);
  const std::uint32_t u = unit_of(k);
  REQUIRE(a.from_client(tcp_datagram(syn_from(sport))));
  std::vector<std::uint8_t> initial, essential;
  a.gw->export_unit(u, 0, initial, essential);

  auto cut = [](std::vector<std::uint8_t> v, std::size_t n) {
    v.resize(n);
    return v;
  };
  auto with = [](std::vector<std::uint8_t> v, std::size_t at, std::uint8_t value) {
    v[at] = value;
    return v;
  };
  auto longer = initial;
  longer.push_back(0);
  auto other_unit = initial;
  store_be16(&other_unit[2], static_cast<std::uint16_t>((u + 1) % 1024));
  struct row {
    const char* name;
    std::vector<std::uint8_t> initial, essential;
    parse_status status;
    std::size_t created, rejected;
  };
  const row rows[] = {
    {"as exported", initial, essential, parse_status::ok, 1, 0},
    {"both empty", {}, {}, parse_status::ok, 0, 0},
    {"header cut", cut(initial, 5), {}, parse_status::truncated, 0, 0},
    {"record cut", cut(initial, initial.size() - 1), {}, parse_status::truncated, 0, 0},
    {"a byte too many", longer, {}, parse_status::bad_length, 0, 0},
    {"unknown format", with(initial, 0, 9), {}, parse_status::unsupported, 0, 0},
    {"essential passed as initial", essential, {}, parse_status::unsupported, 0, 0},
    {"bad connection state", initial, with(essential, gateway_state_header_size + 9, 200),
     parse_status::unsupported, 1, 0},
    {"records of another unit", other_unit, {}, parse_status::ok, 0, 1},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    member b(base_config(), owned_units{});
    const unit_import im = b.gw->import_unit(bytes_view(r.initial), bytes_view(r.essential));
    CHECK(im.status == r.status);
    CHECK(im.created == r.created);
    CHECK(im.rejected == r.rejected);
    CHECK(b.gw->flows() == r.created);
  }
}

TEST_CASE("gateway: direct server return wraps the datagram in IP-in-IP to the backend") {
  const gateway_config cfg = base_config(gateway_mode::direct_server_return);
  member m(cfg);
  const std::uint16_t sport = 46000;
  const auto in = tcp_datagram(syn_from(sport));
  auto out = m.from_client(in);
  REQUIRE(out.has_value());
  CHECK(out->size() == in.size() + ipip_overhead);
  const ipv4_view outer{bytes_view(*out)};
  REQUIRE(outer.validate() == parse_status::ok);
  CHECK(outer.protocol() == ip_protocol_ipip);
  CHECK(outer.src() == member_a);
  gateway_flow_info info;
  REQUIRE(m.gw->find_flow(client_key(client_ip, sport, 80), info));
  CHECK(outer.dst() == info.backend_addr);
  // The backend's host-side decapsulation gets the client's datagram as sent, but for the SYN's
  // MSS, lowered so the backend's segments would fit a 1500-byte link inside the tunnel (the
  // loop's clamp), with its checksum still right.
  bytes_view inner;
  REQUIRE(ipip_decapsulate(bytes_view(*out), inner) == parse_status::ok);
  CHECK(verify_l4_checksum(inner) == parse_status::ok);
  tcp_options_summary sent, got;
  REQUIRE(summarize_tcp_options(tcp_view(bytes_view(in).sub(20)).options(), sent) == parse_status::ok);
  REQUIRE(summarize_tcp_options(tcp_view(inner.sub(20)).options(), got) == parse_status::ok);
  CHECK(sent.mss == 1460);
  CHECK(got.mss == 1440);
  CHECK(m.loop.snapshot().mss_clamped == 1);
  std::vector<std::uint8_t> restored(inner.begin(), inner.end());
  REQUIRE(restored.size() == in.size());
  CHECK(restored[8] == in[8] - 1);  // one hop: the member forwards as a router
  CHECK(ipv4_header_checksum_ok(bytes_view(restored)));
  for (std::size_t i : {8, 10, 11, 36, 37}) restored[i] = in[i];  // TTL, both checksums
  for (std::size_t i = 40; i + 4 <= restored.size(); ++i)
    if (restored[i] == 2 && restored[i + 1] == 4) {
      restored[i + 2] = in[i + 2];
      restored[i + 3] = in[i + 3];
      break;
    }
  CHECK(restored == in);
  CHECK(m.gw->counters().dsr_encapsulated == 1);

  // Later segments of the flow go to the same backend.
  auto next = m.from_client(tcp_datagram(data_from_client(sport, 1001, 1, 10)));
  REQUIRE(next.has_value());
  CHECK(ipv4_view(bytes_view(*next)).dst() == info.backend_addr);
  CHECK(m.gw->counters().nat_hit == 1);
}

TEST_CASE("gateway: publishing the owned units changes what the member carries") {
  const std::uint16_t sport = 47000;
  const std::uint32_t u = unit_of(client_key(client_ip, sport, 80));
  member m(base_config(), owned_units{});
  struct step {
    const char* name;
    owned_units owned;
    bool forwarded;
  };
  const step steps[] = {
    {"nothing owned", owned_units{}, false},
    {"unit assigned", only(u), true},
    {"unit revoked", owned_units{}, false},
    {"everything owned", all_units(), true},
  };
  std::uint64_t drops = 0;
  for (const auto& s : steps) {
    CAPTURE(s.name);
    m.gw->publish_owned(s.owned);
    CHECK(m.from_client(tcp_datagram(syn_from(sport))).has_value() == s.forwarded);
    drops += s.forwarded ? 0 : 1;
    CHECK(m.loop.snapshot().drops_for(drop_reason::not_owned) == drops);
  }
}

TEST_CASE("gateway: idle flows expire; a source-NAT flow lives while either direction does") {
  test_now = 1'000'000ms;
  member m;
  for (std::uint16_t p = 48000; p < 48010; ++p) REQUIRE(m.from_client(tcp_datagram(syn_from(p))));
  CHECK(m.gw->flows() == 10);
  auto sweep_all = [](member& x) {
    for (int i = 0; i < 40; ++i) x.gw->expire(256);  // well over one pass of 2 * 1024 * 5/4 slots
  };
  test_now += 20s;  // under the SYN timeout (30 s)
  sweep_all(m);
  CHECK(m.gw->flows() == 10);
  test_now += 20s;
  sweep_all(m);
  CHECK(m.gw->flows() == 0);
  for (std::uint32_t u = 0; u < default_work_units; ++u) REQUIRE(m.gw->flow_count(u) == 0);

  member s(base_config(gateway_mode::nat, true));
  const std::uint16_t sport = 48100;
  auto syn = s.from_client(tcp_datagram(syn_from(sport)));
  REQUIRE(syn.has_value());
  const endpoint be = dst_of(*syn);
  REQUIRE(s.from_backend(tcp_datagram(
    reply(be.addr, be.port, sport, 5000, 1001, tcp_flag_syn | tcp_flag_ack, 0, member_a))));
  REQUIRE(s.from_client(tcp_datagram(data_from_client(sport, 1001, 5001, 10))));
  test_now += 800s;
  REQUIRE(s.from_client(tcp_datagram(data_from_client(sport, 1011, 5001, 10))));  // client side
  test_now += 200s;  // the reply key is now idle past 900 s, the client key is not
  sweep_all(s);
  CHECK(s.gw->flows() == 1);
  auto back = s.from_backend(tcp_datagram(
    reply(be.addr, be.port, sport, 5001, 1021, tcp_flag_ack, 5, member_a)));
  REQUIRE(back.has_value());
  CHECK(dst_of(*back).addr == client_ip);
  test_now += 1000s;
  sweep_all(s);
  CHECK(s.gw->flows() == 0);
}

TEST_CASE("gateway: one expire(n) examines n slots, n above 256 too") {
  test_now = 1'000'000ms;
  member m;  // 1024 flows: a table of 2048 keys in 2561 slots
  constexpr std::size_t idle = 600;  // more than 256, all within the first 4096 slots
  for (std::uint16_t i = 0; i < idle; ++i)
    REQUIRE(m.from_client(tcp_datagram(syn_from(static_cast<std::uint16_t>(40000 + i)))));
  REQUIRE(m.gw->flows() == idle);
  test_now += 31s;  // past the SYN timeout (30 s)
  // The cluster actor's call: one slice of 4096 slots, a whole pass of this table. (Each removal
  // counts as an examined slot: the slot is looked at again after the backward shift.)
  const sweep_result r = m.gw->expire(4096);
  CHECK(r.visited == 4096);
  CHECK(r.expired == idle);
  CHECK(m.gw->flows() == 0);
  for (std::uint32_t u = 0; u < default_work_units; ++u) REQUIRE(m.gw->flow_count(u) == 0);
}

TEST_CASE("gateway: traffic that is not the cluster's passes to the next stage untouched") {
  member m;
  // Neither to the cluster IP nor from a backend endpoint: next(); with no later stage the loop
  // counts it as no_route.
  const auto other = udp_packet(1, 0, ip4(10, 9, 9, 9), ip4(10, 8, 8, 8), 1000, 2000);
  CHECK_FALSE(m.from_client(other).has_value());
  CHECK(m.gw->counters().not_cluster == 1);
  // To the cluster IP, owned, but no such service.
  tcp_spec s = syn_from(49000);
  s.dport = 22;
  CHECK_FALSE(m.from_client(tcp_datagram(s)).has_value());
  CHECK(m.gw->counters().no_service == 1);
}

TEST_CASE("gateway: counters count each backend chosen") {
  member m;
  for (std::uint16_t p = 50000; p < 50030; ++p) REQUIRE(m.from_client(tcp_datagram(syn_from(p))));
  const auto c = m.gw->counters();
  std::uint64_t sum = 0;
  for (std::size_t b = 0; b < 3; ++b) sum += c.backend_chosen[0][b];
  CHECK(sum == 30);
  CHECK(c.nat_new == 30);
  CHECK(c.backend_chosen[1][0] + c.backend_chosen[1][1] == 0);
}

TEST_CASE("gateway: a config that does not validate is refused") {
  struct row {
    const char* name;
    gateway_config cfg;
  };
  gateway_config no_vip = base_config();
  no_vip.cluster_ip = 0;
  gateway_config dup = base_config();
  dup.services.push_back(dup.services[0]);
  gateway_config shared = base_config();
  shared.services[1].protocol = ip_protocol_tcp;  // dns backends 10.1.0.1:5353 ... fine alone
  shared.services[1].backends.push_back(shared.services[0].backends[0]);
  gateway_config dsr_no_member = base_config(gateway_mode::direct_server_return);
  dsr_no_member.member_addr = 0;
  const row rows[] = {{"no cluster IP", no_vip},
                      {"two services on one port", dup},
                      {"one backend endpoint in two services", shared},
                      {"DSR without member address", dsr_no_member}};
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK(std::string(r.cfg.validate()) != "");
    reader_epoch epoch;
    CHECK_THROWS_AS(gateway_stage(epoch, gateway_settings{}, r.cfg), std::invalid_argument);
  }
  CHECK(std::string(base_config().validate()) == "");
}

namespace {

/// `p` (DF cleared) cut into fragments for `mtu`, in order.
std::vector<std::vector<std::uint8_t>> fragments_of(std::vector<std::uint8_t> p, std::size_t mtu) {
  store_be16(&p[6], 0);  // DF off
  store_be16(&p[10], 0);
  store_be16(&p[10], internet_checksum(bytes_view(p.data(), 20)));
  const std::size_t n = ipv4_fragment_count(bytes_view(p), mtu);
  REQUIRE(n > 1);
  std::vector<std::vector<std::uint8_t>> out(n);
  for (std::size_t i = 1; i < n; ++i) {
    out[i].resize(mtu);
    out[i].resize(write_ipv4_fragment(bytes_view(p), mtu, i, bytes_span(out[i].data(), mtu)));
  }
  p.resize(cut_to_first_ipv4_fragment(bytes_span(p.data(), p.size()), mtu));
  out[0] = std::move(p);
  return out;
}

/// `p` one router hop later: TTL - 1, header checksum recomputed.
std::vector<std::uint8_t> hopped(std::vector<std::uint8_t> p) {
  --p[8];
  store_be16(&p[10], 0);
  store_be16(&p[10], internet_checksum(bytes_view(p.data(), 20)));
  return p;
}

/// The datagram the fragments make (as the receiver's kernel reassembles it).
std::vector<std::uint8_t> reassembled(const std::vector<std::vector<std::uint8_t>>& pieces) {
  std::vector<std::uint8_t> whole(pieces[0].begin(), pieces[0].begin() + 20);
  for (const auto& f : pieces) whole.insert(whole.end(), f.begin() + 20, f.end());
  store_be16(&whole[2], static_cast<std::uint16_t>(whole.size()));
  store_be16(&whole[6], 0);
  store_be16(&whole[10], 0);
  store_be16(&whole[10], internet_checksum(bytes_view(whole.data(), 20)));
  return whole;
}

}  // namespace

TEST_CASE("gateway: later fragments follow their first fragment's decision") {
  // A 3000-byte UDP datagram to the DNS service, in three fragments (MTU 1200).
  const std::uint16_t sport = 48000;
  const auto whole = udp_packet(9, 3000 - 32, client_ip, vip, sport, 53);
  const auto pieces = fragments_of(whole, 1200);
  REQUIRE(pieces.size() == 3);
  const std::uint32_t u = unit_of(client_key(client_ip, sport, 53, ip_protocol_udp));
  struct row {
    const char* name;
    gateway_mode mode;
    bool source_nat;
    owned_units owned;
    std::vector<std::size_t> order;  // pieces fed, by index
    std::size_t forwarded;           // pieces that come out
    std::uint64_t followed, unmatched;
  };
  const row rows[] = {
    {"NAT, in order", gateway_mode::nat, false, only(u), {0, 1, 2}, 3, 2, 0},
    {"NAT with source NAT, in order", gateway_mode::nat, true, only(u), {0, 1, 2}, 3, 2, 0},
    {"direct server return, in order", gateway_mode::direct_server_return, false, only(u), {0, 1, 2}, 3, 2, 0},
    {"another member's unit: every piece dropped", gateway_mode::nat, false, owned_units{}, {0, 1, 2}, 0, 0, 2},
    {"a later piece before the first is dropped", gateway_mode::nat, false, only(u), {2, 0, 1}, 2, 1, 1},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    member m(base_config(r.mode, r.source_nat), r.owned);
    std::vector<std::vector<std::uint8_t>> out(pieces.size());
    std::size_t came = 0;
    for (std::size_t i : r.order) {
      auto got = m.from_client(pieces[i]);
      if (!got) continue;
      ++came;
      if (r.mode == gateway_mode::direct_server_return) {
        bytes_view inner;
        REQUIRE(ipip_decapsulate(bytes_view(*got), inner) == parse_status::ok);
        gateway_flow_info info;
        REQUIRE(m.gw->find_flow(client_key(client_ip, sport, 53, ip_protocol_udp), info));
        CHECK(ipv4_view(bytes_view(*got)).dst() == info.backend_addr);
        CHECK(std::vector<std::uint8_t>(inner.begin(), inner.end()) == hopped(pieces[i]));  // as sent, one hop on
      }
      out[i] = *got;
    }
    CHECK(came == r.forwarded);
    const auto c = m.gw->counters();
    CHECK(c.fragments_followed == r.followed);
    CHECK(c.fragments_unmatched == r.unmatched);
    if (r.forwarded == 3 && r.mode == gateway_mode::nat) {
      // The backend's kernel reassembles a datagram to it, whose UDP checksum (which the first
      // fragment carries for the whole) is right for the new addresses.
      const auto back = reassembled(out);
      CHECK(checksums_ok(back));
      gateway_flow_info info;
      REQUIRE(m.gw->find_flow(client_key(client_ip, sport, 53, ip_protocol_udp), info));
      CHECK(dst_of(back).addr == info.backend_addr);
      CHECK(dst_of(back).port == info.backend_port);
      CHECK(src_of(back).addr == (r.source_nat ? member_a : client_ip));
      CHECK(same_l4_payload(whole, back));
    }
  }
}

TEST_CASE("gateway: a backend's fragmented reply goes back to the client from the cluster IP") {
  for (bool snat : {false, true}) {
    CAPTURE(snat);
    member m(base_config(gateway_mode::nat, snat));
    const std::uint16_t sport = 48100;
    auto first = m.from_client(udp_packet(1, 16, client_ip, vip, sport, 53));
    REQUIRE(first.has_value());
    const endpoint be = dst_of(*first);
    const auto reply = udp_packet(2, 4000, be.addr, snat ? member_a : client_ip, be.port, sport);
    const auto pieces = fragments_of(reply, 1400);
    std::vector<std::vector<std::uint8_t>> out;
    for (const auto& p : pieces) {
      auto got = m.from_backend(p);
      REQUIRE(got.has_value());
      out.push_back(*got);
    }
    const auto back = reassembled(out);
    CHECK(checksums_ok(back));
    CHECK(src_of(back).addr == vip);
    CHECK(src_of(back).port == 53);
    CHECK(dst_of(back).addr == client_ip);
    CHECK(dst_of(back).port == sport);
    CHECK(same_l4_payload(reply, back));
    CHECK(m.gw->counters().fragments_followed == pieces.size() - 1);
  }
}

TEST_CASE("gateway: the member is a hop: TTL down by one, ICMP time exceeded when it runs out") {
  struct row {
    const char* name;
    std::uint8_t ttl;
    bool owned;
    bool to_client;          // the datagram comes from the client (else a backend's reply)
    bool forwarded_on;       // it goes on (TTL - 1)
    bool icmp;               // the sender gets time exceeded
  };
  const row rows[] = {
    {"TTL 64 goes on as 63", 64, true, true, true, false},
    {"TTL 2 goes on as 1", 2, true, true, true, false},
    {"TTL 1 expires: the client hears from the cluster IP", 1, true, true, false, true},
    {"TTL 0 expires too", 0, true, true, false, true},
    {"another member's unit: silence, whatever the TTL", 1, false, true, false, false},
    {"a backend's reply with TTL 1: the backend hears from the member", 1, true, false, false, true},
  };
  const std::uint16_t sport = 48200;
  const std::uint32_t u = unit_of(client_key(client_ip, sport, 53, ip_protocol_udp));
  for (const auto& r : rows) {
    CAPTURE(r.name);
    member m(base_config(), r.owned ? only(u) : owned_units{});
    auto set_ttl = [](std::vector<std::uint8_t> p, std::uint8_t ttl) {
      p[8] = ttl;
      store_be16(&p[10], 0);
      store_be16(&p[10], internet_checksum(bytes_view(p.data(), 20)));
      return p;
    };
    std::vector<std::uint8_t> in = udp_packet(3, 40, client_ip, vip, sport, 53);
    memory_port* back_to = m.client_side;
    std::uint32_t sender = client_ip, icmp_from = vip;
    if (!r.to_client) {
      auto first = m.from_client(in);
      REQUIRE(first.has_value());
      const endpoint be = dst_of(*first);
      in = udp_packet(4, 40, be.addr, client_ip, be.port, sport);
      back_to = m.backend_side;
      sender = be.addr;
      icmp_from = member_a;
    }
    in = set_ttl(in, r.ttl);
    memory_port& from = r.to_client ? *m.client_side : *m.backend_side;
    memory_port& onward = r.to_client ? *m.backend_side : *m.client_side;
    REQUIRE(from.inject(bytes_view(in.data(), in.size())));
    m.loop.run_once();
    std::vector<std::uint8_t> went, heard;
    const bool on = onward.collect(went);
    const bool answered = back_to->collect(heard);
    CHECK(on == r.forwarded_on);
    CHECK(answered == r.icmp);
    if (on) {
      CHECK(went[8] == r.ttl - 1);
      CHECK(checksums_ok(went));
    }
    if (answered) {
      const ipv4_view ip{bytes_view(heard)};
      REQUIRE(ip.validate() == parse_status::ok);
      CHECK(ip.protocol() == ip_protocol_icmp);
      CHECK(ip.src() == icmp_from);
      CHECK(ip.dst() == sender);
      CHECK(heard[20] == icmp_time_exceeded);
      CHECK(heard[21] == 0);
      CHECK(internet_checksum(bytes_view(heard.data() + 20, heard.size() - 20)) == 0);
      // The quote: the datagram's header as it arrived and its first 8 bytes (the ports).
      REQUIRE(heard.size() == 20 + 8 + 20 + 8);
      CHECK(std::equal(heard.begin() + 28, heard.end(), in.begin()));
    }
    const auto c = m.gw->counters();
    CHECK(c.ttl_expired == (r.owned && !r.forwarded_on ? 1 : 0));
    CHECK(c.icmp_time_exceeded == (r.icmp ? 1 : 0));
  }
}

TEST_CASE("gateway: time exceeded is rate-limited to bursts of 20") {
  member m(base_config());
  for (int i = 0; i < 30; ++i) {
    auto p = udp_packet(static_cast<std::uint32_t>(i), 8, client_ip, vip, static_cast<std::uint16_t>(49000 + i), 53);
    p[8] = 1;
    store_be16(&p[10], 0);
    store_be16(&p[10], internet_checksum(bytes_view(p.data(), 20)));
    REQUIRE(m.client_side->inject(bytes_view(p.data(), p.size())));
    m.loop.run_once();
  }
  std::vector<std::uint8_t> got;
  int heard = 0;
  while (m.client_side->collect(got)) ++heard;
  CHECK(heard == 20);
  CHECK(m.gw->counters().ttl_expired == 30);
  CHECK(m.gw->counters().icmp_time_exceeded == 20);
  CHECK(m.loop.snapshot().drops_for(drop_reason::ttl_expired) == 10);
}
