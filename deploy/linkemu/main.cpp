// baton-linkemu: a user-space link emulator for the lab (this machine has no netem).
// It sits between two interfaces, receives every frame on each with an AF_PACKET socket and sends
// it out of the other after the impairments of that direction (see impairment.hpp). One thread,
// epoll over the two sockets, a timerfd on CLOCK_MONOTONIC and a signalfd.
#include <CLI/CLI.hpp>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "deploy/linkemu/impairment.hpp"

namespace {

using baton::linkemu::counters;
using baton::linkemu::direction;
using baton::linkemu::direction_spec;

std::int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

[[noreturn]] void fail(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// A raw socket bound to one interface, seeing every frame the interface receives but not the ones
// we send on it.
struct port {
  std::string name;
  int ifindex = 0;
  int fd = -1;
  std::uint64_t csum_partial = 0;  // frames whose checksum the sender left to offload
  std::uint64_t tx_errors = 0;
  mutable std::uint64_t rx_socket_drops = 0;  // the kernel dropped frames we were too slow to read

  // Folds the kernel's PACKET_STATISTICS (which reset on read) into rx_socket_drops.
  void collect_socket_drops() const {
    tpacket_stats st{};
    socklen_t len = sizeof st;
    if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) rx_socket_drops += st.tp_drops;
  }
};

port open_port(const std::string& name) {
  port p;
  p.name = name;
  p.ifindex = static_cast<int>(if_nametoindex(name.c_str()));
  if (p.ifindex == 0) fail("interface " + name);
  p.fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (p.fd < 0) fail("socket(AF_PACKET) for " + name);
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = p.ifindex;
  if (bind(p.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fail("bind " + name);
  int one = 1;
  // Without this the socket would read back every frame we transmit on the interface.
  if (setsockopt(p.fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) != 0) {
    fail("PACKET_IGNORE_OUTGOING on " + name);
  }
  // Tells us when a frame still carries an unfinished checksum (offloads left on).
  if (setsockopt(p.fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) != 0) fail("PACKET_AUXDATA");
  packet_mreq mr{};
  mr.mr_ifindex = p.ifindex;
  mr.mr_type = PACKET_MR_PROMISC;  // frames for any MAC: we are a wire, not a host
  if (setsockopt(p.fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0) fail("promisc " + name);
  int rcvbuf = 8 << 20;
  setsockopt(p.fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);  // best effort
  setsockopt(p.fd, SOL_SOCKET, SO_SNDBUFFORCE, &rcvbuf, sizeof rcvbuf);
  return p;
}

void print_counters(std::ostream& o, const char* name, const counters& c) {
  o << "\"" << name << "\":{\"frames_in\":" << c.frames_in << ",\"bytes_in\":" << c.bytes_in
    << ",\"frames_out\":" << c.frames_out << ",\"bytes_out\":" << c.bytes_out
    << ",\"dropped_loss\":" << c.dropped_loss << ",\"dropped_queue\":" << c.dropped_queue
    << ",\"dropped_pool\":" << c.dropped_pool << ",\"dropped_oversize\":" << c.dropped_oversize
    << ",\"reordered\":" << c.reordered << "}";
}

struct emulator {
  port a, b;
  direction a_to_b, b_to_a;
  std::vector<std::uint8_t> buffer;
  std::string stats_path;
  std::string control_path;  // read on SIGHUP (see apply_control)
  std::uint64_t changes = 0;  // control files applied

  // The control file's lines, "a_to_b SPEC", "b_to_a SPEC" or "both SPEC", each on top of the
  // direction's current spec; applied all or nothing, reported on stderr. A bad file changes
  // nothing and the emulator carries on.
  void apply_control() {
    std::ifstream f(control_path);
    if (!f) {
      std::cerr << "baton-linkemu: cannot read control file " << control_path << "\n";
      return;
    }
    direction_spec ab = a_to_b.spec(), ba = b_to_a.spec();
    std::string which, spec;
    try {
      while (f >> which >> spec) {
        if (which == "a_to_b" || which == "both") ab = baton::linkemu::parse_direction_spec(spec, ab);
        if (which == "b_to_a" || which == "both") ba = baton::linkemu::parse_direction_spec(spec, ba);
        if (which != "a_to_b" && which != "b_to_a" && which != "both")
          throw std::invalid_argument("\"" + which + "\" is not a_to_b, b_to_a or both");
      }
      const direction_spec old_ab = a_to_b.spec();
      a_to_b.change(ab);
      try {
        b_to_a.change(ba);
      } catch (const std::invalid_argument&) {
        a_to_b.change(old_ab);  // all or nothing (the same rate stage: cannot throw)
        throw;
      }
    } catch (const std::invalid_argument& e) {
      std::cerr << "baton-linkemu: control file " << control_path << ": " << e.what() << "; nothing changed\n";
      return;
    }
    ++changes;
    std::cerr << "baton-linkemu: changed\n  a_to_b: " << baton::linkemu::describe(a_to_b.spec())
              << "\n  b_to_a: " << baton::linkemu::describe(b_to_a.spec()) << std::endl;
    publish("changed");
  }

  // One JSON line with every counter.
  void report(std::ostream& o, const char* event) const {
    a.collect_socket_drops();
    b.collect_socket_drops();
    o << "{\"event\":\"" << event << "\",\"a\":\"" << a.name << "\",\"b\":\"" << b.name << "\",";
    print_counters(o, "a_to_b", a_to_b.stats());
    o << ",";
    print_counters(o, "b_to_a", b_to_a.stats());
    o << ",\"csum_partial\":{\"a\":" << a.csum_partial << ",\"b\":" << b.csum_partial << "}"
      << ",\"tx_errors\":{\"a\":" << a.tx_errors << ",\"b\":" << b.tx_errors << "}"
      << ",\"rx_socket_drops\":{\"a\":" << a.rx_socket_drops << ",\"b\":" << b.rx_socket_drops << "}"
      << ",\"changes\":" << changes << "}\n";
  }

  // Stats go to stdout and, when asked, atomically to a file (written at start too: its
  // existence says the sockets are bound and frames flow).
  void publish(const char* event) const {
    report(std::cout, event);
    std::cout.flush();
    if (stats_path.empty()) return;
    const std::string tmp = stats_path + ".tmp";
    {
      std::ofstream f(tmp, std::ios::trunc);
      report(f, event);
    }
    std::rename(tmp.c_str(), stats_path.c_str());
  }

  // Reads every waiting frame from `in` into `dir`.
  void drain(port& in, direction& dir) {
    std::array<char, CMSG_SPACE(sizeof(tpacket_auxdata))> control{};
    for (;;) {
      iovec iov{buffer.data(), buffer.size()};
      msghdr msg{};
      sockaddr_ll from{};
      msg.msg_name = &from;
      msg.msg_namelen = sizeof from;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      const ssize_t n = recvmsg(in.fd, &msg, MSG_TRUNC | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR) continue;
        fail("recvmsg on " + in.name);
      }
      if (from.sll_pkttype == PACKET_OUTGOING) continue;  // older kernels ignore the option
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
          tpacket_auxdata aux{};
          std::memcpy(&aux, CMSG_DATA(c), sizeof aux);
          if (aux.tp_status & TP_STATUS_CSUMNOTREADY) ++in.csum_partial;
        }
      }
      // With MSG_TRUNC, n is the real length: the direction drops and counts what does not fit.
      dir.offer(buffer.data(), static_cast<std::size_t>(n), monotonic_ns());
    }
  }

  void flush(std::int64_t now) {
    a_to_b.release(now, [this](const std::uint8_t* d, std::size_t len) { transmit(b, d, len); });
    b_to_a.release(now, [this](const std::uint8_t* d, std::size_t len) { transmit(a, d, len); });
  }

  static void transmit(port& out, const std::uint8_t* d, std::size_t len) {
    while (send(out.fd, d, len, MSG_DONTWAIT) < 0) {
      if (errno == EINTR) continue;
      ++out.tx_errors;  // a full device queue drops the frame, as a real NIC would
      return;
    }
  }
};

int run(emulator& emu) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGUSR1);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &signals, nullptr) != 0) fail("sigprocmask");
  const int sfd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) fail("signalfd");
  const int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (tfd < 0) fail("timerfd_create");
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) fail("epoll_create1");
  for (int fd : {emu.a.fd, emu.b.fd, tfd, sfd}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) fail("epoll_ctl");
  }
  emu.publish("ready");
  // The timer's absolute expiry in ns, or `disarmed` (a plain sentinel: GCC 12 at -O2 warns,
  // wrongly, that comparing optionals here may read an uninitialised value).
  constexpr std::int64_t disarmed = -1;
  std::int64_t armed = disarmed;
  for (;;) {
    emu.flush(monotonic_ns());
    std::int64_t next = disarmed;
    for (auto* dir : {&emu.a_to_b, &emu.b_to_a})
      if (auto n = dir->next_event(); n && (next == disarmed || *n < next)) next = *n;
    if (next != armed) {
      itimerspec its{};  // all zero disarms
      if (next != disarmed) {
        // An absolute time already past fires at once, which is what we want.
        its.it_value.tv_sec = std::max<std::int64_t>(next, 1) / 1'000'000'000;
        its.it_value.tv_nsec = std::max<std::int64_t>(next, 1) % 1'000'000'000;
      }
      if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, nullptr) != 0) fail("timerfd_settime");
      armed = next;
    }
    std::array<epoll_event, 8> events{};
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      if (fd == emu.a.fd) {
        emu.drain(emu.a, emu.a_to_b);
      } else if (fd == emu.b.fd) {
        emu.drain(emu.b, emu.b_to_a);
      } else if (fd == tfd) {
        std::uint64_t expirations = 0;
        if (read(tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN) fail("read timerfd");
        armed = disarmed;  // fired: re-arm on the next round even for the same time
      } else if (fd == sfd) {
        signalfd_siginfo si{};
        while (read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
          if (si.ssi_signo == SIGUSR1) {
            emu.publish("counters");
          } else if (si.ssi_signo == SIGHUP && !emu.control_path.empty()) {
            emu.apply_control();
          } else {
            emu.publish("exit");
            return 0;
          }
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "baton-linkemu: user-space link emulator. Moves Ethernet frames between interfaces A and B "
      "(AF_PACKET), applying per direction: loss (Bernoulli or Gilbert-Elliott), a token-bucket "
      "rate limit with a tail-drop queue, delay with jitter, and reordering.\n"
      "SPEC is key=value[,key=value...]: delay=20ms jitter=2ms jitter_reorder=0|1 loss=2% "
      "ge_p=0.01 ge_r=0.3 ge_loss_good=0 ge_loss_bad=50% rate=20mbit burst=16k queue=100 "
      "reorder=1%.\n"
      "Counters are printed as one JSON line on SIGUSR1 and at exit (SIGTERM/SIGINT). With "
      "--control FILE, SIGHUP applies FILE's lines (\"a_to_b SPEC\", \"b_to_a SPEC\", \"both SPEC\") on top "
      "of the running specs: loss, ge_*, delay, jitter and reorder may change (rate, burst and queue may "
      "not); without it SIGHUP ends the emulator like SIGTERM.\n"
      "Example: baton-linkemu --a l0a --b l0b --both delay=5ms,rate=50mbit --control /run/l0.ctl &\n"
      "         echo 'b_to_a loss=5%' > /run/l0.ctl; kill -HUP $!"};
  std::string iface_a, iface_b, both, a_to_b, b_to_a, stats_path, control_path;
  std::optional<std::uint64_t> seed;
  std::size_t pool = 8192;
  std::size_t max_frame = 2048;
  int realtime = 0;
  app.add_option("-a,--a", iface_a, "interface A")->required();
  app.add_option("-b,--b", iface_b, "interface B")->required();
  app.add_option("--both", both, "SPEC applied to both directions (per-direction SPECs add to it)");
  app.add_option("--a-to-b", a_to_b, "SPEC for frames received on A and sent on B");
  app.add_option("--b-to-a", b_to_a, "SPEC for frames received on B and sent on A");
  app.add_option("--seed", seed, "seed for every random choice (default: from the clock, printed)");
  app.add_option("--pool", pool, "frames each direction may hold at once (queued + in flight)")
      ->check(CLI::Range(std::size_t{16}, std::size_t{1} << 22));
  app.add_option("--max-frame", max_frame, "longest frame in bytes; longer ones are dropped")
      ->check(CLI::Range(std::size_t{64}, std::size_t{65536}));
  app.add_option("--control", control_path, "a file of SPEC changes applied on SIGHUP (see above)");
  app.add_option("--stats", stats_path, "also write the counters (JSON) to this file, atomically");
  app.add_option("--realtime", realtime,
                 "run under SCHED_FIFO at this priority (1-99) so a busy machine does not stretch "
                 "the delays; 0 = normal scheduling. Falls back to normal with a warning.")
      ->check(CLI::Range(0, 99));
  CLI11_PARSE(app, argc, argv);
  if (realtime > 0) {
    sched_param sp{};
    sp.sched_priority = realtime;
    if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) {
      std::cerr << "baton-linkemu: SCHED_FIFO " << realtime << ": " << std::strerror(errno)
                << "; running with normal scheduling\n";
    }
  }

  try {
    const direction_spec base = baton::linkemu::parse_direction_spec(both);
    const direction_spec ab = baton::linkemu::parse_direction_spec(a_to_b, base);
    const direction_spec ba = baton::linkemu::parse_direction_spec(b_to_a, base);
    const std::uint64_t s = seed ? *seed : std::random_device{}();
    std::mt19937_64 seeder(s);  // independent, reproducible streams per direction
    const std::uint64_t seed_ab = seeder();
    const std::uint64_t seed_ba = seeder();
    emulator emu{open_port(iface_a), open_port(iface_b), direction(ab, seed_ab, pool, max_frame),
                 direction(ba, seed_ba, pool, max_frame), std::vector<std::uint8_t>(max_frame + 1),
                 stats_path, control_path};
    std::cerr << "baton-linkemu: " << iface_a << " <-> " << iface_b << " seed=" << s << "\n"
              << "  a_to_b: " << baton::linkemu::describe(ab) << "\n"
              << "  b_to_a: " << baton::linkemu::describe(ba) << std::endl;
    return run(emu);
  } catch (const std::invalid_argument& e) {
    std::cerr << "baton-linkemu: bad SPEC: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "baton-linkemu: " << e.what() << "\n";
    return 1;
  }
}
