// bench_replica: document 002's client gateway on the packet path. Prints ns per datagram for
//  - the refill + parse baseline (what every stage pays before it runs);
//  - per configuration (A, B, C), a client segment of a won connection (A, B: destination
//    rewritten; C: encapsulated) and a replica segment toward the client (A: source rewritten;
//    B: passed; C: cracked), 1460-byte payloads, over 10000 connections in the table;
//  - tagging a start packet (table insert + option insertion + checksums).
// Each figure is the best of three runs (the machine is shared). Never passes or fails.
//
//   bench_replica [iterations]    (default 2000000)

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "net/packet/checksum.hpp"
#include "net/packet/ipip.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/packet_fields.hpp"
#include "net/replica/client_gateway_stage.hpp"
#include "tests/bench/bench_packets.hpp"

using namespace baton::net;
using baton::bench::ip4;
using baton::bench::tcp_datagram;
using clock_type = std::chrono::steady_clock;

namespace {

volatile std::uint64_t sink;
const std::uint32_t client = ip4(10, 1, 0, 2), server = ip4(10, 3, 0, 2), replica = ip4(10, 4, 1, 2);
constexpr std::size_t connections = 10000;

std::vector<std::uint8_t> wrap(const std::vector<std::uint8_t>& inner, std::uint32_t src, std::uint32_t dst) {
  std::vector<std::uint8_t> p(20 + inner.size());
  std::copy(inner.begin(), inner.end(), p.begin() + 20);
  p[0] = 0x45;
  store_be16(&p[2], static_cast<std::uint16_t>(p.size()));
  p[8] = 64;
  p[9] = ip_protocol_ipip;
  store_be32(&p[12], src);
  store_be32(&p[16], dst);
  store_be16(&p[10], internet_checksum(bytes_view(p.data(), 20)));
  return p;
}

// ns per datagram of `packets` through `stage` (or parse only when stage is null), from `port`.
double run(client_gateway_stage* stage, buffer_pool& pool, port_id port,
           const std::vector<std::vector<std::uint8_t>>& packets, std::size_t iterations) {
  double best = 1e18;
  for (int round = 0; round < 3; ++round) {
    packet_buffer* b = pool.acquire();
    const auto t0 = clock_type::now();
    for (std::size_t i = 0; i < iterations; ++i) {
      b->assign(packets[i % packets.size()]);
      packet_context ctx;
      ctx.buffer = b;
      ctx.in_port = port;
      ctx.pool = &pool;
      ctx.status = parse_fields(b->data(), ctx.fields);
      if (stage) sink = sink + static_cast<std::uint64_t>(stage->process(ctx).what);
      sink = sink + b->size();
    }
    const auto t1 = clock_type::now();
    pool.release(b);
    best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() / iterations);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t iterations = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2000000;
  buffer_pool pool({64, 128, 2048});
  std::vector<std::vector<std::uint8_t>> up, syns;
  for (std::size_t i = 0; i < connections; ++i) {
    const auto port = static_cast<std::uint16_t>(1024 + i);
    up.push_back(tcp_datagram(client, server, port, 80, 1000, 1, 0x18, 1460));
    syns.push_back(tcp_datagram(client, server, port, 80, 1000, 0, 0x02, 0));
  }
  const double base = run(nullptr, pool, 0, up, iterations);
  std::printf("refill + parse (baseline)                    %7.1f ns/datagram\n", base);
  for (auto mode : {replica_configuration::a, replica_configuration::b, replica_configuration::c}) {
    client_gateway_config c;
    c.configuration = mode;
    c.client_side = 0;
    c.wan_side = 1;
    c.self = ip4(10, 2, 0, 1);
    c.capacity = 2 * connections;
    client_gateway_stage g(c);
    // Open every connection: tagged SYN, then the replica's SYN-ACK wins.
    std::vector<std::vector<std::uint8_t>> down;
    for (std::size_t i = 0; i < connections; ++i) {
      const auto port = static_cast<std::uint16_t>(1024 + i);
      std::vector<std::uint8_t> answer;
      const std::uint32_t answer_src = mode == replica_configuration::a ? replica : server;
      std::vector<std::uint8_t> sa = tcp_datagram(mode == replica_configuration::b ? replica : answer_src, client,
                                                  80, port, 5000, 1001, 0x12, 0);
      if (mode == replica_configuration::b) sa = wrap(sa, server, client);
      if (mode == replica_configuration::c) sa = wrap(sa, replica, client);
      run(&g, pool, 0, {syns[i]}, 1);
      run(&g, pool, 1, {sa}, 1);
      auto data = tcp_datagram(answer_src, client, 80, port, 5001, 1001, 0x18, 1460);
      down.push_back(mode == replica_configuration::c ? wrap(data, replica, client) : data);
    }
    const double out = run(&g, pool, 0, up, iterations);
    const double in = run(&g, pool, 1, down, iterations);
    std::printf("configuration %s: client -> replica          %7.1f ns/datagram (%+.1f over baseline)\n",
                to_string(mode), out, out - base);
    std::printf("configuration %s: replica -> client          %7.1f ns/datagram (%+.1f over baseline)\n",
                to_string(mode), in, in - base);
    const auto wins = g.counters().replica_wins;
    sink = sink + wins;
  }
  {
    client_gateway_config c;
    c.self = ip4(10, 2, 0, 1);
    c.capacity = 2 * connections;
    client_gateway_stage g(c);
    const double tag = run(&g, pool, 0, syns, iterations);
    std::printf("tagging a start packet (insert + option)     %7.1f ns/datagram (%+.1f over baseline)\n", tag,
                tag - run(nullptr, pool, 0, syns, iterations));
  }
  return 0;
}
