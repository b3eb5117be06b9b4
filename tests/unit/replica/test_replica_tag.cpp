// The replica tag (net/packet/replica_tag.hpp): table-driven over option areas, and the round
// trip through tcp_add_option on a real SYN.

#include <doctest/doctest.h>

#include <vector>

#include "net/packet/replica_tag.hpp"
#include "net/packet/rewrite.hpp"
#include "net/packet/tcp.hpp"
#include "tests/unit/slrnet/slr_rig.hpp"

namespace baton::net::test {
namespace {

struct tag_row {
  const char* name;
  bytes options;
  replica_tag_status want;
  std::uint32_t gateway = 0;
  bool redirect = true;
};

}  // namespace

TEST_CASE("find_replica_tag: table") {
  const std::vector<tag_row> rows = {
    {"empty", {}, replica_tag_status::absent},
    {"mss only", {2, 4, 0x05, 0xb4}, replica_tag_status::absent},
    {"ours, kind 253", {253, 10, 0xba, 0x70, 1, 0, 10, 2, 0, 1, 1, 1}, replica_tag_status::ok,
     ip4(10, 2, 0, 1)},
    {"ours, kind 254", {254, 10, 0xba, 0x70, 1, 0, 10, 2, 0, 9}, replica_tag_status::ok, ip4(10, 2, 0, 9)},
    {"ours, redirect not permitted", {253, 10, 0xba, 0x70, 0, 0, 10, 2, 0, 1}, replica_tag_status::ok,
     ip4(10, 2, 0, 1), false},
    {"after NOPs and MSS", {1, 1, 2, 4, 5, 0xb4, 253, 10, 0xba, 0x70, 1, 0, 1, 2, 3, 4},
     replica_tag_status::ok, ip4(1, 2, 3, 4)},
    {"another experiment's 253", {253, 4, 0x12, 0x34}, replica_tag_status::absent},
    {"another experiment first, then ours",
     {253, 4, 0x12, 0x34, 253, 10, 0xba, 0x70, 1, 0, 10, 0, 0, 1}, replica_tag_status::ok, ip4(10, 0, 0, 1)},
    {"ours with the wrong length", {253, 8, 0xba, 0x70, 1, 0, 10, 0}, replica_tag_status::malformed},
    {"253 too short for an ExID", {253, 2}, replica_tag_status::absent},
    {"length 1", {253, 1, 0, 0}, replica_tag_status::bad_options},
    {"length past the end", {2, 4, 5, 0xb4, 253, 30, 0xba, 0x70}, replica_tag_status::bad_options},
    {"kind without length", {1, 1, 1, 253}, replica_tag_status::bad_options},
    {"bad MSS length before ours", {2, 3, 5, 253, 10, 0xba, 0x70, 1, 0, 1, 2, 3, 4},
     replica_tag_status::bad_options},
    {"end of list hides ours", {0, 253, 10, 0xba, 0x70, 1, 0, 1, 2, 3, 4}, replica_tag_status::absent},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    replica_tag tag{false, 77};
    const auto s = find_replica_tag(bytes_view(row.options.data(), row.options.size()), tag);
    CHECK(s == row.want);
    if (row.want == replica_tag_status::ok) {
      CHECK(tag.gateway == row.gateway);
      CHECK(tag.redirect_permitted == row.redirect);
    } else {
      CHECK(tag.gateway == 77);  // untouched
    }
  }
}

TEST_CASE("replica tag: written, added to a SYN, found, stripped back to the original bytes") {
  bytes syn_packet = tcp_segment(ip4(10, 1, 0, 2), ip4(10, 3, 0, 2), 40000, 80, syn);
  const bytes original = syn_packet;
  std::uint8_t option[replica_tag_length];
  CHECK_FALSE(write_replica_tag(bytes_span(option, 4), {}));
  REQUIRE(write_replica_tag(bytes_span(option, sizeof option), {true, ip4(10, 2, 0, 1)}));
  syn_packet.resize(200);
  std::size_t len = original.size();
  REQUIRE(tcp_add_option(bytes_span(syn_packet.data(), syn_packet.size()), len,
                         bytes_view(option, sizeof option)) == edit_status::ok);
  CHECK(len == original.size() + 12);  // 10 bytes and 2 NOPs
  syn_packet.resize(len);
  CHECK(verify_l4_checksum(syn_packet) == parse_status::ok);
  const ipv4_view ip(syn_packet);
  REQUIRE(ip.validate() == parse_status::ok);
  const tcp_view tcp(ip.payload());
  replica_tag tag;
  REQUIRE(find_replica_tag(tcp.options(), tag) == replica_tag_status::ok);
  CHECK(tag.gateway == ip4(10, 2, 0, 1));
  CHECK(tag.redirect_permitted);
  REQUIRE(tcp_strip_option(bytes_span(syn_packet.data(), syn_packet.size()), len,
                           tcp_option_experimental_1) == edit_status::ok);
  syn_packet.resize(len);
  CHECK(syn_packet == original);
}

}  // namespace baton::net::test
