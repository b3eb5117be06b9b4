// Benchmark: ns per enqueue + dequeue of start-time fair queueing with 2, 16 and 256 classes
// (steady state: every class stays backlogged, each dequeue followed by an enqueue of a packet of
// random size to the class just served, so the heap of backlogged classes stays full), and ns per datagram
// through the whole shaper stage (longest-prefix class of the source, enqueue, token bucket,
// dequeue, send, buffer back to the pool) with as many classes. Prints figures; never passes or
// fails on speed (DESIGN §8).

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "net/io/packet_port.hpp"
#include "net/sched/sfq.hpp"
#include "net/sched/shaper_stage.hpp"

using namespace baton::net;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Returns ns per enqueue+dequeue pair; `sink` keeps the compiler from dropping the work.
double bench_sfq(std::size_t classes, std::uint64_t& sink) {
  constexpr std::size_t limit = 64;
  sfq q(classes, limit);
  std::mt19937 rng{1};
  for (std::size_t c = 0; c < classes; ++c) q.set_weight(c, 1 + static_cast<std::uint32_t>(rng() % 100));
  // Precomputed sizes, so the timed loop does no random number work.
  std::vector<std::uint32_t> len(1 << 16);
  for (auto& l : len) l = 64 + static_cast<std::uint32_t>(rng() % 1437);
  packet_buffer fake;
  for (std::size_t c = 0; c < classes; ++c)
    for (std::size_t i = 0; i < limit / 2; ++i) q.enqueue(c, &fake, 1000);
  const std::size_t n = 20'000'000;
  sfq::item it;
  const double t0 = now_s();
  for (std::size_t i = 0; i < n; ++i) {
    q.dequeue(it);
    sink += it.len;
    const std::size_t k = i & 0xffff;
    q.enqueue(it.cls, &fake, len[k]);
  }
  const double t1 = now_s();
  return (t1 - t0) * 1e9 / double(n);
}

// A port that takes everything and keeps nothing: the bench measures the shaper, not a copy.
class null_port final : public packet_port {
 public:
  null_port() : packet_port("null", 1500) {}
  std::size_t receive_batch(packet_batch&, std::chrono::milliseconds) noexcept override { return 0; }
  std::size_t send_batch(const packet_batch& batch) noexcept override { return batch.size(); }
  int wait_fd() const noexcept override { return -1; }
};

// ns per datagram through the whole stage: process() (longest-prefix class of the source over
// `classes` virtual host subnets of mixed lengths, enqueue) and pump() every 32 datagrams
// (token bucket, dequeue in start-tag order, send, buffer back to the pool).
double bench_stage(std::size_t classes, std::uint64_t& sink) {
  buffer_pool pool(buffer_pool_config{1024, 128, 2048});
  null_port out;
  reader_epoch epoch;
  shaping_config c;
  c.rate_mbit = 100'000;  // never the limit here
  c.burst_kbyte = 10'000;
  std::mt19937 rng{2};
  for (std::size_t i = 0; i < classes; ++i) {
    const int len = i % 3 == 0 ? 16 : (i % 3 == 1 ? 24 : 32);
    const std::uint32_t addr = (10u << 24) | (static_cast<std::uint32_t>(i) << 16) | 0x0101u;
    c.classes.push_back({"c" + std::to_string(i), {addr, ~std::uint32_t{0} << (32 - len)},
                         1 + static_cast<std::uint32_t>(rng() % 100)});
  }
  shaper_stage s(epoch, pool, out, c, 0, nullptr, classes + 1);
  std::vector<packet_fields> fields(1 << 12);
  std::vector<std::uint32_t> lens(fields.size());
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const std::uint32_t k = static_cast<std::uint32_t>(rng() % classes);
    fields[i].src = (10u << 24) | (k << 16) | 0x0101u;
    lens[i] = 64 + static_cast<std::uint32_t>(rng() % 1437);
  }
  const std::size_t n = 10'000'000;
  std::uint64_t now = 0;
  const double t0 = now_s();
  epoch.enter();
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t k = i & (fields.size() - 1);
    packet_context ctx;
    ctx.buffer = pool.acquire();
    ctx.buffer->set_size(lens[k]);
    ctx.fields = fields[k];
    ctx.pool = &pool;
    if (s.process(ctx).what != verdict::kind::consume) pool.release(ctx.buffer);
    if ((i & 31) == 31) sink += s.pump(now += 1'000'000);
  }
  epoch.leave();
  sink += s.pump(now += 1'000'000'000);
  const double t1 = now_s();
  return (t1 - t0) * 1e9 / double(n);
}

}  // namespace

int main() {
  std::uint64_t sink = 0;
  std::printf("start-time fair queueing, all classes backlogged, 64-packet queues\n");
  for (std::size_t classes : {2, 16, 256}) {
    const double ns = bench_sfq(classes, sink);
    std::printf("  %4zu classes: %6.1f ns per enqueue+dequeue (%5.1f M packets/s)\n", classes, ns,
                1e3 / ns);
  }
  std::printf("shaper stage per datagram: classify (longest prefix over /16, /24, /32 subnets),\n"
              "enqueue, and pump every 32 datagrams (bucket, dequeue, send to a null port)\n");
  for (std::size_t classes : {2, 16, 256}) {
    const double ns = bench_stage(classes, sink);
    std::printf("  %4zu classes: %6.1f ns per datagram\n", classes, ns);
  }
  std::printf("(checksum %llu)\n", static_cast<unsigned long long>(sink));
  return 0;
}
