// The flow advertisement of document 001, Figure 10: the augmented ping's byte layout, built and
// parsed, and everything the parser must refuse.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "net/packet/checksum.hpp"
#include "net/packet/flow_advert.hpp"
#include "net/packet/icmp.hpp"
#include "net/packet/ipv4.hpp"
#include "tests/unit/io/test_packets.hpp"

using namespace baton::net;
using namespace baton::net::test;

namespace {

using bytes = std::vector<std::uint8_t>;

const flow_advert sample{ip4(198, 51, 100, 7), 40123, ip4(10, 50, 1, 10), 80, 6,
                         ip4(172, 16, 9, 9), 8080};

bytes built(const flow_advert& a, std::uint16_t id = 0x1234, std::uint16_t seq = 7) {
  bytes p(flow_advert_size());
  REQUIRE(build_flow_advert(bytes_span(p), a, id, seq) == edit_status::ok);
  return p;
}

// The ICMP message of a built datagram.
bytes message_of(const bytes& datagram) { return bytes(datagram.begin() + 20, datagram.end()); }

void fix_icmp_checksum(bytes& m) {
  store_be16(&m[2], 0);
  store_be16(&m[2], internet_checksum(bytes_view(m)));
}

}  // namespace

TEST_CASE("flow advertisement: built datagram, byte by byte") {
  CHECK(flow_advert_size() == 108);
  const bytes p = built(sample, 0xbeef, 0x0102);
  const ipv4_view ip(p);
  REQUIRE(ip.validate() == parse_status::ok);
  CHECK(ip.checksum_ok());
  CHECK(ip.header_length() == 20);
  CHECK(ip.total_length() == 108);
  CHECK(ip.protocol() == ip_protocol_icmp);
  CHECK(ip.ttl() == 64);
  CHECK(ip.dont_fragment());
  CHECK(ip.src() == sample.virtual_address);  // the server speaks as the virtual host
  CHECK(ip.dst() == sample.client_address);

  const icmp_view icmp(ip.payload());
  REQUIRE(icmp.validate() == parse_status::ok);
  CHECK(icmp.type() == icmp_echo);
  CHECK(icmp.code() == 0);
  CHECK(icmp.checksum_ok());
  CHECK(icmp.identifier() == 0xbeef);
  CHECK(icmp.sequence() == 0x0102);

  // The documented layout, field by field (network byte order).
  const bytes m = message_of(p);
  REQUIRE(m.size() == flow_advert_icmp_size);
  for (std::size_t i = 8; i < 64; ++i) {
    CAPTURE(i);
    CHECK(m[i] == 0x10 + (i - 8));  // an ordinary echo's first 64 bytes
  }
  CHECK(bytes(m.begin() + 64, m.begin() + 68) == bytes{'S', 'L', 'R', 'A'});
  CHECK(load_be32(&m[68]) == sample.client_address);
  CHECK(load_be16(&m[72]) == sample.client_port);
  CHECK(load_be32(&m[74]) == sample.virtual_address);
  CHECK(load_be16(&m[78]) == sample.virtual_port);
  CHECK(m[80] == sample.protocol);
  CHECK(m[81] == 0);
  CHECK(load_be32(&m[82]) == sample.server_address);
  CHECK(load_be16(&m[86]) == sample.server_port);
}

TEST_CASE("flow advertisement: round trip through request and the client's echo reply") {
  struct row {
    std::string name;
    flow_advert a;
  };
  const std::vector<row> rows = {
      {"TCP web flow", sample},
      {"UDP", {ip4(192, 0, 2, 1), 5353, ip4(10, 50, 0, 1), 53, 17, ip4(10, 1, 1, 1), 53}},
      {"zero ports (ICMP flow)", {ip4(192, 0, 2, 1), 0, ip4(10, 50, 0, 1), 0, 1, ip4(10, 1, 1, 1), 0}},
      {"all ones", {0xffffffff, 0xffff, 0xffffffff, 0xffff, 0xff, 0xffffffff, 0xffff}},
      {"all zeros", {}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    bytes m = message_of(built(r.a));
    flow_advert got;
    REQUIRE(parse_flow_advert(m, got) == parse_status::ok);
    CHECK(got == r.a);

    // The client answers with an echo reply carrying the whole payload.
    m[0] = icmp_echo_reply;
    fix_icmp_checksum(m);
    flow_advert back;
    REQUIRE(parse_flow_advert(m, back) == parse_status::ok);
    CHECK(back == r.a);

    // Padding after the advertisement (some stacks pad echoes) is ignored.
    bytes padded = m;
    padded.resize(m.size() + 13, 0xaa);
    fix_icmp_checksum(padded);
    flow_advert p;
    REQUIRE(parse_flow_advert(padded, p) == parse_status::ok);
    CHECK(p == r.a);
  }
}

TEST_CASE("flow advertisement: every truncation") {
  const bytes m = message_of(built(sample));
  for (std::size_t n = 0; n < m.size(); ++n) {
    CAPTURE(n);
    // No ICMP header: truncated. An echo without room for the type identifier: an ordinary ping.
    // The identifier there but the fields cut: truncated.
    const parse_status expected = n < 8    ? parse_status::truncated
                                  : n < 68 ? parse_status::unsupported
                                           : parse_status::truncated;
    flow_advert out = sample;
    out.server_port = 1;
    const flow_advert before = out;
    CHECK(parse_flow_advert(bytes_view(m.data(), n), out) == expected);
    CHECK(out == before);  // untouched
  }
}

TEST_CASE("flow advertisement: what the parser refuses") {
  auto with = [](bytes m, auto edit, bool fix = true) {
    edit(m);
    if (fix) fix_icmp_checksum(m);
    return m;
  };
  const bytes good = message_of(built(sample));
  struct row {
    std::string name;
    bytes message;
    parse_status expected;
  };
  const std::vector<row> rows = {
      {"type identifier byte 0", with(good, [](bytes& m) { m[64] = 's'; }), parse_status::unsupported},
      {"type identifier byte 1", with(good, [](bytes& m) { m[65] ^= 1; }), parse_status::unsupported},
      {"type identifier byte 2", with(good, [](bytes& m) { m[66] = 0; }), parse_status::unsupported},
      {"type identifier byte 3", with(good, [](bytes& m) { m[67] = 'B'; }), parse_status::unsupported},
      {"destination unreachable", with(good, [](bytes& m) { m[0] = icmp_destination_unreachable; }),
       parse_status::unsupported},
      {"timestamp request", with(good, [](bytes& m) { m[0] = icmp_timestamp; }), parse_status::unsupported},
      {"time exceeded", with(good, [](bytes& m) { m[0] = icmp_time_exceeded; }), parse_status::unsupported},
      {"echo with code 1", with(good, [](bytes& m) { m[1] = 1; }), parse_status::unsupported},
      {"an ordinary 64-byte ping", bytes(good.begin(), good.begin() + 64), parse_status::unsupported},
      {"checksum wrong", with(good, [](bytes& m) { m[2] ^= 0x80; }, false), parse_status::bad_checksum},
      {"server address changed in flight", with(good, [](bytes& m) { m[85] ^= 1; }, false),
       parse_status::bad_checksum},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    flow_advert out;
    CHECK(parse_flow_advert(r.message, out) == r.expected);
  }

  // Any single changed byte is caught: by the type checks or by the checksum.
  for (std::size_t i = 0; i < good.size(); ++i) {
    CAPTURE(i);
    bytes m = good;
    m[i] ^= 0x5a;
    const parse_status expected = (i <= 1 || (i >= 64 && i < 68)) ? parse_status::unsupported
                                                                  : parse_status::bad_checksum;
    flow_advert out;
    CHECK(parse_flow_advert(m, out) == expected);
  }
}

TEST_CASE("flow advertisement: the builder needs room and writes nothing else") {
  for (std::size_t n = 0; n <= flow_advert_size() + 4; ++n) {
    CAPTURE(n);
    bytes out(n, 0xcc);
    const edit_status s = build_flow_advert(bytes_span(out), sample, 1, 2);
    if (n < flow_advert_size()) {
      CHECK(s == edit_status::no_room);
      CHECK(out == bytes(n, 0xcc));
    } else {
      CHECK(s == edit_status::ok);
      CHECK(bytes(out.begin(), out.begin() + 108) == built(sample, 1, 2));
      CHECK(bytes(out.begin() + 108, out.end()) == bytes(n - 108, 0xcc));
    }
  }
}
