// Benchmark: ns per packet for parse_fields and for an in-place destination rewrite (address +
// port with RFC 1624 incremental checksums) of a TCP data segment, plus the full checksum
// finish for comparison. Prints figures; never passes or fails on speed (DESIGN §8).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "net/packet/checksum.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/packet_fields.hpp"
#include "net/packet/rewrite.hpp"
#include "net/packet/tcp.hpp"

using namespace baton::net;

namespace {

// A TCP data segment with timestamps (what a bulk transfer carries), built field by field.
std::vector<std::uint8_t> make_segment(std::size_t payload) {
  std::vector<std::uint8_t> p(20 + 32 + payload, 0);
  p[0] = 0x45;
  store_be16(p.data() + 2, static_cast<std::uint16_t>(p.size()));
  store_be16(p.data() + 6, ipv4_flag_df);
  p[8] = 64;
  p[9] = ip_protocol_tcp;
  store_be32(p.data() + 12, 0xc0000250);  // 192.0.2.80
  store_be32(p.data() + 16, 0x0a000001);  // 10.0.0.1
  std::uint8_t* t = p.data() + 20;
  store_be16(t, 80);
  store_be16(t + 2, 40000);
  store_be32(t + 4, 0x10000000);
  store_be32(t + 8, 0x20000000);
  t[12] = 8 << 4;
  t[13] = tcp_flag_ack | tcp_flag_psh;
  store_be16(t + 14, 501);
  const std::uint8_t opts[12] = {1, 1, 8, 10, 0, 0, 0x13, 0x88, 0, 1, 0xe2, 0x40};
  for (int i = 0; i < 12; ++i) t[20 + i] = opts[i];
  for (std::size_t i = 0; i < payload; ++i) p[52 + i] = static_cast<std::uint8_t>(i * 7);
  ipv4_mutable_view(bytes_span(p)).recompute_checksum();
  finish_l4_checksum(bytes_span(p));
  return p;
}

template <class F>
double ns_per_op(std::size_t iterations, F&& f) {
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < iterations; ++i) f(i);
  const auto end = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(end - start).count() /
         static_cast<double>(iterations);
}

}  // namespace

int main() {
  constexpr std::size_t iterations = 5'000'000;
  std::vector<std::uint8_t> pkt = make_segment(1400);
  volatile std::uint64_t sink = 0;

  // Warm up caches and branch predictors.
  packet_fields f;
  for (int i = 0; i < 100000; ++i) sink = sink + static_cast<int>(parse_fields(pkt, f));

  const double parse_ns = ns_per_op(iterations, [&](std::size_t) {
    parse_fields(pkt, f);
    sink = sink + f.dst_port;
  });

  // Alternate between two destinations so every iteration really changes the bytes.
  const std::uint32_t dsts[2] = {0xac100509, 0x0a000001};
  const std::uint16_t ports[2] = {8080, 40000};
  const double rewrite_ns = ns_per_op(iterations, [&](std::size_t i) {
    rewrite_destination(pkt, dsts[i & 1], ports[i & 1]);
  });

  const double both_ns = ns_per_op(iterations, [&](std::size_t i) {
    parse_fields(pkt, f);
    rewrite_destination(pkt, dsts[i & 1], ports[i & 1]);
  });

  // Checked before the full recomputation below would hide a drift.
  const bool still_right = verify_l4_checksum(pkt) == parse_status::ok &&
                           ipv4_view(bytes_view(pkt)).checksum_ok();

  const double full_ns = ns_per_op(iterations / 10, [&](std::size_t) {
    sink = sink + static_cast<int>(finish_l4_checksum(pkt));
  });
  std::printf("bench_packet: TCP segment of %zu bytes, %zu iterations\n", pkt.size(), iterations);
  std::printf("  parse_fields                         %8.1f ns/packet\n", parse_ns);
  std::printf("  rewrite_destination (incremental)    %8.1f ns/packet\n", rewrite_ns);
  std::printf("  parse_fields + rewrite_destination   %8.1f ns/packet  (%.1f Mpps/core)\n", both_ns,
              1000.0 / both_ns);
  std::printf("  finish_l4_checksum (full, 1452 B)    %8.1f ns/packet  (%.1fx the incremental rewrite)\n",
              full_ns, full_ns / rewrite_ns);
  std::printf("  checksums still right after %zu rewrites: %s\n", 2 * iterations,
              still_right ? "yes" : "NO");
  (void)sink;
  return 0;  // figures only; the unit tests judge correctness
}
