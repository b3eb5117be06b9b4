// The SLR's data path (document 001) over memory ports: flow classifier, pinned flows, IP-in-IP
// tunnels to the next level, weighted choice, recovery and the hot spare.
#include <doctest/doctest.h>

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "net/packet/flow_advert.hpp"
#include "net/packet/icmp.hpp"
#include "tests/unit/slrnet/slr_rig.hpp"

using namespace baton::net;
using namespace baton::net::test;
using namespace std::chrono_literals;

namespace {

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

// An ICMP echo request to `dst` with `payload` bytes after the header; checksums right.
bytes echo_request(std::uint32_t src, std::uint32_t dst, std::size_t payload = 56) {
  bytes p(20 + 8 + payload);
  p[20] = icmp_echo;
  store_be16(&p[24], 77);
  store_be16(&p[26], 1);
  for (std::size_t i = 0; i < payload; ++i) p[28 + i] = static_cast<std::uint8_t>(0x10 + i);
  store_be16(&p[22], internet_checksum(bytes_view(p.data() + 20, p.size() - 20)));
  fill_ipv4_header(p, src, dst, ip_protocol_icmp);
  return p;
}

// What the server sends (Figure 10, step 10300) and what the client echoes back (10400).
bytes advert_request(const flow_advert& a) {
  bytes p(flow_advert_size());
  REQUIRE(build_flow_advert(bytes_span(p), a, 0x4242, 9) == edit_status::ok);
  return p;
}
bytes advert_reply(const flow_advert& a) {
  bytes p = advert_request(a);
  // An ICMP-compliant client: addresses swapped, type 0, the payload echoed whole.
  store_be32(&p[12], a.client_address);
  store_be32(&p[16], a.virtual_address);
  fix_ip_checksum(p);
  p[20] = icmp_echo_reply;
  store_be16(&p[22], 0);
  store_be16(&p[22], internet_checksum(bytes_view(p.data() + 20, p.size() - 20)));
  return p;
}

}  // namespace

TEST_CASE("a new flow chooses a candidate and leaves tunneled to it") {
  struct row {
    std::string name;
    bytes packet;
  };
  const std::vector<row> rows = {
      {"TCP SYN", tcp_segment(client_a, virtual_host, 40001, 80, syn)},
      {"TCP SYN with payload", tcp_segment(client_a, virtual_host, 40002, 80, syn, 100)},
      {"UDP datagram", udp_dgram(1, 30, client_a, virtual_host, 5353, 53)},
      {"ordinary ping", echo_request(client_a, virtual_host)},
      {"GRE (no ports)", ip_datagram(client_a, virtual_host, 47, 24)},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    slr_rig rig;
    const slr_routes routes = default_routes();
    rig.stage->publish(routes);
    const flow_key key = key_of(r.packet);
    const std::uint32_t hop = expected_hop(routes, 0, key);

    const auto sent = rig.send(slr_rig::tun, r.packet);
    REQUIRE(sent.size() == 1);
    check_tunneled(sent[0], r.packet, hop);

    std::uint32_t pinned = 0;
    flow_origin origin{};
    REQUIRE(rig.stage->find(key, pinned, origin));
    CHECK(pinned == hop);
    CHECK(origin == flow_origin::chosen);
    const auto events = rig.events();
    REQUIRE(events.size() == 1);
    CHECK(events[0].kind == slr_event_kind::new_flow);
    CHECK(events[0].key == key);
    CHECK(events[0].next_hop == hop);
    CHECK(events[0].prev_hop == 0);
    const auto c = rig.stage->counters();
    CHECK(c.new_flows == 1);
    CHECK(c.tunneled == 1);
    CHECK(c.pinned_hits == 0);
    CHECK(rig.loop.snapshot().tx_packets == 1);
  }
}

TEST_CASE("the following segments of a flow follow its pinned-down path") {
  slr_rig rig;
  slr_routes routes = default_routes();
  rig.stage->publish(routes);
  const bytes first = tcp_segment(client_a, virtual_host, 40100, 80, syn);
  const std::uint32_t hop = expected_hop(routes, 0, key_of(first));
  REQUIRE(rig.send(slr_rig::tun, first).size() == 1);

  // The routing table changes: the chosen candidate is gone. Pinned flows keep their path,
  // new ones use the new table.
  routes.subnets[0].candidates.erase(
      std::remove_if(routes.subnets[0].candidates.begin(), routes.subnets[0].candidates.end(),
                     [&](const slr_candidate& c) { return c.next_hop == hop; }),
      routes.subnets[0].candidates.end());
  rig.stage->publish(routes);

  struct row {
    std::string name;
    std::uint8_t flags;
    std::size_t payload;
  };
  const std::vector<row> rows = {
      {"ACK of the handshake", ack, 0}, {"data", psh_ack, 500}, {"more data", psh_ack, 1400},
      {"a retransmitted SYN", syn, 0},  {"FIN", fin_ack, 0},    {"RST", rst, 0},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    const bytes seg = tcp_segment(client_a, virtual_host, 40100, 80, r.flags, r.payload);
    const auto sent = rig.send(slr_rig::tun, seg);
    REQUIRE(sent.size() == 1);
    check_tunneled(sent[0], seg, hop);
  }
  const auto c = rig.stage->counters();
  CHECK(c.new_flows == 1);
  CHECK(c.pinned_hits == rows.size());
  CHECK(c.tunneled == rows.size() + 1);
  CHECK(rig.stage->flows() == 1);

  // A new flow after the change never goes to the removed candidate.
  for (std::uint16_t port = 41000; port < 41050; ++port) {
    const auto sent = rig.send(slr_rig::tun, tcp_segment(client_a, virtual_host, port, 80, syn));
    REQUIRE(sent.size() == 1);
    CHECK(ipv4_view(sent[0]).dst() != hop);
  }
}

TEST_CASE("a SYN that reuses a closed flow's 4-tuple is a new connection with a choice of its own") {
  struct row {
    std::string name;
    std::uint8_t closing_flags;  // the old connection's last segment
    std::uint32_t next_isn;      // sequence number of the next SYN (the first had 1000)
    bool rechosen;               // does the next SYN choose again?
  };
  const std::vector<row> rows = {
      {"closed by FIN", fin_ack, 1000, true},
      {"closed by RST", rst, 1000, true},
      {"still open: a retransmitted SYN keeps its path", psh_ack, 1000, false},
      // An SLR that saw only the SYN (the shortcut took the rest past it) cannot see the close:
      // a SYN with another initial sequence number is a new connection.
      {"only the SYN seen: a SYN with a new sequence number", syn, 77000, true},
      {"only the SYN seen: the same SYN again", syn, 1000, false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    slr_rig rig;
    slr_routes routes = default_routes();
    rig.stage->publish(routes);
    const bytes first = tcp_segment(client_a, virtual_host, 40200, 80, syn);
    const std::uint32_t hop = expected_hop(routes, 0, key_of(first));
    REQUIRE(rig.send(slr_rig::tun, first).size() == 1);
    REQUIRE(rig.send(slr_rig::tun, tcp_segment(client_a, virtual_host, 40200, 80, r.closing_flags)).size() == 1);
    // The old connection's host leaves the table (say its state expired).
    routes.subnets[0].candidates.erase(
        std::remove_if(routes.subnets[0].candidates.begin(), routes.subnets[0].candidates.end(),
                       [&](const slr_candidate& c) { return c.next_hop == hop; }),
        routes.subnets[0].candidates.end());
    rig.stage->publish(routes);
    const auto sent =
      rig.send(slr_rig::tun, tcp_segment(client_a, virtual_host, 40200, 80, syn, 0, r.next_isn));
    REQUIRE(sent.size() == 1);
    CHECK((ipv4_view(sent[0]).dst() != hop) == r.rechosen);
    const auto c = rig.stage->counters();
    CHECK(c.new_flows == (r.rechosen ? 2u : 1u));
    CHECK(c.reused_tuples == (r.rechosen ? 1u : 0u));
    std::size_t new_flow_events = 0;
    rig.stage->drain_events([&](const slr_event& e) {
      new_flow_events += e.kind == slr_event_kind::new_flow;
    });
    CHECK(new_flow_events == c.new_flows);
  }
}

TEST_CASE("new flows share out by the candidates' weights") {
  struct row {
    std::string name;
    std::vector<std::uint32_t> weights;
  };
  const std::vector<row> rows = {
      {"equal pair", {1, 1}},
      {"one to three", {1, 3}},
      {"five three two", {5, 3, 2}},
      {"one two three four", {1, 2, 3, 4}},
      {"a draining candidate gets nothing", {0, 2, 1}},
      {"large weights", {1000, 3000}},
  };
  constexpr int flows = 10000;
  for (const auto& r : rows) {
    CAPTURE(r.name);
    slr_stage_config cfg = slr_rig::base_config();
    cfg.flow_capacity = 16384;
    cfg.event_capacity = 16384;
    slr_rig rig(cfg, {4096, 128, 2048}, 16384);
    slr_routes routes;
    routes.subnets.push_back({ip4(10, 50, 0, 0), 16, {}});
    double total = 0;
    for (std::size_t i = 0; i < r.weights.size(); ++i) {
      routes.subnets[0].candidates.push_back({ip4(10, 20, 1, static_cast<int>(i + 1)), r.weights[i]});
      total += r.weights[i];
    }
    rig.stage->publish(routes);

    std::mt19937 rng(12345);
    std::vector<bytes> packets;
    for (int i = 0; i < flows; ++i) {
      const std::uint32_t src = ip4(100, 64, 0, 0) | (rng() & 0x3fffff);
      const std::uint32_t dst = ip4(10, 50, 0, 0) | (rng() & 0xffff);
      const auto sport = static_cast<std::uint16_t>(1024 + rng() % 60000);
      packets.push_back(i % 2 ? tcp_segment(src, dst, sport, 443, syn)
                              : udp_dgram(static_cast<std::uint32_t>(i), 0, src, dst, sport, 53));
    }
    std::map<std::uint32_t, int> got;
    for (std::size_t at = 0; at < packets.size(); at += 1000) {
      const std::vector<bytes> part(packets.begin() + static_cast<long>(at),
                                    packets.begin() + static_cast<long>(std::min(at + 1000, packets.size())));
      for (const bytes& s : rig.send(slr_rig::tun, part)) ++got[ipv4_view(s).dst()];
    }
    int sum = 0;
    for (const auto& [hop, n] : got) sum += n;
    CHECK(sum == flows);
    for (std::size_t i = 0; i < r.weights.size(); ++i) {
      const double expected = r.weights[i] / total;
      const double share = got[ip4(10, 20, 1, static_cast<int>(i + 1))] / double(flows);
      CAPTURE(i);
      CAPTURE(expected);
      CAPTURE(share);
      CHECK(std::abs(share - expected) < 0.025);
      if (r.weights[i] == 0) CHECK(share == 0.0);
    }
  }
}

TEST_CASE("the longest prefix decides the subnet") {
  const std::uint32_t a = ip4(10, 30, 0, 1), b = ip4(10, 30, 0, 2), c = ip4(10, 30, 0, 3),
                      d = ip4(10, 30, 0, 4), e = ip4(10, 30, 0, 5);
  slr_routes routes;
  routes.subnets.push_back({ip4(10, 50, 1, 128), 25, {{c, 1}}});
  routes.subnets.push_back({ip4(10, 50, 0, 0), 16, {{a, 1}}});
  routes.subnets.push_back({ip4(10, 50, 1, 0), 24, {{b, 1}}});
  routes.subnets.push_back({ip4(10, 50, 1, 200), 32, {{d, 1}}});
  routes.subnets.push_back({ip4(10, 60, 0, 0), 16, {{e, 1}}});
  routes.subnets.push_back({ip4(10, 70, 0, 0), 16, {}});  // a virtual subnet with no candidate yet
  struct row {
    std::string name;
    std::uint32_t dst;
    std::uint32_t hop;  // 0: dropped no_route
  };
  const std::vector<row> rows = {
      {"only the /16 holds it", ip4(10, 50, 2, 9), a},
      {"the /24 beats the /16", ip4(10, 50, 1, 9), b},
      {"the /25 beats the /24", ip4(10, 50, 1, 130), c},
      {"a /32 host route beats all", ip4(10, 50, 1, 200), d},
      {"the last address of the /25", ip4(10, 50, 1, 255), c},
      {"the first address of the /16", ip4(10, 50, 0, 0), a},
      {"another /16", ip4(10, 60, 255, 255), e},
      {"next to a subnet", ip4(10, 51, 0, 1), 0},
      {"below all subnets", ip4(9, 255, 255, 255), 0},
      {"a subnet without candidates", ip4(10, 70, 0, 1), 0},
  };
  slr_rig rig;
  rig.stage->publish(routes);
  std::uint64_t no_route = 0;
  for (const auto& r : rows) {
    CAPTURE(r.name);
    const bytes p = udp_dgram(3, 0, client_a, r.dst, 999, 53);
    const auto sent = rig.send(slr_rig::tun, p);
    if (r.hop == 0) {
      CHECK(sent.empty());
      ++no_route;
    } else {
      REQUIRE(sent.size() == 1);
      check_tunneled(sent[0], p, r.hop);
    }
    CHECK(rig.stage->counters().no_route == no_route);
    CHECK(rig.loop.snapshot().drops_for(drop_reason::no_route) == no_route);
  }
}

TEST_CASE("routes that do not make sense are refused") {
  struct row {
    std::string name;
    slr_subnet subnet;
  };
  const std::vector<row> rows = {
      {"length 33", {ip4(10, 50, 0, 0), 33, {{site_1, 1}}}},
      {"bits past the length", {ip4(10, 50, 1, 0), 16, {{site_1, 1}}}},
      {"a next hop of 0", {ip4(10, 50, 0, 0), 16, {{0, 1}}}},
      {"a tunnel to itself", {ip4(10, 50, 0, 0), 16, {{self_addr, 1}}}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    slr_rig rig;
    slr_routes routes;
    routes.subnets.push_back(r.subnet);
    CHECK_THROWS_AS(rig.stage->publish(routes), std::invalid_argument);
  }
  slr_rig rig;
  slr_routes twice = default_routes();
  twice.subnets.push_back(twice.subnets[0]);
  CHECK_THROWS_AS(rig.stage->publish(twice), std::invalid_argument);
  // A refused table leaves the old one in place.
  rig.stage->publish(default_routes());
  CHECK_THROWS_AS(rig.stage->publish(twice), std::invalid_argument);
  CHECK(rig.send(slr_rig::tun, udp_dgram(1, 0, client_a, virtual_host, 1, 53)).size() == 1);
}

TEST_CASE("a mid-flow segment without an entry is dropped and reported; install brings it back") {
  struct row {
    std::string name;
    std::uint8_t flags;
    bool reported;
  };
  const std::vector<row> rows = {
      {"ACK", ack, true},
      {"data", psh_ack, true},
      {"FIN", fin_ack, true},
      {"SYN-ACK", syn_ack, true},
      {"RST (nothing to recover)", rst, false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    slr_rig rig;
    rig.stage->publish(default_routes());
    const bytes seg = tcp_segment(client_a, virtual_host, 40200, 80, r.flags, 10);
    const flow_key key = key_of(seg);
    CHECK(rig.send(slr_rig::tun, seg).empty());
    CHECK(rig.stage->counters().unknown_flow_drops == 1);
    CHECK(rig.loop.snapshot().drops_for(drop_reason::not_owned) == 1);
    CHECK(rig.stage->flows() == 0);  // a lost flow is not re-chosen: that would break it
    const auto events = rig.events();
    if (r.reported) {
      REQUIRE(events.size() == 1);
      CHECK(events[0].kind == slr_event_kind::unknown_flow);
      CHECK(events[0].key == key);
      CHECK(events[0].next_hop == 0);
      CHECK(events[0].prev_hop == 0);
    } else {
      CHECK(events.empty());
    }

    // Control code learns where the flow went (WHOHAS, a hot spare) and re-installs it; TCP's
    // retransmission then gets through.
    const std::uint32_t server = ip4(172, 16, 5, 5);
    rig.loop.run_on_loop(
        [&] { CHECK(rig.stage->install(key, server, flow_origin::recovered, slr_now)); });
    const auto sent = rig.send(slr_rig::tun, seg);
    REQUIRE(sent.size() == 1);
    check_tunneled(sent[0], seg, server);
    std::uint32_t hop = 0;
    flow_origin origin{};
    REQUIRE(rig.stage->find(key, hop, origin));
    CHECK(origin == flow_origin::recovered);
    CHECK(rig.stage->counters().pinned_hits == 1);
  }
}

TEST_CASE("install overwrites, refuses nonsense next hops and a full table") {
  slr_stage_config cfg = slr_rig::base_config();
  cfg.flow_capacity = 4;
  slr_rig rig(cfg);
  rig.stage->publish(default_routes());
  const bytes seg = tcp_segment(client_a, virtual_host, 40300, 80, psh_ack, 10);
  const flow_key key = key_of(seg);

  struct row {
    std::string name;
    std::uint32_t hop;
    flow_origin origin;
    bool accepted;
  };
  const std::vector<row> rows = {
      {"a shortcut to the server", ip4(172, 16, 1, 1), flow_origin::shortcut, true},
      {"overwritten by an advertisement", ip4(172, 16, 1, 2), flow_origin::advertised, true},
      {"overwritten by the hot spare copy", ip4(172, 16, 1, 3), flow_origin::replicated, true},
      {"next hop 0", 0, flow_origin::recovered, false},
      {"next hop is this SLR", self_addr, flow_origin::recovered, false},
  };
  std::uint32_t expect_hop = 0;
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK(rig.stage->install(key, r.hop, r.origin, slr_now) == r.accepted);
    if (r.accepted) expect_hop = r.hop;
    const auto sent = rig.send(slr_rig::tun, seg);
    REQUIRE(sent.size() == 1);
    check_tunneled(sent[0], seg, expect_hop);
  }
  CHECK(rig.stage->flows() == 1);
  const auto before = rig.stage->counters();
  CHECK(before.shortcut_hits == 1);
  CHECK(before.pinned_hits == rows.size());

  // Fill the table, then one more.
  for (std::uint16_t p = 1; p <= 3; ++p)
    CHECK(rig.stage->install(flow_key{client_a, virtual_host, p, 80, 6}, site_1,
                             flow_origin::replicated, slr_now));
  CHECK(rig.stage->flows() == 4);
  CHECK_FALSE(rig.stage->install(flow_key{client_a, virtual_host, 9, 80, 6}, site_1,
                                 flow_origin::replicated, slr_now));
  // A new flow finds no room: dropped, counted, not reported.
  CHECK(rig.send(slr_rig::tun, tcp_segment(client_a, virtual_host, 9, 80, syn)).empty());
  CHECK(rig.stage->counters().table_full == 2);
  CHECK(rig.loop.snapshot().drops_for(drop_reason::policy) == 1);
  CHECK(rig.events().empty());
}

TEST_CASE("flush loses every entry; export lists them") {
  slr_rig rig;
  const slr_routes routes = default_routes();
  rig.stage->publish(routes);
  std::vector<bytes> syns;
  for (std::uint16_t p = 50000; p < 50010; ++p)
    syns.push_back(tcp_segment(client_a, virtual_host, p, 80, syn));
  REQUIRE(rig.send(slr_rig::tun, syns).size() == syns.size());
  rig.events();

  std::size_t listed = 0;
  rig.stage->for_each_flow([&](const flow_key& k, std::uint32_t hop, flow_origin o) {
    ++listed;
    CHECK(hop == expected_hop(routes, 0, k));
    CHECK(o == flow_origin::chosen);
  });
  CHECK(listed == syns.size());

  std::size_t flushed = 0;
  rig.loop.run_on_loop([&] { flushed = rig.stage->flush(); });
  CHECK(flushed == syns.size());
  CHECK(rig.stage->flows() == 0);
  // The connections go on: their next segments are now unknown.
  const auto sent = rig.send(slr_rig::tun, tcp_segment(client_a, virtual_host, 50003, 80, psh_ack, 20));
  CHECK(sent.empty());
  const auto events = rig.events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == slr_event_kind::unknown_flow);
}

TEST_CASE("idle flows expire by their state's timeout") {
  slr_stage_config cfg = slr_rig::base_config();
  cfg.timeouts.tcp_syn_seen = 1000ms;
  cfg.timeouts.udp = 5000ms;
  slr_rig rig(cfg);
  rig.stage->publish(default_routes());
  slr_now = 10'000'000ms;
  REQUIRE(rig.send(slr_rig::tun, tcp_segment(client_a, virtual_host, 1, 80, syn)).size() == 1);
  REQUIRE(rig.send(slr_rig::tun, udp_dgram(1, 0, client_a, virtual_host, 2, 53)).size() == 1);
  CHECK(rig.stage->flows() == 2);
  const std::size_t slots = 1 << 20;
  CHECK(rig.stage->expire(slr_now + 999ms, slots) == 0);
  CHECK(rig.stage->expire(slr_now + 1000ms, slots) == 1);  // the half-open SYN
  CHECK(rig.stage->flows() == 1);
  CHECK(rig.stage->expire(slr_now + 5000ms, slots) == 1);
  CHECK(rig.stage->flows() == 0);
}

TEST_CASE("tunnel exit: IP-in-IP from the level above is unwrapped, others are refused") {
  const bytes syn_seg = tcp_segment(client_a, virtual_host, 40400, 80, syn);
  auto with = [](bytes p, auto edit) {
    edit(p);
    return p;
  };
  struct row {
    std::string name;
    bytes packet;
    bool forwarded;
    drop_reason why;
    parse_status status;  // malformed drops: the inner datagram's status
  };
  const std::vector<row> rows = {
      {"a SYN tunneled from upstream", ipip_wrap(syn_seg, upstream_slr, self_addr), true, {}, {}},
      {"a UDP datagram tunneled from upstream",
       ipip_wrap(udp_dgram(5, 10, client_a, virtual_host, 7, 53), upstream_slr, self_addr), true,
       {}, {}},
      {"not IP-in-IP", udp_dgram(1, 0, upstream_slr, self_addr), false, drop_reason::not_owned, {}},
      {"GRE, not IP-in-IP", ipip_wrap(syn_seg, upstream_slr, self_addr, 47), false,
       drop_reason::not_owned, {}},
      {"inner cut short", with(ipip_wrap(syn_seg, upstream_slr, self_addr),
                               [](bytes& p) { p.resize(20 + 12); store_be16(&p[2], 32); fix_ip_checksum(p); }),
       false, drop_reason::malformed, parse_status::truncated},
      {"inner version 6", with(ipip_wrap(syn_seg, upstream_slr, self_addr),
                               [](bytes& p) { p[20] = 0x65; }),
       false, drop_reason::malformed, parse_status::bad_version},
      {"inner total length past the end", with(ipip_wrap(syn_seg, upstream_slr, self_addr),
                                              [](bytes& p) { store_be16(&p[22], 200); }),
       false, drop_reason::malformed, parse_status::bad_total_length},
      {"inner header checksum wrong", with(ipip_wrap(syn_seg, upstream_slr, self_addr),
                                          [](bytes& p) { p[30] ^= 0x40; }),
       false, drop_reason::malformed, parse_status::bad_checksum},
      {"inner TCP data offset past the end", with(ipip_wrap(syn_seg, upstream_slr, self_addr),
                                                 [](bytes& p) { p[52] = 15 << 4; }),
       false, drop_reason::malformed, parse_status::bad_data_offset},
      {"inner IPIP only (empty payload)",
       with(ipip_wrap({}, upstream_slr, self_addr), [](bytes&) {}), false, drop_reason::malformed,
       parse_status::truncated},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    slr_rig rig;
    const slr_routes routes = default_routes();
    rig.stage->publish(routes);
    const auto sent = rig.send(slr_rig::tunnel_in, r.packet);
    const auto c = rig.stage->counters();
    const auto s = rig.loop.snapshot();
    if (r.forwarded) {
      const bytes inner(r.packet.begin() + 20, r.packet.end());
      const flow_key key = key_of(inner);
      REQUIRE(sent.size() == 1);
      check_tunneled(sent[0], one_hop(inner), expected_hop(routes, 0, key));
      CHECK(c.decapsulated == 1);
      const auto events = rig.events();
      REQUIRE(events.size() == 1);
      CHECK(events[0].key == key);
      CHECK(events[0].prev_hop == upstream_slr);  // where a shortcut's tunnel object goes
    } else {
      CHECK(sent.empty());
      CHECK(c.decap_errors == 1);
      CHECK(s.drops_for(r.why) == 1);
      if (r.why == drop_reason::malformed) CHECK(s.malformed_for(r.status) == 1);
      CHECK(rig.events().empty());
      CHECK(rig.stage->flows() == 0);
    }
    CHECK(s.pool_available == s.pool_capacity);
  }
}

TEST_CASE("a flow advertisement (augmented ping) re-installs the flow at the SLR") {
  const std::uint32_t server = ip4(172, 16, 9, 9);
  const flow_advert adv{client_a, 40500, virtual_host, 80, ip_protocol_tcp, server, 8080};
  const flow_key key{client_a, virtual_host, 40500, 80, ip_protocol_tcp};
  auto with = [](bytes p, auto edit) {
    edit(p);
    return p;
  };
  enum class outcome { installed, refused, malformed, routed };
  struct row {
    std::string name;
    port_id port;
    bytes packet;
    outcome expect;
  };
  flow_advert elsewhere = adv;
  elsewhere.virtual_address = ip4(10, 99, 0, 1);  // not one of ours
  flow_advert to_self = adv;
  to_self.server_address = self_addr;
  const std::vector<row> rows = {
      {"the client's echo reply", slr_rig::tun, advert_reply(adv), outcome::installed},
      {"the server's echo request", slr_rig::tun, advert_request(adv), outcome::installed},
      {"the echo reply tunneled from upstream", slr_rig::tunnel_in,
       ipip_wrap(advert_reply(adv), upstream_slr, self_addr), outcome::installed},
      {"a reply from someone else than the client", slr_rig::tun,
       with(advert_reply(adv), [](bytes& p) { store_be32(&p[12], ip4(203, 0, 113, 1)); fix_ip_checksum(p); }),
       outcome::refused},
      {"a server address of this SLR", slr_rig::tun, advert_reply(to_self), outcome::refused},
      {"damaged: ICMP checksum wrong", slr_rig::tun,
       with(advert_reply(adv), [](bytes& p) { p[100] ^= 1; }), outcome::malformed},
      {"a virtual address that is not ours", slr_rig::tun, advert_reply(elsewhere), outcome::routed},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    slr_rig rig;
    rig.stage->publish(default_routes());
    const auto sent = rig.send(r.port, r.packet);
    CHECK(sent.empty());  // an advertisement is for the SLR, never forwarded
    const auto c = rig.stage->counters();
    const auto s = rig.loop.snapshot();
    std::uint32_t hop = 0;
    flow_origin origin{};
    const bool found = rig.stage->find(key, hop, origin);
    const auto events = rig.events();
    switch (r.expect) {
      case outcome::installed: {
        REQUIRE(found);
        CHECK(hop == server);
        CHECK(origin == flow_origin::advertised);
        CHECK(c.advert_installs == 1);
        CHECK(s.drops_for(drop_reason::policy) == 1);
        REQUIRE(events.size() == 1);
        CHECK(events[0].kind == slr_event_kind::advertised_flow);
        CHECK(events[0].key == key);
        CHECK(events[0].next_hop == server);
        CHECK(events[0].prev_hop == (r.port == slr_rig::tunnel_in ? upstream_slr : 0u));
        // The stalled connection's retransmission now reaches its server directly.
        const bytes seg = tcp_segment(client_a, virtual_host, 40500, 80, psh_ack, 100);
        const auto again = rig.send(slr_rig::tun, seg);
        REQUIRE(again.size() == 1);
        check_tunneled(again[0], seg, server);
        break;
      }
      case outcome::refused:
        CHECK_FALSE(found);
        CHECK(c.adverts_refused == 1);
        CHECK(s.drops_for(drop_reason::policy) == 1);
        CHECK(events.empty());
        break;
      case outcome::malformed:
        CHECK_FALSE(found);
        CHECK(s.malformed_for(parse_status::bad_checksum) == 1);
        CHECK(events.empty());
        break;
      case outcome::routed:  // an echo reply to an address we do not serve
        CHECK_FALSE(found);
        CHECK(c.advert_installs == 0);
        CHECK(s.drops_for(drop_reason::no_route) == 1);
        break;
    }
  }
}

TEST_CASE("flow advertisements can be turned off") {
  slr_stage_config cfg = slr_rig::base_config();
  cfg.accept_flow_adverts = false;
  slr_rig rig(cfg);
  rig.stage->publish(default_routes());
  const flow_advert adv{client_a, 1, virtual_host, 80, ip_protocol_tcp, ip4(172, 16, 0, 1), 80};
  const bytes reply = advert_reply(adv);
  const auto sent = rig.send(slr_rig::tun, reply);
  REQUIRE(sent.size() == 1);  // an ordinary ping reply to the virtual host, a flow of its own
  CHECK(rig.stage->counters().advert_installs == 0);
}

TEST_CASE("a hot spare learns flows but forwards nothing, and takes over with the same choices") {
  slr_stage_config spare_cfg = slr_rig::base_config();
  spare_cfg.active = false;
  slr_rig spare(spare_cfg);
  slr_rig main_slr;
  const slr_routes routes = default_routes();
  spare.stage->publish(routes);
  main_slr.stage->publish(routes);
  CHECK_FALSE(spare.stage->active());

  struct row {
    std::string name;
    bytes packet;
  };
  const std::vector<row> rows = {
      {"TCP SYN", tcp_segment(client_a, virtual_host, 40600, 80, syn)},
      {"UDP", udp_dgram(1, 0, client_a, virtual_host, 40601, 53)},
      {"TCP SYN to another virtual host", tcp_segment(client_a, ip4(10, 50, 7, 7), 40602, 443, syn)},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK(spare.send(slr_rig::tun, r.packet).empty());
    const auto on_main = main_slr.send(slr_rig::tun, r.packet);
    REQUIRE(on_main.size() == 1);
    std::uint32_t hop = 0;
    flow_origin origin{};
    REQUIRE(spare.stage->find(key_of(r.packet), hop, origin));
    CHECK(hop == ipv4_view(on_main[0]).dst());  // the same choice as the main SLR
    CHECK(origin == flow_origin::chosen);
  }
  // An advertisement installs on the spare too.
  const std::uint32_t server = ip4(172, 16, 7, 7);
  CHECK(spare.send(slr_rig::tun, advert_reply({client_a, 40700, virtual_host, 80, 6, server, 80}))
            .empty());
  const auto c = spare.stage->counters();
  CHECK(c.standby_drops == rows.size());
  CHECK(c.tunneled == 0);
  CHECK(c.advert_installs == 1);
  CHECK(spare.events().size() == rows.size() + 1);
  CHECK(spare.loop.snapshot().tx_packets == 0);

  // The main SLR fails; the spare becomes active and carries on every learned flow.
  spare.stage->set_active(true);
  for (const auto& r : rows) {
    CAPTURE(r.name);
    bytes next = r.packet;
    if (next[9] == ip_protocol_tcp) next = tcp_segment(ipv4_view(r.packet).src(), ipv4_view(r.packet).dst(),
                                                       load_be16(&r.packet[20]), load_be16(&r.packet[22]), psh_ack, 50);
    const auto a = spare.send(slr_rig::tun, next);
    const auto b = main_slr.send(slr_rig::tun, next);
    REQUIRE(a.size() == 1);
    REQUIRE(b.size() == 1);
    check_tunneled(a[0], next, ipv4_view(b[0]).dst());  // the main SLR's next hop
  }
  const bytes seg = tcp_segment(client_a, virtual_host, 40700, 80, ack);
  const auto a = spare.send(slr_rig::tun, seg);
  REQUIRE(a.size() == 1);
  check_tunneled(a[0], seg, server);
}

TEST_CASE("fragments of a datagram all go to one next hop without being pinned") {
  slr_rig rig;
  const slr_routes routes = default_routes();
  rig.stage->publish(routes);
  std::vector<bytes> pieces;
  for (int i = 0; i < 3; ++i) {
    // Pieces of one UDP datagram: the first has the UDP header, the others only data.
    bytes p = i == 0 ? udp_dgram(1, 200, client_a, virtual_host, 5000, 53)
                     : ip_datagram(client_a, virtual_host, ip_protocol_udp, 96);
    if (i == 0) {
      p.resize(20 + 104);
      store_be16(&p[2], static_cast<std::uint16_t>(p.size()));
    }
    store_be16(&p[6], static_cast<std::uint16_t>((i < 2 ? 0x2000 : 0) | (i * 13)));
    fix_ip_checksum(p);
    pieces.push_back(p);
  }
  const auto sent = rig.send(slr_rig::tun, pieces);
  REQUIRE(sent.size() == pieces.size());
  flow_key three{client_a, virtual_host, 0, 0, ip_protocol_udp};
  for (std::size_t i = 0; i < sent.size(); ++i) check_tunneled(sent[i], pieces[i], expected_hop(routes, 0, three));
  CHECK(rig.stage->flows() == 0);
  CHECK(rig.stage->counters().fragments == pieces.size());
  CHECK(rig.events().empty());
}

TEST_CASE("events: a full ring drops them without blocking; the eventfd says when some wait") {
  slr_stage_config cfg = slr_rig::base_config();
  cfg.event_capacity = 4;
  slr_rig rig(cfg);
  rig.stage->publish(default_routes());
  const int fd = rig.stage->event_fd();
  REQUIRE(fd >= 0);
  CHECK_FALSE(readable(fd));

  std::vector<bytes> syns;
  for (std::uint16_t p = 1; p <= 10; ++p) syns.push_back(tcp_segment(client_a, virtual_host, p, 80, syn));
  CHECK(rig.send(slr_rig::tun, syns).size() == 10);  // forwarding never waits for the consumer
  CHECK(readable(fd));
  std::vector<std::uint16_t> ports;
  CHECK(rig.stage->drain_events([&](const slr_event& e) { ports.push_back(e.key.src_port); }) == 4);
  CHECK(ports == std::vector<std::uint16_t>{1, 2, 3, 4});
  CHECK(rig.stage->counters().events_lost == 6);
  CHECK_FALSE(readable(fd));
  CHECK(rig.stage->drain_events([](const slr_event&) {}) == 0);

  rig.send(slr_rig::tun, tcp_segment(client_a, virtual_host, 11, 80, syn));
  CHECK(readable(fd));
  CHECK(rig.stage->drain_events([](const slr_event&) {}) == 1);
  CHECK_FALSE(readable(fd));
}

TEST_CASE("recovery with the loop on its own thread: event, install on the loop, retransmission") {
  slr_rig rig;
  rig.stage->publish(default_routes());
  rig.loop.start();
  const std::uint32_t server = ip4(172, 16, 3, 3);
  const bytes seg = tcp_segment(client_a, virtual_host, 40800, 80, psh_ack, 64);
  REQUIRE(rig.ports[slr_rig::tun]->inject(seg));

  // The control side: wait for the event, answer it on the loop thread.
  pollfd p{rig.stage->event_fd(), POLLIN, 0};
  REQUIRE(::poll(&p, 1, 5000) == 1);
  std::vector<slr_event> events;
  rig.stage->drain_events([&](const slr_event& e) { events.push_back(e); });
  REQUIRE(events.size() == 1);
  REQUIRE(events[0].kind == slr_event_kind::unknown_flow);
  rig.loop.run_on_loop([&] {
    CHECK(rig.stage->install(events[0].key, server, flow_origin::recovered, slr_clock()));
  });

  REQUIRE(rig.ports[slr_rig::tun]->inject(seg));  // TCP retransmits
  REQUIRE(rig.ports[slr_rig::out]->wait_sent(5s));
  bytes out;
  REQUIRE(rig.ports[slr_rig::out]->collect(out));
  rig.loop.stop();
  check_tunneled(out, seg, server);
}

TEST_CASE("malformed and random input never crashes and every datagram is accounted for") {
  slr_rig rig(slr_rig::base_config(), {1024, 128, 2048}, 4096);
  rig.stage->publish(default_routes());
  std::mt19937 rng(777);
  const std::vector<bytes> seeds = {
      tcp_segment(client_a, virtual_host, 1, 80, syn, 20),
      udp_dgram(1, 40, client_a, virtual_host, 2, 53),
      ipip_wrap(tcp_segment(client_a, virtual_host, 3, 80, ack, 10), upstream_slr, self_addr),
      advert_reply({client_a, 4, virtual_host, 80, 6, ip4(172, 16, 0, 4), 80}),
      ipip_wrap(advert_reply({client_a, 5, virtual_host, 80, 6, ip4(172, 16, 0, 5), 80}),
                upstream_slr, self_addr),
      echo_request(client_a, virtual_host),
  };
  std::uint64_t injected = 0;
  for (int round = 0; round < 40; ++round) {
    for (port_id port : {slr_rig::tun, slr_rig::tunnel_in}) {
      std::vector<bytes> batch;
      for (int i = 0; i < 100; ++i) {
        bytes p = seeds[rng() % seeds.size()];
        switch (rng() % 4) {
          case 0:  // flip a few bytes
            for (int k = 0; k < 3; ++k) p[rng() % p.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
            break;
          case 1:  // cut
            p.resize(rng() % p.size());
            break;
          case 2:  // flip bytes, then make the outer header checksum right again
            for (int k = 0; k < 2; ++k) p[rng() % p.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
            if (p.size() >= 20 && (p[0] & 0x0f) * 4u <= p.size() && (p[0] & 0x0f) >= 5) fix_ip_checksum(p);
            break;
          default:  // random bytes with an IPv4-looking start
            for (auto& b : p) b = static_cast<std::uint8_t>(rng());
            p[0] = 0x45;
            break;
        }
        batch.push_back(p);
      }
      injected += batch.size();
      rig.send(port, batch);
      rig.events();
    }
  }
  const auto s = rig.loop.snapshot();
  CHECK(s.rx_packets == injected);
  CHECK(s.tx_packets + s.total_drops() == injected);
  CHECK(s.pool_available == s.pool_capacity);
}

TEST_CASE("an SLR passing a tunnelled datagram on is a hop: TTL 1 gets ICMP time exceeded") {
  struct row {
    const char* name;
    port_id port;
    std::uint8_t ttl;
    bool tunnelled_on, answered;
  };
  const row rows[] = {
    {"from upstream with TTL 2: on with TTL 1", slr_rig::tunnel_in, 2, true, false},
    {"from upstream with TTL 1: time exceeded to the client", slr_rig::tunnel_in, 1, false, true},
    {"from the TUN with TTL 1: the kernel routed it already, on unchanged", slr_rig::tun, 1, true, false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    slr_rig rig;
    const slr_routes routes = default_routes();
    rig.stage->publish(routes);
    bytes inner = tcp_segment(client_a, virtual_host, 40900, 80, syn);
    inner[8] = r.ttl;
    store_be16(&inner[10], 0);
    store_be16(&inner[10], internet_checksum(bytes_view(inner.data(), 20)));
    const bytes packet = r.port == slr_rig::tunnel_in ? ipip_wrap(inner, upstream_slr, self_addr) : inner;
    const auto sent = rig.send(r.port, packet);
    REQUIRE(sent.size() == 1);
    const ipv4_view ip(sent[0]);
    REQUIRE(ip.validate() == parse_status::ok);
    if (r.tunnelled_on) {
      CHECK(ip.protocol() == ip_protocol_ipip);
      const bytes on(sent[0].begin() + 20, sent[0].end());
      CHECK(on == (r.port == slr_rig::tunnel_in ? one_hop(inner) : inner));
    } else {
      CHECK(ip.protocol() == ip_protocol_icmp);
      CHECK(ip.src() == self_addr);
      CHECK(ip.dst() == client_a);
      CHECK(sent[0][20] == icmp_time_exceeded);
      CHECK(std::equal(sent[0].begin() + 28, sent[0].end(), inner.begin()));
    }
    const auto c = rig.stage->counters();
    CHECK(c.ttl_expired == (r.answered ? 1 : 0));
    CHECK(c.icmp_time_exceeded == (r.answered ? 1 : 0));
  }
}
