// Packet I/O benchmark (DESIGN §8). Prints figures; never passes or fails on speed.
//  1. ns per packet for one loop turn over the in-memory backend: receive (copy in), parse,
//     pass-through (plain and with IP-in-IP encapsulation), emit (copy out).
//  2. As root: packets per second through the pass-through stage on AF_PACKET and on AF_XDP
//     (native XDP, copy mode) between two veth links (a -- f -- b, the forwarder in f), against
//     the kernel's own IP forwarding in f on the same topology. Traffic: a UDP blaster (sendmmsg)
//     in a; counted at b's interface.
//  3. As root: the same through the cluster's NAT path (a cluster member's stage, owning every
//     unit, translating a UDP service on the cluster IP to a backend in b), against the kernel's
//     forwarding with an nftables DNAT rule (conntrack) in f.
//     Twice: into b's UDP socket, and with b counting and dropping at ingress (its stack out of
//     the forwarders' sends).
//  4. As root: the transmit floor, what sending alone costs per datagram on veth.
//
// Usage: bench_io [seconds per forwarding run, default 3]
//   BATON_BENCH_THREADED_NAPI=1: b's veth receives in its own NAPI thread, so a forwarder's sends
//   stop paying for b's stack inside their system calls (README, AF_XDP figures).

#include <arpa/inet.h>
#include <sched.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/io/af_packet_port.hpp"
#include "net/io/af_xdp_port.hpp"
#include "net/io/memory_port.hpp"
#include "net/io/packet_loop.hpp"
#include "net/io/pass_through.hpp"
#include "net/cluster/cluster_stage.hpp"
#include "net/gateway/gateway_stage.hpp"
#include "tests/unit/io/netns.hpp"
#include "tests/unit/io/test_packets.hpp"

using namespace baton::net;
using namespace baton::net::test;
using clock_type = std::chrono::steady_clock;

namespace {

double memory_ns_per_packet(std::size_t payload, tunnel_action action) {
  constexpr std::size_t depth = 512;  // small enough that the queues stay in cache
  buffer_pool pool(buffer_pool_config{1024, 128, 2048});
  packet_loop loop(pool);
  auto in_owned = std::make_unique<memory_port>(pool, memory_port_config{"in", depth, 1500});
  auto out_owned = std::make_unique<memory_port>(pool, memory_port_config{"out", depth, 1500});
  memory_port& in = *in_owned;
  memory_port& out = *out_owned;
  loop.add_port(std::move(in_owned));
  loop.add_port(std::move(out_owned));
  loop.add_stage(std::make_unique<pass_through_stage>(
      loop.epoch(), pass_through_table{}.route(0, 1, action,
                                               ipip_tunnel{ip4(192, 0, 2, 1), ip4(192, 0, 2, 2)})));
  std::vector<std::vector<std::uint8_t>> packets;
  for (std::uint32_t i = 0; i < 64; ++i)
    packets.push_back(udp_packet(i, payload, ip4(10, 0, 0, 1), ip4(10, 0, 1, i), 1000 + i, 53));

  std::vector<std::uint8_t> sink;
  sink.reserve(2048);
  std::uint64_t total = 0;
  clock_type::duration busy{};
  const auto until = clock_type::now() + std::chrono::milliseconds(700);
  while (clock_type::now() < until) {
    for (std::size_t i = 0; i < depth - 64; ++i) in.inject(packets[i % packets.size()]);
    const auto t0 = clock_type::now();
    std::size_t n;
    while ((n = loop.run_once()) != 0) total += n;
    busy += clock_type::now() - t0;
    while (out.collect(sink)) {
    }
  }
  const auto s = loop.snapshot();
  if (s.tx_packets != total || s.total_drops() != 0)
    std::printf("  (warning: %llu sent of %llu, %llu dropped)\n",
                static_cast<unsigned long long>(s.tx_packets),
                static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(s.total_drops()));
  return std::chrono::duration<double, std::nano>(busy).count() / static_cast<double>(total);
}

// This VM's two CPUs are not always equally fast: the host sometimes slows one of them (a plain loop
// took 2.5x as long on CPU 0 as on CPU 1 for minutes, then both were equal). Printed before and
// after the forwarding runs, so a run's figures can be read against the machine they ran on.
void print_cpu_speed(const char* when) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
  std::printf("  CPU speed %s (ms for the same loop on each CPU):", when);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    double ms = 0;
    std::thread t([&] {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      if (::sched_setaffinity(0, sizeof one, &one) != 0) return;
      volatile std::uint64_t x = 0;
      const auto t0 = clock_type::now();
      for (std::uint64_t i = 0; i < 100000000; ++i) x = x + i;
      ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
    });
    t.join();
    std::printf(" cpu%d %.0f", cpu, ms);
  }
  std::printf("\n");
}

std::uint64_t rx_packets(const netns& ns, const std::string& dev) {
  return std::stoull(ns.exec_out("cat /sys/class/net/" + dev + "/statistics/rx_packets"));
}

struct forwarding_result {
  double sent_pps = 0;
  double delivered_pps = 0;
  // The blaster thread's CPU time per datagram it sent, with whatever the kernel did for those
  // datagrams inside its system calls and softirqs (on veth: f's receive, and with the kernel
  // forwarding, the forwarding and b's receive too).
  double sender_ns = 0;
};

std::uint64_t thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

// Blasts 18-byte UDP datagrams from a to `to` (port 9) for `seconds`; returns what was sent and
// what reached b's interface.
forwarding_result blast_to(const netns& a, const netns& b, double seconds, std::uint32_t to_addr) {
  std::atomic<bool> go{true};
  std::uint64_t sent = 0;
  std::uint64_t sender_cpu_ns = 0;
  const std::uint64_t before = rx_packets(b, "vb");
  const auto t0 = clock_type::now();
  std::thread blaster([&] {
    a.enter();
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(9);
    to.sin_addr.s_addr = htonl(to_addr);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) return;
    const std::uint64_t cpu0 = thread_cpu_ns();
    char payload[18] = "baton bench io...";
    std::vector<mmsghdr> msgs(64);
    std::vector<iovec> iov(64);
    for (std::size_t i = 0; i < msgs.size(); ++i) {
      iov[i] = iovec{payload, sizeof payload};
      msgs[i].msg_hdr = msghdr{};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    while (go.load(std::memory_order_relaxed)) {
      const int r = ::sendmmsg(fd, msgs.data(), static_cast<unsigned>(msgs.size()), 0);
      if (r > 0) sent += static_cast<std::uint64_t>(r);
    }
    sender_cpu_ns = thread_cpu_ns() - cpu0;
    ::close(fd);
  });
  while (clock_type::now() - t0 < std::chrono::duration<double>(seconds)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a timer, not synchronisation
  }
  go = false;
  blaster.join();
  const double elapsed = std::chrono::duration<double>(clock_type::now() - t0).count();
  // Let the last queued frames drain before reading b's counter.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::uint64_t after = rx_packets(b, "vb");
  return {static_cast<double>(sent) / elapsed, static_cast<double>(after - before) / elapsed,
          sent ? static_cast<double>(sender_cpu_ns) / static_cast<double>(sent) : 0.0};
}

// To b itself (the pass-through runs).
forwarding_result blast(const netns& a, const netns& b, double seconds) {
  return blast_to(a, b, seconds, ip4(10, 80, 2, 2));
}

// a -- f -- b over two veth pairs: a 10.80.1.2 routes `a_route` via f (10.80.1.1 / 10.80.2.1),
// b 10.80.2.2 routes back. Returns b's sink: a socket bound to UDP port 9 that is never read, so
// datagrams are counted, then dropped quietly (no ICMP port unreachable flowing back).
int wire(const netns& a, const netns& f, const netns& b, const std::string& a_route) {
  sh("ip link add va netns " + a.name() + " type veth peer name fa netns " + f.name());
  sh("ip link add vb netns " + b.name() + " type veth peer name fb netns " + f.name());
  a.exec("sh -c 'ip addr add 10.80.1.2/24 dev va; ip link set va up; "
         "ip route add " + a_route + " via 10.80.1.1'");
  f.exec("sh -c 'ip addr add 10.80.1.1/24 dev fa; ip addr add 10.80.2.1/24 dev fb; "
         "ip link set fa up; ip link set fb up'");
  b.exec("sh -c 'ip addr add 10.80.2.2/24 dev vb; ip link set vb up; "
         "ip route add 10.80.1.0/24 via 10.80.2.1'");
  if (std::getenv("BATON_BENCH_THREADED_NAPI")) {
    // b's receive in its own NAPI thread (GRO on a veth turns its NAPI on): a forwarder's sends
    // then stop paying for b's stack inside their system calls.
    b.exec("sh -c 'ethtool -K vb gro on >/dev/null; echo 1 > /sys/class/net/vb/threaded'");
  }
  const int sink = b.run([] {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(9);
    ::bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at);
    return fd;
  });
  // Warm the neighbour entries so no run pays for ARP.
  a.exec("ping -c1 -W1 10.80.1.1 >/dev/null");
  b.exec("ping -c1 -W1 10.80.2.1 >/dev/null");
  return sink;
}

// The steal model: f's own stack never sees the IPv4 frames (dropped at ingress, after the
// AF_PACKET tap), as a node that owns the traffic would configure it.
void keep_stack_out(const netns& f) {
  f.exec("nft -f - <<'EOF'\n"
         "table netdev baton_steal {\n"
         "  chain fa { type filter hook ingress device fa priority 0; meta protocol ip drop; }\n"
         "  chain fb { type filter hook ingress device fb priority 0; meta protocol ip drop; }\n"
         "}\nEOF");
}

// Opens fa (`to_a`) and fb (`to_b`) in f's namespace as ports 0 and 1 of `loop`: AF_PACKET, or
// AF_XDP where the kernel takes it. Returns why AF_XDP fell back to AF_PACKET, or "".
std::string add_ports(const netns& f, packet_loop& loop, buffer_pool& pool,
                      const af_packet_config& to_a, const af_packet_config& to_b, bool xdp) {
  std::string fell_back;
  f.run([&] {
    for (const auto* cfg : {&to_a, &to_b}) {
      if (!xdp) {
        loop.add_port(std::make_unique<af_packet_port>(pool, *cfg));
        continue;
      }
      af_xdp_config x;
      x.interface = cfg->interface;
      x.next_hop = cfg->next_hop;
      x.promiscuous = cfg->promiscuous;
      auto opened = open_af_xdp_or_packet(pool, x, *cfg);
      if (!opened.fallback_reason.empty()) fell_back = opened.fallback_reason;
      loop.add_port(std::move(opened.port));
    }
  });
  return fell_back;
}

void veth_forwarding(double seconds) {
  const std::string tag = "bb" + std::to_string(::getpid());
  netns a(tag + "a"), f(tag + "f"), b(tag + "b");
  const int sink = wire(a, f, b, "10.80.2.0/24");

  f.exec("sysctl -qw net.ipv4.ip_forward=1");
  a.exec("ping -c1 -W1 10.80.2.2 >/dev/null");
  const forwarding_result kernel = blast(a, b, seconds);
  f.exec("sysctl -qw net.ipv4.ip_forward=0");

  buffer_pool pool(buffer_pool_config{4096, 128, 2048});
  packet_loop loop(pool);
  af_packet_config to_a{"fa"}, to_b{"fb"};
  to_a.next_hop = parse_mac(a.exec_out("cat /sys/class/net/va/address"));
  to_b.next_hop = parse_mac(b.exec_out("cat /sys/class/net/vb/address"));
  add_ports(f, loop, pool, to_a, to_b, false);
  loop.add_stage(std::make_unique<pass_through_stage>(
      loop.epoch(), pass_through_table{}.route(0, 1).route(1, 0)));
  loop.start();
  const forwarding_result baton = blast(a, b, seconds);
  const auto after_first = loop.snapshot();
  keep_stack_out(f);
  const forwarding_result stolen = blast(a, b, seconds);
  loop.stop();
  f.exec("nft delete table netdev baton_steal");
  const auto s = loop.snapshot();

  // AF_XDP: libxdp's program on fa and fb takes every frame before f's stack (no nft needed).
  buffer_pool xpool(buffer_pool_config{4096, 128, 2048});
  auto xloop_owned = std::make_unique<packet_loop>(xpool);
  packet_loop& xloop = *xloop_owned;
  const std::string xdp_refused = add_ports(f, xloop, xpool, to_a, to_b, true);
  xloop.add_stage(std::make_unique<pass_through_stage>(
      xloop.epoch(), pass_through_table{}.route(0, 1).route(1, 0)));
  xloop.start();
  const forwarding_result xdp = blast(a, b, seconds);
  const auto xdp_first = xloop.snapshot();
  xloop.stop();
  const auto xs = xloop.snapshot();
  // Closes the sockets: libxdp detaches its program before the kernel's last run. In f's namespace,
  // where libxdp finds the interfaces; elsewhere it left its program on fa and fb.
  f.run([&] { xloop_owned.reset(); });

  // The kernel again, last, so a change in the machine's load during the runs shows.
  f.exec("sysctl -qw net.ipv4.ip_forward=1");
  const forwarding_result kernel2 = blast(a, b, seconds);
  ::close(sink);

  std::printf("veth forwarding, 18-byte UDP payloads, %.1f s each, a -> f -> b:\n", seconds);
  auto line = [](const char* name, const forwarding_result& r) {
    std::printf("  %-40s sent %9.0f pps, delivered %9.0f pps (%5.1f%%)\n", name, r.sent_pps,
                r.delivered_pps, r.sent_pps > 0 ? 100.0 * r.delivered_pps / r.sent_pps : 0.0);
  };
  line("kernel ip_forward", kernel);
  line("baton pass-through (AF_PACKET)", baton);
  line("baton, f's stack bypassed (nft ingress)", stolen);
  line(xdp_refused.empty() ? "baton pass-through (AF_XDP, native, copy)" : "baton (AF_XDP refused: AF_PACKET)", xdp);
  line("kernel ip_forward again", kernel2);
  const double k = (kernel.delivered_pps + kernel2.delivered_pps) / 2 > 0
                       ? (kernel.delivered_pps + kernel2.delivered_pps) / 2
                       : 1;
  std::printf("  ratio baton / kernel (delivered, kernel = mean of its two runs): AF_PACKET %.2f; with f's "
              "stack bypassed %.2f; AF_XDP %.2f (goal: 2.00)\n",
              baton.delivered_pps / k, stolen.delivered_pps / k, xdp.delivered_pps / k);
  if (!xdp_refused.empty()) std::printf("  AF_XDP fell back: %s\n", xdp_refused.c_str());
  const auto& in = s.ports[0].stats;
  const auto& out = s.ports[1].stats;
  // Per core: what the loop forwarded per second of its own CPU time (first baton run).
  const double cpu_s = static_cast<double>(after_first.thread_cpu_ns) / 1e9;
  std::printf("  baton loop thread: %.2f CPU s for %llu datagrams in the first run: %.0f pps per "
              "core-second of the loop (%.0f ns per datagram, AF_PACKET copy + sendmmsg included)\n",
              cpu_s, static_cast<unsigned long long>(after_first.tx_packets),
              cpu_s > 0 ? static_cast<double>(after_first.tx_packets) / cpu_s : 0.0,
              after_first.tx_packets ? cpu_s * 1e9 / static_cast<double>(after_first.tx_packets) : 0.0);
  const double xcpu_s = static_cast<double>(xdp_first.thread_cpu_ns) / 1e9;
  std::printf("  baton loop thread, AF_XDP: %.2f CPU s for %llu datagrams: %.0f pps per core-second "
              "(%.0f ns per datagram, copies and TX kick included; goal: 500 ns)\n",
              xcpu_s, static_cast<unsigned long long>(xdp_first.tx_packets),
              xcpu_s > 0 ? static_cast<double>(xdp_first.tx_packets) / xcpu_s : 0.0,
              xdp_first.tx_packets ? xcpu_s * 1e9 / static_cast<double>(xdp_first.tx_packets) : 0.0);
  if (xs.ports.size() == 2) {
    const auto& xi = xs.ports[0].stats;
    const auto& xo = xs.ports[1].stats;
    std::printf("  AF_XDP loop: rx %llu, tx %llu, drops %llu (tx_error %llu), kernel drops %llu "
                "(rx ring full %llu), fill ring empty %llu, invalid descriptors %llu, idle waits %llu\n",
                static_cast<unsigned long long>(xs.rx_packets),
                static_cast<unsigned long long>(xs.tx_packets),
                static_cast<unsigned long long>(xs.total_drops()),
                static_cast<unsigned long long>(xs.drops_for(drop_reason::tx_error)),
                static_cast<unsigned long long>(xi.rx_kernel_drops + xo.rx_kernel_drops),
                static_cast<unsigned long long>(xi.xdp_rx_ring_full + xo.xdp_rx_ring_full),
                static_cast<unsigned long long>(xi.xdp_fill_ring_empty + xo.xdp_fill_ring_empty),
                static_cast<unsigned long long>(xi.xdp_invalid_descs + xo.xdp_invalid_descs),
                static_cast<unsigned long long>(xs.idle_waits));
  }
  std::printf("  AF_PACKET loop: rx %llu, tx %llu, drops %llu (tx_error %llu), kernel ring drops %llu, "
              "checksums finished %llu, idle waits %llu, turns %llu\n",
              static_cast<unsigned long long>(s.rx_packets),
              static_cast<unsigned long long>(s.tx_packets),
              static_cast<unsigned long long>(s.total_drops()),
              static_cast<unsigned long long>(s.drops_for(drop_reason::tx_error)),
              static_cast<unsigned long long>(in.rx_kernel_drops + out.rx_kernel_drops),
              static_cast<unsigned long long>(in.csum_finished),
              static_cast<unsigned long long>(s.idle_waits),
              static_cast<unsigned long long>(s.turns));
}

// b's stack out of the runs: b counts the IPv4 datagrams that `match` at vb's ingress and drops
// them there, before its stack (the table baton_sink).
void drop_at_b_ingress(const netns& b, const std::string& match) {
  b.exec("nft -f - <<'EOF'\n"
         "table netdev baton_sink {\n"
         "  chain vb { type filter hook ingress device vb priority 0; " + match + " counter drop; }\n"
         "}\nEOF");
}

// Translated datagrams that reached b: with b's stack in, those its UDP stack handed to the socket
// or refused for the full buffer (/proc/net/snmp); with b's stack out, those the ingress rule
// counted before dropping them. Either way only datagrams rewritten to b's own address and port.
std::uint64_t translated_at_b(const netns& b, bool stack_out) {
  const std::string out =
      stack_out ? b.exec_out("nft list chain netdev baton_sink vb | "
                             "awk '/counter/{for(i=1;i<NF;i++) if($i==\"packets\") print $(i+1)}'")
                : b.exec_out("awk '/^Udp: [0-9]/{print $2 + $6}' /proc/net/snmp");
  return std::stoull(out);
}

// b_stack_out: b counts the translated datagrams at vb's ingress and drops them there. On veth b's
// receive runs inside the forwarder's send (the kernel's softirq or baton's system call), so this
// shows each forwarder's own cost, as with a receiver on another machine.
void veth_nat(double seconds, bool b_stack_out) {
  const std::string tag = "bn" + std::to_string(::getpid());
  netns a(tag + "a"), f(tag + "f"), b(tag + "b");
  const std::uint32_t cluster_ip = ip4(10, 80, 9, 100);
  const char* cluster_mac = "02:ba:70:00:00:09";
  const int sink = wire(a, f, b, "10.80.9.100/32");
  if (b_stack_out) drop_at_b_ingress(b, "ip daddr 10.80.2.2 udp dport 9");
  const std::string fa_mac = f.exec_out("cat /sys/class/net/fa/address");

  // The kernel: forwarding with a DNAT rule (conntrack keeps the translation).
  auto kernel_run = [&] {
    f.exec("sysctl -qw net.ipv4.ip_forward=1");
    f.exec("nft -f - <<'EOF'\n"
           "table ip baton_dnat {\n"
           "  chain pre { type nat hook prerouting priority dstnat; ip daddr 10.80.9.100 udp dport 9 "
           "dnat to 10.80.2.2:9; }\n"
           "}\nEOF");
    const std::uint64_t u0 = translated_at_b(b, b_stack_out);
    forwarding_result r = blast_to(a, b, seconds, cluster_ip);
    const std::uint64_t u1 = translated_at_b(b, b_stack_out);
    f.exec("nft delete table ip baton_dnat");
    f.exec("sysctl -qw net.ipv4.ip_forward=0");
    return std::make_pair(r, u1 - u0);
  };
  const auto kernel = kernel_run();

  // baton: a cluster member's stage that owns every unit. a sends to the cluster MAC, as a
  // cluster's router does; f's own stack never sees the frames (nft ingress drop).
  a.exec(std::string("ip neigh replace 10.80.1.1 lladdr ") + cluster_mac + " dev va nud permanent");
  keep_stack_out(f);
  // The ceiling: nothing forwards, f's ingress drops every frame. The sender pays only for its own
  // send and f's receive, so no forwarder in f can make a send faster than this on this machine.
  const forwarding_result ceiling = blast_to(a, b, seconds, cluster_ip);
  const mac_address b_mac = parse_mac(b.exec_out("cat /sys/class/net/vb/address"));
  auto member_stage = [&](packet_loop& loop) {
    gateway_config g;
    g.cluster_ip = cluster_ip;
    g.member_addr = ip4(10, 80, 1, 1);
    g.mode = gateway_mode::nat;
    g.client_port = 0;
    g.backend_port = 1;
    gateway_service udp;
    udp.protocol = 17;
    udp.port = 9;
    udp.backends.push_back({ip4(10, 80, 2, 2), 9, true});
    g.services = {udp};
    owned_units all;
    all.set_first(default_work_units);
    auto gw = std::make_unique<gateway_stage>(loop.epoch(), gateway_settings{}, g, all);
    gateway_stage* raw = gw.get();
    std::array<std::uint8_t, 6> mac{};
    std::copy(b_mac.begin(), b_mac.end(), mac.begin());
    loop.add_stage(std::make_unique<cluster_stage>(
        std::move(gw), std::vector<backend_neighbor>{{ip4(10, 80, 2, 2), mac}}, 1));
    return raw;
  };
  struct baton_run {
    forwarding_result r;
    std::uint64_t delivered = 0;
    loop_snapshot first;
    gateway_counters gw;
    std::string fell_back;
  };
  auto run_member = [&](bool xdp) {
    baton_run out;
    buffer_pool pool(buffer_pool_config{4096, 128, 2048});
    auto loop = std::make_unique<packet_loop>(pool);
    af_packet_config to_a{"fa"}, to_b{"fb"};
    to_a.next_hop = parse_mac(a.exec_out("cat /sys/class/net/va/address"));
    to_a.promiscuous = true;  // frames for the cluster MAC
    to_b.next_hop = b_mac;
    out.fell_back = add_ports(f, *loop, pool, to_a, to_b, xdp);
    gateway_stage* gw = member_stage(*loop);
    loop->start();
    const std::uint64_t u0 = translated_at_b(b, b_stack_out);
    out.r = blast_to(a, b, seconds, cluster_ip);
    out.delivered = translated_at_b(b, b_stack_out) - u0;
    out.first = loop->snapshot();
    out.gw = gw->counters();
    loop->stop();
    f.run([&] { loop.reset(); });  // closes the sockets; libxdp detaches its program (in f's namespace)
    return out;
  };
  const baton_run packet = run_member(false);
  const baton_run xdp = run_member(true);
  f.exec("nft delete table netdev baton_steal");
  a.exec("ip neigh replace 10.80.1.1 lladdr " + fa_mac + " dev va");
  const auto kernel2 = kernel_run();
  ::close(sink);

  std::printf("veth NAT path, 18-byte UDP payloads to the cluster IP, %.1f s each, a -> f -> b, %s:\n",
              seconds, b_stack_out ? "b drops them at ingress (counted there)" : "into b's UDP socket");
  auto line = [](const char* name, const forwarding_result& r, std::uint64_t delivered) {
    std::printf("  %-40s sent %9.0f pps, delivered %9.0f pps (%5.1f%%), %llu translated at b\n", name,
                r.sent_pps, r.delivered_pps,
                r.sent_pps > 0 ? 100.0 * r.delivered_pps / r.sent_pps : 0.0,
                static_cast<unsigned long long>(delivered));
  };
  line("kernel forwarding + nft DNAT", kernel.first, kernel.second);
  line("baton cluster NAT (AF_PACKET)", packet.r, packet.delivered);
  line(xdp.fell_back.empty() ? "baton cluster NAT (AF_XDP, native, copy)"
                             : "baton cluster NAT (AF_XDP refused)",
       xdp.r, xdp.delivered);
  line("kernel forwarding + nft DNAT again", kernel2.first, kernel2.second);
  const double k = std::max(1.0, (kernel.first.delivered_pps + kernel2.first.delivered_pps) / 2);
  std::printf("  ratio baton / kernel (delivered): AF_PACKET %.2f, AF_XDP %.2f (goal: 2.00)\n",
              packet.r.delivered_pps / k, xdp.r.delivered_pps / k);
  if (!xdp.fell_back.empty()) std::printf("  AF_XDP fell back: %s\n", xdp.fell_back.c_str());
  std::printf("  ceiling: nothing forwarded (f drops at ingress): a sends %.0f pps = %.2fx the "
              "kernel's; no forwarder in f can reach more on this machine\n",
              ceiling.sent_pps, ceiling.sent_pps / k);
  // Per forwarding core: the kernel forwards inside the sender's softirq, so its cost is what the
  // sender's CPU per datagram grows by over the ceiling run. baton's is its loop thread plus what
  // the AF_PACKET/AF_XDP tap adds on the sender's core. Both include b's receive (veth delivers it
  // inside the forwarder's send).
  const double kernel_ns = (kernel.first.sender_ns + kernel2.first.sender_ns) / 2 - ceiling.sender_ns;
  std::printf("  sender CPU per datagram: ceiling %.0f ns, kernel + DNAT %.0f / %.0f ns, baton "
              "AF_PACKET %.0f ns, AF_XDP %.0f ns\n",
              ceiling.sender_ns, kernel.first.sender_ns, kernel2.first.sender_ns, packet.r.sender_ns,
              xdp.r.sender_ns);
  for (const auto* r : {&packet, &xdp}) {
    const double loop_ns = r->first.tx_packets ? static_cast<double>(r->first.thread_cpu_ns) /
                                                     static_cast<double>(r->first.tx_packets)
                                               : 0.0;
    const double tap_ns = r->r.sender_ns - ceiling.sender_ns;
    std::printf("  per forwarding core, %s: kernel %.0f ns per datagram, baton %.0f (loop %.0f + "
                "tap on the sender %.0f): baton / kernel %.2fx the datagrams per core-second\n",
                r == &packet ? "AF_PACKET" : "AF_XDP", kernel_ns, loop_ns + tap_ns, loop_ns, tap_ns,
                loop_ns + tap_ns > 0 ? kernel_ns / (loop_ns + tap_ns) : 0.0);
  }
  for (const auto* r : {&packet, &xdp}) {
    const double cpu_s = static_cast<double>(r->first.thread_cpu_ns) / 1e9;
    std::printf("  %s loop thread: %.2f CPU s for %llu datagrams (%.0f ns per datagram; goal: 500 "
                "ns); NAT new %llu, hit %llu\n",
                r == &packet ? "AF_PACKET" : "AF_XDP", cpu_s,
                static_cast<unsigned long long>(r->first.tx_packets),
                r->first.tx_packets ? cpu_s * 1e9 / static_cast<double>(r->first.tx_packets) : 0.0,
                static_cast<unsigned long long>(r->gw.nat_new),
                static_cast<unsigned long long>(r->gw.nat_hit));
  }
}

// The transmit floor: f sends one prepared translated datagram to b over and over through a port's
// send_batch (batches of 64, nothing received, nothing parsed), timed by the sending thread's CPU.
// That is the part of each forwarded datagram's cost a loop cannot shed on veth: an skb is built per
// frame, and b's receive runs inside the send. Measured twice: into b's UDP socket, as in the runs
// above, and with b dropping at vb's ingress, which leaves the send alone.
void transmit_floor(double seconds) {
  const std::string tag = "bt" + std::to_string(::getpid());
  netns a(tag + "a"), f(tag + "f"), b(tag + "b");
  const int sink = wire(a, f, b, "10.80.2.0/24");
  const mac_address b_mac = parse_mac(b.exec_out("cat /sys/class/net/vb/address"));
  const auto datagram = udp_packet(0, 14, ip4(10, 80, 1, 2), ip4(10, 80, 2, 2), 1000, 9);

  struct floor_run {
    double ns = 0;
    std::uint64_t sent = 0;
    std::string fell_back;
  };
  auto run = [&](bool xdp) {
    floor_run out;
    buffer_pool pool(buffer_pool_config{4096, 128, 2048});
    af_packet_config cfg{"fb"};
    cfg.next_hop = b_mac;
    cfg.receive = false;
    std::unique_ptr<packet_port> port = f.run([&]() -> std::unique_ptr<packet_port> {
      if (!xdp) return std::make_unique<af_packet_port>(pool, cfg);
      af_xdp_config x;
      x.interface = cfg.interface;
      x.next_hop = cfg.next_hop;
      auto opened = open_af_xdp_or_packet(pool, x, cfg);
      out.fell_back = opened.fallback_reason;
      return std::move(opened.port);
    });
    packet_batch batch;
    while (!batch.full()) {
      packet_buffer* buf = pool.acquire();
      buf->assign(bytes_view(datagram.data(), datagram.size()));
      batch.push(buf);
    }
    const auto until = clock_type::now() + std::chrono::duration<double>(seconds);
    const std::uint64_t cpu0 = thread_cpu_ns();
    while (clock_type::now() < until) out.sent += port->send_batch(batch);
    out.ns = out.sent ? static_cast<double>(thread_cpu_ns() - cpu0) / static_cast<double>(out.sent) : 0;
    for (packet_buffer* buf : batch) pool.release(buf);
    f.run([&] { port.reset(); });  // libxdp detaches its program in f's namespace
    return out;
  };
  const floor_run packet = run(false);
  const floor_run xdp = run(true);
  drop_at_b_ingress(b, "meta protocol ip");
  const floor_run packet_drop = run(false);
  const floor_run xdp_drop = run(true);
  ::close(sink);

  std::printf("transmit floor: f sends a prepared datagram to b in batches of 64, %.1f s each "
              "(CPU of the sending thread):\n", seconds);
  std::printf("  into b's UDP socket:         AF_PACKET %4.0f ns per datagram, AF_XDP %4.0f ns%s\n",
              packet.ns, xdp.ns, xdp.fell_back.empty() ? "" : " (AF_XDP refused: AF_PACKET)");
  std::printf("  b drops at vb's ingress:     AF_PACKET %4.0f ns per datagram, AF_XDP %4.0f ns\n",
              packet_drop.ns, xdp_drop.ns);
  std::printf("  a loop's goal is 500 ns per datagram for receive, stage and send together\n");
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  std::printf("in-memory backend, one loop turn per batch of 64 (receive copy, parse, stage, "
              "emit copy):\n");
  struct row {
    const char* name;
    std::size_t payload;
    tunnel_action action;
  };
  for (const row& r : {row{"UDP 64 B, pass-through", 32, tunnel_action::none},
                       row{"UDP 1400 B, pass-through", 1368, tunnel_action::none},
                       row{"UDP 64 B, IP-in-IP encapsulation", 32, tunnel_action::encapsulate}}) {
    std::printf("  %-36s %7.1f ns/packet\n", r.name, memory_ns_per_packet(r.payload, r.action));
  }
  if (::getuid() != 0) {
    std::printf("veth forwarding: skipped (needs root)\n");
    return 0;
  }
  try {
    print_cpu_speed("before");
    veth_forwarding(seconds);
    veth_nat(seconds, false);
    veth_nat(seconds, true);
    transmit_floor(seconds);
    print_cpu_speed("after");
  } catch (const std::exception& e) {
    std::printf("veth forwarding: failed: %s\n", e.what());
    return 1;
  }
  return 0;
}
