// The kernel-facing ports (AF_PACKET, TUN, raw IPv4) in throwaway network namespaces.
// Root only: without it each test says so and skips.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "net/io/af_packet_port.hpp"
#include "net/io/af_xdp_port.hpp"
#include "net/io/packet_loop.hpp"
#include "net/io/pass_through.hpp"
#include "net/io/raw_ipv4_port.hpp"
#include "net/io/tun_port.hpp"
#include "net/packet/checksum.hpp"
#include "net/packet/ipv4.hpp"
#include "tests/unit/io/netns.hpp"
#include "tests/unit/io/test_packets.hpp"

using namespace baton::net;
using namespace baton::net::test;
using namespace std::chrono_literals;

namespace {

bool have_root() {
  if (::getuid() == 0) return true;
  MESSAGE("skipped: needs root (network namespaces, AF_PACKET, TUN)");
  return false;
}

std::string ns_name(const char* tag) { return "bio" + std::to_string(::getpid()) + tag; }

// A UDP socket bound to addr:port with a receive timeout, in the calling thread's namespace.
int udp_socket(std::uint32_t addr, std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::system_category(), "socket");
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(addr);
  a.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0)
    throw std::system_error(errno, std::system_category(), "bind");
  return fd;
}

void udp_send(int fd, std::uint32_t addr, std::uint16_t port, const std::string& payload) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(addr);
  a.sin_port = htons(port);
  if (::sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0)
    throw std::system_error(errno, std::system_category(), "sendto");
}

std::string udp_receive(int fd) {
  char buf[2048];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  return n < 0 ? std::string("<nothing: ") + std::strerror(errno) + ">" : std::string(buf, n);
}

// Receives from `port` until a UDP datagram to `dport` arrives or ~2 s pass; the other datagrams
// (none are expected in a fresh namespace) are skipped. Returns its bytes, empty when none came.
std::vector<std::uint8_t> receive_udp_to(packet_port& port, buffer_pool& pool, std::uint16_t dport) {
  std::vector<std::uint8_t> found;
  for (int tries = 0; tries < 20 && found.empty(); ++tries) {
    packet_batch batch;
    port.receive_batch(batch, 100ms);
    for (packet_buffer* b : batch) {
      packet_fields f;
      if (found.empty() && parse_fields(b->data(), f) == parse_status::ok &&
          f.protocol == ip_protocol_udp && f.dst_port == dport)
        found.assign(b->data().begin(), b->data().end());
      pool.release(b);
    }
  }
  return found;
}

// Two namespaces joined by a veth pair: a (10.77.0.1/24, va) and b (10.77.0.2/24, vb).
struct veth_pair {
  veth_pair() : a(ns_name("a")), b(ns_name("b")) {
    sh("ip link add va netns " + a.name() + " type veth peer name vb netns " + b.name());
    a.exec("ip addr add 10.77.0.1/24 dev va");
    b.exec("ip addr add 10.77.0.2/24 dev vb");
    a.exec("ip link set va up");
    b.exec("ip link set vb up");
  }
  netns a, b;
};

}  // namespace

TEST_CASE("AF_PACKET ring receives on a veth in a namespace") {
  if (!have_root()) return;
  veth_pair net;
  buffer_pool pool(buffer_pool_config{64, 128, 2048});
  auto port = net.b.run([&] {
    return std::make_unique<af_packet_port>(pool, af_packet_config{"vb"});
  });
  CHECK(port->mtu() == 1500);

  SUBCASE("a datagram sent with a raw IPv4 socket arrives byte for byte") {
    const auto sent = udp_packet(42, 64, ip4(10, 77, 0, 1), ip4(10, 77, 0, 2), 4000, 5001);
    net.a.run([&] {
      raw_ipv4_port raw(raw_ipv4_config{"raw", "va"});
      buffer_pool p(buffer_pool_config{1, 128, 2048});
      packet_buffer* b = p.acquire();
      b->assign(sent);
      packet_batch batch;
      batch.push(b);
      CHECK(raw.send_batch(batch) == 1);
      CHECK(raw.stats().tx_packets == 1);
      p.release(b);
    });
    const auto got = receive_udp_to(*port, pool, 5001);
    CHECK(got == sent);
    CHECK(port->stats().rx_packets >= 1);
  }

  SUBCASE("a UDP datagram sent with checksum offload arrives with its checksum finished") {
    net.a.run([&] {
      const int fd = udp_socket(ip4(10, 77, 0, 1), 4001);
      udp_send(fd, ip4(10, 77, 0, 2), 5002, "offloaded checksum");
      ::close(fd);
    });
    const auto got = receive_udp_to(*port, pool, 5002);
    REQUIRE_FALSE(got.empty());
    CHECK(verify_l4_checksum(got) == parse_status::ok);
    // veth senders leave the checksum to "hardware": the ring marks the frame CSUMNOTREADY.
    CHECK(port->stats().csum_finished >= 1);
  }
}

TEST_CASE("AF_PACKET: drop_frames_to_host keeps the host's own frames out of a promiscuous ring") {
  if (!have_root()) return;
  veth_pair net;
  buffer_pool pool(buffer_pool_config{64, 128, 2048});
  af_packet_config cfg{"vb"};
  cfg.promiscuous = true;
  auto port = net.b.run([&] { return std::make_unique<af_packet_port>(pool, cfg); });
  port->drop_frames_to_host();
  // First a datagram the kernel routes to vb's own MAC (5003), then one to a MAC nobody has
  // (5004, seen only because the port is promiscuous), sent raw from a's side.
  net.a.run([&] {
    const int fd = udp_socket(ip4(10, 77, 0, 1), 4003);
    udp_send(fd, ip4(10, 77, 0, 2), 5003, "to the host");
    ::close(fd);
    af_packet_config out{"va"};
    out.receive = false;
    out.next_hop = parse_mac("02:00:00:00:00:99");
    af_packet_port raw(pool, out);
    packet_buffer* b = pool.acquire();
    b->assign(udp_packet(7, 16, ip4(10, 77, 0, 1), ip4(10, 77, 0, 9), 4004, 5004));
    packet_batch batch;
    batch.push(b);
    CHECK(raw.send_batch(batch) == 1);
    pool.release(b);
  });
  // The ring keeps the order: everything before 5004 has been seen once it arrives.
  std::vector<std::uint16_t> dports;
  for (int tries = 0; tries < 20 && std::find(dports.begin(), dports.end(), 5004) == dports.end(); ++tries) {
    packet_batch batch;
    port->receive_batch(batch, 100ms);
    for (packet_buffer* b : batch) {
      packet_fields f;
      if (parse_fields(b->data(), f) == parse_status::ok && f.protocol == ip_protocol_udp)
        dports.push_back(f.dst_port);
      pool.release(b);
    }
  }
  CHECK(std::find(dports.begin(), dports.end(), 5004) != dports.end());
  CHECK(std::find(dports.begin(), dports.end(), 5003) == dports.end());
}

TEST_CASE("AF_PACKET sends to the next hop's MAC with sendmmsg") {
  if (!have_root()) return;
  veth_pair net;
  const std::string va_mac = net.a.exec_out("cat /sys/class/net/va/address");
  buffer_pool pool(buffer_pool_config{8, 128, 2048});
  af_packet_config cfg{"vb"};
  cfg.next_hop = parse_mac(va_mac);
  cfg.receive = false;
  auto port = net.b.run([&] { return std::make_unique<af_packet_port>(pool, cfg); });
  CHECK(port->wait_fd() == -1);

  const int rx = net.a.run([] { return udp_socket(ip4(10, 77, 0, 1), 7777); });
  // Three datagrams whose 4-byte payloads (sequence numbers) the receiving socket checks.
  packet_batch batch;
  for (int i = 0; i < 3; ++i) {
    packet_buffer* b = pool.acquire();
    const auto d = udp_packet(static_cast<std::uint32_t>(100 + i), 0, ip4(10, 77, 0, 2), ip4(10, 77, 0, 1),
                   6000, 7777);
    b->assign(d);
    batch.push(b);
  }
  CHECK(port->send_batch(batch) == 3);
  for (packet_buffer* b : batch) pool.release(b);
  for (int i = 0; i < 3; ++i) {
    const std::string got = udp_receive(rx);
    REQUIRE(got.size() == 4);
    CHECK(load_be32(reinterpret_cast<const std::uint8_t*>(got.data())) ==
          static_cast<std::uint32_t>(100 + i));
  }
  ::close(rx);
  CHECK(port->stats().tx_packets == 3);
  CHECK(port->stats().tx_errors == 0);
}

TEST_CASE("TUN device: reads what the stack routes into it, writes reach the stack") {
  if (!have_root()) return;
  netns ns(ns_name("t"));
  buffer_pool pool(buffer_pool_config{64, 128, 2048});
  auto tun = ns.run([&] { return std::make_unique<tun_port>(pool, tun_port_config{"btun%d"}); });
  const std::string dev = tun->interface_name();
  CHECK(dev.rfind("btun", 0) == 0);
  ns.exec("ip addr add 10.78.0.1/24 dev " + dev);

  SUBCASE("read") {
    ns.run([] {
      const int fd = udp_socket(ip4(10, 78, 0, 1), 4100);
      udp_send(fd, ip4(10, 78, 0, 2), 5100, "into the tun");
      ::close(fd);
    });
    const auto got = receive_udp_to(*tun, pool, 5100);
    REQUIRE(got.size() == 20 + 8 + 12);
    const ipv4_view ip(got);
    CHECK(ip.dst() == ip4(10, 78, 0, 2));
    CHECK(std::string(got.begin() + 28, got.end()) == "into the tun");
  }

  SUBCASE("write") {
    const int rx = ns.run([] { return udp_socket(ip4(10, 78, 0, 1), 6100); });
    packet_batch batch;
    packet_buffer* b = pool.acquire();
    b->assign(udp_packet(77, 0, ip4(10, 78, 0, 2), ip4(10, 78, 0, 1), 5200, 6100));
    batch.push(b);
    CHECK(tun->send_batch(batch) == 1);
    pool.release(b);
    const std::string got = udp_receive(rx);
    ::close(rx);
    REQUIRE(got.size() == 4);
    CHECK(load_be32(reinterpret_cast<const std::uint8_t*>(got.data())) == 77u);
  }
}

TEST_CASE("the loop forwards between two veths, finishing offloaded checksums") {
  // a (10.79.1.2) -- fa [forwarder f] fb -- b (10.79.2.2); f's kernel does not forward.
  if (!have_root()) return;
  netns a(ns_name("la")), f(ns_name("lf")), b(ns_name("lb"));
  sh("ip link add va netns " + a.name() + " type veth peer name fa netns " + f.name());
  sh("ip link add vb netns " + b.name() + " type veth peer name fb netns " + f.name());
  a.exec("ip addr add 10.79.1.2/24 dev va");
  f.exec("ip addr add 10.79.1.1/24 dev fa");
  f.exec("ip addr add 10.79.2.1/24 dev fb");
  b.exec("ip addr add 10.79.2.2/24 dev vb");
  for (auto* n : {&a, &b}) n->exec("sh -c 'ip link set lo up; for d in /sys/class/net/v*; do ip link set ${d##*/} up; done'");
  f.exec("sh -c 'ip link set fa up; ip link set fb up; sysctl -qw net.ipv4.ip_forward=0'");
  a.exec("ip route add 10.79.2.0/24 via 10.79.1.1");
  b.exec("ip route add 10.79.1.0/24 via 10.79.2.1");

  buffer_pool pool(buffer_pool_config{512, 128, 2048});
  packet_loop loop(pool);
  af_packet_config to_a{"fa"}, to_b{"fb"};
  to_a.next_hop = parse_mac(a.exec_out("cat /sys/class/net/va/address"));
  to_b.next_hop = parse_mac(b.exec_out("cat /sys/class/net/vb/address"));
  f.run([&] {
    loop.add_port(std::make_unique<af_packet_port>(pool, to_a));  // port 0
    loop.add_port(std::make_unique<af_packet_port>(pool, to_b));  // port 1
  });
  auto pass = std::make_unique<pass_through_stage>(loop.epoch(),
                                                   pass_through_table{}.route(0, 1).route(1, 0));
  loop.add_stage(std::move(pass));
  loop.start();

  const int rx = b.run([] { return udp_socket(ip4(10, 79, 2, 2), 8000); });
  a.run([] {
    const int fd = udp_socket(ip4(10, 79, 1, 2), 8001);
    for (int i = 0; i < 5; ++i) udp_send(fd, ip4(10, 79, 2, 2), 8000, "through the loop " + std::to_string(i));
    ::close(fd);
  });
  for (int i = 0; i < 5; ++i) CHECK(udp_receive(rx) == "through the loop " + std::to_string(i));
  ::close(rx);
  loop.stop();
  const auto s = loop.snapshot();
  CHECK(s.tx_packets >= 5);
  CHECK(s.ports[0].stats.csum_finished >= 5);  // without finishing, b's stack would drop them
  CHECK(s.drops_for(drop_reason::malformed) == 0);
}

TEST_CASE("AF_XDP: the loop forwards between two veths and answers ARP for the link's address") {
  // a (10.79.3.2) -- fa [forwarder f, AF_XDP on both links] fb -- b (10.79.4.2). Nothing is
  // resolved beforehand: a and b ask f's addresses by ARP, which the XDP program takes from f's
  // kernel and the port answers.
  if (!have_root()) return;
  netns a(ns_name("xa")), f(ns_name("xf")), b(ns_name("xb"));
  sh("ip link add va netns " + a.name() + " type veth peer name fa netns " + f.name());
  sh("ip link add vb netns " + b.name() + " type veth peer name fb netns " + f.name());
  a.exec("ip addr add 10.79.3.2/24 dev va");
  f.exec("ip addr add 10.79.3.1/24 dev fa");
  f.exec("ip addr add 10.79.4.1/24 dev fb");
  b.exec("ip addr add 10.79.4.2/24 dev vb");
  for (auto* n : {&a, &b}) n->exec("sh -c 'ip link set lo up; for d in /sys/class/net/v*; do ip link set ${d##*/} up; done'");
  f.exec("sh -c 'ip link set fa up; ip link set fb up; sysctl -qw net.ipv4.ip_forward=0'");
  a.exec("ip route add 10.79.4.0/24 via 10.79.3.1");
  b.exec("ip route add 10.79.3.0/24 via 10.79.4.1");

  buffer_pool pool(buffer_pool_config{512, 128, 2048});
  packet_loop loop(pool);
  af_xdp_config to_a{"fa"}, to_b{"fb"};
  to_a.next_hop = parse_mac(a.exec_out("cat /sys/class/net/va/address"));
  to_b.next_hop = parse_mac(b.exec_out("cat /sys/class/net/vb/address"));
  f.run([&] {
    auto pa = std::make_unique<af_xdp_port>(pool, to_a);
    CHECK(std::string(pa->backend()) == "af_xdp");
    CHECK(pa->fallback_reason().empty());
    loop.add_port(std::move(pa));                                  // port 0
    loop.add_port(std::make_unique<af_xdp_port>(pool, to_b));      // port 1
  });
  // libxdp's program is on the links, in native (driver) mode.
  CHECK(f.exec_out("ip -o link show fa").find("xdp") != std::string::npos);
  loop.add_stage(std::make_unique<pass_through_stage>(loop.epoch(),
                                                      pass_through_table{}.route(0, 1).route(1, 0)));
  loop.start();

  const int rx = b.run([] { return udp_socket(ip4(10, 79, 4, 2), 8000); });
  a.run([] {
    const int fd = udp_socket(ip4(10, 79, 3, 2), 8001);
    for (int i = 0; i < 5; ++i) udp_send(fd, ip4(10, 79, 4, 2), 8000, "through AF_XDP " + std::to_string(i));
    ::close(fd);
  });
  for (int i = 0; i < 5; ++i) CHECK(udp_receive(rx) == "through AF_XDP " + std::to_string(i));
  // And back: b answers through fb (ARP for 10.79.4.1 answered by the port on fb).
  const int back = a.run([] { return udp_socket(ip4(10, 79, 3, 2), 8002); });
  b.run([] {
    const int fd = udp_socket(ip4(10, 79, 4, 2), 8003);
    udp_send(fd, ip4(10, 79, 3, 2), 8002, "and back");
    ::close(fd);
  });
  CHECK(udp_receive(back) == "and back");
  ::close(rx);
  ::close(back);
  loop.stop();
  const auto s = loop.snapshot();
  CHECK(s.tx_packets >= 6);
  CHECK(s.ports[0].backend == "af_xdp");
  CHECK(s.ports[0].stats.xdp_arp_answered >= 1);
  CHECK(s.ports[1].stats.xdp_arp_answered >= 1);
  CHECK(s.drops_for(drop_reason::malformed) == 0);
}

TEST_CASE("AF_XDP refused (a generic-mode XDP program is already on the link): AF_PACKET serves, and says why") {
  if (!have_root()) return;
  veth_pair net;
  // libxdp1's allow-all filter, attached the old way: libxdp cannot put its program beside it.
  net.b.exec("ip link set dev vb xdpgeneric obj /usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_all.o sec xdp");
  buffer_pool pool(buffer_pool_config{64, 128, 2048});
  af_xdp_config x{"vb"};
  af_packet_config p{"vb"};
  auto opened = net.b.run([&] { return open_af_xdp_or_packet(pool, x, p); });
  REQUIRE(opened.port != nullptr);
  CHECK(std::string(opened.port->backend()) == "af_packet");
  CAPTURE(opened.fallback_reason);
  CHECK(opened.fallback_reason.rfind("af_xdp refused on vb: xsk_socket__create", 0) == 0);
  CHECK(opened.fallback_reason.find("not using a dispatcher") != std::string::npos);  // libxdp's words
  CHECK(opened.fallback_reason.find(std::strerror(EBUSY)) != std::string::npos);
  CHECK(opened.port->fallback_reason() == opened.fallback_reason);
  // The geometry check refuses before the kernel is asked: a jumbo MTU does not fit 2048-byte frames.
  net.a.exec("ip link set dev va mtu 9000");
  buffer_pool jumbo_pool(buffer_pool_config{8, 128, 9216});
  af_xdp_config xa{"va"};
  af_packet_config pa{"va"};
  auto jumbo = net.a.run([&] { return open_af_xdp_or_packet(jumbo_pool, xa, pa); });
  CHECK(std::string(jumbo.port->backend()) == "af_packet");
  CHECK(jumbo.fallback_reason.find("MTU 9000 does not fit") != std::string::npos);
}

TEST_CASE("raw IP-in-IP port: a big receive buffer, and what the kernel drops is counted") {
  if (!have_root()) return;
  netns ns(ns_name("r"));
  buffer_pool pool(buffer_pool_config{64, 128, 2048});
  raw_ipv4_config cfg;
  cfg.name = "ipip";
  cfg.receive_protocol = 253;  // experimental: nothing else in the namespace answers or eats it
  auto port = ns.run([&] { return std::make_unique<raw_ipv4_port>(pool, cfg); });
  const int sender = ns.run([] {
    const int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, 253);
    REQUIRE(fd >= 0);
    return fd;
  });
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(ip4(127, 0, 0, 1));
  const std::vector<std::uint8_t> payload(1400, 0x5a);
  // More than the 4 MiB buffer holds (each datagram costs its truesize, ~2.3 KiB), unread.
  const std::size_t sent = 4000;
  for (std::size_t i = 0; i < sent; ++i)
    REQUIRE(::sendto(sender, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
            static_cast<ssize_t>(payload.size()));
  auto drain = [&] {
    std::size_t got = 0;
    for (;;) {
      packet_batch batch;
      const std::size_t n = port->receive_batch(batch, std::chrono::milliseconds(0));
      for (packet_buffer* b : batch) pool.release(b);
      if (n == 0) return got;
      got += n;
    }
  };
  std::size_t received = drain();
  CHECK(received > 1000);  // the buffer held far more than the default's ~140
  CHECK(received < sent);
  // The count rides on the next datagram queued after the drops.
  REQUIRE(::sendto(sender, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
          static_cast<ssize_t>(payload.size()));
  received += drain();
  ::close(sender);
  const auto c = port->stats();
  CHECK(c.rx_kernel_drops > 0);
  CHECK(received + c.rx_kernel_drops == sent + 1);
}

TEST_CASE("TUN device: a long queue for the reader, and what the kernel drops is counted") {
  if (!have_root()) return;
  netns ns(ns_name("q"));
  buffer_pool pool(buffer_pool_config{64, 128, 2048});
  tun_port_config cfg{"bq%d"};
  cfg.queue_length = 1000;
  auto tun = ns.run([&] { return std::make_unique<tun_port>(pool, cfg); });
  const std::string dev = tun->interface_name();
  ns.exec("ip addr add 10.77.0.1/24 dev " + dev);
  // More datagrams than the queue holds, none read while they are sent.
  const std::size_t sent = 3000;
  ns.run([&] {
    const int fd = udp_socket(ip4(10, 77, 0, 1), 4200);
    for (std::size_t i = 0; i < sent; ++i) udp_send(fd, ip4(10, 77, 0, 2), 5200, "queued");
    ::close(fd);
  });
  std::size_t received = 0;
  for (;;) {
    packet_batch batch;
    const std::size_t n = tun->receive_batch(batch, std::chrono::milliseconds(0));
    for (packet_buffer* b : batch) {
      const ipv4_view ip(b->data());
      if (ip.validate() == parse_status::ok && ip.protocol() == ip_protocol_udp) ++received;  // not IGMP, etc.
      pool.release(b);
    }
    if (n == 0) break;
  }
  tun->read_kernel_drops();
  const auto c = tun->stats();
  CHECK(received > 900);  // the queue's 1000, less what else the stack routed there (IGMP, ...)
  CHECK(received < sent);
  CHECK(c.rx_kernel_drops > 0);
  CHECK(received + c.rx_kernel_drops == sent);
}
