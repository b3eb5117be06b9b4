// tcp_view and the option walker against scapy's decoding, and malformed option rows.
#include <doctest/doctest.h>

#include <vector>

#include "net/packet/ipv4.hpp"
#include "net/packet/packet_fields.hpp"
#include "net/packet/tcp.hpp"
#include "tests/unit/packet/vectors.hpp"

using namespace baton::net;
using namespace baton::net::test;

TEST_CASE("tcp_view fields and options equal scapy's") {
  int n = 0;
  for (const auto& v : vectors()) {
    if (v.layer != "ip" || !v.j["expect"].contains("tcp")) continue;
    CAPTURE(v.name);
    ++n;
    const auto& e = v.j["expect"]["tcp"];
    const ipv4_view ip(v.bytes);
    REQUIRE(ip.validate() == parse_status::ok);
    const tcp_view tcp(ip.payload());
    REQUIRE(tcp.validate() == parse_status::ok);
    CHECK(tcp.src_port() == e["sport"].get<int>());
    CHECK(tcp.dst_port() == e["dport"].get<int>());
    CHECK(tcp.seq() == e["seq"].get<std::uint32_t>());
    CHECK(tcp.ack() == e["ack"].get<std::uint32_t>());
    CHECK(tcp.data_offset() == e["dataofs"].get<int>());
    CHECK(tcp.flags() == e["flags"].get<int>());
    const int f = e["flags"];
    CHECK(tcp.fin() == bool(f & 0x01));
    CHECK(tcp.syn() == bool(f & 0x02));
    CHECK(tcp.rst() == bool(f & 0x04));
    CHECK(tcp.psh() == bool(f & 0x08));
    CHECK(tcp.ack_flag() == bool(f & 0x10));
    CHECK(tcp.urg() == bool(f & 0x20));
    CHECK(tcp.ece() == bool(f & 0x40));
    CHECK(tcp.cwr() == bool(f & 0x80));
    CHECK(tcp.window() == e["window"].get<int>());
    CHECK(tcp.checksum() == e["chksum"].get<int>());
    CHECK(tcp.urgent_pointer() == e["urgptr"].get<int>());
    CHECK(tcp.payload().size == e["payload_len"].get<std::size_t>());

    // The walker yields the kinds scapy saw, in order (NOP and EOL skipped).
    std::vector<int> kinds;
    tcp_option_walker walker(tcp.options());
    tcp_option opt;
    while (walker.next(opt)) kinds.push_back(opt.kind);
    CHECK(walker.status() == parse_status::ok);
    CHECK(kinds == e["option_kinds"].get<std::vector<int>>());

    tcp_options_summary s;
    REQUIRE(summarize_tcp_options(tcp.options(), s) == parse_status::ok);
    std::uint64_t bits = 0;
    for (int k : kinds) bits |= tcp_option_bit(static_cast<std::uint8_t>(k));
    CHECK(s.present == bits);
    CHECK(s.has(tcp_option_maximum_segment_size) == e.contains("mss"));
    CHECK(s.mss == e.value("mss", 0));
    CHECK(s.window_scale == e.value("wscale", 0));
    CHECK(s.sack_permitted == e.value("sack_permitted", false));
    CHECK(s.ts_val == e.value("ts_val", 0u));
    CHECK(s.ts_ecr == e.value("ts_ecr", 0u));
    const auto sack = e["sack"].get<std::vector<std::vector<std::uint32_t>>>();
    REQUIRE(s.sack_block_count == sack.size());
    for (std::size_t i = 0; i < sack.size(); ++i) {
      CHECK(s.sack_blocks[i].left == sack[i][0]);
      CHECK(s.sack_blocks[i].right == sack[i][1]);
    }
  }
  CHECK(n >= 7);
}

TEST_CASE("TCP option walker: malformed and edge rows") {
  struct row {
    const char* name;
    byte_vector options;
    parse_status expected;
    std::size_t yielded;  // options yielded before the end or the error
  };
  const row rows[] = {
      {"empty", {}, parse_status::ok, 0},
      {"nops only", {1, 1, 1, 1}, parse_status::ok, 0},
      {"eol ends the walk", {2, 4, 5, 0xb4, 0, 2, 0, 0}, parse_status::ok, 1},
      {"unknown kind, length 2", {99, 2, 1, 1}, parse_status::ok, 1},
      {"sack one block", {1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2}, parse_status::ok, 1},
      {"length 0", {2, 0, 5, 0xb4}, parse_status::bad_option_length, 0},
      {"length 1", {99, 1, 0, 0}, parse_status::bad_option_length, 0},
      {"overlong", {1, 1, 8, 10, 0, 0, 0, 1, 0, 0}, parse_status::bad_option_length, 0},
      {"length octet missing", {2, 4, 5, 0xb4, 1, 1, 1, 8}, parse_status::bad_option_length, 1},
      {"mss length 3", {2, 3, 5, 1}, parse_status::bad_option_length, 0},
      {"window scale length 4", {3, 4, 7, 1}, parse_status::bad_option_length, 0},
      {"sack-permitted length 3", {4, 3, 0, 1}, parse_status::bad_option_length, 0},
      {"timestamps length 8", {8, 8, 0, 0, 0, 1, 0, 0}, parse_status::bad_option_length, 0},
      {"sack length 2 (no block)", {5, 2, 1, 1}, parse_status::bad_option_length, 0},
      {"sack length 12 (not 2 + 8n)", {5, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, parse_status::bad_option_length, 0},
      {"bad option after a good one", {3, 3, 7, 2, 0, 1, 1, 1}, parse_status::bad_option_length, 1},
  };
  for (const auto& r : rows) {
    const std::string captured_name = r.name;
    CAPTURE(captured_name);
    tcp_option_walker walker(r.options);
    tcp_option opt;
    std::size_t yielded = 0;
    while (walker.next(opt)) {
      ++yielded;
      CHECK(opt.value.size == opt.length - 2u);
    }
    CHECK(walker.status() == r.expected);
    CHECK(yielded == r.yielded);
    CHECK_FALSE(walker.next(opt));  // stays stopped
    tcp_options_summary s;
    CHECK(summarize_tcp_options(r.options, s) == r.expected);
  }
}

TEST_CASE("SACK with five blocks cannot be expressed") {
  // 2 + 5 * 8 = 42 bytes: more than the 40-byte option area, so it is always overlong.
  byte_vector o(42, 0);
  o[0] = 5;
  o[1] = 42;
  tcp_option_walker walker(bytes_view(o.data(), 40));
  tcp_option opt;
  CHECK_FALSE(walker.next(opt));
  CHECK(walker.status() == parse_status::bad_option_length);
}

TEST_CASE("tcp_view validate") {
  byte_vector seg(20, 0);
  seg[12] = 5 << 4;
  CHECK(tcp_view(seg).validate() == parse_status::ok);
  seg[12] = 4 << 4;
  CHECK(tcp_view(seg).validate() == parse_status::bad_data_offset);
  seg[12] = 6 << 4;
  CHECK(tcp_view(seg).validate() == parse_status::bad_data_offset);
  CHECK(tcp_view(bytes_view(seg.data(), 19)).validate() == parse_status::truncated);
}
