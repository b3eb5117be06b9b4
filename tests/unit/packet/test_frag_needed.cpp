// ICMP fragmentation needed written over a tunnel datagram too long for its port
// (net/packet/frag_needed.hpp): what is answered, to whom, and what never is.

#include <doctest/doctest.h>

#include <vector>

#include "net/packet/checksum.hpp"
#include "net/packet/frag_needed.hpp"
#include "net/packet/icmp.hpp"
#include "net/packet/ipip.hpp"
#include "net/packet/ipv4.hpp"
#include "tests/bench/bench_packets.hpp"

using namespace baton::net;
using baton::bench::ip4;
using baton::bench::tcp_datagram;

namespace {

const std::uint32_t client = ip4(10, 40, 0, 2), server = ip4(10, 200, 1, 1), slr = ip4(10, 30, 0, 1),
                    host = ip4(10, 31, 0, 2);

std::vector<std::uint8_t> tunnelled(std::vector<std::uint8_t> inner, bool df) {
  if (df) inner[6] |= 0x40;
  else inner[6] &= static_cast<std::uint8_t>(~0x40);
  inner[10] = inner[11] = 0;
  store_be16(inner.data() + 10, internet_checksum(bytes_view(inner.data(), 20)));
  std::vector<std::uint8_t> out(20 + inner.size());
  std::copy(inner.begin(), inner.end(), out.begin() + 20);
  bytes_span outer;
  REQUIRE(ipip_encapsulate(bytes_span(out.data(), out.size()), 20, ipip_tunnel{slr, host, 64, 1}, outer) ==
          edit_status::ok);
  return out;
}

}  // namespace

TEST_CASE("a tunnel datagram too long for its port becomes ICMP fragmentation needed to its sender") {
  auto packet = tunnelled(tcp_datagram(client, server, 40000, 80, 1234, 1, 0x10, 1460), true);
  REQUIRE(packet.size() == 1520);
  std::size_t length = 0;
  REQUIRE(make_frag_needed(bytes_span(packet.data(), packet.size()), 1500, length) == frag_needed_result::made);
  const bytes_view out(packet.data(), length);
  const ipv4_view ip(out);
  REQUIRE(ip.validate() == parse_status::ok);
  CHECK(ipv4_header_checksum_ok(out));
  CHECK(ip.protocol() == ip_protocol_icmp);
  CHECK(ip.src() == slr);
  CHECK(ip.dst() == client);
  CHECK(length == 20 + 8 + 20 + 8);
  const icmp_view icmp(out.sub(20));
  REQUIRE(icmp.validate() == parse_status::ok);
  CHECK(icmp.checksum_ok());
  CHECK(icmp.is_fragmentation_needed());
  CHECK(icmp.next_hop_mtu() == 1480);
  icmp_quoted q;
  REQUIRE(icmp.quoted(q) == parse_status::ok);
  CHECK(q.ip.src() == client);
  CHECK(q.ip.dst() == server);
  CHECK(q.src_port == 40000);
  CHECK(q.has_tcp_seq);
  CHECK(q.tcp_seq == 1234);
}

TEST_CASE("what is never answered with fragmentation needed") {
  struct row {
    const char* what;
    std::vector<std::uint8_t> packet;
    frag_needed_result expected;
  };
  auto cut = [](std::vector<std::uint8_t> p, std::size_t n) {
    p.resize(n);
    return p;
  };
  auto icmp_error = tcp_datagram(client, server, 0, 0, 0, 0, 0, 100);
  icmp_error[9] = ip_protocol_icmp;
  icmp_error[20] = icmp_destination_unreachable;
  const row rows[] = {
    {"DF clear: the datagram may be fragmented", tunnelled(tcp_datagram(client, server, 1, 80, 1, 1, 0x10, 1460), false),
     frag_needed_result::may_fragment},
    {"not IP-in-IP", tcp_datagram(client, server, 1, 80, 1, 1, 0x10, 1480), frag_needed_result::not_tunnelled},
    {"an ICMP error inside", tunnelled(icmp_error, true), frag_needed_result::is_icmp_error},
    {"a truncated inner header", cut(tunnelled(tcp_datagram(client, server, 1, 80, 1, 1, 0x10, 0), true), 30),
     frag_needed_result::not_tunnelled},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    auto p = r.packet;
    std::size_t length = 0;
    CHECK(make_frag_needed(bytes_span(p.data(), p.size()), 1500, length) == r.expected);
  }
}
