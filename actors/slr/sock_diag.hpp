#pragma once
// The host agent's view of its own TCP sockets, through NETLINK_SOCK_DIAG inet_diag dumps (the
// kernel interface `ss` uses; no Debian library wraps it). Two uses from document 001:
//   - the "connections" load index: established sockets whose local (virtual host) address lies
//     in a virtual subnet, per subnet;
//   - Figure 10's lack of progress: established sockets with unacknowledged data that have heard
//     no ACK for longer than a timeout, after TCP's own retransmission has had its go. For those
//     the host agent sends the flow-advertisement ping.
// IPv4 only (virtual hosts are IPv4 here).

#include <chrono>
#include <cstdint>
#include <vector>

#include "actors/slr/routing.hpp"
#include "net/packet/bytes.hpp"
#include "net/packet/parse_status.hpp"

namespace baton::slr {

/// One TCP socket as the kernel reports it. Addresses and ports in host byte order.
struct tcp_socket {
  std::uint32_t local_address = 0;
  std::uint16_t local_port = 0;
  std::uint32_t remote_address = 0;
  std::uint16_t remote_port = 0;
  std::uint8_t state = 0;          // TCP_ESTABLISHED = 1, ... (linux/tcp.h numbering)
  bool has_info = false;           // the dump carried tcp_info (INET_DIAG_INFO) up to the fields below
  std::uint32_t unacked = 0;       // tcpi_unacked: segments sent and not yet acknowledged
  std::uint32_t last_ack_recv_ms = 0;  // tcpi_last_ack_recv: time since the last ACK arrived
  std::uint8_t retransmits = 0;    // tcpi_retransmits: RTO expiries since the last ACK
  std::uint8_t probes = 0;         // tcpi_probes: unanswered zero-window / keepalive probes
};

/// What one buffer of a dump held.
struct diag_parse_result {
  net::parse_status status = net::parse_status::ok;  // truncated: a length field runs past the
                                                     // buffer or below its minimum
  bool done = false;   // NLMSG_DONE seen: the dump is complete
  int error = 0;       // an NLMSG_ERROR's errno (positive), 0 when none; ends the dump too
};

/// Parses one recv() buffer of a SOCK_DIAG_BY_FAMILY dump of AF_INET sockets, appending each
/// socket to `out`. Never reads outside `buffer`; on a malformed message it stops there with
/// status truncated (sockets parsed before it stay in `out`). A tcp_info shorter than the fields
/// tcp_socket keeps leaves has_info false. Messages of other types are skipped.
diag_parse_result parse_inet_diag(net::bytes_view buffer, std::vector<tcp_socket>& out);

/// Dumps this network namespace's IPv4 TCP sockets in the states of `state_mask`
/// (bit 1 << TCP_ESTABLISHED, ...), with tcp_info when `with_info`. Throws std::system_error
/// when the netlink socket fails or the kernel answers with an error, std::runtime_error on a
/// malformed answer.
std::vector<tcp_socket> dump_tcp_sockets(std::uint32_t state_mask, bool with_info);

/// Per subnet of `virtual_subnets` (same order), the number of established TCP sockets whose
/// local address lies in it. A socket in overlapping subnets counts in each. Throws as
/// dump_tcp_sockets.
std::vector<std::size_t> count_established(const std::vector<subnet>& virtual_subnets);

/// A flow that makes no progress (Figure 10): the virtual host end and the client end.
struct stalled_flow {
  std::uint32_t local_address = 0;   // the virtual host address (in a virtual subnet)
  std::uint16_t local_port = 0;
  std::uint32_t remote_address = 0;  // the client
  std::uint16_t remote_port = 0;
  std::uint32_t unacked = 0;
  std::uint32_t last_ack_recv_ms = 0;
  std::uint8_t retransmits = 0;
};

/// Whether `s` counts as stalled for `no_ack_for`: established, tcp_info present, no ACK for
/// longer than no_ack_for, and either unacknowledged data that TCP has already retransmitted on
/// a timeout (so a flow that merely idled and has just sent again does not count) or unanswered
/// window probes.
bool is_stalled(const tcp_socket& s, std::chrono::milliseconds no_ack_for) noexcept;

/// The established sockets with local address in one of `virtual_subnets` that is_stalled().
/// Throws as dump_tcp_sockets.
std::vector<stalled_flow> stalled_flows(const std::vector<subnet>& virtual_subnets,
                                        std::chrono::milliseconds no_ack_for);

}  // namespace baton::slr
