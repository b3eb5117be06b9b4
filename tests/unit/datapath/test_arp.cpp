// net/packet/arp against frames scapy built (hex below, made with scapy's Ether()/ARP() and
// padded to 60 bytes): the builders write them byte for byte, the view reads them back, and every
// cut and every foreign header field is refused with its reason.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "net/packet/arp.hpp"
#include "tests/unit/io/test_packets.hpp"

using namespace baton::net;
using baton::net::test::ip4;

namespace {

std::vector<std::uint8_t> hex(const std::string& s) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2) out.push_back(static_cast<std::uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16)));
  return out;
}

const mac_address member_mac{0x02, 0, 0, 0, 0, 0x0b};
const mac_address client_mac{0x02, 0, 0, 0, 0, 0x02};
const mac_address cluster_mac{0x02, 0xba, 0x70, 0, 0, 0x01};
const mac_address zero_mac{};

struct build_row {
  const char* name;
  mac_address eth_dst, eth_src;
  arp_message message;
  const char* scapy_hex;
};

}  // namespace

TEST_CASE("arp: frames are written as scapy writes them") {
  arp_view asked;
  REQUIRE(asked.parse(bytes_view(hex("0001080006040001020000000002"
                                     "0a2800020000000000000a280064")))
          == parse_status::ok);
  const build_row rows[] = {
      {"request", broadcast_mac, member_mac, arp_request(member_mac, ip4(10, 40, 0, 11), ip4(10, 40, 0, 12)),
       "ffffffffffff02000000000b0806000108000604000102000000000b0a28000b0000000000000a28000c000000000000000000000000000000000000"},
      {"reply to a client's request", client_mac, member_mac, arp_reply(asked, member_mac),
       "02000000000202000000000b0806000108000604000202000000000b0a2800640200000000020a280002000000000000000000000000000000000000"},
      {"gratuitous reply naming the cluster MAC, sent from the member's MAC", broadcast_mac, member_mac,
       gratuitous_arp(cluster_mac, ip4(10, 40, 0, 100)),
       "ffffffffffff02000000000b0806000108000604000202ba700000010a28006402ba700000010a280064000000000000000000000000000000000000"},
      {"gratuitous request (RFC 5227 announcement)", broadcast_mac, member_mac,
       gratuitous_arp(member_mac, ip4(10, 40, 0, 100), arp_op_request),
       "ffffffffffff02000000000b0806000108000604000102000000000b0a2800640000000000000a280064000000000000000000000000000000000000"},
  };
  for (const auto& row : rows) {
    CAPTURE(std::string(row.name));
    std::vector<std::uint8_t> out(100, 0xee);
    const std::size_t n = write_arp_frame(bytes_span(out.data(), out.size()), row.eth_dst, row.eth_src, row.message);
    REQUIRE(n == ethernet_min_frame_length);
    out.resize(n);
    CHECK(out == hex(row.scapy_hex));
    // And back: the view reads what was written.
    ethernet_view eth;
    arp_view arp;
    REQUIRE(parse_arp_frame(bytes_view(out), eth, arp) == parse_status::ok);
    CHECK(eth.dst() == row.eth_dst);
    CHECK(eth.src() == row.eth_src);
    CHECK(arp.operation() == row.message.operation);
    CHECK(arp.sender_mac() == row.message.sender_mac);
    CHECK(arp.sender_ip() == row.message.sender_ip);
    CHECK(arp.target_mac() == row.message.target_mac);
    CHECK(arp.target_ip() == row.message.target_ip);
  }
}

TEST_CASE("arp: a buffer shorter than a minimum frame gets nothing") {
  std::vector<std::uint8_t> out(ethernet_min_frame_length - 1, 0xee);
  CHECK(write_arp_frame(bytes_span(out.data(), out.size()), broadcast_mac, member_mac,
                        arp_request(member_mac, 1, 2)) == 0);
  for (auto b : out) CHECK(b == 0xee);
}

TEST_CASE("arp: the view reads scapy's frames") {
  struct row {
    const char* name;
    const char* scapy_hex;
    std::uint16_t op;
    mac_address sha;
    std::uint32_t spa;
    mac_address tha;
    std::uint32_t tpa;
    bool gratuitous;
    std::size_t vlans;
  };
  const row rows[] = {
      {"request", "ffffffffffff02000000000b0806000108000604000102000000000b0a28000b0000000000000a28000c000000000000000000000000000000000000",
       arp_op_request, member_mac, ip4(10, 40, 0, 11), zero_mac, ip4(10, 40, 0, 12), false, 0},
      {"reply", "02000000000202000000000b0806000108000604000202000000000b0a2800640200000000020a280002000000000000000000000000000000000000",
       arp_op_reply, member_mac, ip4(10, 40, 0, 100), client_mac, ip4(10, 40, 0, 2), false, 0},
      {"gratuitous reply", "ffffffffffff02000000000b0806000108000604000202ba700000010a28006402ba700000010a280064000000000000000000000000000000000000",
       arp_op_reply, cluster_mac, ip4(10, 40, 0, 100), cluster_mac, ip4(10, 40, 0, 100), true, 0},
      {"request behind an 802.1Q tag", "ffffffffffff02000000000281000007080600010800060400010200000000020a2800020000000000000a2800640000000000000000000000000000",
       arp_op_request, client_mac, ip4(10, 40, 0, 2), zero_mac, ip4(10, 40, 0, 100), false, 1},
  };
  for (const auto& r : rows) {
    CAPTURE(std::string(r.name));
    const auto frame = hex(r.scapy_hex);
    ethernet_view eth;
    arp_view arp;
    REQUIRE(parse_arp_frame(bytes_view(frame), eth, arp) == parse_status::ok);
    CHECK(eth.vlan_count() == r.vlans);
    CHECK(arp.operation() == r.op);
    CHECK(arp.sender_mac() == r.sha);
    CHECK(arp.sender_ip() == r.spa);
    CHECK(arp.target_mac() == r.tha);
    CHECK(arp.target_ip() == r.tpa);
    CHECK(arp.gratuitous() == r.gratuitous);
    CHECK_FALSE(arp.probe());
  }
}

TEST_CASE("arp: every cut of the ARP packet is truncated, and the frame's header too") {
  const auto frame = hex("ffffffffffff02000000000b0806000108000604000102000000000b0a28000b0000000000000a28000c");
  REQUIRE(frame.size() == arp_frame_length);
  for (std::size_t n = 0; n < arp_ipv4_length; ++n) {
    CAPTURE(n);
    arp_view arp;
    CHECK(arp.parse(bytes_view(frame.data() + ethernet_header_length, n)) == parse_status::truncated);
  }
  for (std::size_t n = 0; n < ethernet_header_length; ++n) {
    CAPTURE(n);
    ethernet_view eth;
    arp_view arp;
    CHECK(parse_arp_frame(bytes_view(frame.data(), n), eth, arp) == parse_status::truncated);
  }
  for (std::size_t n = ethernet_header_length; n < arp_frame_length; ++n) {
    CAPTURE(n);
    ethernet_view eth;
    arp_view arp;
    CHECK(parse_arp_frame(bytes_view(frame.data(), n), eth, arp) == parse_status::truncated);
  }
  arp_view whole;
  CHECK(whole.parse(bytes_view(frame.data() + ethernet_header_length, arp_ipv4_length)) == parse_status::ok);
}

TEST_CASE("arp: what is not Ethernet/IPv4 request or reply is unsupported") {
  struct row {
    const char* name;
    std::size_t offset;  // into the ARP packet
    std::vector<std::uint8_t> bytes;
    parse_status expect;
  };
  const row rows[] = {
      {"hardware type IEEE 802 (6)", 0, {0x00, 0x06}, parse_status::unsupported},
      {"protocol type IPv6", 2, {0x86, 0xdd}, parse_status::unsupported},
      {"hardware length 8 (the declared addresses still fit)", 4, {8}, parse_status::unsupported},
      {"protocol length 16: the declared addresses run past the end", 5, {16}, parse_status::truncated},
      {"operation 3 (RARP request)", 6, {0x00, 0x03}, parse_status::unsupported},
      {"operation 0", 6, {0x00, 0x00}, parse_status::unsupported},
      {"operation 2 (reply) is fine", 6, {0x00, 0x02}, parse_status::ok},
  };
  // With 8 bytes of link padding after it, as a minimum-size frame carries.
  const auto base = hex("000108000604000102000000000b0a28000b0000000000000a28000c0000000000000000");
  for (const auto& r : rows) {
    CAPTURE(std::string(r.name));
    auto p = base;
    for (std::size_t i = 0; i < r.bytes.size(); ++i) p[r.offset + i] = r.bytes[i];
    arp_view arp;
    CHECK(arp.parse(bytes_view(p)) == r.expect);
  }
  // An IPv4 frame is not ARP at all.
  auto ipv4 = hex("ffffffffffff02000000000b0800450000140000000040000000");
  ethernet_view eth;
  arp_view arp;
  CHECK(parse_arp_frame(bytes_view(ipv4), eth, arp) == parse_status::unsupported);
}

TEST_CASE("arp: a probe has sender address 0") {
  arp_view arp;
  std::vector<std::uint8_t> out(60);
  write_arp_frame(bytes_span(out.data(), out.size()), broadcast_mac, client_mac,
                  arp_request(client_mac, 0, ip4(10, 40, 0, 100)));
  ethernet_view eth;
  REQUIRE(parse_arp_frame(bytes_view(out), eth, arp) == parse_status::ok);
  CHECK(arp.probe());
  CHECK_FALSE(arp.gratuitous());
}
