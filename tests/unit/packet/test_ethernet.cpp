// ethernet_view against scapy-built frames: plain, 802.1Q, 802.1ad + 802.1Q, IPv6, padding.
#include <doctest/doctest.h>

#include <cstdio>

#include "net/packet/ethernet.hpp"
#include "net/packet/ipv4.hpp"
#include "tests/unit/packet/vectors.hpp"

using namespace baton::net;
using namespace baton::net::test;

namespace {
std::string mac_text(const mac_address& m) {
  char s[18];
  std::snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return s;
}
}  // namespace

TEST_CASE("ethernet_view reads frames as scapy built them") {
  int n = 0;
  for (const auto& v : vectors()) {
    if (v.layer != "ether") continue;
    CAPTURE(v.name);
    ++n;
    const auto& e = v.j["expect"];
    ethernet_view eth;
    const parse_status s = eth.parse(v.bytes);
    const bool ipv4 = e["ethertype"].get<int>() == ethertype_ipv4;
    CHECK(s == (ipv4 ? parse_status::ok : parse_status::unsupported));
    CHECK(mac_text(eth.dst()) == e["dst"].get<std::string>());
    CHECK(mac_text(eth.src()) == e["src"].get<std::string>());
    CHECK(eth.ethertype() == e["ethertype"].get<int>());
    CHECK(eth.header_length() == e["header_len"].get<std::size_t>());
    CHECK(eth.vlan_count() == e["vlans"].size());
    if (!e["vlans"].empty()) {
      CHECK(eth.vlan_id() == e["vlans"][0]["vlan"].get<int>());
      CHECK(eth.vlan_pcp() == e["vlans"][0]["prio"].get<int>());
    } else {
      CHECK(eth.vlan_id() == 0);
    }
    if (ipv4) {
      const ipv4_view ip(eth.payload());
      REQUIRE(ip.validate() == parse_status::ok);
      CHECK(ip.src() == addr(e["ip"]["src"]));
      CHECK(ip.total_length() == e["ip"]["len"].get<int>());
      CHECK(ip.payload().size == e["ip"]["len"].get<std::size_t>() - ip.header_length());
    }
  }
  CHECK(n >= 5);
}

TEST_CASE("ethernet_view: every cut inside the link header is truncated") {
  for (const char* name : {"ether_ipv4_tcp", "ether_vlan_udp", "ether_qinq_icmp"}) {
    const auto& v = vec(name);
    ethernet_view whole;
    REQUIRE(whole.parse(v.bytes) == parse_status::ok);
    for (std::size_t n = 0; n < whole.header_length(); ++n) {
      const std::string captured_name = name;
      CAPTURE(captured_name);
      CAPTURE(n);
      const byte_vector cut(v.bytes.begin(), v.bytes.begin() + static_cast<long>(n));
      ethernet_view eth;
      CHECK(eth.parse(cut) == parse_status::truncated);
    }
  }
}

TEST_CASE("ethernet_view: a third VLAN tag is not followed") {
  byte_vector f = vec("ether_qinq_icmp").bytes;
  // Insert one more 802.1Q tag after the two present.
  const std::uint8_t tag[] = {0x81, 0x00, 0x00, 0x07};
  f.insert(f.begin() + 20, tag, tag + 4);
  ethernet_view eth;
  CHECK(eth.parse(f) == parse_status::unsupported);
  CHECK(eth.vlan_count() == 2);
}
