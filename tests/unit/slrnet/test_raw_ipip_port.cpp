// The raw IPv4 port receiving IP-in-IP (the SLR's tunnel_in) in throwaway network namespaces:
// whole datagrams in, IP_HDRINCL out, and no ICMP protocol-unreachable from the kernel while the
// port is open. Root only: without it each test says so and skips.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "net/io/raw_ipv4_port.hpp"
#include "net/packet/icmp.hpp"
#include "tests/unit/io/netns.hpp"
#include "tests/unit/slrnet/slr_rig.hpp"

using namespace baton::net;
using namespace baton::net::test;
using namespace std::chrono_literals;

namespace {

bool have_root() {
  if (::getuid() == 0) return true;
  MESSAGE("skipped: needs root (network namespaces, raw sockets)");
  return false;
}

std::string ns_name(const char* tag) { return "bslr" + std::to_string(::getpid()) + tag; }

const std::uint32_t addr_a = ip4(10, 87, 0, 1);
const std::uint32_t addr_b = ip4(10, 87, 0, 2);

// Two namespaces joined by a veth pair: a (10.87.0.1/24, va) and b (10.87.0.2/24, vb).
struct veth_pair {
  veth_pair() : a(ns_name("a")), b(ns_name("b")) {
    sh("ip link add va netns " + a.name() + " type veth peer name vb netns " + b.name());
    a.exec("ip addr add 10.87.0.1/24 dev va");
    b.exec("ip addr add 10.87.0.2/24 dev vb");
    a.exec("ip link set va up");
    b.exec("ip link set vb up");
  }
  netns a, b;
};

// Sends `datagrams` through a send-only raw port opened in the calling thread's namespace.
void raw_send(const std::vector<bytes>& datagrams) {
  raw_ipv4_port raw(raw_ipv4_config{"raw", "", 1500, 0});
  buffer_pool pool(buffer_pool_config{64, 128, 2048});
  packet_batch batch;
  for (const bytes& d : datagrams) {
    packet_buffer* b = pool.acquire();
    REQUIRE(b->assign(d));
    batch.push(b);
  }
  CHECK(raw.send_batch(batch) == datagrams.size());
  for (packet_buffer* b : batch) pool.release(b);
}

// A raw ICMP socket (receive timeout `wait`) in the calling thread's namespace.
int icmp_socket(std::chrono::milliseconds wait) {
  const int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (fd < 0) throw std::system_error(errno, std::system_category(), "socket(ICMP)");
  timeval tv{static_cast<time_t>(wait.count() / 1000),
             static_cast<suseconds_t>((wait.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// True when a protocol-unreachable about an IP-in-IP datagram arrives on `fd` before its timeout.
bool protocol_unreachable_arrives(int fd) {
  std::uint8_t buf[2048];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    const ipv4_view ip(bytes_view(buf, static_cast<std::size_t>(n)));
    if (ip.validate() != parse_status::ok) continue;
    const icmp_view icmp(ip.payload());
    if (icmp.validate() != parse_status::ok) continue;
    icmp_quoted q;
    if (icmp.type() == icmp_destination_unreachable && icmp.code() == icmp_protocol_unreachable &&
        icmp.quoted(q) == parse_status::ok && q.ip.protocol() == ip_protocol_ipip)
      return true;
  }
}

// Receives from `port` until `count` datagrams came or ~2 s passed.
std::vector<bytes> receive(packet_port& port, buffer_pool& pool, std::size_t count) {
  std::vector<bytes> got;
  for (int tries = 0; tries < 20 && got.size() < count; ++tries) {
    packet_batch batch;
    port.receive_batch(batch, 100ms);
    for (packet_buffer* b : batch) {
      got.emplace_back(b->data().begin(), b->data().end());
      pool.release(b);
    }
  }
  return got;
}

}  // namespace

TEST_CASE("raw IP-in-IP port: receives whole datagrams, and the kernel stops answering them") {
  if (!have_root()) return;
  veth_pair net;
  const int icmp = net.a.run([] { return icmp_socket(1500ms); });

  // Without a receiver, b's kernel (no ipip module) refuses IP-in-IP with protocol-unreachable.
  const bytes probe = ipip_wrap(udp_dgram(1, 0, ip4(198, 51, 100, 1), ip4(10, 50, 0, 1)), addr_a, addr_b);
  net.a.run([&] { raw_send({probe}); });
  CHECK(protocol_unreachable_arrives(icmp));

  buffer_pool pool(buffer_pool_config{64, 128, 2048});
  auto port = net.b.run([&] {
    return std::make_unique<raw_ipv4_port>(pool, raw_ipv4_config{"ipip_in", "", 1500, 4});
  });
  CHECK(port->wait_fd() >= 0);
  CHECK(port->receive_protocol() == 4);

  std::vector<bytes> sent;
  for (std::uint32_t i = 0; i < 5; ++i)
    sent.push_back(ipip_wrap(udp_dgram(100 + i, 10 * i, ip4(198, 51, 100, 1), ip4(10, 50, 0, 1)),
                             addr_a, addr_b));
  // A datagram of another protocol to b is not the port's.
  net.a.run([&] { raw_send({udp_dgram(9, 0, addr_a, addr_b, 4000, 9)}); });
  net.a.run([&] { raw_send(sent); });
  const auto got = receive(*port, pool, sent.size());
  CHECK(got == sent);  // outer header included, byte for byte
  CHECK(port->stats().rx_packets == sent.size());
  CHECK(pool.available() == pool.capacity());

  // And no protocol-unreachable came back for them.
  CHECK_FALSE(protocol_unreachable_arrives(icmp));
  ::close(icmp);
}

TEST_CASE("raw IP-in-IP port: a receiving port sends with IP_HDRINCL too") {
  if (!have_root()) return;
  veth_pair net;
  buffer_pool pool(buffer_pool_config{64, 128, 2048});
  auto pa = net.a.run([&] {
    return std::make_unique<raw_ipv4_port>(pool, raw_ipv4_config{"a", "", 1500, 4});
  });
  auto pb = net.b.run([&] {
    return std::make_unique<raw_ipv4_port>(pool, raw_ipv4_config{"b", "", 1500, 0});
  });
  CHECK(pb->wait_fd() == -1);  // receive_protocol 0: send-only even with a pool
  CHECK(pb->receive_batch(*std::make_unique<packet_batch>(), 0ms) == 0);
  auto pb4 = net.b.run([&] {
    return std::make_unique<raw_ipv4_port>(pool, raw_ipv4_config{"b4", "vb", 1500, 4});
  });
  const bytes d = ipip_wrap(tcp_segment(ip4(198, 51, 100, 2), ip4(10, 50, 0, 9), 1000, 80, syn),
                            addr_b, addr_a);
  packet_batch batch;
  packet_buffer* b = pool.acquire();
  REQUIRE(b->assign(d));
  batch.push(b);
  CHECK(pb4->send_batch(batch) == 1);
  pool.release(b);
  const auto got = receive(*pa, pool, 1);
  REQUIRE(got.size() == 1);
  CHECK(got[0] == d);
}

TEST_CASE("raw IP-in-IP port: configuration errors") {
  buffer_pool pool(buffer_pool_config{4, 128, 1024});
  CHECK_THROWS_AS(raw_ipv4_port(raw_ipv4_config{"x", "", 1500, 4}), std::invalid_argument);
  CHECK_THROWS_AS(raw_ipv4_port(pool, raw_ipv4_config{"x", "", 1500, 255}), std::invalid_argument);
  CHECK_THROWS_AS(raw_ipv4_port(pool, raw_ipv4_config{"x", "", 1500, -1}), std::invalid_argument);
  CHECK_THROWS_AS(raw_ipv4_port(pool, raw_ipv4_config{"x", "", 1500, 4}), std::invalid_argument);
}

TEST_CASE("an SLR on real raw sockets: tunneled in from upstream, tunneled on to the next level") {
  // a plays the upstream SLR and the next level at once; b is the SLR under test, whose one raw
  // IP-in-IP port is both its tunnel_in and its out.
  if (!have_root()) return;
  veth_pair net;
  buffer_pool pool(buffer_pool_config{256, 128, 2048});
  packet_loop loop(pool);
  net.b.run([&] {
    loop.add_port(std::make_unique<raw_ipv4_port>(pool, raw_ipv4_config{"ipip", "", 1500, 4}));
  });
  // The next level receives on this thread while the loop runs: its own pool (a pool belongs to
  // one thread; sharing the loop's was a data race ThreadSanitizer found).
  buffer_pool next_pool(buffer_pool_config{64, 128, 2048});
  auto next_level = net.a.run([&] {
    return std::make_unique<raw_ipv4_port>(next_pool, raw_ipv4_config{"next", "", 1500, 4});
  });
  slr_stage_config cfg;
  cfg.self = addr_b;
  cfg.tunnel_in = 0;
  cfg.out = 0;
  auto stage = std::make_unique<slr_stage>(loop.epoch(), cfg);
  slr_stage* slr = stage.get();
  loop.add_stage(std::move(stage));
  slr_routes routes;
  routes.subnets.push_back({ip4(10, 50, 0, 0), 16, {{addr_a, 1}}});
  slr->publish(routes);
  loop.start();

  const bytes inner = tcp_segment(ip4(198, 51, 100, 3), ip4(10, 50, 1, 10), 43210, 80, syn);
  net.a.run([&] { raw_send({ipip_wrap(inner, addr_a, addr_b)}); });
  const auto got = receive(*next_level, next_pool, 1);
  loop.stop();
  REQUIRE(got.size() == 1);
  const ipv4_view ov(got[0]);
  REQUIRE(ov.validate() == parse_status::ok);
  CHECK(ov.src() == addr_b);
  CHECK(ov.dst() == addr_a);
  CHECK(ov.protocol() == ip_protocol_ipip);
  CHECK(bytes(got[0].begin() + 20, got[0].end()) == one_hop(inner));  // routed on: TTL - 1
  std::vector<slr_event> events;
  slr->drain_events([&](const slr_event& e) { events.push_back(e); });
  REQUIRE(events.size() == 1);
  CHECK(events[0].prev_hop == addr_a);
}
