// udp_view and icmp_view against scapy, including the datagram quoted by ICMP errors.
#include <doctest/doctest.h>

#include "net/packet/icmp.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/udp.hpp"
#include "tests/unit/packet/vectors.hpp"

using namespace baton::net;
using namespace baton::net::test;

TEST_CASE("udp_view fields equal scapy's") {
  int n = 0;
  for (const auto& v : vectors()) {
    if (v.layer != "ip" || !v.j["expect"].contains("udp")) continue;
    CAPTURE(v.name);
    ++n;
    const auto& e = v.j["expect"]["udp"];
    const ipv4_view ip(v.bytes);
    REQUIRE(ip.validate() == parse_status::ok);
    const udp_view udp(ip.payload());
    REQUIRE(udp.validate_header() == parse_status::ok);
    // A first fragment holds only part of what the UDP length covers.
    CHECK(udp.validate() == (ip.is_fragment() ? parse_status::bad_length : parse_status::ok));
    CHECK(udp.src_port() == e["sport"].get<int>());
    CHECK(udp.dst_port() == e["dport"].get<int>());
    CHECK(udp.length() == e["len"].get<int>());
    CHECK(udp.checksum() == e["chksum"].get<int>());
    if (!ip.is_fragment()) CHECK(udp.payload().size == e["len"].get<std::size_t>() - 8);
  }
  CHECK(n >= 4);
}

TEST_CASE("udp_view length validation") {
  struct row {
    const char* name;
    std::uint16_t length_field;
    std::size_t present;
    parse_status expected;
  };
  const row rows[] = {
      {"exact", 12, 12, parse_status::ok},
      {"trailing bytes ignored", 10, 12, parse_status::ok},
      {"header only", 8, 8, parse_status::ok},
      {"length below header", 7, 12, parse_status::bad_length},
      {"length zero", 0, 12, parse_status::bad_length},
      {"length past the bytes", 13, 12, parse_status::bad_length},
      {"short of a header", 8, 7, parse_status::truncated},
  };
  for (const auto& r : rows) {
    const std::string captured_name = r.name;
    CAPTURE(captured_name);
    byte_vector b(r.present, 0);
    if (b.size() >= 6) store_be16(b.data() + 4, r.length_field);
    CHECK(udp_view(b).validate() == r.expected);
  }
}

TEST_CASE("icmp_view: echo, unreachable, time exceeded, source quench") {
  int n = 0;
  for (const auto& v : vectors()) {
    if (v.layer != "ip" || !v.j["expect"].contains("icmp")) continue;
    CAPTURE(v.name);
    ++n;
    const auto& e = v.j["expect"]["icmp"];
    const ipv4_view ip(v.bytes);
    REQUIRE(ip.validate() == parse_status::ok);
    const icmp_view icmp(ip.payload());
    REQUIRE(icmp.validate() == parse_status::ok);
    CHECK(icmp.type() == e["type"].get<int>());
    CHECK(icmp.code() == e["code"].get<int>());
    CHECK(icmp.checksum() == e["chksum"].get<int>());
    CHECK(icmp.checksum_ok());
    if (e.contains("id")) {
      CHECK(icmp.is_echo());
      CHECK(icmp.identifier() == e["id"].get<int>());
      CHECK(icmp.sequence() == e["seq"].get<int>());
    }
    if (e.contains("nexthopmtu")) {
      CHECK(icmp.is_fragmentation_needed());
      CHECK(icmp.next_hop_mtu() == e["nexthopmtu"].get<int>());
    }
    icmp_quoted q;
    if (!v.j.contains("quoted")) {
      CHECK_FALSE(icmp.is_error());
      CHECK(icmp.quoted(q) == parse_status::unsupported);
      continue;
    }
    CHECK(icmp.is_error());
    const auto& qe = v.j["quoted"];
    REQUIRE(icmp.quoted(q) == parse_status::ok);
    CHECK(q.ip.src() == addr(qe["src"]));
    CHECK(q.ip.dst() == addr(qe["dst"]));
    CHECK(q.ip.protocol() == qe["proto"].get<int>());
    CHECK(q.ip.checksum_ok());
    REQUIRE(q.has_ports);
    CHECK(q.src_port == qe["sport"].get<int>());
    CHECK(q.dst_port == qe["dport"].get<int>());
    CHECK(q.has_tcp_seq == qe.contains("seq"));
    if (qe.contains("seq")) CHECK(q.tcp_seq == qe["seq"].get<std::uint32_t>());
    CHECK(q.transport.size >= 8);
  }
  CHECK(n >= 6);
}

TEST_CASE("icmp quoted datagram: malformed rows") {
  const auto& v = vec("icmp_frag_needed_tcp");
  const ipv4_view ip(v.bytes);
  REQUIRE(ip.validate() == parse_status::ok);
  const byte_vector msg(ip.payload().begin(), ip.payload().end());  // 8 + 28 bytes
  struct row {
    const char* name;
    std::size_t keep;        // bytes of the ICMP message kept
    int version_ihl;         // replaces the quoted header's first byte when >= 0
    parse_status expected;
    bool ports;
  };
  const row rows[] = {
      {"whole", msg.size(), -1, parse_status::ok, true},
      {"quote without transport bytes", 28, -1, parse_status::ok, false},
      {"quote with 4 transport bytes", 32, -1, parse_status::ok, true},
      {"quote cut inside the header", 20, -1, parse_status::truncated, false},
      {"no quote", 8, -1, parse_status::truncated, false},
      {"quoted version 6", msg.size(), 0x65, parse_status::bad_version, false},
      {"quoted ihl 4", msg.size(), 0x44, parse_status::bad_ihl, false},
      {"quoted ihl past the quote", msg.size(), 0x4f, parse_status::bad_ihl, false},
  };
  for (const auto& r : rows) {
    const std::string captured_name = r.name;
    CAPTURE(captured_name);
    byte_vector b(msg.begin(), msg.begin() + static_cast<long>(r.keep));
    if (r.version_ihl >= 0) b[8] = static_cast<std::uint8_t>(r.version_ihl);
    const icmp_view icmp(b);
    REQUIRE(icmp.validate() == parse_status::ok);
    icmp_quoted q;
    CHECK(icmp.quoted(q) == r.expected);
    CHECK(q.has_ports == r.ports);
    CHECK(q.has_tcp_seq == (r.ports && r.keep >= 36));
  }
  CHECK(icmp_view(bytes_view(msg.data(), 7)).validate() == parse_status::truncated);
}
