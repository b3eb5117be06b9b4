// IP-in-IP (RFC 2003) against scapy's encapsulated packets, and round trips.
#include <algorithm>
#include <doctest/doctest.h>

#include <cstring>

#include "net/packet/checksum.hpp"
#include "net/packet/ipip.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/packet_fields.hpp"
#include "tests/unit/packet/vectors.hpp"

using namespace baton::net;
using namespace baton::net::test;

namespace {
ipip_tunnel tunnel_of(const nlohmann::json& t) {
  ipip_tunnel tun;
  tun.src = addr(t["src"]);
  tun.dst = addr(t["dst"]);
  tun.ttl = t["ttl"];
  tun.identification = t["id"];
  return tun;
}
}  // namespace

TEST_CASE("ipip_decapsulate yields scapy's inner datagram") {
  for (const char* name : {"ipip_tcp", "ipip_udp_no_df"}) {
    const std::string captured_name = name;
    CAPTURE(captured_name);
    const auto& v = vec(name);
    bytes_view inner;
    REQUIRE(ipip_decapsulate(v.bytes, inner) == parse_status::ok);
    CHECK(byte_vector(inner.begin(), inner.end()) == from_hex(v.j["inner_hex"]));
    CHECK(inner.data == v.bytes.data() + 20);  // a view, not a copy

    byte_vector w = v.bytes;
    bytes_span winner;
    REQUIRE(ipip_decapsulate(bytes_span(w), winner) == parse_status::ok);
    CHECK(winner.data == w.data() + 20);
  }
}

TEST_CASE("ipip_encapsulate prepends into headroom exactly what scapy builds") {
  for (const char* name : {"ipip_tcp", "ipip_udp_no_df"}) {
    for (std::size_t headroom : {std::size_t{20}, std::size_t{64}}) {
      const std::string captured_name = name;
      CAPTURE(captured_name);
      CAPTURE(headroom);
      const auto& v = vec(name);
      const byte_vector inner = from_hex(v.j["inner_hex"]);
      byte_vector buf(headroom + inner.size() + 8, 0xcc);
      std::memcpy(buf.data() + headroom, inner.data(), inner.size());
      bytes_span outer;
      REQUIRE(ipip_encapsulate(buf, headroom, tunnel_of(v.j["tunnel"]), outer) == edit_status::ok);
      CHECK(outer.data == buf.data() + headroom - 20);
      CHECK(byte_vector(outer.begin(), outer.end()) == v.bytes);
      CHECK(ipv4_header_checksum_ok(outer));

      // And back: decapsulation gives the original inner bytes.
      bytes_view back;
      REQUIRE(ipip_decapsulate(bytes_view(outer), back) == parse_status::ok);
      CHECK(byte_vector(back.begin(), back.end()) == inner);
    }
  }
}

TEST_CASE("ipip round trip over every IP vector") {
  ipip_tunnel tun;
  tun.src = addr("10.200.0.1");
  tun.dst = addr("10.200.0.2");
  for (const auto& v : vectors()) {
    if (v.layer != "ip") continue;
    CAPTURE(v.name);
    const ipv4_view in(v.bytes);
    REQUIRE(in.validate() == parse_status::ok);
    byte_vector buf(32 + v.bytes.size());
    std::memcpy(buf.data() + 32, v.bytes.data(), v.bytes.size());
    bytes_span outer;
    REQUIRE(ipip_encapsulate(buf, 32, tun, outer) == edit_status::ok);
    const ipv4_view out(outer);
    REQUIRE(out.validate() == parse_status::ok);
    CHECK(out.tos() == in.tos());
    CHECK(out.dont_fragment() == in.dont_fragment());
    CHECK_FALSE(out.is_fragment());
    CHECK(out.protocol() == ip_protocol_ipip);
    CHECK(out.ttl() == ipip_default_ttl);
    bytes_view back;
    REQUIRE(ipip_decapsulate(bytes_view(outer), back) == parse_status::ok);
    CHECK(byte_vector(back.begin(), back.end()) == v.bytes);
  }
}

TEST_CASE("ipip refusals") {
  const auto& v = vec("ipip_tcp");
  const byte_vector inner = from_hex(v.j["inner_hex"]);
  ipip_tunnel tun;
  bytes_span outer;
  {
    byte_vector buf(19 + inner.size());
    std::copy(inner.begin(), inner.end(), buf.begin() + 19);
    const byte_vector before = buf;
    CHECK(ipip_encapsulate(buf, 19, tun, outer) == edit_status::no_room);
    CHECK(buf == before);
  }
  {
    byte_vector buf(20 + inner.size());
    std::copy(inner.begin(), inner.end(), buf.begin() + 20);
    buf[20] = 0x65;  // not IPv4
    CHECK(ipip_encapsulate(buf, 20, tun, outer) == edit_status::malformed);
    CHECK(ipip_encapsulate(buf, buf.size() + 1, tun, outer) == edit_status::no_room);
  }
  struct row {
    const char* name;
    void (*mutate)(byte_vector&);
    parse_status expected;
  };
  const row rows[] = {
      {"untouched", [](byte_vector&) {}, parse_status::ok},
      {"outer checksum wrong", [](byte_vector& b) { b[10] ^= 1; }, parse_status::bad_checksum},
      {"outer protocol 6",
       [](byte_vector& b) {
         b[9] = 6;
         ipv4_mutable_view(b).recompute_checksum();
       },
       parse_status::unsupported},
      {"outer is a fragment",
       [](byte_vector& b) {
         b[6] |= 0x20;  // MF
         ipv4_mutable_view(b).recompute_checksum();
       },
       parse_status::fragment},
      {"inner version 6", [](byte_vector& b) { b[20] = 0x65; }, parse_status::bad_version},
      {"inner total length too long", [](byte_vector& b) { b[23] += 1; }, parse_status::bad_total_length},
      {"outer cut", [](byte_vector& b) { b.resize(30); }, parse_status::bad_total_length},
  };
  for (const auto& r : rows) {
    const std::string captured_name = r.name;
    CAPTURE(captured_name);
    byte_vector b = v.bytes;
    r.mutate(b);
    bytes_view in;
    CHECK(ipip_decapsulate(b, in) == r.expected);
  }
  // The checksum check can be left to the caller.
  byte_vector b = v.bytes;
  b[10] ^= 1;
  bytes_view in;
  CHECK(ipip_decapsulate(b, in, false) == parse_status::ok);
}

TEST_CASE("ipip_decapsulate_checked: the inner datagram's own checksums decide, the outer's is the loop's") {
  const auto& v = vec("ipip_tcp");
  struct row {
    const char* name;
    void (*mutate)(byte_vector&);
    parse_status expected;
  };
  const row rows[] = {
      {"untouched", [](byte_vector&) {}, parse_status::ok},
      {"outer checksum wrong (the loop's parse step checks it)", [](byte_vector& b) { b[10] ^= 1; },
       parse_status::ok},
      {"inner IPv4 checksum wrong", [](byte_vector& b) { b[30] ^= 1; }, parse_status::bad_checksum},
      {"inner TCP checksum wrong", [](byte_vector& b) { b[20 + (b[20] & 0x0fu) * 4u + 16] ^= 1; },
       parse_status::bad_l4_checksum},
      {"inner version 6", [](byte_vector& b) { b[20] = 0x65; }, parse_status::bad_version},
  };
  for (const auto& r : rows) {
    const std::string captured_name = r.name;
    CAPTURE(captured_name);
    byte_vector b = v.bytes;
    r.mutate(b);
    bytes_span in;
    packet_fields f;
    CHECK(ipip_decapsulate_checked(b, in, &f) == r.expected);
    CHECK(ipip_decapsulate_checked(b, in) == r.expected);
    if (r.expected == parse_status::ok) {
      CHECK(in.data == b.data() + 20);
      CHECK(f.protocol == ip_protocol_tcp);
      CHECK(f.src == ipv4_view(in).src());
    }
  }
}
