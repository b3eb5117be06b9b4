// Malformed input: every truncation of several packets, and rows of broken header fields,
// each with the parse_status the contract promises. Inputs are copied into exactly-sized
// buffers so a sanitizer build catches any read past the end.
#include <doctest/doctest.h>

#include <functional>

#include "net/packet/icmp.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/packet_fields.hpp"
#include "net/packet/tcp.hpp"
#include "net/packet/udp.hpp"
#include "tests/unit/packet/vectors.hpp"

using namespace baton::net;
using namespace baton::net::test;

TEST_CASE("every truncation of an IPv4 datagram gets the contract's reason") {
  for (const char* name : {"tcp_syn_options", "tcp_data_sack", "udp_dns", "ipv4_options_udp",
                           "icmp_frag_needed_tcp", "ipip_tcp"}) {
    const auto& v = vec(name);
    const ipv4_view whole(v.bytes);
    REQUIRE(whole.validate() == parse_status::ok);
    for (std::size_t n = 0; n < v.bytes.size(); ++n) {
      const std::string captured_name = name;
      CAPTURE(captured_name);
      CAPTURE(n);
      const byte_vector cut(v.bytes.begin(), v.bytes.begin() + static_cast<long>(n));
      const parse_status expected = n < 20                       ? parse_status::truncated
                                    : n < whole.header_length()  ? parse_status::bad_ihl
                                                                 : parse_status::bad_total_length;
      CHECK(ipv4_view(cut).validate() == expected);
      packet_fields f;
      CHECK(parse_fields(cut, f) == expected);
    }
  }
}

TEST_CASE("every truncation of a transport header gets the contract's reason") {
  for (const char* name : {"tcp_syn_options", "tcp_data_sack", "tcp_four_sack_blocks"}) {
    const auto& v = vec(name);
    const ipv4_view ip(v.bytes);
    REQUIRE(ip.validate() == parse_status::ok);
    const tcp_view whole(ip.payload());
    REQUIRE(whole.validate() == parse_status::ok);
    for (std::size_t n = 0; n < whole.header_length(); ++n) {
      const std::string captured_name = name;
      CAPTURE(captured_name);
      CAPTURE(n);
      const byte_vector cut(ip.payload().begin(), ip.payload().begin() + n);
      CHECK(tcp_view(cut).validate() ==
            (n < 20 ? parse_status::truncated : parse_status::bad_data_offset));
      // The same cut inside a consistent IPv4 datagram, through parse_fields.
      byte_vector pkt(v.bytes.begin(), v.bytes.begin() + static_cast<long>(ip.header_length()));
      pkt.insert(pkt.end(), cut.begin(), cut.end());
      store_be16(pkt.data() + 2, static_cast<std::uint16_t>(pkt.size()));
      packet_fields f;
      CHECK(parse_fields(pkt, f) ==
            (n < 20 ? parse_status::truncated : parse_status::bad_data_offset));
    }
  }
  const auto& u = vec("udp_dns");
  const ipv4_view uip(u.bytes);
  REQUIRE(uip.validate() == parse_status::ok);
  for (std::size_t n = 0; n < uip.payload().size; ++n) {
    CAPTURE(n);
    const byte_vector cut(uip.payload().begin(), uip.payload().begin() + n);
    CHECK(udp_view(cut).validate() == (n < 8 ? parse_status::truncated : parse_status::bad_length));
  }
  const auto& q = vec("icmp_frag_needed_tcp");
  const ipv4_view qip(q.bytes);
  REQUIRE(qip.validate() == parse_status::ok);
  for (std::size_t n = 0; n < 8 + 20; ++n) {
    CAPTURE(n);
    const byte_vector cut(qip.payload().begin(), qip.payload().begin() + n);
    const icmp_view icmp(cut);
    if (n < 8) {
      CHECK(icmp.validate() == parse_status::truncated);
      continue;
    }
    icmp_quoted quoted;
    CHECK(icmp.quoted(quoted) == parse_status::truncated);
  }
}

TEST_CASE("broken header fields, each with its reason") {
  using mutate = std::function<void(byte_vector&)>;
  struct row {
    const char* name;
    const char* vector;
    mutate edit;
    parse_status expected;
  };
  // Offsets: IPv4 header 20 bytes in these vectors, so TCP/UDP starts at 20.
  const row rows[] = {
      {"version 6", "tcp_syn_options", [](byte_vector& b) { b[0] = 0x65; }, parse_status::bad_version},
      {"version 0", "udp_dns", [](byte_vector& b) { b[0] = 0x05; }, parse_status::bad_version},
      {"ihl 0", "tcp_syn_options", [](byte_vector& b) { b[0] = 0x40; }, parse_status::bad_ihl},
      {"ihl 4", "tcp_syn_options", [](byte_vector& b) { b[0] = 0x44; }, parse_status::bad_ihl},
      {"ihl 15 past a 40-byte packet", "tcp_fin_urg",
       [](byte_vector& b) { b.resize(40); b[0] = 0x4f; store_be16(b.data() + 2, 40); }, parse_status::bad_ihl},
      {"total length below header", "udp_dns", [](byte_vector& b) { store_be16(b.data() + 2, 19); },
       parse_status::bad_total_length},
      {"total length 0", "udp_dns", [](byte_vector& b) { store_be16(b.data() + 2, 0); },
       parse_status::bad_total_length},
      {"total length past the bytes", "udp_dns",
       [](byte_vector& b) { store_be16(b.data() + 2, static_cast<std::uint16_t>(b.size() + 1)); },
       parse_status::bad_total_length},
      {"total length below ihl with options", "ipv4_options_udp",
       [](byte_vector& b) { store_be16(b.data() + 2, 30); }, parse_status::bad_total_length},
      {"ip option length 0", "ipv4_options_udp", [](byte_vector& b) { b[21] = 0; },
       parse_status::bad_option_length},
      {"ip option length 1", "ipv4_options_udp", [](byte_vector& b) { b[21] = 1; },
       parse_status::bad_option_length},
      {"ip option overlong", "ipv4_options_udp", [](byte_vector& b) { b[21] = 17; },
       parse_status::bad_option_length},
      {"tcp data offset 4", "tcp_data_sack", [](byte_vector& b) { b[32] = 0x40; },
       parse_status::bad_data_offset},
      {"tcp data offset 0", "tcp_fin_urg", [](byte_vector& b) { b[32] = 0x00; },
       parse_status::bad_data_offset},
      {"tcp data offset past the end", "tcp_syn_ece_cwr", [](byte_vector& b) { b[32] = 0xf0; },
       parse_status::bad_data_offset},
      {"tcp option length 0", "tcp_syn_options", [](byte_vector& b) { b[41] = 0; },
       parse_status::bad_option_length},
      {"tcp option length 1", "tcp_syn_options", [](byte_vector& b) { b[41] = 1; },
       parse_status::bad_option_length},
      {"tcp option overlong", "tcp_syn_options", [](byte_vector& b) { b[41] = 21; },
       parse_status::bad_option_length},
      {"tcp mss with length 5", "tcp_syn_options", [](byte_vector& b) { b[41] = 5; },
       parse_status::bad_option_length},
      {"tcp sack length not 2 + 8n", "tcp_data_sack", [](byte_vector& b) { b[55] = 17; },
       parse_status::bad_option_length},
      {"udp length 7", "udp_dns", [](byte_vector& b) { store_be16(b.data() + 24, 7); },
       parse_status::bad_length},
      {"udp length past the datagram", "udp_dns",
       [](byte_vector& b) { store_be16(b.data() + 24, static_cast<std::uint16_t>(b.size() - 19)); },
       parse_status::bad_length},
      {"icmp header cut", "icmp_echo_request",
       [](byte_vector& b) { b.resize(27); store_be16(b.data() + 2, 27); }, parse_status::truncated},
      {"non-first fragment is ok without ports", "ipv4_fragment_second", [](byte_vector&) {},
       parse_status::ok},
  };
  for (const auto& r : rows) {
    const std::string captured_name = r.name;
    CAPTURE(captured_name);
    byte_vector b = vec(r.vector).bytes;
    r.edit(b);
    b.shrink_to_fit();
    packet_fields f;
    CHECK(parse_fields(b, f) == r.expected);
  }
}

TEST_CASE("a first fragment cut inside its UDP header is truncated") {
  byte_vector b = vec("ipv4_fragment_first").bytes;
  b.resize(26);
  store_be16(b.data() + 2, 26);
  packet_fields f;
  CHECK(parse_fields(b, f) == parse_status::truncated);
}
