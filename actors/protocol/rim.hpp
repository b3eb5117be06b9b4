#pragma once
// Rim messages (document 000): what rim hosts say to each other to hand a live TCP connection
// over. Every message that crosses a node is declared in actors/protocol/ (and only here).
//
// The links are TLS with mutual certificates (caf-openssl), and a rim host takes these messages
// only from the members of its group: "only members of the rim can ask a host to take a flow".
//
// A hand-off A -> C: A freezes the socket (TCP_REPAIR) and sends C a rim_take with the socket's
// state and the position in the content; C re-creates the socket with A's address and answers
// rim_taken; A (the address's owner, which the client's packets still reach) forwards the flow's
// packets to C from then on. A hand-off from C on to E, or back to A, is the same; the host that
// gave the flow away tells the owner the new holder (rim_holder) when it is not the owner itself.

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "net/rim/tcp_repair.hpp"

#include "actors/protocol/wire.hpp"

namespace baton::net {

/// The frozen socket, as it crosses (net/rim/tcp_repair.hpp; the unsent tail is not carried: the
/// new holder writes it from its own copy of the content).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tcp_snapshot& x) {
  return f(caf::meta::type_name("rim_tcp_state"), x.local_address, x.local_port, x.remote_address,
           x.remote_port, x.send_seq, x.receive_seq, protocol::bytes_field(x.send_queue), protocol::bytes_field(x.receive_queue), x.unsent, x.mss,
           x.snd_wscale, x.rcv_wscale, x.sack, x.timestamps, x.wscale, x.timestamp, x.snd_wl1, x.snd_wnd,
           x.max_window, x.rcv_wnd, x.rcv_wup);
}

}  // namespace baton::net

namespace baton::protocol {

/// A rim host's first message on a link to another: who it is, and its rim actor to answer.
struct rim_hello {
  std::string name;           // its policy identity (its certificate's subject)
  std::uint32_t address = 0;  // its address, host order: as the group knows it
  caf::actor rim;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rim_hello& x) {
  return f(caf::meta::type_name("rim_hello"), bytes_field(x.name), x.address, x.rim);
}

/// A flow by the client's and the service's address and port (host order). The service address
/// is the rim host whose identity the flow carries: its owner.
struct rim_flow {
  std::uint32_t client_address = 0;
  std::uint16_t client_port = 0;
  std::uint32_t service_address = 0;
  std::uint16_t service_port = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rim_flow& x) {
  return f(caf::meta::type_name("rim_flow"), x.client_address, x.client_port, x.service_address, x.service_port);
}

/// "Take this flow": the socket's state and the application's position (document 000: "the
/// masquerader knows the point in the message that it is now responsible for").
struct rim_take {
  rim_flow flow;
  std::uint32_t from = 0;        // the giving host's address
  std::string content;           // the object's name under the rim's content directory
  std::uint64_t size = 0;        // the object's size: the taker's copy must be the same
  std::uint64_t position = 0;    // the next byte of the response (header and object) to write
  /// The sent, unacknowledged bytes (the `refill` before position) are not carried: the taker
  /// reads them from its own copy into the socket's send queue. The state stays a few hundred
  /// bytes however much is in flight.
  std::uint32_t refill = 0;
  net::tcp_snapshot socket;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rim_take& x) {
  return f(caf::meta::type_name("rim_take"), x.flow, x.from, bytes_field(x.content), x.size, x.position, x.refill, x.socket);
}

/// The answer to rim_take: taken (the taker sends from now on), or refused with the reason (the
/// giver carries on with the flow).
struct rim_taken {
  rim_flow flow;
  std::uint32_t holder = 0;  // the taker's address
  bool taken = false;
  std::string reason;        // when refused
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rim_taken& x) {
  return f(caf::meta::type_name("rim_taken"), x.flow, x.holder, x.taken, bytes_field(x.reason));
}

/// To the flow's owner: its packets now go to `holder` (reverse-flow forwarding).
struct rim_holder {
  rim_flow flow;
  std::uint32_t holder = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rim_holder& x) {
  return f(caf::meta::type_name("rim_holder"), x.flow, x.holder);
}

/// Masquerade (document 000: "the collaborating host attaches source identifying information"):
/// the sending host asks each masquerader of a flow's path to pass the flow's segments on to
/// `next` (the next masquerader of a reflector chain), or, with next 0, to send them to the client
/// in the flow's owner's name. `on` false ends it. Answered with true (in place) or false.
struct rim_relay {
  rim_flow flow;
  std::uint32_t from = 0;  // the sending host
  std::uint32_t next = 0;
  bool on = true;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rim_relay& x) {
  return f(caf::meta::type_name("rim_relay"), x.flow, x.from, x.next, x.on);
}

/// One flow as the host whose socket sends it sees it (TCP_INFO), in a rim_report.
struct rim_flow_report {
  rim_flow flow;
  std::uint64_t segs_out = 0;        // segments sent, retransmissions included (tcpi_segs_out)
  std::uint64_t retransmitted = 0;   // tcpi_total_retrans
  std::uint32_t rtt_us = 0;          // smoothed RTT
  std::uint64_t bytes_acked = 0;
  std::uint8_t exit = 0;             // 0 direct, 1 masqueraded, 2 funnel-cast
  std::uint32_t via = 0;             // the first masquerader (exit != 0)
  std::uint32_t moved_ms_ago = 0;    // since it was taken here or its exit last changed; ~0u: never
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rim_flow_report& x) {
  return f(caf::meta::type_name("rim_flow_report"), x.flow, x.segs_out, x.retransmitted, x.rtt_us, x.bytes_acked,
           x.exit, x.via, x.moved_ms_ago);
}

/// Every rim host to the group's master, each management interval: the flows whose sockets it
/// holds, the ICMP errors its kernel received and its load (document 000's management object
/// "collects per-flow and per-host status").
struct rim_report {
  std::uint32_t host = 0;
  std::uint32_t load_permille = 0;       // 1-minute load average per CPU, x1000
  std::uint64_t icmp_unreachable = 0;    // cumulative, as the host's kernel counts them
  std::uint64_t icmp_time_exceeded = 0;
  std::uint64_t icmp_source_quench = 0;
  std::vector<rim_flow_report> flows;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rim_report& x) {
  return f(caf::meta::type_name("rim_report"), x.host, x.load_permille, x.icmp_unreachable, x.icmp_time_exceeded,
           x.icmp_source_quench, x.flows);
}

/// The management object's decision, from the master to the host whose socket sends the flow:
/// masquerade or funnel-cast it via `target`, hand it to `target`, or (move 0) send it directly
/// again. Answered with the outcome as JSON text (as the console's own requests are).
struct rim_command {
  rim_flow flow;
  std::uint32_t from = 0;    // the master
  std::uint8_t move = 0;     // policy::rim_move
  std::uint32_t target = 0;
  std::vector<std::uint32_t> chain;  // masquerade or funnel through these, in order (target is the last)
  std::string reason;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rim_command& x) {
  return f(caf::meta::type_name("rim_command"), x.flow, x.from, x.move, x.target, x.chain, bytes_field(x.reason));
}

}  // namespace baton::protocol
