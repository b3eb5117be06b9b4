// In-place rewrites against scapy's rebuilt packets; option add/strip round trips.
#include <doctest/doctest.h>

#include "net/packet/checksum.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/rewrite.hpp"
#include "net/packet/packet_fields.hpp"
#include "net/packet/tcp.hpp"
#include "net/packet/ttl.hpp"
#include "tests/unit/packet/vectors.hpp"

using namespace baton::net;
using namespace baton::net::test;

namespace {
// Full recomputation of both checksums, to compare with the incremental result.
byte_vector recomputed(const byte_vector& b) {
  byte_vector c = b;
  ipv4_mutable_view ip(c);
  REQUIRE(ip.validate() == parse_status::ok);
  ip.recompute_checksum();
  const auto s = finish_l4_checksum(c);
  CHECK((s == parse_status::ok || s == parse_status::unsupported));
  return c;
}
}  // namespace

TEST_CASE("rewrite destination and source equal scapy's rebuilt packets") {
  int n = 0;
  for (const auto& v : vectors()) {
    for (const char* which : {"after_rewrite_destination", "after_rewrite_source"}) {
      if (!v.j.contains(which)) continue;
      CAPTURE(v.name);
      const std::string captured_which = which;
      CAPTURE(captured_which);
      ++n;
      const auto& a = v.j[which];
      const byte_vector want = from_hex(a["hex"]);
      byte_vector b = v.bytes;
      const bool dst = std::string(which) == "after_rewrite_destination";
      const edit_status s = dst ? rewrite_destination(b, addr(a["dst"]), a["dport"])
                                : rewrite_source(b, addr(a["src"]), a["sport"]);
      REQUIRE(s == edit_status::ok);
      CHECK(b == want);
      CHECK(ipv4_header_checksum_ok(b));
      CHECK(verify_l4_checksum(b) == parse_status::ok);
      if (v.name != "udp_zero_checksum") CHECK(recomputed(b) == b);  // there "none" stays 0

      // The same through the single-field calls.
      byte_vector c = v.bytes;
      if (dst) {
        CHECK(rewrite_ipv4_dst(c, addr(a["dst"])) == edit_status::ok);
        CHECK(rewrite_dst_port(c, a["dport"]) == edit_status::ok);
      } else {
        CHECK(rewrite_ipv4_src(c, addr(a["src"])) == edit_status::ok);
        CHECK(rewrite_src_port(c, a["sport"]) == edit_status::ok);
      }
      CHECK(c == want);
    }
  }
  CHECK(n >= 4);
}

TEST_CASE("address rewrite keeps a wrong transport checksum exactly as wrong") {
  // One's-complement difference between the stored and the right checksum (0 and ffff alike).
  const auto error = [](const byte_vector& b) {
    const std::uint16_t stored = load_be16(b.data() + 36);
    const std::uint16_t right = load_be16(recomputed(b).data() + 36);
    const std::uint16_t d = checksum_fold(stored + static_cast<std::uint16_t>(~right));
    return d == 0xffff ? std::uint16_t{0} : d;
  };
  byte_vector b = vec("tcp_data_sack").bytes;
  b[36] ^= 0x01;  // the TCP checksum field (IHL 5): now off by one bit
  REQUIRE(verify_l4_checksum(b) == parse_status::bad_checksum);
  const std::uint16_t before = error(b);
  REQUIRE(before != 0);
  REQUIRE(rewrite_destination(b, addr("10.1.2.3"), 1234) == edit_status::ok);
  CHECK(verify_l4_checksum(b) == parse_status::bad_checksum);
  CHECK(error(b) == before);
}

TEST_CASE("address rewrite of both fragments keeps the reassembled UDP checksum right") {
  byte_vector first = vec("ipv4_fragment_first").bytes;
  byte_vector second = vec("ipv4_fragment_second").bytes;
  const std::uint32_t to = addr("100.64.0.9");
  REQUIRE(rewrite_ipv4_dst(first, to) == edit_status::ok);
  REQUIRE(rewrite_ipv4_dst(second, to) == edit_status::ok);
  CHECK(ipv4_header_checksum_ok(first));
  CHECK(ipv4_header_checksum_ok(second));
  CHECK(rewrite_dst_port(second, 53) == edit_status::unsupported);  // no UDP header there

  // Reassemble (offsets from the headers) and verify the UDP checksum over the whole.
  const ipv4_view a(first), b(second);
  REQUIRE(a.validate() == parse_status::ok);
  REQUIRE(b.validate() == parse_status::ok);
  REQUIRE(b.fragment_offset() * 8u == a.payload().size);
  byte_vector whole(first.begin(), first.begin() + static_cast<long>(a.header_length()));
  whole.insert(whole.end(), a.payload().begin(), a.payload().end());
  whole.insert(whole.end(), b.payload().begin(), b.payload().end());
  store_be16(whole.data() + 2, static_cast<std::uint16_t>(whole.size()));
  store_be16(whole.data() + 6, 0);  // no longer a fragment
  CHECK(verify_l4_checksum(whole) == parse_status::ok);
}

TEST_CASE("rewrite refusals") {
  struct row {
    const char* name;
    const char* vector;
    std::size_t cut;  // bytes kept; 0 = all
    edit_status expected;
  };
  const row rows[] = {
      {"icmp has no ports", "icmp_echo_request", 0, edit_status::unsupported},
      {"ip-in-ip has no ports", "ipip_tcp", 0, edit_status::unsupported},
      {"non-first fragment has no ports", "ipv4_fragment_second", 0, edit_status::unsupported},
      {"cut datagram", "tcp_data_sack", 50, edit_status::malformed},
      {"cut below a header", "udp_dns", 10, edit_status::malformed},
  };
  for (const auto& r : rows) {
    const std::string captured_name = r.name;
    CAPTURE(captured_name);
    byte_vector b = vec(r.vector).bytes;
    if (r.cut) b.resize(r.cut);
    const byte_vector before = b;
    CHECK(rewrite_destination(b, addr("1.2.3.4"), 99) == r.expected);
    CHECK(b == before);
  }
  // Address-only rewrites work for any protocol.
  byte_vector icmp = vec("icmp_echo_request").bytes;
  CHECK(rewrite_ipv4_dst(icmp, addr("1.2.3.4")) == edit_status::ok);
  CHECK(ipv4_header_checksum_ok(icmp));
}

TEST_CASE("nat_hop gives the bytes of the separate rewrites and TTL decrement") {
  // Each row: a datagram, which endpoints change, TTL or not; the expected bytes come from
  // rewrite_source / rewrite_destination and decrement_ttl one after the other.
  struct row {
    const char* vector;
    bool source, destination, ttl;
  };
  const row rows[] = {
      {"tcp_data_sack", false, true, true},   {"tcp_data_sack", true, false, true},
      {"tcp_data_sack", true, true, true},    {"tcp_data_sack", false, true, false},
      {"tcp_syn_options", false, true, true}, {"tcp_fin_urg", true, true, true},
      {"udp_dns", false, true, true},         {"udp_dns", true, false, false},
      {"udp_zero_checksum", true, true, true}, {"ipv4_options_udp", false, true, true},
  };
  for (const auto& r : rows) {
    CAPTURE(r.vector);
    CAPTURE(r.source);
    CAPTURE(r.destination);
    CAPTURE(r.ttl);
    byte_vector b = vec(r.vector).bytes;
    packet_fields f;
    REQUIRE(parse_fields(b, f) == parse_status::ok);
    nat_endpoints to;
    to.source = r.source;
    to.src_addr = addr("10.0.0.100");
    to.src_port = 80;
    to.destination = r.destination;
    to.dst_addr = addr("10.1.0.7");
    to.dst_port = 8080;
    byte_vector want = b;
    if (r.source) REQUIRE(rewrite_source(want, to.src_addr, to.src_port) == edit_status::ok);
    if (r.destination)
      REQUIRE(rewrite_destination(want, to.dst_addr, to.dst_port) == edit_status::ok);
    if (r.ttl) REQUIRE(decrement_ttl(want) == ttl_result::decremented);
    REQUIRE(nat_hop(b, f, to, r.ttl) == edit_status::ok);
    CHECK(b == want);
    CHECK(ipv4_header_checksum_ok(b));
    CHECK(verify_l4_checksum(b) == parse_status::ok);
  }
}

TEST_CASE("nat_hop keeps a wrong transport checksum exactly as wrong") {
  byte_vector b = vec("tcp_data_sack").bytes;
  b[36] ^= 0x01;  // the TCP checksum field (IHL 5)
  packet_fields f;
  REQUIRE(parse_fields(b, f) == parse_status::ok);
  byte_vector want = b;
  REQUIRE(rewrite_destination(want, addr("10.1.2.3"), 1234) == edit_status::ok);
  REQUIRE(decrement_ttl(want) == ttl_result::decremented);
  nat_endpoints to;
  to.destination = true;
  to.dst_addr = addr("10.1.2.3");
  to.dst_port = 1234;
  REQUIRE(nat_hop(b, f, to, true) == edit_status::ok);
  CHECK(b == want);
  CHECK(verify_l4_checksum(b) == parse_status::bad_checksum);
}

TEST_CASE("nat_hop refusals: nothing changes") {
  // Each row: a datagram parsed as it is, then its bytes changed behind the fields' back (or the
  // fields themselves), and what nat_hop says.
  struct row {
    const char* name;
    const char* vector;
    std::size_t at;     // byte to overwrite (0: none)
    std::uint8_t value;
    std::size_t cut;    // bytes kept after the parse; 0 = all
    edit_status expected;
  };
  const row rows[] = {
      {"icmp has no ports", "icmp_echo_request", 0, 0, 0, edit_status::unsupported},
      {"ip-in-ip has no ports", "ipip_tcp", 0, 0, 0, edit_status::unsupported},
      {"first fragment: the general calls", "ipv4_fragment_first", 0, 0, 0,
       edit_status::unsupported},
      {"non-first fragment", "ipv4_fragment_second", 0, 0, 0, edit_status::unsupported},
      {"IHL no longer what was parsed", "tcp_data_sack", 0, 0x46, 0, edit_status::malformed},
      {"version no longer 4", "tcp_data_sack", 0, 0x65, 0, edit_status::malformed},
      {"total length changed", "tcp_data_sack", 3, 0x10, 0, edit_status::malformed},
      {"protocol changed", "tcp_data_sack", 9, 17, 0, edit_status::malformed},
      {"TCP data offset changed", "tcp_data_sack", 32, 0x50, 0, edit_status::malformed},
      {"span shorter than the total length", "tcp_data_sack", 0, 0, 50,
       edit_status::malformed},
      {"TTL 1 cannot go down", "tcp_data_sack", 8, 1, 0, edit_status::bad_argument},
      {"TTL 0 cannot go down", "udp_dns", 8, 0, 0, edit_status::bad_argument},
  };
  for (const auto& r : rows) {
    const std::string captured_name = r.name;
    CAPTURE(captured_name);
    byte_vector b = vec(r.vector).bytes;
    packet_fields f;
    parse_fields(b, f);
    if (r.at || r.value) b[r.at] = r.value;
    if (r.cut) b.resize(r.cut);
    const byte_vector before = b;
    nat_endpoints to;
    to.source = to.destination = true;
    to.src_addr = addr("10.0.0.100");
    to.dst_addr = addr("10.1.0.7");
    to.src_port = 80;
    to.dst_port = 8080;
    CHECK(nat_hop(b, f, to, true) == r.expected);
    CHECK(b == before);
  }
}

TEST_CASE("TCP option insertion equals scapy's packet; stripping restores the original") {
  int n = 0;
  for (const auto& v : vectors()) {
    for (const char* which : {"after_add_tag4", "after_add_tag3"}) {
      if (!v.j.contains(which)) continue;
      CAPTURE(v.name);
      const std::string captured_which = which;
      CAPTURE(captured_which);
      ++n;
      const byte_vector option = from_hex(v.j[which]["option"]);
      const byte_vector want = from_hex(v.j[which]["hex"]);
      byte_vector buf = v.bytes;
      buf.resize(buf.size() + 64, 0xee);  // capacity beyond the datagram
      std::size_t len = v.bytes.size();
      REQUIRE(tcp_add_option(buf, len, option) == edit_status::ok);
      CHECK(len == want.size());
      CHECK(byte_vector(buf.begin(), buf.begin() + static_cast<long>(len)) == want);

      REQUIRE(tcp_strip_option(buf, len, option[0]) == edit_status::ok);
      CHECK(byte_vector(buf.begin(), buf.begin() + static_cast<long>(len)) == v.bytes);
    }
  }
  CHECK(n >= 3);
}

TEST_CASE("stripping window scale equals scapy's packet without it") {
  const auto& v = vec("tcp_syn_options");
  const byte_vector want = from_hex(v.j["after_strip_wscale"]["hex"]);
  byte_vector buf = v.bytes;
  std::size_t len = buf.size();
  REQUIRE(tcp_strip_option(buf, len, tcp_option_window_scale) == edit_status::ok);
  CHECK(byte_vector(buf.begin(), buf.begin() + static_cast<long>(len)) == want);
}

TEST_CASE("add then strip is the identity on every TCP vector, payload included") {
  const byte_vector options[] = {{253, 4, 1, 2}, {253, 3, 7}, {254, 2}, {78, 6, 1, 2, 3, 4}};  // kinds none of the vectors carry
  for (const auto& v : vectors()) {
    if (v.layer != "ip" || !v.j["expect"].contains("tcp")) continue;
    for (const auto& option : options) {
      CAPTURE(v.name);
      CAPTURE(option.size());
      byte_vector buf = v.bytes;
      buf.resize(buf.size() + 16);
      std::size_t len = v.bytes.size();
      const edit_status s = tcp_add_option(buf, len, option);
      const std::size_t header = v.j["expect"]["tcp"]["dataofs"].get<std::size_t>() * 4;
      if (header + (option.size() + 3) / 4 * 4 > 60) {
        CHECK(s == edit_status::no_room);
        CHECK(len == v.bytes.size());
        continue;
      }
      REQUIRE(s == edit_status::ok);
      CHECK(ipv4_header_checksum_ok(bytes_view(buf.data(), len)));
      CHECK(verify_l4_checksum(bytes_view(buf.data(), len)) == parse_status::ok);
      tcp_options_summary sum;
      const ipv4_view ip(bytes_view(buf.data(), len));
      REQUIRE(ip.validate() == parse_status::ok);
      CHECK(summarize_tcp_options(tcp_view(ip.payload()).options(), sum) == parse_status::ok);
      CHECK(sum.has(option[0]));
      REQUIRE(tcp_strip_option(buf, len, option[0]) == edit_status::ok);
      CHECK(byte_vector(buf.begin(), buf.begin() + static_cast<long>(len)) == v.bytes);
    }
  }
}

TEST_CASE("tcp_add_option and tcp_strip_option refusals") {
  const byte_vector tag = {253, 4, 1, 2};
  struct row {
    const char* name;
    const char* vector;
    std::size_t extra_capacity;
    byte_vector option;
    edit_status expected;
  };
  const row rows[] = {
      {"no capacity", "tcp_syn_options", 0, tag, edit_status::no_room},
      {"capacity one short", "tcp_syn_options", 3, tag, edit_status::no_room},
      {"capacity exact", "tcp_syn_options", 4, tag, edit_status::ok},
      {"header would pass 60 bytes", "tcp_four_sack_blocks", 64, {253, 8, 0, 0, 0, 0, 0, 0},
       edit_status::no_room},
      {"length octet lies", "tcp_syn_options", 64, {253, 5, 1, 2}, edit_status::bad_argument},
      {"too short", "tcp_syn_options", 64, {253}, edit_status::bad_argument},
      {"nop is not an option to add", "tcp_syn_options", 64, {1, 2}, edit_status::bad_argument},
      {"udp", "udp_dns", 64, tag, edit_status::unsupported},
      {"fragment", "ipv4_fragment_first", 64, tag, edit_status::unsupported},
  };
  for (const auto& r : rows) {
    const std::string captured_name = r.name;
    CAPTURE(captured_name);
    byte_vector buf = vec(r.vector).bytes;
    std::size_t len = buf.size();
    buf.resize(len + r.extra_capacity, 0);
    const byte_vector before = buf;
    CHECK(tcp_add_option(buf, len, r.option) == r.expected);
    if (r.expected != edit_status::ok) {
      CHECK(buf == before);
      CHECK(len == vec(r.vector).bytes.size());
    }
  }
  byte_vector buf = vec("tcp_syn_options").bytes;
  std::size_t len = buf.size();
  CHECK(tcp_strip_option(buf, len, tcp_option_sack) == edit_status::not_found);
  CHECK(tcp_strip_option(buf, len, tcp_option_no_operation) == edit_status::bad_argument);
  byte_vector bad = buf;
  bad[20 + 20 + 1] = 1;  // MSS length 1
  CHECK(tcp_strip_option(bad, len, tcp_option_timestamps) == edit_status::malformed);
  CHECK(buf == vec("tcp_syn_options").bytes);
  std::string names;
  for (std::size_t i = 0; i < edit_status_count; ++i)
    names += std::string(to_string(static_cast<edit_status>(i))) + " ";
  CHECK(names == "ok malformed unsupported no_room not_found bad_argument ");
}
