// IPv4 fragmentation of a datagram too long for its port (net/packet/fragment.hpp): how many
// pieces, their headers, and that their data put back together is the datagram's.

#include <doctest/doctest.h>

#include <vector>

#include "net/packet/checksum.hpp"
#include "net/packet/fragment.hpp"
#include "net/packet/ipv4.hpp"

using namespace baton::net;

namespace {

/// An IPv4 datagram of `total` bytes (protocol 4, patterned data) with the flags/offset word given.
std::vector<std::uint8_t> datagram(std::size_t total, std::uint16_t flags_offset) {
  std::vector<std::uint8_t> p(total);
  p[0] = 0x45;
  store_be16(&p[2], static_cast<std::uint16_t>(total));
  store_be16(&p[4], 0x4242);
  store_be16(&p[6], flags_offset);
  p[8] = 64;
  p[9] = 4;
  store_be32(&p[12], 0x0a1e0001);
  store_be32(&p[16], 0x0a1f0002);
  for (std::size_t i = 20; i < total; ++i) p[i] = static_cast<std::uint8_t>(i * 13 + 5);
  store_be16(&p[10], internet_checksum(bytes_view(p.data(), 20)));
  return p;
}

struct piece {
  std::uint16_t offset_units;
  bool more;
  std::vector<std::uint8_t> data;
};

/// All fragments of `p` for `mtu`, each checked for a right header.
std::vector<piece> fragments(std::vector<std::uint8_t> p, std::size_t mtu) {
  const std::size_t n = ipv4_fragment_count(bytes_view(p.data(), p.size()), mtu);
  std::vector<std::vector<std::uint8_t>> raw;
  for (std::size_t i = 1; i < n; ++i) {
    std::vector<std::uint8_t> out(mtu);
    out.resize(write_ipv4_fragment(bytes_view(p.data(), p.size()), mtu, i, bytes_span(out.data(), out.size())));
    raw.push_back(out);
  }
  p.resize(cut_to_first_ipv4_fragment(bytes_span(p.data(), p.size()), mtu));
  raw.insert(raw.begin(), p);
  std::vector<piece> out;
  for (auto& r : raw) {
    const ipv4_view ip(bytes_view(r.data(), r.size()));
    REQUIRE(ip.validate() == parse_status::ok);
    CHECK(r.size() <= mtu);
    CHECK(ip.total_length() == r.size());
    CHECK(ipv4_header_checksum_ok(bytes_view(r.data(), r.size())));
    CHECK(ip.identification() == 0x4242);
    CHECK_FALSE(ip.dont_fragment());
    out.push_back({ip.fragment_offset(), ip.more_fragments(), std::vector<std::uint8_t>(r.begin() + 20, r.end())});
  }
  return out;
}

}  // namespace

TEST_CASE("how many fragments a datagram needs, and when it may not have any") {
  struct row {
    const char* what;
    std::size_t total;
    std::uint16_t flags_offset;
    std::size_t mtu;
    std::size_t count;
  };
  const row rows[] = {
    {"fits", 1500, 0, 1500, 1},
    {"fits with DF", 1500, 0x4000, 1500, 1},
    {"a tunnel datagram 20 bytes over", 1520, 0, 1500, 2},
    {"DF set: never", 1520, 0x4000, 1500, 0},
    {"three pieces", 4000, 0, 1500, 3},
    {"a small MTU", 1520, 0, 576, 3},
    {"below RFC 791's 68", 1520, 0, 60, 0},
  };
  for (const auto& x : rows) {
    CAPTURE(x.what);
    const auto p = datagram(x.total, x.flags_offset);
    CHECK(ipv4_fragment_count(bytes_view(p.data(), p.size()), x.mtu) == x.count);
  }
  auto with_options = datagram(1520, 0);
  with_options[0] = 0x46;
  CHECK(ipv4_fragment_count(bytes_view(with_options.data(), with_options.size()), 1500) == 0);
}

TEST_CASE("fragments carry the datagram's data in order, with offsets, MF and checksums right") {
  struct row {
    const char* what;
    std::size_t total;
    std::uint16_t flags_offset;  // of the datagram before fragmenting
    std::size_t mtu;
    std::vector<std::uint16_t> offsets;
    bool last_more;
  };
  const row rows[] = {
    {"1520 over 1500", 1520, 0, 1500, {0, 185}, false},
    {"4000 over 1500", 4000, 0, 1500, {0, 185, 370}, false},
    {"1520 over 576", 1520, 0, 576, {0, 69, 138}, false},
    // A fragment fragmented again (RFC 791): offsets add, the last piece keeps its MF.
    {"a middle fragment", 1520, 0x2000 | 100, 1500, {100, 285}, true},
    {"a last fragment", 1520, 100, 1500, {100, 285}, false},
  };
  for (const auto& x : rows) {
    CAPTURE(x.what);
    const auto p = datagram(x.total, x.flags_offset);
    const auto got = fragments(p, x.mtu);
    REQUIRE(got.size() == x.offsets.size());
    std::vector<std::uint8_t> joined;
    for (std::size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].offset_units == x.offsets[i]);
      CHECK(got[i].more == (i + 1 < got.size() || x.last_more));
      if (i + 1 < got.size()) CHECK(got[i].data.size() % 8 == 0);
      CHECK((got[i].offset_units - x.offsets[0]) * 8u == joined.size());
      joined.insert(joined.end(), got[i].data.begin(), got[i].data.end());
    }
    CHECK(joined == std::vector<std::uint8_t>(p.begin() + 20, p.end()));
  }
}
