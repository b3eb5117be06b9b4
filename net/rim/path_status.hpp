#pragma once
// What the rim's management object measures on a host (document 000: "status information ...
// ICMP messages received, loss and retransmission rates, round trip times, host load"): a TCP
// socket's counters (TCP_INFO), the ICMP errors the host's kernel received (/proc/net/snmp, per
// network namespace) and the load. Plain reads; no CAF.

#include <cstdint>
#include <string>

namespace baton::net {

struct tcp_counters {
  std::uint64_t segs_out = 0;       // segments sent, retransmissions included
  std::uint64_t retransmitted = 0;  // segments retransmitted over the socket's life
  std::uint32_t rtt_us = 0;         // smoothed RTT
  std::uint64_t bytes_acked = 0;
};

/// The socket's counters; false when it is not a TCP socket (or TCP_INFO fails).
bool read_tcp_counters(int fd, tcp_counters& out);

struct icmp_errors {
  std::uint64_t unreachable = 0, time_exceeded = 0, source_quench = 0;
};

/// The ICMP errors counted in `snmp` (the text of /proc/net/snmp): its "Icmp:" header and value
/// lines. False (and `out` untouched) when they are missing or do not parse.
bool parse_icmp_errors(const std::string& snmp, icmp_errors& out);
/// This network namespace's (reads /proc/net/snmp); zeros when it cannot be read.
icmp_errors read_icmp_errors();

/// The 1-minute load average per online CPU, x1000 (1000: one runnable task per CPU).
std::uint32_t load_permille();

}  // namespace baton::net
