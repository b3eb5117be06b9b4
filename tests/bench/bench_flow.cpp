// bench_flow: flow-table lookup cost and memory per flow, and how evenly the two work-unit
// hashes spread flows over 1024 units. Prints figures; never passes or fails.
//
//   bench_flow [entries]      (default 1000000)
//
// Build with -DCMAKE_BUILD_TYPE=Release for numbers that mean anything.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <vector>

#include "net/flow/flow_table.hpp"
#include "net/flow/work_unit.hpp"

using namespace baton::net;
using clock_type = std::chrono::steady_clock;

namespace {

volatile std::uint64_t sink;  // keeps results alive so the loops are not optimised away

flow_key random_key(std::mt19937_64& rng) {
  const std::uint64_t a = rng(), b = rng();
  flow_key k;
  k.src_addr = static_cast<std::uint32_t>(a);
  k.dst_addr = static_cast<std::uint32_t>(a >> 32);
  k.src_port = static_cast<std::uint16_t>(b);
  k.dst_port = static_cast<std::uint16_t>(b >> 16);
  k.protocol = (b >> 32) & 1 ? 6 : 17;
  return k;
}

double ns_since(clock_type::time_point t0, std::size_t ops) {
  return std::chrono::duration<double, std::nano>(clock_type::now() - t0).count() /
         static_cast<double>(ops);
}

// Three ways to look up: one key at a time with independent keys (the CPU overlaps some cache
// misses by itself); find_batch over receive batches of 32 (software prefetch overlaps them all);
// and, for hits, a dependent chain where each key is chosen by the previous result: one full
// memory latency per lookup, the worst case.
void lookups(flow_table& t, const std::vector<flow_key>& keys, bool hits) {
  const std::size_t n = keys.size();
  const std::size_t rounds = std::max<std::size_t>(1, 10'000'000 / n);
  std::uint64_t acc = 0;
  auto t0 = clock_type::now();
  for (std::size_t r = 0; r < rounds; ++r)
    for (const flow_key& k : keys) {
      const flow_value* v = t.find(k);
      acc += v ? v->user : 1;
    }
  const double single = ns_since(t0, rounds * n);

  constexpr std::size_t batch = 32;
  flow_value* out[batch];
  t0 = clock_type::now();
  for (std::size_t r = 0; r < rounds; ++r)
    for (std::size_t b = 0; b + batch <= n; b += batch) {
      t.find_batch(&keys[b], batch, out);
      for (std::size_t j = 0; j < batch; ++j) acc += out[j] ? out[j]->user : 1;
    }
  const double batched = ns_since(t0, rounds * (n / batch) * batch);

  double dependent = 0;
  if (hits) {
    std::size_t idx = 0;
    t0 = clock_type::now();
    for (std::size_t i = 0; i < rounds * n; ++i) {
      const std::uint64_t x = t.find(keys[idx])->user;
      acc += x;
      idx = (idx + 1 + (x & 1)) % n;  // the next key depends on the loaded value
    }
    dependent = ns_since(t0, rounds * n);
  }
  sink = acc;
  std::printf("  lookup %-4s %6.1f ns one by one, %6.1f ns in batches of %zu",
              hits ? "hit" : "miss", single, batched, batch);
  if (hits) std::printf(", %6.1f ns dependent chain", dependent);
  std::printf("\n");
}

void table_bench(std::size_t entries, std::size_t capacity) {
  std::mt19937_64 rng(42);
  std::vector<flow_key> present(entries), absent(entries);
  for (auto& k : present) k = random_key(rng);
  for (auto& k : absent) k = random_key(rng);

  flow_table t(capacity);
  auto t0 = clock_type::now();
  std::size_t refused = 0;
  for (std::size_t i = 0; i < entries; ++i) {
    const flow_value v = make_flow_value(present[i].protocol, tcp_flag_syn, 0,
                                         std::chrono::milliseconds{0},
                                         static_cast<std::uint32_t>(i));
    if (t.insert(present[i], v).status != insert_status::inserted) ++refused;
  }
  const double insert_ns = ns_since(t0, entries);

  std::printf("flow table: %zu entries, capacity %zu, %zu slots (%.0f%% of slots used)\n",
              t.size(), t.capacity(), t.slot_count(), 100.0 * t.size() / t.slot_count());
  std::printf("  bytes per entry %.1f at capacity (slot %zu B, bound %zu B, goal <= 64); "
              "%.1f MiB total\n",
              t.bytes_per_entry(), flow_table::slot_bytes, flow_table::max_bytes_per_entry,
              t.memory_bytes() / 1048576.0);
  std::printf("  insert %.1f ns; refused %zu; longest probe %zu\n", insert_ns, refused,
              t.longest_probe());

  std::shuffle(present.begin(), present.end(), rng);
  lookups(t, present, true);
  lookups(t, absent, false);

  // Sweep cost per slot examined, nothing expired (the steady state) and everything expired.
  t0 = clock_type::now();
  const std::size_t passes = 5;
  for (std::size_t p = 0; p < passes; ++p) t.sweep(std::chrono::milliseconds{1}, t.slot_count());
  const double sweep_keep = ns_since(t0, passes * t.slot_count());
  t0 = clock_type::now();
  const sweep_result r = t.sweep(std::chrono::hours{1}, t.slot_count() + t.size());
  const double sweep_drop = ns_since(t0, r.visited);
  std::printf("  sweep %.2f ns/slot keeping all, %.2f ns/slot expiring all (%zu removed)\n",
              sweep_keep, sweep_drop, r.expired);
}

struct spread {
  double peak_over_mean;
  double low_over_mean;
  std::size_t used;
};

spread measure(const std::vector<std::uint32_t>& load) {
  std::uint64_t total = 0;
  std::uint32_t peak = 0, low = ~0u;
  std::size_t used = 0;
  for (auto c : load) {
    total += c;
    peak = std::max(peak, c);
    low = std::min(low, c);
    used += c != 0;
  }
  const double mean = static_cast<double>(total) / load.size();
  return {peak / mean, low / mean, used};
}

// One traffic mix: make(i, rng) gives the i-th packet's key; every packet is one unit of load.
void spread_row(const char* name, std::size_t packets, filter f,
                const std::function<flow_key(std::size_t, std::mt19937_64&)>& make) {
  std::vector<std::uint32_t> doc(default_work_units), mix(default_work_units);
  std::mt19937_64 rng(7);
  for (std::size_t i = 0; i < packets; ++i) {
    const flow_key k = make(i, rng);
    ++doc[document_work_unit(k, f)];
    ++mix[mixed_work_unit(k, f)];
  }
  const spread d = measure(doc), m = measure(mix);
  std::printf("  %-44s document %5.2f max/mean %4zu used | mixed %5.2f max/mean %4zu used\n", name,
              d.peak_over_mean, d.used, m.peak_over_mean, m.used);
}

constexpr std::uint32_t ip(std::uint32_t a, std::uint32_t b, std::uint32_t c, std::uint32_t d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

void hash_bench() {
  const std::size_t n = 1'000'000;
  const std::uint32_t vip = ip(192, 168, 1, 10);
  std::printf("work-unit spread over %u units, %zu flows or packets each "
              "(max/mean: 1.00 is perfect)\n", default_work_units, n);

  spread_row("uniform random 5-tuples", n, filter::work_set,
             [](std::size_t, std::mt19937_64& rng) { return random_key(rng); });

  // Four client /24s, random ports from Linux's default ephemeral range.
  const std::uint32_t nets[] = {ip(10, 1, 4, 0), ip(10, 1, 9, 0), ip(172, 16, 30, 0),
                                ip(192, 0, 2, 0)};
  spread_row("4 client /24s, random ephemeral ports", n, filter::work_set,
             [&](std::size_t, std::mt19937_64& rng) {
               flow_key k;
               k.src_addr = nets[rng() % 4] | (rng() & 0xff);
               k.src_port = static_cast<std::uint16_t>(32768 + rng() % 28232);
               k.dst_addr = vip;
               k.dst_port = 443;
               k.protocol = 6;
               return k;
             });

  // Same clients, each opening ~1000 connections with even ports counting up from a random
  // start, as Linux connect() does.
  std::vector<std::uint16_t> start(1024);
  {
    std::mt19937_64 r(3);
    for (auto& s : start) s = static_cast<std::uint16_t>(32768 + 2 * (r() % 14116));
  }
  spread_row("4 client /24s, sequential even ports", n, filter::work_set,
             [&](std::size_t i, std::mt19937_64&) {
               const std::size_t client = i % 1024, seq = i / 1024;
               flow_key k;
               k.src_addr = nets[client / 256] | (client & 0xff);
               k.src_port = static_cast<std::uint16_t>(
                   32768 + (start[client] - 32768 + 2 * seq) % 28232);
               k.dst_addr = vip;
               k.dst_port = 443;
               k.protocol = 6;
               return k;
             });

  // DNS resolvers answering from port 53, one 10.s.0.0/24 per site, 40 sites: 10240 flows,
  // load counted in queries.
  spread_row("UDP sport 53, 40 sites 10.s.0.0/24 (queries)", n, filter::work_set,
             [&](std::size_t, std::mt19937_64& rng) {
               flow_key k;
               const auto site = 1 + static_cast<std::uint32_t>(rng() % 40);
               k.src_addr = ip(10, site, 0, 0) | (rng() & 0xff);
               k.src_port = 53;
               k.dst_addr = vip;
               k.dst_port = 53;
               k.protocol = 17;
               return k;
             });

  // ESP (protocol 50) from the four /24s to the VIP: the document hashes source XOR destination.
  spread_row("ESP from 4 client /24s (packets)", n, filter::work_set,
             [&](std::size_t, std::mt19937_64& rng) {
               flow_key k;
               k.src_addr = nets[rng() % 4] | (rng() & 0xff);
               k.dst_addr = vip;
               k.protocol = 50;
               return k;
             });

  // Forwarded traffic: 1M TCP flows between 200 host pairs (backups, replication).
  std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs(200);
  {
    std::mt19937_64 r(5);
    for (auto& p : pairs)
      p = {ip(10, 20, 0, 0) | static_cast<std::uint32_t>(r() % 65536),
           ip(10, 30, 0, 0) | static_cast<std::uint32_t>(r() % 65536)};
  }
  spread_row("forwarded, 200 host pairs, random ports", n, filter::forward,
             [&](std::size_t, std::mt19937_64& rng) {
               const auto& p = pairs[rng() % pairs.size()];
               flow_key k;
               k.src_addr = p.first;
               k.dst_addr = p.second;
               k.src_port = static_cast<std::uint16_t>(32768 + rng() % 28232);
               k.dst_port = 22;
               k.protocol = 6;
               return k;
             });

  // Cost of each hash.
  std::mt19937_64 rng(9);
  std::vector<flow_key> keys(1 << 16);
  for (auto& k : keys) k = random_key(rng);
  for (auto kind : {work_unit_hash::document, work_unit_hash::mixed}) {
    const work_unit_hasher h(kind);
    std::uint64_t acc = 0;
    const auto t0 = clock_type::now();
    const std::size_t rounds = 200;
    for (std::size_t r = 0; r < rounds; ++r)
      for (const auto& k : keys) acc += h(k);
    const double ns = ns_since(t0, rounds * keys.size());
    sink = acc;
    std::printf("  %-8s hash %.2f ns per packet\n", to_string(kind), ns);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t entries = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  if (entries == 0) {
    std::fprintf(stderr, "usage: bench_flow [entries > 0]\n");
    return 2;
  }
  table_bench(entries, entries);      // full table: 80% of slots used
  table_bench(entries, entries * 2);  // half-full table: 40% of slots used
  hash_bench();
  return 0;
}
