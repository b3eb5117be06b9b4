// ipv4_view fields against scapy's decoding; setters keep the checksum right.
#include <doctest/doctest.h>

#include "net/packet/checksum.hpp"
#include "net/packet/ipv4.hpp"
#include "tests/unit/packet/vectors.hpp"

using namespace baton::net;
using namespace baton::net::test;

TEST_CASE("ipv4_view reads every field as scapy decodes it") {
  int n = 0;
  for (const auto& v : vectors()) {
    if (v.layer != "ip") continue;
    CAPTURE(v.name);
    ++n;
    const auto& e = v.j["expect"]["ip"];
    const ipv4_view ip(v.bytes);
    REQUIRE(ip.validate() == parse_status::ok);
    CHECK(ip.version() == e["version"].get<int>());
    CHECK(ip.ihl() == e["ihl"].get<int>());
    CHECK(ip.header_length() == 4 * e["ihl"].get<std::size_t>());
    CHECK(ip.tos() == e["tos"].get<int>());
    CHECK(ip.dscp() == (e["tos"].get<int>() >> 2));
    CHECK(ip.ecn() == (e["tos"].get<int>() & 3));
    CHECK(ip.total_length() == e["len"].get<int>());
    CHECK(ip.identification() == e["id"].get<int>());
    CHECK(ip.dont_fragment() == e["df"].get<bool>());
    CHECK(ip.more_fragments() == e["mf"].get<bool>());
    CHECK(ip.fragment_offset() == e["frag"].get<int>());
    CHECK(ip.is_fragment() == (e["mf"].get<bool>() || e["frag"].get<int>() != 0));
    CHECK(ip.is_first_fragment() == (e["frag"].get<int>() == 0));
    CHECK(ip.ttl() == e["ttl"].get<int>());
    CHECK(ip.protocol() == e["proto"].get<int>());
    CHECK(ip.checksum() == e["chksum"].get<int>());
    CHECK(ip.src() == addr(e["src"]));
    CHECK(ip.dst() == addr(e["dst"]));
    CHECK(ip.options().size == e["options_len"].get<std::size_t>());
    CHECK(ip.payload().size == e["len"].get<std::size_t>() - ip.header_length());
    CHECK(ip.checksum_ok());
    char text[16];
    CHECK(std::string(ipv4_to_text(ip.src(), text)) == e["src"].get<std::string>());
  }
  CHECK(n >= 15);
}

TEST_CASE("ipv4_mutable_view setters update the checksum incrementally") {
  struct row {
    const char* name;
    void (*edit)(ipv4_mutable_view&);
    std::size_t offset;  // a byte the edit must have changed
  };
  const row rows[] = {
      {"ttl", [](ipv4_mutable_view& ip) { ip.set_ttl(static_cast<std::uint8_t>(ip.ttl() - 1)); }, 8},
      {"src", [](ipv4_mutable_view& ip) { ip.set_src(addr("203.0.113.77")); }, 12},
      {"dst", [](ipv4_mutable_view& ip) { ip.set_dst(addr("198.18.0.1")); }, 16},
      {"tos", [](ipv4_mutable_view& ip) { ip.set_tos(0xb9); }, 1},
  };
  for (const auto& v : vectors()) {
    if (v.layer != "ip") continue;
    for (const auto& r : rows) {
      CAPTURE(v.name);
      const std::string captured_name = r.name;
      CAPTURE(captured_name);
      byte_vector b = v.bytes;
      ipv4_mutable_view ip(b);
      REQUIRE(ip.validate() == parse_status::ok);
      r.edit(ip);
      CHECK(b[r.offset] != v.bytes[r.offset]);
      CHECK(ip.checksum_ok());
      const std::uint16_t incremental = ip.checksum();
      ip.recompute_checksum();
      CHECK(incremental == ip.checksum());
    }
  }
}

TEST_CASE("IPv4 option walk") {
  struct row {
    const char* name;
    byte_vector options;
    parse_status expected;
  };
  const row rows[] = {
      {"empty", {}, parse_status::ok},
      {"nop nop nop eol", {1, 1, 1, 0}, parse_status::ok},
      {"eol then garbage is padding", {0, 0xff, 0xff, 0xff}, parse_status::ok},
      {"router alert", {148, 4, 0, 0}, parse_status::ok},
      {"record route 7 bytes + eol", {7, 7, 4, 0, 0, 0, 0, 0}, parse_status::ok},
      {"length 0", {7, 0, 0, 0}, parse_status::bad_option_length},
      {"length 1", {7, 1, 0, 0}, parse_status::bad_option_length},
      {"overlong", {148, 5, 0, 0}, parse_status::bad_option_length},
      {"length octet missing", {1, 1, 1, 148}, parse_status::bad_option_length},
  };
  for (const auto& r : rows) {
    const std::string captured_name = r.name;
    CAPTURE(captured_name);
    CHECK(walk_ipv4_options(r.options) == r.expected);
  }
}

TEST_CASE("validate_header accepts a header cut after its options") {
  const auto& v = vec("ipv4_options_udp");
  const bytes_view cut(v.bytes.data(), 36 + 8);  // header (36) + UDP header
  const ipv4_view ip(cut);
  CHECK(ip.validate() == parse_status::bad_total_length);
  CHECK(ip.validate_header() == parse_status::ok);
  CHECK(ipv4_view(bytes_view(v.bytes.data(), 30)).validate_header() == parse_status::bad_ihl);
}
