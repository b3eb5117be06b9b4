#pragma once
// The one sendmmsg loop the socket ports share (AF_PACKET, raw IPv4).

#include <sys/socket.h>

#include <cstddef>

#include "net/io/packet_port.hpp"

namespace baton::net {

/// Sends msgs[0, n) on `fd` without blocking, in as few sendmmsg calls as the kernel allows. A
/// message the kernel refuses (e.g. EMSGSIZE) is counted as a tx error and skipped; when the
/// device queue is full (EAGAIN, ENOBUFS) the rest are counted as tx errors. Counts tx_packets and
/// tx_bytes (each message's single iovec) of what was taken. Returns how many were sent.
std::size_t send_messages(int fd, mmsghdr* msgs, std::size_t n, port_counters& counters) noexcept;

}  // namespace baton::net
