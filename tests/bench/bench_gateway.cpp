// bench_gateway: the cluster member's gateway stage. Prints ns per datagram for the work-unit
// filter + flow lookup + rewrite (client and reply direction, NAT and DSR, and the not-owned drop),
// what replicating the flow state costs in bytes per flow, and the bytes per flow per second a
// role hands the group substrate over 10 s of 100 ms batches: the whole unit re-exported on any
// change (the old scheme) against deltas with compaction checkpoints (export_delta and the
// substrate's compaction bound, actors/group/config.hpp). Prints figures; never passes or fails.
//
//   bench_gateway [flows] [rounds]   (default 10000 flows; try 1000000 for tables beyond the
//                                     caches; rounds over all flows default to 2,000,000 / flows,
//                                     fewer make a run under valgrind short)
//
// Build with -DCMAKE_BUILD_TYPE=Release for numbers that mean anything.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "actors/group/config.hpp"
#include "net/gateway/gateway_stage.hpp"
#include "net/io/packet_buffer.hpp"
#include "net/packet/checksum.hpp"
#include "tests/bench/bench_packets.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/tcp.hpp"

using namespace baton::net;
using clock_type = std::chrono::steady_clock;

namespace {

volatile std::uint64_t sink;

using baton::bench::ip4;
using baton::bench::tcp_datagram;
const std::uint32_t vip = ip4(10, 0, 0, 100);


gateway_config config(gateway_mode mode) {
  gateway_config c;
  c.cluster_ip = vip;
  c.member_addr = ip4(10, 0, 0, 11);
  c.mode = mode;
  c.client_port = 0;
  c.backend_port = 1;
  gateway_service web;
  web.protocol = ip_protocol_tcp;
  web.port = 80;
  for (int i = 1; i <= 8; ++i) web.backends.push_back({ip4(10, 1, 0, i), 8080, true});
  c.services = {web};
  return c;
}

struct harness {
  buffer_pool pool{buffer_pool_config{4, 128, 2048}};
  packet_buffer* buf = pool.acquire();
  packet_context ctx;
  harness() {
    ctx.buffer = buf;
    ctx.pool = &pool;
  }
  // Copy in, parse, run the stage: what the loop does per datagram minus receive and send.
  verdict run(gateway_stage* gw, const std::vector<std::uint8_t>& p) {
    buf->assign(bytes_view(p.data(), p.size()));
    parse_fields(buf->data(), ctx.fields);
    if (gw == nullptr) return verdict::next();
    return gw->process(ctx);
  }
};

double ns_per(harness& h, gateway_stage* gw, const std::vector<std::vector<std::uint8_t>>& pkts,
              std::size_t rounds) {
  std::uint64_t acc = 0;
  const auto t0 = clock_type::now();
  for (std::size_t r = 0; r < rounds; ++r)
    for (const auto& p : pkts) acc += static_cast<std::uint64_t>(h.run(gw, p).what);
  sink = acc;
  return std::chrono::duration<double, std::nano>(clock_type::now() - t0).count() /
         static_cast<double>(rounds * pkts.size());
}

// As the loop does it: a batch of 32 copied in and parsed, then (when `ahead`) every datagram's
// table slot prefetched, then each decided. The buffers are reused; verdicts are not emitted.
double ns_per_batch(gateway_stage& gw, const std::vector<std::vector<std::uint8_t>>& pkts,
                    std::size_t rounds, bool ahead) {
  constexpr std::size_t batch = 32;
  buffer_pool pool{buffer_pool_config{batch, 128, 2048}};
  std::array<packet_buffer*, batch> bufs{};
  std::array<packet_context, batch> ctx{};
  for (std::size_t i = 0; i < batch; ++i) {
    bufs[i] = pool.acquire();
    ctx[i].buffer = bufs[i];
    ctx[i].pool = &pool;
  }
  std::uint64_t acc = 0;
  const auto t0 = clock_type::now();
  for (std::size_t r = 0; r < rounds; ++r)
    for (std::size_t base = 0; base + batch <= pkts.size(); base += batch) {
      for (std::size_t i = 0; i < batch; ++i) {
        bufs[i]->assign(bytes_view(pkts[base + i].data(), pkts[base + i].size()));
        parse_fields(bufs[i]->data(), ctx[i].fields);
      }
      if (ahead)
        for (unsigned round = 0; round < prefetch_rounds; ++round)
          for (std::size_t i = 0; i < batch; ++i) gw.prefetch(ctx[i], round);
      for (std::size_t i = 0; i < batch; ++i) acc += static_cast<std::uint64_t>(gw.process(ctx[i]).what);
    }
  sink = acc;
  return std::chrono::duration<double, std::nano>(clock_type::now() - t0).count() /
         static_cast<double>(rounds * (pkts.size() / batch * batch));
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t flows = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 10000;
  const std::size_t rounds = argc > 2 ? std::max<std::size_t>(1, std::strtoul(argv[2], nullptr, 10))
                                      : std::max<std::size_t>(1, 2'000'000 / flows);
  reader_epoch epoch;
  owned_units all;
  all.set_first(default_work_units);
  gateway_settings settings;
  settings.flow_capacity = flows * 2;

  std::vector<std::vector<std::uint8_t>> syns, data, replies;
  for (std::size_t i = 0; i < flows; ++i) {
    // Distinct clients in 198.18.0.0/15 (the benchmarking range), scattered ports.
    const std::uint32_t client = ip4(198, 18, 0, 0) + static_cast<std::uint32_t>(i % 131072);
    const auto sport = static_cast<std::uint16_t>(1024 + mix64(i) % 64000);
    syns.push_back(tcp_datagram(client, vip, sport, 80, 1000, 0, tcp_flag_syn, 0));
    data.push_back(tcp_datagram(client, vip, sport, 80, 1001, 5001, tcp_flag_ack, 64));
  }

  harness h;
  std::printf("gateway stage, %zu flows, %zu rounds (ns per datagram: copy-in + parse + stage)\n",
              flows, rounds);
  const double base = ns_per(h, nullptr, data, rounds);
  std::printf("  copy-in + parse only (subtracted below)       %7.1f ns\n", base);

  gateway_stage nat(epoch, settings, config(gateway_mode::nat), all);
  for (const auto& p : syns) h.run(&nat, p);
  // Replies as the backends would send them.
  for (std::size_t i = 0; i < flows; ++i) {
    gateway_flow_info info;
    flow_key k;
    k.src_addr = load_be32(&data[i][12]);
    k.dst_addr = vip;
    k.src_port = load_be16(&data[i][20]);
    k.dst_port = 80;
    k.protocol = ip_protocol_tcp;
    if (!nat.find_flow(k, info)) continue;
    replies.push_back(tcp_datagram(info.backend_addr, k.src_addr, info.backend_port, k.src_port,
                                   5001, 1065, tcp_flag_ack, 64));
  }
  const double fwd = ns_per(h, &nat, data, rounds);
  std::printf("  NAT client->backend: filter+lookup+track+rewrite %7.1f ns (%.1f stage)\n", fwd,
              fwd - base);
  const double plain = ns_per_batch(nat, data, rounds, false);
  const double ahead = ns_per_batch(nat, data, rounds, true);
  std::printf("  NAT client->backend in batches of 32:            %7.1f ns; slots prefetched for the "
              "batch first %.1f ns (%.2fx)\n", plain, ahead, plain / ahead);
  const double back = ns_per(h, &nat, replies, rounds);
  std::printf("  NAT backend->client: filter+lookup+track+rewrite %7.1f ns (%.1f stage)\n", back,
              back - base);
  const double back_plain = ns_per_batch(nat, replies, rounds, false);
  const double back_ahead = ns_per_batch(nat, replies, rounds, true);
  std::printf("  NAT backend->client in batches of 32:            %7.1f ns; prefetched first %.1f ns "
              "(%.2fx)\n", back_plain, back_ahead, back_plain / back_ahead);

  gateway_stage dsr(epoch, settings, config(gateway_mode::direct_server_return), all);
  for (const auto& p : syns) h.run(&dsr, p);
  const double d = ns_per(h, &dsr, data, rounds);
  std::printf("  DSR client->backend: filter+lookup+track+encap   %7.1f ns (%.1f stage)\n", d,
              d - base);

  gateway_stage none(epoch, settings, config(gateway_mode::nat), owned_units{});
  const double drop = ns_per(h, &none, data, rounds);
  std::printf("  not owned: filter + silent drop                  %7.1f ns (%.1f stage)\n", drop,
              drop - base);
  const auto c = nat.counters();
  std::printf("  counters: nat_new %llu nat_hit %llu returned %llu recovered %llu\n",
              static_cast<unsigned long long>(c.nat_new),
              static_cast<unsigned long long>(c.nat_hit),
              static_cast<unsigned long long>(c.returned),
              static_cast<unsigned long long>(c.recovered));

  if (flows > 50000) {
    std::printf("replication figures skipped above 50000 flows (they take minutes)\n");
    return 0;
  }
  // Replication: every unit exported in full, then one batch after one more segment per flow.
  std::size_t initial_bytes = 0, essential_bytes = 0, units_with_flows = 0;
  std::vector<std::uint8_t> ib, eb;
  std::uint64_t version = 0;
  for (std::uint32_t u = 0; u < default_work_units; ++u) {
    if (nat.flow_count(u) == 0) continue;
    ++units_with_flows;
    ib.clear();
    eb.clear();
    version = nat.export_unit(u, 0, ib, eb).version;
    initial_bytes += ib.size();
    essential_bytes += eb.size();
  }
  for (auto& p : data) {
    store_be32(&p[24], 1065);  // the next segment: seq moves, the checksum no longer matters here
    h.run(&nat, p);
  }
  std::size_t delta_bytes = 0, delta_records = 0;
  for (std::uint32_t u = 0; u < default_work_units; ++u) {
    if (nat.flow_count(u) == 0) continue;
    ib.clear();
    eb.clear();
    const unit_export e = nat.export_unit(u, version, ib, eb);
    delta_bytes += ib.size() + eb.size();
    delta_records += e.essential_flows;
  }
  const double n = static_cast<double>(nat.flows());
  std::printf("replication (%zu flows in %zu units, 12-byte header per unit and blob)\n",
              nat.flows(), units_with_flows);
  std::printf("  initial portion, once per flow     %6.1f bytes/flow (record %zu)\n",
              static_cast<double>(initial_bytes) / n, gateway_initial_record_size);
  std::printf("  essential portion, full unit       %6.1f bytes/flow (record %zu)\n",
              static_cast<double>(essential_bytes) / n, gateway_essential_record_size);
  std::printf("  one batch after a segment per flow %6.1f bytes/flow (%zu records changed)\n",
              static_cast<double>(delta_bytes) / n, delta_records);
  std::printf("  steady transfer, bytes per flow per second:\n");
  const double rec = static_cast<double>(gateway_essential_record_size);
  for (double pps : {100.0, 1000.0, 10000.0})
    std::printf("    %6.0f segments/s: per segment %8.0f B/s; batched 10 ms %5.0f, 100 ms %4.0f, "
                "1 s %3.0f B/s\n",
                pps, rec * pps, rec * std::min(pps, 100.0), rec * std::min(pps, 10.0),
                rec * std::min(pps, 1.0));

  // Bytes handed to the substrate per flow per second: N TCP flows, 100 ms batches over 10 s,
  // each flow's essential state changing every k-th batch (flows staggered). Both schemes start
  // from nothing, so the flows' first full export is included.
  const std::size_t batches = 100;
  const double seconds = 10.0;
  const baton::group::group_config bounds;  // the substrate's compaction defaults
  std::printf("replication to the substrate over %.0f s of 100 ms batches, %zu TCP flows "
              "(compaction: > %u deltas or > %u x checkpoint bytes, min %u B)\n",
              seconds, flows, bounds.compact_deltas, bounds.compact_ratio,
              bounds.compact_min_bytes);
  std::printf("  change every k-th batch   old: whole unit on change   new: deltas + checkpoints"
              "   (checkpoints)\n");
  for (std::size_t k : {1, 2, 10, 100}) {
    gateway_stage rep(epoch, settings, config(gateway_mode::nat), all);
    std::vector<std::vector<std::uint8_t>> segs = data;
    for (const auto& p : syns) h.run(&rep, p);
    std::vector<std::uint64_t> since_old(default_work_units, 0), since_new(default_work_units, 0);
    std::vector<std::size_t> cp_bytes(default_work_units, 0), d_bytes(default_work_units, 0),
      d_count(default_work_units, 0);
    std::size_t old_bytes = 0, new_bytes = 0, checkpoints = 0;
    std::vector<std::uint8_t> a, b, out;
    for (std::size_t batch = 0; batch < batches; ++batch) {
      for (std::size_t i = 0; i < segs.size(); ++i) {
        if ((batch + i) % k != 0) continue;
        auto& p = segs[i];
        store_be32(&p[24], load_be32(&p[24]) + 64);  // the next segment of the flow
        h.run(&rep, p);
      }
      for (std::uint32_t u = 0; u < default_work_units; ++u) {
        if (rep.flow_count(u) == 0) continue;
        // Old: anything changed since the last round? Then the whole unit, packed with its
        // 4-byte initial-size prefix (cluster_actor's pack_unit_state).
        a.clear();
        b.clear();
        const unit_export changed = rep.export_unit(u, since_old[u], a, b);
        since_old[u] = changed.version;
        if (changed.initial_flows + changed.essential_flows > 0) {
          a.clear();
          b.clear();
          rep.export_unit(u, 0, a, b);
          old_bytes += 4 + a.size() + b.size();
        }
        // New: the delta since the last round; a checkpoint first time and when the substrate's
        // compaction bound is passed.
        out.clear();
        const bool first = since_new[u] == 0;
        const unit_export d = rep.export_delta(u, since_new[u], out);
        since_new[u] = d.version;
        if (out.empty()) continue;
        new_bytes += out.size();
        if (first) {
          cp_bytes[u] = out.size();
          continue;
        }
        d_bytes[u] += out.size();
        ++d_count[u];
        if (baton::group::compaction_due(bounds, cp_bytes[u], d_bytes[u], d_count[u])) {
          out.clear();
          since_new[u] = rep.export_delta(u, 0, out).version;
          new_bytes += out.size();
          cp_bytes[u] = out.size();
          d_bytes[u] = d_count[u] = 0;
          ++checkpoints;
        }
      }
    }
    const double per = static_cast<double>(rep.flows()) * seconds;
    std::printf("  k = %3zu                   %8.1f B/flow/s            %8.1f B/flow/s"
                "          (%zu)\n",
                k, static_cast<double>(old_bytes) / per, static_cast<double>(new_bytes) / per,
                checkpoints);
  }
  return 0;
}
