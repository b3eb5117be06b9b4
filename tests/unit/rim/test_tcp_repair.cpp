// A live TCP connection frozen, closed and re-created from its snapshot on the same host: the peer
// gets every byte once, in order, and no reset. (Across hosts the same calls run with
// IP_TRANSPARENT; tests/lab/test_rim does that with real peers.) Needs CAP_NET_ADMIN.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include "net/rim/tcp_repair.hpp"

namespace {

struct pair_of_sockets {
  int listener = -1, client = -1, server = -1;
  ~pair_of_sockets() {
    for (int fd : {listener, client, server})
      if (fd >= 0) ::close(fd);
  }
};

void connect_pair(pair_of_sockets& p) {
  p.listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(p.listener, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(p.listener, 1) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(p.listener, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  p.client = ::socket(AF_INET, SOCK_STREAM, 0);
  // A small receive buffer keeps part of what the server writes in its send queue, unacknowledged.
  int small = 16 * 1024;
  ::setsockopt(p.client, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  REQUIRE(::connect(p.client, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  p.server = ::accept(p.listener, nullptr, nullptr);
  REQUIRE(p.server >= 0);
}

std::vector<std::uint8_t> pattern(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((i * 7919u) >> 3);
  return v;
}

/// Writes as much of `data` from `from` as the socket takes without blocking; returns the new
/// position.
std::size_t write_some(int fd, const std::vector<std::uint8_t>& data, std::size_t from) {
  while (from < data.size()) {
    const ssize_t w = ::send(fd, data.data() + from, data.size() - from, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w <= 0) break;
    from += static_cast<std::size_t>(w);
  }
  return from;
}

}  // namespace

TEST_CASE("a frozen connection re-created from its snapshot carries on without a lost byte") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: TCP_REPAIR needs CAP_NET_ADMIN");
    return;
  }
  // Table: how much the client has sent that the server has not read when it is frozen.
  for (std::size_t unread_by_server : {std::size_t{0}, std::size_t{1000}}) {
    CAPTURE(unread_by_server);
    pair_of_sockets p;
    connect_pair(p);
    const auto request = pattern(unread_by_server);
    if (!request.empty()) REQUIRE(::send(p.client, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
    // Let the request land in the server's receive queue before the freeze.
    if (!request.empty()) {
      pollfd pf{p.server, POLLIN, 0};
      REQUIRE(::poll(&pf, 1, 2000) == 1);
    }

    const auto body = pattern(4 << 20);
    std::size_t written = write_some(p.server, body, 0);
    REQUIRE(written < body.size());  // the send queue is full: some of it unsent, some unacked

    baton::net::tcp_snapshot snap;
    REQUIRE(baton::net::freeze(p.server, snap) == "");
    CHECK(snap.remote_port != 0);
    CHECK(snap.receive_queue == request);
    CHECK(snap.mss > 0);
    // Closing in repair mode forgets the connection without a FIN or RST.
    ::close(p.server);
    p.server = -1;

    std::string error;
    const int fd = baton::net::restore(snap, false, error);
    REQUIRE_MESSAGE(fd >= 0, error);
    p.server = fd;
    // What never went out is sent again by the application, from its own position.
    std::size_t position = written - snap.unsent;

    // The restored socket hands the application the request it had not read.
    if (!request.empty()) {
      std::vector<std::uint8_t> got(request.size());
      std::size_t n = 0;
      while (n < got.size()) {
        pollfd pf{fd, POLLIN, 0};
        REQUIRE(::poll(&pf, 1, 2000) == 1);
        const ssize_t r = ::recv(fd, got.data() + n, got.size() - n, 0);
        REQUIRE(r > 0);
        n += static_cast<std::size_t>(r);
      }
      CHECK(got == request);
    }

    // The client reads everything while the new socket writes the rest; halfway the connection
    // is handed off a second time (a restored socket freezes like any other).
    std::vector<std::uint8_t> received;
    received.reserve(body.size());
    std::vector<std::uint8_t> buf(256 * 1024);
    bool reset = false;
    bool second_done = false;
    while (received.size() < body.size()) {
      if (!second_done && received.size() > body.size() / 2) {
        second_done = true;
        baton::net::tcp_snapshot again;
        const std::string why = baton::net::freeze(p.server, again);
        REQUIRE_MESSAGE(why == "", why);
        ::close(p.server);
        p.server = baton::net::restore(again, false, error);
        REQUIRE_MESSAGE(p.server >= 0, error);
        position -= again.unsent;
      }
      const int fd = p.server;
      position = write_some(fd, body, position);
      if (position == body.size()) ::shutdown(fd, SHUT_WR);
      pollfd pf{p.client, POLLIN, 0};
      REQUIRE(::poll(&pf, 1, 5000) == 1);
      const ssize_t r = ::recv(p.client, buf.data(), buf.size(), 0);
      if (r < 0) reset = true;
      if (r <= 0) break;
      received.insert(received.end(), buf.begin(), buf.begin() + r);
    }
    CHECK_FALSE(reset);
    REQUIRE(received.size() == body.size());
    CHECK(received == body);
  }
}

TEST_CASE("a frozen connection that is not handed off thaws and carries on") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: TCP_REPAIR needs CAP_NET_ADMIN");
    return;
  }
  pair_of_sockets p;
  connect_pair(p);
  baton::net::tcp_snapshot snap;
  REQUIRE(baton::net::freeze(p.server, snap) == "");
  REQUIRE(baton::net::thaw(p.server) == "");
  const char hello[] = "still here";
  REQUIRE(::send(p.server, hello, sizeof hello, 0) == static_cast<ssize_t>(sizeof hello));
  char got[sizeof hello] = {};
  REQUIRE(::recv(p.client, got, sizeof got, MSG_WAITALL) == static_cast<ssize_t>(sizeof hello));
  CHECK(std::string(got) == "still here");
}

TEST_CASE("freezing a socket that is not connected says why") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  baton::net::tcp_snapshot snap;
  const std::string error = baton::net::freeze(fd, snap);
  CHECK_FALSE(error.empty());
  ::close(fd);
}
