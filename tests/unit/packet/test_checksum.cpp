// Checksums against scapy's, RFC 1071's worked example, and RFC 1624 incremental vs full.
#include <doctest/doctest.h>

#include <random>

#include "net/packet/checksum.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/tcp.hpp"
#include "net/packet/udp.hpp"
#include "tests/unit/packet/vectors.hpp"

using namespace baton::net;
using namespace baton::net::test;

TEST_CASE("RFC 1071 section 3 worked example") {
  // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (one's complement).
  const byte_vector data = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  CHECK(checksum_fold(checksum_add(data)) == 0xddf2);
  CHECK(internet_checksum(data) == static_cast<std::uint16_t>(~0xddf2));
  // Odd length: the last byte is padded on the right.
  const byte_vector odd = {0x00, 0x01, 0xf2};
  CHECK(checksum_fold(checksum_add(odd)) == 0xf201);
}

TEST_CASE("IPv4 header checksums equal scapy's") {
  for (const auto& v : vectors()) {
    if (v.layer != "ip") continue;
    CAPTURE(v.name);
    byte_vector b = v.bytes;
    CHECK(ipv4_header_checksum_ok(b));
    ipv4_mutable_view ip(b);
    REQUIRE(ip.validate() == parse_status::ok);
    store_be16(b.data() + 10, 0xabcd);
    CHECK_FALSE(ipv4_header_checksum_ok(b));
    ip.recompute_checksum();
    CHECK(ip.checksum() == v.j["expect"]["ip"]["chksum"].get<std::uint16_t>());
  }
}

TEST_CASE("TCP and UDP checksums equal scapy's") {
  int checked = 0;
  for (const auto& v : vectors()) {
    if (v.layer != "ip") continue;
    const auto& e = v.j["expect"];
    const bool tcp = e.contains("tcp"), udp = e.contains("udp") && !e["ip"]["mf"].get<bool>();
    if (!tcp && !udp) continue;
    CAPTURE(v.name);
    ++checked;
    CHECK(verify_l4_checksum(v.bytes) == parse_status::ok);
    const ipv4_view ip(v.bytes);
    REQUIRE(ip.validate() == parse_status::ok);
    byte_vector seg(ip.payload().begin(), ip.payload().end());
    const std::size_t off = tcp ? tcp_checksum_offset : udp_checksum_offset;
    const auto expected = (tcp ? e["tcp"]["chksum"] : e["udp"]["chksum"]).get<std::uint16_t>();
    store_be16(seg.data() + off, 0);
    if (expected != 0)  // UDP 0 means "not computed"
      CHECK(transport_checksum(ip.src(), ip.dst(), ip.protocol(), seg) == expected);

    // One flipped payload bit must be caught.
    if (expected != 0) {
      byte_vector bad = v.bytes;
      bad.back() ^= 0x01;
      CHECK(verify_l4_checksum(bad) == parse_status::bad_checksum);
    }
  }
  CHECK(checked >= 8);
}

TEST_CASE("finish_l4_checksum completes an offloaded (pseudo-header only) checksum") {
  for (const auto& v : vectors()) {
    if (v.layer != "ip") continue;
    const auto& e = v.j["expect"];
    const bool tcp = e.contains("tcp"), udp = e.contains("udp") && !e["ip"]["mf"].get<bool>();
    CAPTURE(v.name);
    byte_vector b = v.bytes;
    if (!tcp && !udp) {
      const auto s = finish_l4_checksum(b);
      CHECK((s == parse_status::unsupported || s == parse_status::fragment));
      CHECK(b == v.bytes);
      continue;
    }
    if (udp && e["udp"]["chksum"] == 0) continue;  // scapy left "none"; finishing computes one
    const ipv4_view ip(v.bytes);
    REQUIRE(ip.validate() == parse_status::ok);
    // What a sender with TX checksum offload leaves: the folded pseudo-header sum.
    const std::size_t at = ip.header_length() + (tcp ? tcp_checksum_offset : udp_checksum_offset);
    const auto partial = checksum_fold(pseudo_header_sum(
        ip.src(), ip.dst(), ip.protocol(), static_cast<std::uint16_t>(ip.payload().size)));
    store_be16(b.data() + at, partial);
    CHECK(verify_l4_checksum(b) == parse_status::bad_checksum);
    CHECK(finish_l4_checksum(b) == parse_status::ok);
    CHECK(b == v.bytes);
  }
}

TEST_CASE("finish_l4_checksum stores 0xffff for a computed UDP zero") {
  // Search for a payload word that makes the UDP checksum compute to 0 (RFC 768: send ffff).
  byte_vector b = vec("udp_zero_checksum").bytes;
  const ipv4_view ip(b);
  REQUIRE(ip.validate() == parse_status::ok);
  const std::size_t word = ip.header_length() + 8;  // first payload word
  bool found = false;
  for (std::uint32_t w = 0; w <= 0xffff && !found; ++w) {
    store_be16(b.data() + word, static_cast<std::uint16_t>(w));
    store_be16(b.data() + ip.header_length() + 6, 0);
    const bytes_view seg(b.data() + ip.header_length(), ip.payload().size);
    if (transport_checksum(ip.src(), ip.dst(), ip.protocol(), seg) == 0) found = true;
  }
  REQUIRE(found);
  CHECK(finish_l4_checksum(b) == parse_status::ok);
  CHECK(load_be16(b.data() + ip.header_length() + 6) == 0xffff);
  CHECK(verify_l4_checksum(b) == parse_status::ok);
}

TEST_CASE("RFC 1624 incremental update equals a full recomputation") {
  std::mt19937 rng(1624);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int trial = 0; trial < 5000; ++trial) {
    CAPTURE(trial);
    byte_vector h(20);
    for (auto& x : h) x = static_cast<std::uint8_t>(byte(rng));
    store_be16(h.data() + 10, 0);
    store_be16(h.data() + 10, internet_checksum(h));
    const std::uint16_t before = load_be16(h.data() + 10);
    if (trial % 2) {
      const std::size_t at = 12 + 4 * (trial % 4 / 2);  // src or dst
      const std::uint32_t old = load_be32(h.data() + at);
      const std::uint32_t neu = static_cast<std::uint32_t>(rng());
      store_be32(h.data() + at, neu);
      store_be16(h.data() + 10, checksum_update32(before, old, neu));
    } else {
      const std::size_t at = 2 * static_cast<std::size_t>(byte(rng) % 10);
      if (at == 10) continue;
      const std::uint16_t old = load_be16(h.data() + at);
      const auto neu = static_cast<std::uint16_t>(rng());
      store_be16(h.data() + at, neu);
      store_be16(h.data() + 10, checksum_update16(before, old, neu));
    }
    const std::uint16_t incremental = load_be16(h.data() + 10);
    CHECK(internet_checksum(h) == 0);
    store_be16(h.data() + 10, 0);
    CHECK(incremental == internet_checksum(h));
  }
}

TEST_CASE("verify_l4_checksum reasons") {
  CHECK(verify_l4_checksum(vec("ipv4_fragment_first").bytes) == parse_status::fragment);
  CHECK(verify_l4_checksum(vec("ipv4_fragment_second").bytes) == parse_status::fragment);
  CHECK(verify_l4_checksum(vec("icmp_echo_request").bytes) == parse_status::unsupported);
  CHECK(verify_l4_checksum(vec("udp_zero_checksum").bytes) == parse_status::ok);
  byte_vector cut = vec("tcp_data_sack").bytes;
  cut.resize(30);
  CHECK(verify_l4_checksum(cut) == parse_status::bad_total_length);
}
