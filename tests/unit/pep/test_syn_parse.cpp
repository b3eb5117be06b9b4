// What the SYN queue reads of a queued packet (net/pep/syn_queue.hpp): a SYN's fields, MSS and
// ISN; anything else is named unsupported or malformed (then passed unchanged, counted).

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "net/pep/syn_queue.hpp"

using baton::net::parse_status;
using baton::net::queued_syn;
using baton::net::syn_queue;

namespace {

/// An IPv4 + TCP packet: 10.1.0.2:40000 -> 10.2.0.2:8080, flags, the given options.
std::vector<std::uint8_t> segment(std::uint8_t flags, std::vector<std::uint8_t> options, std::uint8_t protocol = 6) {
  while (options.size() % 4) options.push_back(0);
  const std::size_t tcp_len = 20 + options.size();
  std::vector<std::uint8_t> p(20 + tcp_len, 0);
  p[0] = 0x45;
  p[1] = 0xb8;  // DSCP 46
  p[2] = static_cast<std::uint8_t>(p.size() >> 8);
  p[3] = static_cast<std::uint8_t>(p.size());
  p[8] = 64;
  p[9] = protocol;
  const std::uint8_t src[] = {10, 1, 0, 2}, dst[] = {10, 2, 0, 2};
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = src[i];
    p[16 + i] = dst[i];
  }
  std::uint8_t* t = p.data() + 20;
  t[0] = 40000 >> 8;
  t[1] = 40000 & 0xff;
  t[2] = 8080 >> 8;
  t[3] = 8080 & 0xff;
  t[4] = 0x11;
  t[5] = 0x22;
  t[6] = 0x33;
  t[7] = 0x44;
  t[12] = static_cast<std::uint8_t>((tcp_len / 4) << 4);
  t[13] = flags;
  for (std::size_t i = 0; i < options.size(); ++i) t[20 + i] = options[i];
  return p;
}

}  // namespace

TEST_CASE("a SYN is read with its MSS and ISN, and what is not a SYN is refused") {
  struct row {
    const char* what;
    std::vector<std::uint8_t> packet;
    bool readable;  // else passed unchanged and counted as malformed
    std::uint16_t mss;
  };
  const std::vector<std::uint8_t> mss_1460{2, 4, 0x05, 0xb4};
  auto truncated = segment(0x02, mss_1460);
  truncated.resize(30);
  const row rows[] = {
    {"SYN with MSS", segment(0x02, {2, 4, 0x05, 0xb4, 1, 1, 4, 2}), true, 1460},
    {"SYN without options", segment(0x02, {}), true, 0},
    {"SYN whose options do not walk", segment(0x02, {2, 9, 0, 0}), false, 0},
    {"SYN-ACK", segment(0x12, mss_1460), false, 0},
    {"ACK", segment(0x10, {}), false, 0},
    {"not TCP", segment(0x02, {}, 17), false, 0},
    {"truncated", truncated, false, 0},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    queued_syn s;
    syn_queue::parse(r.packet.data(), r.packet.size(), s);
    CHECK((s.status == parse_status::ok) == r.readable);
    if (s.status != parse_status::ok) continue;
    CHECK(s.mss == r.mss);
    CHECK(s.seq == 0x11223344u);
    CHECK(s.fields.src == 0x0a010002u);
    CHECK(s.fields.dst == 0x0a020002u);
    CHECK(s.fields.src_port == 40000);
    CHECK(s.fields.dst_port == 8080);
    CHECK(s.fields.dscp == 46);
  }
}
