// The server gateway stage (document 002, Figure 3): a tagged start packet from a known client
// gateway's clients goes to the origin and, encapsulated, to every active replica (bounded);
// anything else goes to the origin only, and the reason is counted.

#include <doctest/doctest.h>

#include "net/packet/checksum.hpp"

#include <string>

#include "net/classify/classify_stage.hpp"
#include "net/replica/server_gateway_stage.hpp"
#include "policy/policy.hpp"
#include "tests/unit/replica/replica_rig.hpp"

namespace baton::net::test {
namespace {

constexpr port_id tun = 0, origin = 1, tunnel = 2;

std::unique_ptr<server_gateway_table> table_of(std::size_t max_fanout = 8) {
  auto t = std::make_unique<server_gateway_table>();
  t->servers.push_back({server, {{r1, replica_health::active}, {r2, replica_health::active},
                                 {r3, replica_health::active}}});
  t->gateways.push_back({cgw_addr, ip4(10, 1, 0, 0), 0xffffff00u});
  t->max_fanout = max_fanout;
  return t;
}

struct sgw_rig : rig {
  explicit sgw_rig(std::unique_ptr<server_gateway_table> t = table_of(), bool pass_bad_options = false)
      : rig({"tun", "origin", "ipip"}) {
    // As the role builds it: classify (no rules), then the server gateway.
    loop.add_stage(std::make_unique<classify_stage>(loop.epoch(), std::make_unique<classify_table>()));
    server_gateway_config c;
    c.pass_bad_options = pass_bad_options;
    c.from_clients = tun;
    c.to_origin = origin;
    c.tunnel = ports[tunnel];
    c.self = sgw_addr;
    auto s = std::make_unique<server_gateway_stage>(loop.epoch(), c, std::move(t));
    stage = s.get();
    loop.add_stage(std::move(s));
  }
  server_gateway_stage* stage = nullptr;
};

bytes tagged_syn(std::uint32_t src, std::uint32_t gateway = cgw_addr, bool permitted = true,
                 std::uint32_t dst = server, std::uint16_t sport = 40000) {
  bytes p = syn_with_mss(src, dst, sport, 80);
  std::uint8_t option[replica_tag_length];
  write_replica_tag(bytes_span(option, sizeof option), {permitted, gateway});
  std::size_t len = p.size();
  p.resize(200);
  REQUIRE(tcp_add_option(bytes_span(p.data(), p.size()), len, bytes_view(option, sizeof option)) ==
          edit_status::ok);
  p.resize(len);
  return p;
}

}  // namespace

TEST_CASE("server gateway: fan-out by table") {
  struct row {
    std::string name;
    bytes packet;
    std::vector<std::uint32_t> copies_to;
  };
  const std::uint32_t other_server = ip4(10, 3, 0, 99);
  const row rows[] = {
    {"tagged, known gateway, its client", tagged_syn(client), {r1, r2, r3}},
    {"untagged", syn_with_mss(client, server, 40000, 80), {}},
    {"tag from an unknown gateway", tagged_syn(client, ip4(10, 2, 0, 77)), {}},
    {"known gateway, source outside its clients", tagged_syn(ip4(10, 2, 0, 99)), {}},
    {"redirect not permitted", tagged_syn(client, cgw_addr, false), {}},
    {"server without replicas", tagged_syn(client, cgw_addr, true, other_server), {}},
    {"not a start packet", tcp_segment(client, server, 40000, 80, ack), {}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    sgw_rig g;
    auto out = g.send(tun, r.packet);
    REQUIRE(out[origin].size() == 1);
    CHECK(out[origin][0] == r.packet);  // the origin gets it unchanged
    REQUIRE(out[tunnel].size() == r.copies_to.size());
    for (std::size_t i = 0; i < r.copies_to.size(); ++i)
      CHECK(unwrap(out[tunnel][i], sgw_addr, r.copies_to[i]) == r.packet);
    const auto c = g.stage->counters();
    CHECK(c.copies == r.copies_to.size());
  }
  sgw_rig g;
  g.send(tun, tagged_syn(ip4(10, 2, 0, 99)));
  CHECK(g.stage->counters().untrusted_tags == 1);
}

TEST_CASE("server gateway: busy and dead replicas get nothing, the fan-out is bounded") {
  auto t = table_of(1);
  t->servers[0].replicas[0].health = replica_health::dead;
  t->servers[0].replicas[1].health = replica_health::busy;
  sgw_rig g(std::move(t));
  auto out = g.send(tun, tagged_syn(client));
  REQUIRE(out[tunnel].size() == 1);
  unwrap(out[tunnel][0], sgw_addr, r3);
  CHECK(g.stage->counters().skipped_unhealthy == 2);

  sgw_rig capped(table_of(2));
  out = capped.send(tun, tagged_syn(client));
  CHECK(out[tunnel].size() == 2);
  CHECK(capped.stage->counters().fanout_capped == 1);

  // A new table (a replica marked dead, e.g. by a report) takes effect at once.
  auto next = table_of();
  next->servers[0].replicas[0].health = replica_health::dead;
  capped.stage->publish(std::move(next));
  out = capped.send(tun, tagged_syn(client, cgw_addr, true, server, 40001));
  REQUIRE(out[tunnel].size() == 2);
  unwrap(out[tunnel][0], sgw_addr, r2);
  unwrap(out[tunnel][1], sgw_addr, r3);
}

TEST_CASE("server gateway: TCP options that do not walk are dropped, or passed to the origin only") {
  auto garbled = [](bytes p) {
    p[41] = 1;  // the MSS option's length octet: the option area does not walk
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
    bool pass;  // policy /replica/bad_options
    bytes packet;
  };
  const row rows[] = {
    {"drop: a tagged start packet", false, garbled(tagged_syn(client))},
    {"pass: a tagged start packet reaches the origin untouched, no replica", true, garbled(tagged_syn(client))},
    {"pass: an untagged start packet", true, garbled(syn_with_mss(client, server, 40000, 80))},
    {"pass: a segment to a server without replicas", true, garbled(syn_with_mss(client, r3, 40000, 443))},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    sgw_rig g(table_of(), r.pass);
    auto out = g.send(tun, r.packet);
    CHECK(out[tunnel].empty());
    const auto c = g.stage->counters();
    CHECK(c.copies == 0);
    if (r.pass) {
      REQUIRE(out[origin].size() == 1);
      CHECK(out[origin][0] == r.packet);
      CHECK(c.bad_options == 1);
      CHECK(g.loop.snapshot().malformed_for(parse_status::bad_option_length) == 0);
    } else {
      CHECK(out[origin].empty());
      CHECK(c.bad_options == 0);
      CHECK(g.loop.snapshot().malformed_for(parse_status::bad_option_length) == 1);
    }
  }
}

TEST_CASE("server gateway: the origin's answers are not ours") {
  sgw_rig g;
  auto out = g.send(origin, syn_ack_of(server, client, 80, 40000, 1000));
  CHECK(out[tun].empty());
  CHECK(out[origin].empty());
}

}  // namespace baton::net::test
