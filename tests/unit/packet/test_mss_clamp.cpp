// MSS clamping of SYNs that enter a tunnel (net/packet/mss_clamp.hpp): which segments are
// changed, to what, and that the checksum stays right (or stays wrong).

#include <doctest/doctest.h>

#include <vector>

#include "net/packet/checksum.hpp"
#include "net/packet/ipip.hpp"
#include "net/packet/mss_clamp.hpp"
#include "net/packet/tcp.hpp"

using namespace baton::net;

namespace {

constexpr std::uint32_t client = 0x0a280002, server = 0x0ac80101;

/// An IPv4 TCP segment with `options` (padded to 4 bytes with NOPs at the front, so an odd
/// number of them shifts the MSS option off its usual alignment), checksums right.
std::vector<std::uint8_t> segment(std::uint8_t flags, std::vector<std::uint8_t> options) {
  while (options.size() % 4) options.insert(options.begin(), tcp_option_no_operation);
  const std::size_t tcp_len = 20 + options.size();
  std::vector<std::uint8_t> p(20 + tcp_len);
  p[0] = 0x45;
  store_be16(&p[2], static_cast<std::uint16_t>(p.size()));
  store_be16(&p[6], 0x4000);
  p[8] = 64;
  p[9] = 6;
  store_be32(&p[12], client);
  store_be32(&p[16], server);
  store_be16(&p[10], internet_checksum(bytes_view(p.data(), 20)));
  store_be16(&p[20], 40000);
  store_be16(&p[22], 80);
  store_be32(&p[24], 1000);
  p[32] = static_cast<std::uint8_t>((tcp_len / 4) << 4);
  p[33] = flags;
  store_be16(&p[34], 64240);
  std::copy(options.begin(), options.end(), p.begin() + 40);
  store_be16(&p[36], transport_checksum(client, server, 6, bytes_view(p.data() + 20, tcp_len)));
  return p;
}

std::vector<std::uint8_t> mss(std::uint16_t v) { return {2, 4, static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)}; }
std::vector<std::uint8_t> operator+(std::vector<std::uint8_t> a, const std::vector<std::uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
const std::vector<std::uint8_t> sack_ok{4, 2}, wscale{3, 3, 7}, timestamps{8, 10, 0, 0, 0, 1, 0, 0, 0, 0};

std::uint16_t mss_of(const std::vector<std::uint8_t>& p) {
  tcp_options_summary s;
  REQUIRE(summarize_tcp_options(tcp_view(bytes_view(p.data() + 20, p.size() - 20)).options(), s) == parse_status::ok);
  return s.mss;
}

}  // namespace

TEST_CASE("a SYN's MSS is lowered to what fits the tunnel, and nothing else is touched") {
  CHECK(tunnelled_mss(1500) == 1440);  // 1500 - 20 (IP-in-IP) - 20 (IP) - 20 (TCP)
  CHECK(tunnelled_mss(100) == 536);    // never below the default

  struct row {
    const char* what;
    std::vector<std::uint8_t> packet;
    mss_clamp_result result;
    std::uint16_t mss_after;
  };
  const row rows[] = {
    {"SYN with Linux's options, MSS 1460", segment(0x02, mss(1460) + sack_ok + timestamps + wscale),
     mss_clamp_result::clamped, 1440},
    {"SYN-ACK, MSS 1460", segment(0x12, mss(1460) + wscale), mss_clamp_result::clamped, 1440},
    {"SYN, MSS at an odd offset", segment(0x02, wscale + mss(8960)), mss_clamp_result::clamped, 1440},
    {"SYN, MSS already smaller", segment(0x02, mss(1400)), mss_clamp_result::within, 1400},
    {"SYN, MSS equal", segment(0x02, mss(1440)), mss_clamp_result::within, 1440},
    {"SYN without an MSS option", segment(0x02, sack_ok), mss_clamp_result::within, 0},
    {"an ACK", segment(0x10, {}), mss_clamp_result::not_syn, 0},
    {"a SYN with RST", segment(0x06, mss(1460)), mss_clamp_result::not_syn, 1460},
    {"options that do not walk", segment(0x02, {2, 9, 5, 180}), mss_clamp_result::malformed, 0},
  };
  for (const auto& x : rows) {
    CAPTURE(x.what);
    auto p = x.packet;
    const std::size_t size = p.size();
    CHECK(clamp_syn_mss(bytes_span(p.data(), p.size()), 1440) == x.result);
    CHECK(p.size() == size);
    if (x.result != mss_clamp_result::malformed) {
      CHECK(mss_of(p) == x.mss_after);
      CHECK(verify_l4_checksum(bytes_view(p.data(), p.size())) == parse_status::ok);
    }
    if (x.result != mss_clamp_result::clamped) CHECK(p == x.packet);
  }
}

TEST_CASE("a SYN with a wrong checksum keeps a wrong one once clamped") {
  auto p = segment(0x02, mss(1460));
  p[37] ^= 0x55;
  REQUIRE(clamp_syn_mss(bytes_span(p.data(), p.size()), 1440) == mss_clamp_result::clamped);
  CHECK(verify_l4_checksum(bytes_view(p.data(), p.size())) == parse_status::bad_checksum);
}

TEST_CASE("inside IP-in-IP: the inner SYN is clamped, the outer header and other protocols are not") {
  auto inner = segment(0x02, mss(1460) + sack_ok);
  std::vector<std::uint8_t> out(20 + inner.size());
  std::copy(inner.begin(), inner.end(), out.begin() + 20);
  bytes_span outer;
  REQUIRE(ipip_encapsulate(bytes_span(out.data(), out.size()), 20, ipip_tunnel{0x0a1e0001, 0x0a1f0002, 64, 7},
                           outer) == edit_status::ok);
  const std::vector<std::uint8_t> outer_header(out.begin(), out.begin() + 20);
  REQUIRE(clamp_tunnelled_syn_mss(outer, 1440) == mss_clamp_result::clamped);
  CHECK(std::vector<std::uint8_t>(out.begin(), out.begin() + 20) == outer_header);
  const std::vector<std::uint8_t> now(out.begin() + 20, out.end());
  CHECK(mss_of(now) == 1440);
  CHECK(verify_l4_checksum(bytes_view(now.data(), now.size())) == parse_status::ok);
  // A bare TCP SYN is not a tunnel datagram.
  auto bare = segment(0x02, mss(1460));
  CHECK(clamp_tunnelled_syn_mss(bytes_span(bare.data(), bare.size()), 1440) == mss_clamp_result::not_syn);
}
