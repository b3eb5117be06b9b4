// Benchmark: ns per packet for the whole per-packet decision of a gateway stage on a TCP segment:
// parse (parse_fields) + classify (the policy's compiled rules, first match wins, and the work-unit
// hash) + rewrite (destination address and port, incremental checksums). Prints figures; never
// passes or fails on speed (DESIGN §8).

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "net/flow/flow_key.hpp"
#include "net/flow/work_unit.hpp"
#include "net/packet/packet_fields.hpp"
#include "net/packet/rewrite.hpp"
#include "policy/policy.hpp"

using namespace baton;

namespace {

// Rules in the shape an operator writes: a few specific matches before the default, with ports,
// prefixes, an OR and a TCP-option test, so the default is reached only after all are tried.
const char* policy_text = R"({
  "identity": {"name": "bench", "address": "10.0.0.1"},
  "roles": ["cluster"],
  "profiles": [{"name": "fast"}, {"name": "bulk"}, {"name": "drop", "action": "drop"}],
  "rules": [
    {"name": "ssh", "port": 22, "profile": "drop"},
    {"name": "dns", "protocol": "udp", "port": 53, "profile": "fast"},
    {"name": "mgmt", "src": "172.16.0.0/12", "profile": "fast"},
    {"name": "web", "any": [{"dst_port": 80}, {"dst_port": 443}], "dst": "10.0.0.0/8",
     "tcp_options": ["timestamp"], "profile": "bulk"},
    {"name": "rest", "default": true, "profile": "fast"}
  ]})";

std::vector<std::uint8_t> segment(std::uint32_t src, std::uint16_t sport, std::uint16_t dport) {
  std::vector<std::uint8_t> p(20 + 32 + 1400, 0);
  p[0] = 0x45;
  net::store_be16(p.data() + 2, static_cast<std::uint16_t>(p.size()));
  p[8] = 64;
  p[9] = 6;
  net::store_be32(p.data() + 12, src);
  net::store_be32(p.data() + 16, 0x0a000001);
  std::uint8_t* t = p.data() + 20;
  net::store_be16(t, sport);
  net::store_be16(t + 2, dport);
  t[12] = 8 << 4;
  t[13] = 0x18;
  const std::uint8_t opts[12] = {1, 1, 8, 10, 0, 0, 0x13, 0x88, 0, 1, 0xe2, 0x40};
  for (int i = 0; i < 12; ++i) t[20 + i] = opts[i];
  return p;
}

}  // namespace

int main() {
  auto pol = policy::load_policy_text(policy_text, "bench");
  std::mt19937 rng{7};
  // 256 different flows (client addresses and ports), to 80 and 443, cycled through.
  std::vector<std::vector<std::uint8_t>> packets;
  for (int i = 0; i < 256; ++i)
    packets.push_back(segment(0xc0a80000u | (rng() & 0xffff), static_cast<std::uint16_t>(1024 + rng() % 60000),
                              i % 2 ? 80 : 443));
  const std::size_t iterations = 4'000'000;
  std::uint64_t sink = 0;
  auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < iterations; ++i) {
    auto& p = packets[i & 255];
    net::packet_fields f;
    if (net::parse_fields(net::bytes_view(p.data(), p.size()), f) != net::parse_status::ok) continue;
    auto profile = pol.rules.match_profile(f);
    auto unit = net::document_work_unit(net::from_fields(f), net::filter::work_set, 1024);
    // Alternate between two backends so the rewrite changes bytes every time.
    auto backend = (i & 1) ? 0x0a000102u : 0x0a000101u;
    net::rewrite_destination(net::bytes_span(p.data(), p.size()), backend, 8080);
    sink += profile + unit;
  }
  auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  std::printf("parse + classify (5 rules, work unit) + rewrite: %.1f ns/packet over %zu packets "
              "(%.1f Mpps per core)\n", ns / iterations, iterations, iterations / ns * 1e3);
  std::printf("(checksum of results: %llu)\n", static_cast<unsigned long long>(sink));
  return 0;
}
