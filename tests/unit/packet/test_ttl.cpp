// A router's hop (net/packet/ttl.hpp): TTL down by one with the checksum kept right, and ICMP time
// exceeded written into the headroom, with what is never answered.

#include <doctest/doctest.h>

#include <vector>

#include "net/packet/checksum.hpp"
#include "net/packet/icmp.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/ttl.hpp"
#include "tests/bench/bench_packets.hpp"

using namespace baton::net;
using baton::bench::ip4;
using baton::bench::tcp_datagram;

namespace {

const std::uint32_t client = ip4(10, 40, 0, 2), server = ip4(10, 200, 1, 1), router = ip4(10, 40, 0, 100);

void set_header(std::vector<std::uint8_t>& p, std::uint8_t ttl, std::uint16_t frag = 0x4000) {
  p[8] = ttl;
  store_be16(p.data() + 6, frag);
  store_be16(p.data() + 10, 0);
  store_be16(p.data() + 10, internet_checksum(bytes_view(p.data(), 20)));
}

}  // namespace

TEST_CASE("decrement_ttl lowers the TTL by one and keeps the header checksum right") {
  for (std::uint8_t ttl : {255, 64, 2, 1, 0}) {
    CAPTURE(int(ttl));
    auto p = tcp_datagram(client, server, 40000, 80, 1, 1, 0x10, 100);
    set_header(p, ttl);
    const auto before = p;
    const ttl_result r = decrement_ttl(bytes_span(p.data(), p.size()));
    if (ttl <= 1) {
      CHECK(r == ttl_result::expired);
      CHECK(p == before);
    } else {
      CHECK(r == ttl_result::decremented);
      CHECK(p[8] == ttl - 1);
      CHECK(ipv4_header_checksum_ok(bytes_view(p.data(), p.size())));
    }
  }
}

TEST_CASE("make_time_exceeded answers the sender from the router, quoting the header and 8 bytes") {
  constexpr std::size_t headroom = 64;
  struct row {
    const char* name;
    std::uint32_t src;
    std::uint16_t frag;          // flags and offset
    int icmp_type;               // -1: TCP
    std::size_t headroom;
    edit_status expected;
  };
  const row rows[] = {
    {"a TCP segment", client, 0x4000, -1, headroom, edit_status::ok},
    {"a first fragment", client, 0x2000, -1, headroom, edit_status::ok},
    {"an echo request", client, 0x4000, icmp_echo, headroom, edit_status::ok},
    {"a later fragment: never", client, 0x2010, -1, headroom, edit_status::unsupported},
    {"an ICMP error: never", client, 0x4000, icmp_destination_unreachable, headroom, edit_status::unsupported},
    {"a multicast source: never", ip4(224, 0, 0, 5), 0x4000, -1, headroom, edit_status::unsupported},
    {"a source of 0: never", 0, 0x4000, -1, headroom, edit_status::unsupported},
    {"no headroom for 28 bytes", client, 0x4000, -1, 20, edit_status::no_room},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    auto dgram = tcp_datagram(r.src, server, 40000, 80, 1, 1, 0x10, 100);
    if (r.icmp_type >= 0) {
      dgram[9] = ip_protocol_icmp;
      dgram[20] = static_cast<std::uint8_t>(r.icmp_type);
    }
    set_header(dgram, 1, r.frag);
    std::vector<std::uint8_t> storage(r.headroom, 0);
    storage.insert(storage.end(), dgram.begin(), dgram.end());
    const auto before = storage;
    bytes_span out;
    const edit_status s =
      make_time_exceeded(bytes_span(storage.data(), storage.size()), r.headroom, dgram.size(), router, out);
    CHECK(s == r.expected);
    if (s != edit_status::ok) {
      CHECK(storage == before);
      continue;
    }
    REQUIRE(out.size == 20 + 8 + 20 + 8);
    const bytes_view v(out.data, out.size);
    const ipv4_view ip(v);
    REQUIRE(ip.validate() == parse_status::ok);
    CHECK(ip.src() == router);
    CHECK(ip.dst() == r.src);
    CHECK(ip.protocol() == ip_protocol_icmp);
    CHECK(out.data[20] == icmp_time_exceeded);
    CHECK(out.data[21] == icmp_ttl_exceeded_in_transit);
    CHECK(internet_checksum(v.sub(20)) == 0);
    CHECK(std::equal(out.data + 28, out.data + out.size, dgram.begin()));
  }
}
