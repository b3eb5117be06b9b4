#pragma once
// Where a PEP endpoint's SYNs wait for their verdict (document 003 [98]: the spoofing decision is
// made per connection, at its SYN). The kernel queues each SYN from the LAN (iptables-legacy
// NFQUEUE: `nft queue` does not work on this kernel); the owner reads them from a non-blocking
// descriptor, decides with the policy's rules, and accepts each one with a mark (spoof it: the
// transparent listener takes it; pass it: forwarded unchanged) or drops it. A SYN may be held
// (no verdict yet) while the far side is asked, when the three-way handshake is not spoofed.
//
// Packet by packet, so in net/: no CAF, no allocation per packet (the parsed SYN is handed to the
// callback by reference).

#include <cstdint>
#include <functional>
#include <string>

#include "net/io/counter_list.hpp"
#include "net/packet/packet_fields.hpp"
#include "net/packet/parse_status.hpp"

struct nfq_handle;
struct nfq_q_handle;

namespace baton::net {

/// One queued SYN as the kernel handed it over.
struct queued_syn {
  std::uint32_t id = 0;          // NFQUEUE packet id: what the verdict names
  parse_status status = parse_status::ok;  // ok, or why the bytes are not a readable TCP SYN
  packet_fields fields;          // addresses, ports, DSCP, TCP options present
  std::uint16_t mss = 0;         // the SYN's MSS option; 0 when absent
  std::uint32_t seq = 0;         // the initiator's ISN (a refusal acknowledges seq + 1)
};

#define BATON_SYN_QUEUE_COUNTERS(COUNTER, GAUGE)                                       \
  COUNTER(syns_queued, "SYNs the kernel queued for a spoofing verdict")                \
  COUNTER(syns_malformed, "queued packets that were not a readable TCP SYN (accepted unchanged)") \
  COUNTER(verdicts_accept, "SYNs accepted (spoofed or passed, by mark)")               \
  COUNTER(verdicts_drop, "SYNs dropped (refused, or a retransmission of a held SYN)")  \
  COUNTER(verdict_errors, "verdicts the kernel refused (the SYN was already gone)")    \
  COUNTER(read_errors, "errors reading the queue (ENOBUFS: the kernel dropped queued SYNs)")
BATON_COUNTER_STRUCT(syn_queue_counters, BATON_SYN_QUEUE_COUNTERS)

class syn_queue {
 public:
  using handler = std::function<void(const queued_syn&)>;

  /// Binds NFQUEUE `number` in the calling thread's network namespace. Throws std::runtime_error
  /// naming the queue and the reason (another process holds it, no permission).
  syn_queue(std::uint16_t number, handler on_syn);
  ~syn_queue();
  syn_queue(const syn_queue&) = delete;
  syn_queue& operator=(const syn_queue&) = delete;

  /// The descriptor to wait on (readable when SYNs are queued); non-blocking.
  int fd() const noexcept { return fd_; }
  /// Reads every queued SYN and calls the handler for each. Returns how many were read.
  std::size_t drain();

  /// Lets the SYN go on with `mark` set on it (the interception rules read the mark).
  void accept(std::uint32_t id, std::uint32_t mark);
  /// Drops the SYN.
  void drop(std::uint32_t id);

  const syn_queue_counters& counters() const noexcept { return c_; }

  /// Parses a queued packet (an IPv4 datagram, no link header). Public for the unit tests.
  static void parse(const std::uint8_t* data, std::size_t size, queued_syn& out) noexcept;

 private:
  static int on_packet(nfq_q_handle* qh, void* msg, void* nfa, void* self);

  nfq_handle* h_ = nullptr;
  nfq_q_handle* q_ = nullptr;
  int fd_ = -1;
  handler on_syn_;
  syn_queue_counters c_;
  queued_syn current_;
};

}  // namespace baton::net
