#pragma once
// Live TCP hand-off (document 000: "a new TCP instance on 'C' must be created in the acceptance of
// this socket hand-off"): the kernel's TCP_REPAIR mode freezes an established socket, lets its
// state be read out and written into a new socket on another host, which then carries on as if it
// had been the one all along. No packet is sent by either step: closing a socket in repair mode
// sends no FIN or RST, and creating one sends no SYN. Needs CAP_NET_ADMIN. No CAF.
//
// What is carried: the four-tuple, both queues' sequence numbers, the data still in the send queue
// (sent but not acknowledged) and in the receive queue (not read yet), the negotiated options
// (MSS, window scales, SACK, timestamps), the timestamp clock and the windows. What is not: the
// congestion state (the new socket starts from the initial window, as after an idle period).

#include <cstdint>
#include <string>
#include <vector>

namespace baton::net {

struct tcp_snapshot {
  std::uint32_t local_address = 0;  // host order
  std::uint16_t local_port = 0;
  std::uint32_t remote_address = 0;
  std::uint16_t remote_port = 0;
  std::uint32_t send_seq = 0;     // the first byte of `send_queue` (the oldest unacknowledged)
  std::uint32_t receive_seq = 0;  // the first byte of `receive_queue` (the oldest unread)
  std::vector<std::uint8_t> send_queue;     // sent or queued, not acknowledged
  std::vector<std::uint8_t> receive_queue;  // received, not read by the application
  std::uint32_t unsent = 0;        // how many of send_queue's last bytes were never sent
  std::uint32_t mss = 0;
  std::uint8_t snd_wscale = 0;
  std::uint8_t rcv_wscale = 0;
  bool sack = false;
  bool timestamps = false;
  bool wscale = false;
  std::uint32_t timestamp = 0;  // the socket's TCP timestamp clock when frozen
  std::uint32_t snd_wl1 = 0;
  std::uint32_t snd_wnd = 0;
  std::uint32_t max_window = 0;
  std::uint32_t rcv_wnd = 0;
  std::uint32_t rcv_wup = 0;
};

/// Freezes `fd` (an established TCP socket) and reads its state. The socket stays in repair mode:
/// close it to forget the connection without a packet, or thaw() it to carry on here. Returns an
/// empty string on success, else what failed ("TCP_REPAIR: Operation not permitted").
std::string freeze(int fd, tcp_snapshot& out);

/// Leaves repair mode on a frozen socket (a hand-off that did not happen): it carries on.
std::string thaw(int fd);

/// Creates a socket holding `s`'s connection (bound to s.local_address, with IP_TRANSPARENT when
/// `transparent`: the address belongs to another host) and, when `leave_repair`, leaves repair
/// mode, which sends a window probe so the peer answers at once; else the caller thaw()s it once
/// the peer's packets can reach it. Returns the socket (non-blocking) or -1 with `error`.
int restore(const tcp_snapshot& s, bool transparent, std::string& error, bool leave_repair = true);

}  // namespace baton::net
