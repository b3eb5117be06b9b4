// parse_fields against scapy's decoding; to_string names.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "net/packet/packet_fields.hpp"
#include "tests/unit/packet/vectors.hpp"

using namespace baton::net;
using namespace baton::net::test;

TEST_CASE("parse_fields fills every field as scapy decodes the packet") {
  int n = 0;
  for (const auto& v : vectors()) {
    if (v.layer != "ip") continue;
    CAPTURE(v.name);
    ++n;
    const auto& e = v.j["expect"];
    const auto& ip = e["ip"];
    packet_fields f;
    REQUIRE(parse_fields(v.bytes, f) == parse_status::ok);
    CHECK(f.src == addr(ip["src"]));
    CHECK(f.dst == addr(ip["dst"]));
    CHECK(f.protocol == ip["proto"].get<int>());
    CHECK(f.dscp == (ip["tos"].get<int>() >> 2));
    CHECK(f.fragment == (ip["mf"].get<bool>() || ip["frag"].get<int>() != 0));
    CHECK(f.first_fragment == (ip["frag"].get<int>() == 0));
    CHECK(f.ip_header_len == 4 * ip["ihl"].get<int>());
    CHECK(f.total_len == ip["len"].get<int>());
    if (e.contains("tcp")) {
      const auto& t = e["tcp"];
      CHECK(f.src_port == t["sport"].get<int>());
      CHECK(f.dst_port == t["dport"].get<int>());
      CHECK(f.tcp_flags == t["flags"].get<int>());
      CHECK(f.l4_header_len == 4 * t["dataofs"].get<int>());
      std::uint64_t bits = 0;
      for (int k : t["option_kinds"]) bits |= tcp_option_bit(static_cast<std::uint8_t>(k));
      CHECK(f.tcp_options == bits);
    } else if (e.contains("udp")) {
      CHECK(f.src_port == e["udp"]["sport"].get<int>());
      CHECK(f.dst_port == e["udp"]["dport"].get<int>());
      CHECK(f.tcp_flags == 0);
      CHECK(f.l4_header_len == 8);
      CHECK(f.tcp_options == 0);
    } else {
      CHECK(f.src_port == 0);
      CHECK(f.dst_port == 0);
      CHECK(f.tcp_flags == 0);
    }
  }
  CHECK(n >= 15);
}

TEST_CASE("parse_fields resets its output") {
  packet_fields f;
  REQUIRE(parse_fields(vec("tcp_data_sack").bytes, f) == parse_status::ok);
  REQUIRE(f.src_port != 0);
  REQUIRE(parse_fields(vec("icmp_echo_request").bytes, f) == parse_status::ok);
  CHECK(f.src_port == 0);
  CHECK(f.tcp_options == 0);
  CHECK(f.tcp_flags == 0);
}

TEST_CASE("tcp_option_bit: kinds >= 63 share the last bit") {
  CHECK(tcp_option_bit(2) == (std::uint64_t{1} << 2));
  CHECK(tcp_option_bit(63) == tcp_option_bit(253));
  packet_fields f;
  REQUIRE(parse_fields(vec("tcp_unknown_option").bytes, f) == parse_status::ok);
  CHECK(f.tcp_options == tcp_option_bit(30));
}

TEST_CASE("to_string(parse_status) names every status once") {
  const char* expected[] = {"ok",          "truncated",         "bad_version",
                            "bad_ihl",     "bad_total_length",  "bad_data_offset",
                            "bad_option_length", "bad_length",  "bad_checksum",
                            "unsupported", "fragment", "bad_l4_checksum"};
  static_assert(sizeof expected / sizeof *expected == parse_status_count);
  std::set<std::string> seen;
  for (std::size_t i = 0; i < parse_status_count; ++i) {
    CAPTURE(i);
    CHECK(std::string(to_string(static_cast<parse_status>(i))) == expected[i]);
    seen.insert(to_string(static_cast<parse_status>(i)));
  }
  CHECK(seen.size() == parse_status_count);
}
