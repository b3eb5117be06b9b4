// The packet loop over the in-memory backend: no root, no kernel.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "net/io/memory_port.hpp"
#include "net/io/packet_loop.hpp"
#include "net/io/pass_through.hpp"
#include "net/packet/icmp.hpp"
#include "net/packet/ipv4.hpp"
#include "tests/unit/io/test_packets.hpp"

using namespace baton::net;
using namespace baton::net::test;
using namespace std::chrono_literals;

namespace {

// A loop with `n` memory ports and a pass-through stage; ports[i] stays valid while the loop lives.
struct memory_rig {
  // `link_source`: port 0 acts as a link-layer port whose frames come from that MAC.
  explicit memory_rig(std::size_t n, buffer_pool_config pc = {256, 128, 2048},
                      std::size_t mtu = 1500, std::size_t depth = 1024, packet_loop_config lc = {},
                      std::optional<std::array<std::uint8_t, 6>> link_source = std::nullopt)
      : pool(pc), loop(pool, lc) {
    for (std::size_t i = 0; i < n; ++i) {
      auto p = std::make_unique<memory_port>(
          pool, memory_port_config{"mem" + std::to_string(i), depth, mtu});
      if (i == 0 && link_source) p->set_link_source(*link_source);
      ports.push_back(p.get());
      loop.add_port(std::move(p));
    }
    auto s = std::make_unique<pass_through_stage>(loop.epoch());
    pass = s.get();
    loop.add_stage(std::move(s));
  }
  // Runs turns on this thread until `port` has something to collect or a turn budget runs out.
  bool pump_until_sent(memory_port& port, int max_turns = 100) {
    for (int i = 0; i < max_turns; ++i) {
      if (port.wait_sent(0ms)) return true;
      loop.run_once();
    }
    return port.wait_sent(0ms);
  }
  buffer_pool pool;
  packet_loop loop;
  std::vector<memory_port*> ports;
  pass_through_stage* pass = nullptr;
};

// A loop with two memory ports, "a" (port 0, `in`) and "b" (port 1, `out`), and no stage yet.
struct two_port_loop {
  buffer_pool pool{buffer_pool_config{64, 128, 2048}};
  packet_loop loop{pool};
  memory_port& in = add("a");
  memory_port& out = add("b");

 private:
  memory_port& add(const char* name) {
    auto p = std::make_unique<memory_port>(pool, memory_port_config{name});
    memory_port& port = *p;
    loop.add_port(std::move(p));
    return port;
  }
};

// Waits for a condition on the loop's counters (no sleeping: yields until true or the deadline).
template <class Pred>
bool await(Pred pred, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace

TEST_CASE("pass-through forwards bytes unchanged") {
  struct row {
    const char* name;
    std::vector<std::uint8_t> packet;
  };
  const std::vector<row> rows = {
      {"small udp", udp_packet(1)},
      {"udp of 1400 bytes", udp_packet(2, 1368)},
      {"tcp with payload", tcp_packet(100)},
      {"tcp without payload", tcp_packet(0)},
  };
  memory_rig rig(2);
  rig.pass->publish(pass_through_table{}.route(0, 1).route(1, 0));
  rig.loop.start();
  for (const auto& r : rows) {
    CAPTURE(r.name);
    for (int dir = 0; dir < 2; ++dir) {
      memory_port& in = *rig.ports[dir];
      memory_port& out = *rig.ports[1 - dir];
      REQUIRE(in.inject(r.packet));
      REQUIRE(out.wait_sent(2s));
      std::vector<std::uint8_t> got;
      REQUIRE(out.collect(got));
      CHECK(got == r.packet);
    }
  }
  rig.loop.stop();
  auto s = rig.loop.snapshot();
  CHECK(s.rx_packets == 2 * rows.size());
  CHECK(s.tx_packets == 2 * rows.size());
  CHECK(s.total_drops() == 0);
}

TEST_CASE("malformed datagrams are counted by reason and dropped") {
  struct row {
    const char* name;
    std::vector<std::uint8_t> packet;
    parse_status expected;
  };
  auto with = [](std::vector<std::uint8_t> p, auto edit) {
    edit(p);
    return p;
  };
  auto fix_ip_checksum = [](std::vector<std::uint8_t>& p) {
    store_be16(&p[10], 0);
    store_be16(&p[10], internet_checksum(bytes_view(p.data(), (p[0] & 0x0f) * 4u)));
  };
  const std::vector<row> rows = {
      {"truncated to 12 bytes",
       with(udp_packet(1), [](auto& p) { p.resize(12); }), parse_status::truncated},
      {"IHL 4", with(udp_packet(1), [&](auto& p) { p[0] = 0x44; fix_ip_checksum(p); }),
       parse_status::bad_ihl},
      {"IHL past the end", with(udp_packet(1), [&](auto& p) { p.resize(24); p[0] = 0x47; store_be16(&p[2], 24); fix_ip_checksum(p); }),
       parse_status::bad_ihl},
      {"version 6", with(udp_packet(1), [&](auto& p) { p[0] = 0x65; fix_ip_checksum(p); }),
       parse_status::bad_version},
      {"header checksum wrong", with(udp_packet(1), [](auto& p) { p[10] ^= 0x55; }),
       parse_status::bad_checksum},
      {"total length past the end",
       with(udp_packet(1), [&](auto& p) { store_be16(&p[2], 200); fix_ip_checksum(p); }),
       parse_status::bad_total_length},
      {"TCP data offset past the end",
       with(tcp_packet(0), [](auto& p) { p[32] = 15 << 4; }), parse_status::bad_data_offset},
      {"TCP data offset below 5",
       with(tcp_packet(0), [](auto& p) { p[32] = 4 << 4; }), parse_status::bad_data_offset},
      {"UDP length disagrees",
       with(udp_packet(1), [](auto& p) { store_be16(&p[24], 200); }), parse_status::bad_length},
      {"UDP checksum wrong", with(udp_packet(1), [](auto& p) { p[26] ^= 0x01; }),
       parse_status::bad_l4_checksum},
      {"UDP payload changed after the checksum", with(udp_packet(1, 100), [](auto& p) { p[60] ^= 0x10; }),
       parse_status::bad_l4_checksum},
      {"TCP checksum wrong", with(tcp_packet(8), [](auto& p) { p[36] ^= 0x80; }),
       parse_status::bad_l4_checksum},
      {"TCP payload changed after the checksum", with(tcp_packet(9), [](auto& p) { p[48] ^= 0x01; }),
       parse_status::bad_l4_checksum},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    memory_rig rig(2);
    rig.pass->publish(pass_through_table{}.route(0, 1));
    REQUIRE(rig.ports[0]->inject(r.packet));
    REQUIRE(rig.ports[0]->inject(udp_packet(7)));  // a good one after it still goes through
    REQUIRE(rig.pump_until_sent(*rig.ports[1]));
    std::vector<std::uint8_t> got;
    REQUIRE(rig.ports[1]->collect(got));
    CHECK(udp_seq(got) == 7);
    CHECK_FALSE(rig.ports[1]->collect(got));
    auto s = rig.loop.snapshot();
    CHECK(s.drops_for(drop_reason::malformed) == 1);
    CHECK(s.total_drops() == 1);
    CHECK(s.malformed_for(r.expected) == 1);
    CHECK(s.stages[0].name == "parse");
    CHECK(s.stages[0].dropped == 1);
    CHECK(s.stages[1].seen == 1);  // only the good datagram reached pass-through
    CHECK(s.pool_available == s.pool_capacity);  // dropped buffers went back
  }
}

TEST_CASE("the transport checksum: what the parse step lets through") {
  struct row {
    const char* name;
    std::vector<std::uint8_t> packet;
    bool verify;  // packet_loop_config::verify_l4_checksum
  };
  auto with = [](std::vector<std::uint8_t> p, auto edit) {
    edit(p);
    return p;
  };
  auto fix_ip_checksum = [](std::vector<std::uint8_t>& p) {
    store_be16(&p[10], 0);
    store_be16(&p[10], internet_checksum(bytes_view(p.data(), 20)));
  };
  const std::vector<row> rows = {
      {"UDP without a checksum (0: the sender computed none)",
       with(udp_packet(1), [](auto& p) { store_be16(&p[26], 0); }), true},
      {"a first fragment: the checksum covers the whole datagram",
       with(udp_packet(1), [&](auto& p) { p[26] ^= 0x01; p[6] = 0x20; fix_ip_checksum(p); }), true},
      {"a later fragment", with(udp_packet(1), [&](auto& p) { p[7] = 0x10; fix_ip_checksum(p); }), true},
      {"TCP checksum wrong, verification off", with(tcp_packet(8), [](auto& p) { p[36] ^= 0x80; }), false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    packet_loop_config cfg;
    cfg.verify_l4_checksum = r.verify;
    memory_rig rig(2, {256, 128, 2048}, 1500, 1024, cfg);
    rig.pass->publish(pass_through_table{}.route(0, 1));
    REQUIRE(rig.ports[0]->inject(r.packet));
    REQUIRE(rig.pump_until_sent(*rig.ports[1]));
    std::vector<std::uint8_t> got;
    REQUIRE(rig.ports[1]->collect(got));
    CHECK(got == r.packet);
    CHECK(rig.loop.snapshot().total_drops() == 0);
  }
}

TEST_CASE("IP-in-IP encapsulation then decapsulation gives the datagram back") {
  // 0 -> 1 encapsulates, 2 -> 3 decapsulates: what leaves 1 is fed into 2.
  memory_rig rig(4);
  const ipip_tunnel tunnel{ip4(192, 0, 2, 1), ip4(192, 0, 2, 2), 33, 0};
  rig.pass->publish(pass_through_table{}
                        .route(0, 1, tunnel_action::encapsulate, tunnel)
                        .route(2, 3, tunnel_action::decapsulate));
  const std::vector<std::vector<std::uint8_t>> inputs = {udp_packet(1), udp_packet(2, 1000),
                                                         tcp_packet(50)};
  for (const auto& original : inputs) {
    CAPTURE(original.size());
    REQUIRE(rig.ports[0]->inject(original));
    REQUIRE(rig.pump_until_sent(*rig.ports[1]));
    std::vector<std::uint8_t> outer;
    REQUIRE(rig.ports[1]->collect(outer));
    REQUIRE(outer.size() == original.size() + 20);
    const ipv4_view ov(outer);
    REQUIRE(ov.validate() == parse_status::ok);
    CHECK(ov.checksum_ok());
    CHECK(ov.protocol() == ip_protocol_ipip);
    CHECK(ov.src() == tunnel.src);
    CHECK(ov.dst() == tunnel.dst);
    CHECK(ov.ttl() == 33);
    CHECK(std::equal(original.begin(), original.end(), outer.begin() + 20));

    REQUIRE(rig.ports[2]->inject(outer));
    REQUIRE(rig.pump_until_sent(*rig.ports[3]));
    std::vector<std::uint8_t> inner;
    REQUIRE(rig.ports[3]->collect(inner));
    CHECK(inner == original);
  }
  // A plain datagram on the decapsulating port is not ours.
  REQUIRE(rig.ports[2]->inject(udp_packet(9)));
  rig.loop.run_once();
  CHECK(rig.loop.snapshot().drops_for(drop_reason::not_owned) == 1);
}

TEST_CASE("encapsulation past the output MTU is refused as oversize") {
  memory_rig rig(2);
  rig.pass->publish(pass_through_table{}.route(
      0, 1, tunnel_action::encapsulate, ipip_tunnel{ip4(1, 1, 1, 1), ip4(2, 2, 2, 2), 64, 0}));
  REQUIRE(rig.ports[0]->inject(udp_packet(1, 1500 - 32)));  // exactly 1500: fits in, not out
  REQUIRE(rig.ports[0]->inject(udp_packet(2, 100)));
  REQUIRE(rig.pump_until_sent(*rig.ports[1]));
  std::vector<std::uint8_t> got;
  REQUIRE(rig.ports[1]->collect(got));
  CHECK(udp_seq(got, 20) == 2);
  auto s = rig.loop.snapshot();
  CHECK(s.drops_for(drop_reason::oversize) == 1);
  // Larger than the input port's MTU: the port refuses it before the pipeline.
  REQUIRE(rig.ports[0]->inject(udp_packet(3, 1600)));
  rig.loop.run_once();
  s = rig.loop.snapshot();
  CHECK(s.ports[0].stats.rx_oversize == 1);
  CHECK(s.rx_packets == 2);
}

TEST_CASE("a link-layer port answers a tunnel datagram too long with DF by ICMP to the frame's sender") {
  // The cluster's DSR leaves by AF_PACKET, which does not route by address: the ICMP goes back
  // out the port the datagram came in by, to the MAC its frame came from.
  const std::array<std::uint8_t, 6> router{0x02, 0x00, 0x00, 0x00, 0x00, 0x07};
  struct row {
    const char* name;
    std::optional<std::array<std::uint8_t, 6>> link_source;
    bool answered;
  };
  const row rows[] = {{"frames with a source MAC: answered", router, true},
                      {"no source MAC known: dropped unanswered", std::nullopt, false}};
  for (const auto& r : rows) {
    CAPTURE(r.name);
    memory_rig rig(2, {256, 128, 2048}, 1500, 1024, {}, r.link_source);
    rig.pass->publish(pass_through_table{}.route(
        0, 1, tunnel_action::encapsulate, ipip_tunnel{ip4(1, 1, 1, 1), ip4(2, 2, 2, 2), 64, 0}));
    const auto original = udp_packet(9, 1500 - 32);  // 1500 bytes with DF: 1520 once wrapped
    REQUIRE(ipv4_view(bytes_view(original.data(), original.size())).dont_fragment());
    REQUIRE(rig.ports[0]->inject(original));
    for (int i = 0; i < 10; ++i) rig.loop.run_once();
    std::vector<std::uint8_t> none, icmp;
    CHECK_FALSE(rig.ports[1]->collect(none));  // nothing went into the tunnel
    const auto s = rig.loop.snapshot();
    CHECK(s.drops_for(drop_reason::oversize) == 1);
    CHECK(s.icmp_frag_needed == (r.answered ? 1u : 0u));
    CHECK(rig.ports[0]->collect(icmp) == r.answered);
    if (!r.answered) continue;
    REQUIRE(rig.ports[0]->last_next_hop() == router);
    const ipv4_view ip(bytes_view(icmp.data(), icmp.size()));
    REQUIRE(ip.validate() == parse_status::ok);
    CHECK(ip.protocol() == ip_protocol_icmp);
    CHECK(ip.src() == ip4(1, 1, 1, 1));   // the tunnel's source: this node
    CHECK(ip.dst() == ip4(10, 0, 0, 1));  // the datagram's sender
    const icmp_view m(bytes_view(icmp.data() + 20, icmp.size() - 20));
    CHECK(m.is_fragmentation_needed());
    CHECK(m.next_hop_mtu() == 1480);
    CHECK(m.checksum_ok());
  }
}

TEST_CASE("a tunnel datagram too long for its port leaves in fragments when its inner one allows it") {
  memory_rig rig(2);
  rig.pass->publish(pass_through_table{}.route(
      0, 1, tunnel_action::encapsulate, ipip_tunnel{ip4(1, 1, 1, 1), ip4(2, 2, 2, 2), 64, 0}));
  auto original = udp_packet(7, 1500 - 32);  // 1500 bytes: 1520 once wrapped
  original[6] = 0;                           // DF clear (the outer header copies it)
  original[10] = original[11] = 0;
  store_be16(&original[10], internet_checksum(bytes_view(original.data(), 20)));
  REQUIRE(rig.ports[0]->inject(original));
  REQUIRE(rig.pump_until_sent(*rig.ports[1]));
  std::vector<std::uint8_t> first, second, none;
  REQUIRE(rig.ports[1]->collect(first));
  REQUIRE(rig.ports[1]->collect(second));
  CHECK_FALSE(rig.ports[1]->collect(none));
  const ipv4_view a(bytes_view(first.data(), first.size())), b(bytes_view(second.data(), second.size()));
  CHECK(first.size() == 1500);
  CHECK(a.more_fragments());
  CHECK(a.fragment_offset() == 0);
  CHECK_FALSE(b.more_fragments());
  CHECK(b.fragment_offset() * 8u == first.size() - 20);
  CHECK(a.identification() == b.identification());
  // The outer data put back together is the client's datagram.
  std::vector<std::uint8_t> inner(first.begin() + 20, first.end());
  inner.insert(inner.end(), second.begin() + 20, second.end());
  CHECK(inner == original);
  const auto s = rig.loop.snapshot();
  CHECK(s.fragmented == 1);
  CHECK(s.fragments_sent == 2);
  CHECK(s.drops_for(drop_reason::oversize) == 0);
}

TEST_CASE("a table swap while the loop runs changes where datagrams go and loses none") {
  // Output queues deep enough for every datagram: the test collects only at the end.
  memory_rig rig(3, buffer_pool_config{512, 128, 2048}, 1500, 4096);
  rig.pass->publish(pass_through_table{}.route(0, 1));
  rig.loop.start();

  constexpr std::uint32_t n = 2000;
  std::atomic<bool> swapped{false};
  std::thread injector([&] {
    for (std::uint32_t seq = 0; seq < n; ++seq) {
      if (seq == n / 2) {
        while (!swapped.load()) std::this_thread::yield();  // second half only after the swap
      }
      while (!rig.ports[0]->inject(udp_packet(seq))) std::this_thread::yield();  // queue full
    }
  });
  // Swap while the first half is still streaming through, once n/4 have gone out to port 1.
  REQUIRE(await([&] { return rig.loop.snapshot().tx_packets >= n / 4; }));
  rig.pass->publish(pass_through_table{}.route(0, 2));
  swapped.store(true);
  injector.join();

  // Collect everything from both outputs, then check each sequence number came out exactly once.
  std::multiset<std::uint32_t> seen;
  std::size_t to_b = 0, to_c = 0;
  std::vector<std::uint8_t> got;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (seen.size() < n && std::chrono::steady_clock::now() < deadline) {
    bool any = false;
    while (rig.ports[1]->collect(got)) seen.insert(udp_seq(got)), ++to_b, any = true;
    while (rig.ports[2]->collect(got)) seen.insert(udp_seq(got)), ++to_c, any = true;
    if (!any) rig.ports[2]->wait_sent(20ms);
  }
  rig.loop.stop();
  CHECK(seen.size() == n);
  CHECK(std::set<std::uint32_t>(seen.begin(), seen.end()).size() == n);
  CHECK(to_b >= n / 4);      // before the swap
  CHECK(to_c >= n / 2);      // everything injected after it
  CHECK(rig.loop.snapshot().total_drops() == 0);
}

namespace {
// A classify stage for the tests: destination port 666 is refused by policy, 667 is not ours.
struct port_policy_stage final : stage {
  const char* name() const noexcept override { return "classify"; }
  verdict process(packet_context& ctx) noexcept override {
    if (ctx.fields.dst_port == 666) return verdict::drop(drop_reason::policy);
    if (ctx.fields.dst_port == 667) return verdict::drop(drop_reason::not_owned);
    return verdict::next();
  }
};
}  // namespace

TEST_CASE("stages run in order: the first that decides wins, counted per stage and reason") {
  two_port_loop rig;
  auto& [pool, loop, in, out] = rig;
  loop.add_stage(std::make_unique<port_policy_stage>());
  loop.add_stage(std::make_unique<pass_through_stage>(loop.epoch(), pass_through_table{}.route(0, 1)));

  struct row {
    const char* name;
    std::uint16_t dport;
    bool forwarded;
    drop_reason reason;
  };
  const row rows[] = {
      {"passes classify, forwarded", 5000, true, {}},
      {"refused by policy", 666, false, drop_reason::policy},
      {"not owned", 667, false, drop_reason::not_owned},
  };
  for (const row& r : rows) {
    CAPTURE(r.name);
    const auto before = loop.snapshot();
    REQUIRE(in.inject(udp_packet(1, 0, ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 4000, r.dport)));
    loop.run_once();
    const auto after = loop.snapshot();
    std::vector<std::uint8_t> got;
    CHECK(out.collect(got) == r.forwarded);
    CHECK(after.stages[1].seen == before.stages[1].seen + 1);
    if (r.forwarded) {
      CHECK(after.stages[2].forwarded == before.stages[2].forwarded + 1);
    } else {
      CHECK(after.stages[1].dropped == before.stages[1].dropped + 1);
      CHECK(after.stages[2].seen == before.stages[2].seen);  // pass-through never saw it
      CHECK(after.drops_for(r.reason) == before.drops_for(r.reason) + 1);
    }
  }
  const auto s = loop.snapshot();
  CHECK(s.stages[1].name == "classify");
  CHECK(s.total_drops() == 2);
}

namespace {
// Logs the loop's calls: "p<round>:<dport>" for prefetch, "x:<dport>" for process.
struct prefetch_log_stage final : stage {
  mutable std::vector<std::string> calls;
  const char* name() const noexcept override { return "log"; }
  void prefetch(const packet_context& ctx, unsigned round) const noexcept override {
    calls.push_back("p" + std::to_string(round) + ":" + std::to_string(ctx.fields.dst_port));
  }
  verdict process(packet_context& ctx) noexcept override {
    calls.push_back("x:" + std::to_string(ctx.fields.dst_port));
    return verdict::next();
  }
};
}  // namespace

TEST_CASE("a receive batch is prefetched round by round before any datagram is decided, in order") {
  struct row {
    const char* name;
    std::vector<std::uint16_t> dports;  // one batch, in arrival order (port 9 is malformed)
    std::vector<std::string> calls;
  };
  const row rows[] = {
      {"one datagram: nothing to overlap, no prefetch", {1}, {"x:1"}},
      {"three: round 0 for all, round 1 for all, then each decided",
       {1, 2, 3},
       {"p0:1", "p0:2", "p0:3", "p1:1", "p1:2", "p1:3", "x:1", "x:2", "x:3"}},
      {"a malformed datagram is dropped at parse and never prefetched",
       {1, 9, 3},
       {"p0:1", "p0:3", "p1:1", "p1:3", "x:1", "x:3"}},
  };
  static_assert(prefetch_rounds == 2);
  for (const row& r : rows) {
    CAPTURE(r.name);
    two_port_loop rig;
    auto log = std::make_unique<prefetch_log_stage>();
    prefetch_log_stage& seen = *log;
    rig.loop.add_stage(std::move(log));
    rig.loop.add_stage(std::make_unique<pass_through_stage>(rig.loop.epoch(), pass_through_table{}.route(0, 1)));
    for (std::uint16_t d : r.dports) {
      auto p = udp_packet(1, 0, ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 4000, d);
      if (d == 9) p[0] = 0x44;  // IHL 4: not an IPv4 header
      REQUIRE(rig.in.inject(bytes_view(p.data(), p.size())));
    }
    rig.loop.run_once();
    CHECK(seen.calls == r.calls);
  }
}

namespace {
/// IPv4/TCP SYN with the option area `options` (a multiple of 4 bytes); checksums right.
std::vector<std::uint8_t> tcp_syn_with_options(const std::vector<std::uint8_t>& options) {
  const std::uint32_t src = ip4(10, 0, 0, 1), dst = ip4(10, 0, 0, 2);
  std::vector<std::uint8_t> p(40 + options.size());
  store_be16(&p[20], 1234);
  store_be16(&p[22], 80);
  store_be32(&p[24], 1000);
  p[32] = static_cast<std::uint8_t>((5 + options.size() / 4) << 4);
  p[33] = 0x02;  // SYN
  store_be16(&p[34], 65535);
  std::copy(options.begin(), options.end(), p.begin() + 40);
  fill_ipv4_header(p, src, dst, 6);
  store_be16(&p[36], transport_checksum(src, dst, 6, bytes_view(p.data() + 20, p.size() - 20)));
  return p;
}

/// Says `decision` for everything; meets segments whose TCP options do not walk as `how` says.
struct options_stage final : stage {
  options_stage(bad_tcp_options how, verdict decision) : how(how), decision(decision) {}
  const char* name() const noexcept override { return "options"; }
  bad_tcp_options on_bad_tcp_options() const noexcept override { return how; }
  verdict process(packet_context& ctx) noexcept override {
    if (ctx.fields.tcp_options_bad) {
      ++bad_seen;
      status = ctx.status;
      dst_port = ctx.fields.dst_port;
    }
    return decision;
  }
  bad_tcp_options how;
  verdict decision;
  int bad_seen = 0;
  parse_status status = parse_status::ok;
  std::uint16_t dst_port = 0;
};
}  // namespace

TEST_CASE("a TCP segment whose options do not walk reaches the stages only for one that takes it") {
  using how = bad_tcp_options;
  struct row {
    const char* name;
    how first_how;
    verdict first;   // the first stage's verdict (the second forwards to port 1)
    how second_how;
    int first_sees, second_sees;
    bool forwarded;  // untouched, on port 1; else dropped as malformed bad_option_length
  };
  const row rows[] = {
      {"no stage takes it: dropped at parse", how::refuse, verdict::next(), how::refuse, 0, 0, false},
      {"the first takes and forwards it", how::take, verdict::forward(1), how::refuse, 1, 0, true},
      {"the first takes it, the next refuses: dropped before that one", how::take, verdict::next(), how::refuse,
       1, 0, false},
      {"a stage that refuses it stops it before one that takes it", how::refuse, verdict::next(), how::take, 0, 0,
       false},
      {"both take it: the second forwards", how::take, verdict::next(), how::take, 1, 1, true},
      {"one that follows sees it for a later one that takes it", how::follow, verdict::next(), how::take, 1, 1,
       true},
      {"one that follows, then one that refuses: dropped at parse, unseen", how::follow, verdict::next(),
       how::refuse, 0, 0, false},
      {"only followers: dropped at parse", how::follow, verdict::next(), how::follow, 0, 0, false},
  };
  const auto bad = tcp_syn_with_options({2, 4, 5, 0xb4, 3, 1, 0, 0});  // window scale of length 1
  const auto good = tcp_syn_with_options({2, 4, 5, 0xb4});
  for (const row& r : rows) {
    CAPTURE(r.name);
    two_port_loop rig;
    auto& [pool, loop, in, out] = rig;
    auto s1 = std::make_unique<options_stage>(r.first_how, r.first);
    auto s2 = std::make_unique<options_stage>(r.second_how, verdict::forward(1));
    auto* first = s1.get();
    auto* second = s2.get();
    loop.add_stage(std::move(s1));
    loop.add_stage(std::move(s2));
    REQUIRE(in.inject(bad));
    REQUIRE(in.inject(good));  // one that walks still goes through, whatever the stages take
    loop.run_once();
    std::vector<std::uint8_t> got;
    if (r.forwarded) {
      REQUIRE(out.collect(got));
      CHECK(got == bad);
    }
    REQUIRE(out.collect(got));
    CHECK(got == good);
    CHECK_FALSE(out.collect(got));
    CHECK(first->bad_seen == r.first_sees);
    CHECK(second->bad_seen == r.second_sees);
    if (first->bad_seen) {
      CHECK(first->status == parse_status::bad_option_length);
      CHECK(first->dst_port == 80);  // the fields past the options are filled
    }
    const auto s = loop.snapshot();
    CHECK(s.malformed_for(parse_status::bad_option_length) == (r.forwarded ? 0 : 1));
    CHECK(s.drops_for(drop_reason::malformed) == (r.forwarded ? 0 : 1));
    CHECK(s.stages[0].dropped == (r.forwarded ? 0 : 1));
    CHECK(s.stages[1].seen == 1 + r.first_sees);
    CHECK(s.pool_available == s.pool_capacity);
  }
}

TEST_CASE("IPv4 options that do not walk are dropped at parse, whatever the stages take") {
  {
    buffer_pool pool(buffer_pool_config{64, 128, 2048});
    packet_loop loop(pool);
    auto a = std::make_unique<memory_port>(pool, memory_port_config{"a"});
    memory_port& in = *a;
    loop.add_port(std::move(a));
    auto st = std::make_unique<options_stage>(bad_tcp_options::take, verdict::forward(0));
    auto* taker = st.get();
    loop.add_stage(std::move(st));
    auto p = tcp_packet(0);
    p.insert(p.begin() + 20, {7, 1, 0, 0});  // record route, length 1
    p[0] = 0x46;
    store_be16(&p[2], static_cast<std::uint16_t>(p.size()));
    store_be16(&p[10], 0);
    store_be16(&p[10], internet_checksum(bytes_view(p.data(), 24)));
    REQUIRE(in.inject(p));
    loop.run_once();
    CHECK(taker->bad_seen == 0);
    CHECK(loop.snapshot().malformed_for(parse_status::bad_option_length) == 1);
  }
}

TEST_CASE("counter snapshot adds up per stage, per reason and per port") {
  memory_rig rig(3);
  rig.pass->publish(pass_through_table{}.route(0, 1));  // port 2 has no route
  for (std::uint32_t i = 0; i < 5; ++i) REQUIRE(rig.ports[0]->inject(udp_packet(i)));
  for (std::uint32_t i = 0; i < 3; ++i) REQUIRE(rig.ports[2]->inject(udp_packet(i)));
  auto bad = udp_packet(99);
  bad.resize(10);
  REQUIRE(rig.ports[0]->inject(bad));
  rig.loop.start();
  REQUIRE(await([&] { return rig.loop.snapshot().rx_packets == 9; }));
  rig.loop.stop();

  const auto s = rig.loop.snapshot();
  CHECK(s.tx_packets == 5);
  CHECK(s.drops_for(drop_reason::no_route) == 3);
  CHECK(s.drops_for(drop_reason::malformed) == 1);
  CHECK(s.malformed_for(parse_status::truncated) == 1);
  CHECK(s.total_drops() == 4);
  REQUIRE(s.stages.size() == 2);
  CHECK(s.stages[0].seen == 9);
  CHECK(s.stages[1].name == "pass_through");
  CHECK(s.stages[1].seen == 8);
  CHECK(s.stages[1].forwarded == 5);
  CHECK(s.stages[1].dropped == 3);
  REQUIRE(s.ports.size() == 3);
  CHECK(s.ports[0].name == "mem0");
  CHECK(s.ports[0].stats.rx_packets == 6);
  CHECK(s.ports[1].stats.tx_packets == 5);
  CHECK(s.ports[1].stats.tx_bytes == 5 * udp_packet(0).size());
  CHECK(s.ports[2].stats.rx_packets == 3);
  CHECK(s.pool_available == s.pool_capacity);
  CHECK(s.turns > 0);
}

namespace {
// Keeps every datagram it sees (a consuming stage) until told to give them back.
struct hoarding_stage final : stage {
  const char* name() const noexcept override { return "hoard"; }
  verdict process(packet_context& ctx) noexcept override {
    held.push_back(ctx.buffer);
    pool = ctx.pool;
    return verdict::consume();
  }
  void give_back() {
    for (auto* b : held) pool->release(b);
    held.clear();
  }
  std::vector<packet_buffer*> held;
  buffer_pool* pool = nullptr;
};
}  // namespace

TEST_CASE("buffer pool exhaustion is counted, not a crash, and nothing is lost") {
  buffer_pool pool(buffer_pool_config{4, 128, 2048});
  packet_loop loop(pool);
  auto port = std::make_unique<memory_port>(pool);
  memory_port& in = *port;
  loop.add_port(std::move(port));
  auto hoard = std::make_unique<hoarding_stage>();
  hoarding_stage& h = *hoard;
  h.held.reserve(16);
  loop.add_stage(std::move(hoard));

  for (std::uint32_t i = 0; i < 10; ++i) REQUIRE(in.inject(udp_packet(i)));
  for (int i = 0; i < 5; ++i) loop.run_once();
  auto s = loop.snapshot();
  CHECK(h.held.size() == 4);
  CHECK(s.rx_packets == 4);
  CHECK(s.pool_available == 0);
  CHECK(s.pool_exhausted >= 1);
  CHECK(s.ports[0].stats.rx_no_buffer >= 1);
  CHECK(in.pending_receive() == 6);  // still queued, not dropped

  h.give_back();
  loop.run_once();
  CHECK(loop.snapshot().rx_packets == 8);
  h.give_back();
}

TEST_CASE("stop returns promptly from an idle loop") {
  memory_rig rig(2);
  rig.loop.start();
  REQUIRE(await([&] { return rig.loop.snapshot().idle_waits > 0; }));
  const auto t0 = std::chrono::steady_clock::now();
  rig.loop.stop();
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < 200ms);  // the idle wait is at most 50 ms and the stop eventfd cuts it short
  CHECK_FALSE(rig.loop.running());
}

TEST_CASE("run_on_loop runs commands on the loop thread, between batches, and waits for them") {
  using namespace baton::net;
  buffer_pool pool{buffer_pool_config{64, 128, 2048}};
  packet_loop loop{pool};
  loop.add_port(std::make_unique<memory_port>(pool));
  // Not running: the command runs on the caller's thread.
  std::thread::id ran_on;
  loop.run_on_loop([&] { ran_on = std::this_thread::get_id(); });
  bool on_caller = ran_on == std::this_thread::get_id();
  CHECK(on_caller);
  loop.start();
  for (int i = 0; i < 20; ++i) {
    CAPTURE(i);
    std::thread::id where;
    loop.run_on_loop([&] { where = std::this_thread::get_id(); });
    bool on_loop_thread = where != std::this_thread::get_id();
    CHECK(on_loop_thread);
  }
  CHECK_THROWS_AS(loop.run_on_loop([] { throw std::runtime_error("from the loop"); }),
                  std::runtime_error);
  loop.stop();
}

TEST_CASE("post returns at once while the loop is busy; commands run in order on the loop thread") {
  // What actors rely on: a control thread never waits for the loop (a blocking call here would
  // hang this test, since the loop is held until after the posts return).
  using namespace baton::net;
  buffer_pool pool{buffer_pool_config{64, 128, 2048}};
  packet_loop loop{pool};
  loop.add_port(std::make_unique<memory_port>(pool));
  loop.start();
  CHECK(loop.running());
  std::promise<void> release;
  auto held = release.get_future().share();
  std::atomic<bool> holding{false};
  loop.post([held, &holding] {
    holding = true;
    held.wait();  // the loop thread is busy until the test lets it go
  });
  std::vector<int> order;  // written by the loop thread only, read after stop()
  std::set<std::thread::id> threads;
  for (int i = 0; i < 5; ++i)
    loop.post([i, &order, &threads] {
      order.push_back(i);
      threads.insert(std::this_thread::get_id());
    });
  // All five posts returned while the loop is still held by the first command.
  loop.post([] { throw std::runtime_error("counted, not lost"); });
  release.set_value();
  loop.stop();  // runs what the thread had not reached yet, then joins
  CHECK(holding.load());
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
  CHECK(threads.size() == 1);
  CHECK(threads.count(std::this_thread::get_id()) == 0);
  CHECK(loop.snapshot().command_errors == 1);
  CHECK_FALSE(loop.running());
  // Stopped: post runs the command here, before returning.
  bool ran = false;
  loop.post([&ran] { ran = true; });
  CHECK(ran);
}

namespace {

// A stage that holds nothing but says when it would next release, and counts its pumps.
struct timed_stage final : stage {
  const char* name() const noexcept override { return "timed"; }
  verdict process(packet_context&) noexcept override { return verdict::next(); }
  std::size_t pump(std::uint64_t now_ns) noexcept override {
    if (now_ns < last_now) went_back = true;
    last_now = now_ns;
    pumps.fetch_add(1, std::memory_order_relaxed);
    return sends;
  }
  std::uint64_t next_pump_ns(std::uint64_t) noexcept override { return next; }

  std::uint64_t next = UINT64_MAX;
  std::size_t sends = 0;            // what pump() claims its port took
  std::uint64_t last_now = 0;
  bool went_back = false;
  std::atomic<std::uint64_t> pumps{0};
};

}  // namespace

TEST_CASE("stages are pumped every turn, arrivals or not; what they send counts as tx") {
  memory_rig rig(2);
  auto s = std::make_unique<timed_stage>();
  timed_stage& timed = *s;
  timed.sends = 2;
  rig.loop.add_stage(std::move(s));
  for (int i = 1; i <= 3; ++i) {
    CAPTURE(i);
    CHECK(rig.loop.run_once() == 0);  // nothing arrived
    CHECK(timed.pumps.load() == std::uint64_t(i));
    CHECK(rig.loop.snapshot().tx_packets == std::uint64_t(2 * i));
  }
  CHECK(timed.last_now > 0);
  CHECK_FALSE(timed.went_back);
}

TEST_CASE("the soonest next_pump_ns bounds the idle wait") {
  struct row {
    const char* name;
    std::uint64_t next;
  };
  const std::vector<row> rows = {
      {"nothing held: the whole idle wait", UINT64_MAX},
      {"due in 200 us: sub-millisecond sleeps", 200'000},
      {"due now: no sleep at all", 0},
  };
  constexpr auto idle = 5ms;
  constexpr std::uint64_t waits = 20;
  for (const auto& r : rows) {
    CAPTURE(r.name);
    buffer_pool pool{buffer_pool_config{64, 128, 2048}};
    packet_loop loop{pool, packet_loop_config{max_batch_size, idle, true}};
    loop.add_port(std::make_unique<memory_port>(pool));
    auto s = std::make_unique<timed_stage>();
    timed_stage& timed = *s;
    timed.next = r.next;
    loop.add_stage(std::move(s));
    const auto t0 = std::chrono::steady_clock::now();
    loop.start();
    if (r.next == 0) {
      REQUIRE(await([&] { return loop.snapshot().turns >= 2000; }));
      loop.stop();
      CHECK(loop.snapshot().idle_waits == 0);
      CHECK(timed.pumps.load() >= 2000);
      continue;
    }
    // idle_waits counts a wait when it begins: waits + 1 means `waits` have ended.
    REQUIRE(await([&] { return loop.snapshot().idle_waits >= waits + 1; }));
    const auto took = std::chrono::steady_clock::now() - t0;
    loop.stop();
    const auto least = r.next == UINT64_MAX ? waits * idle : waits * std::chrono::nanoseconds(r.next);
    CHECK(took >= least);  // a wait never ends early: nothing arrives and nobody signals
    if (r.next != UINT64_MAX) CHECK(took < waits * idle);  // but it is cut to the next release
  }
}
