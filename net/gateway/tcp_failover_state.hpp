#pragma once
// The TCP Failover State of document 004, Figure 7 (700), as a middlebox sees it on the wire.
//
// The document's cluster members terminate TCP themselves; ours sit in front of backends, so the
// "connection" whose state we keep is the one the cluster IP (the virtual endpoint, backed by the
// chosen backend) has with the client. Directions, from that endpoint's point of view:
//   receive = client -> cluster (the member sees it on the way in),
//   send    = backend -> client (the member sees it on the way back, NAT mode only; in direct
//             server return it never passes the member, so the send-side fields stay invalid).
//
// Three portions, as in Figure 7:
//   Initial (702, "only need to send once"): addresses + ports, Maximum Segment Size, MSS +
//     options size. Kept in tcp_initial_state; the NAT binding (chosen backend) rides with it.
//   Essential (701, "send on each state change"): the flags, send next, window update segment
//     sequence and acknowledgement, send window, receive next, receive advertised window, send
//     and receive window scaling, recent timestamp echo data. Kept in tcp_essential_state.
//   Calculable (703, "don't send"): not kept; a member that takes a flow over derives it (e.g.
//     State = ESTABLISHED, send unacknowledged = send next) - and as a middlebox we only need
//     the essential portion to keep tracking sequence numbers valid.
//
// Nothing here allocates or throws.

#include <cstdint>

#include "net/flow/flow_key.hpp"
#include "net/packet/bytes.hpp"
#include "net/packet/packet_fields.hpp"
#include "net/packet/parse_status.hpp"

namespace baton::net {

// Figure 7's flags, one bit each (names as the document gives them).
inline constexpr std::uint8_t failover_flag_no_delay = 0x01;  // a socket option: never visible on
                                                              // the wire, kept for the layout
inline constexpr std::uint8_t failover_flag_no_options = 0x02;      // client SYN had no options
inline constexpr std::uint8_t failover_flag_request_window_scaling = 0x04;  // backend SYN-ACK WS
inline constexpr std::uint8_t failover_flag_receive_window_scaling = 0x08;  // client SYN WS
inline constexpr std::uint8_t failover_flag_request_timestamp = 0x10;  // backend SYN-ACK TS
inline constexpr std::uint8_t failover_flag_receive_timestamp = 0x20;  // client SYN TS
inline constexpr std::uint8_t failover_flag_permit_selective_ack = 0x40;  // SACK-permitted by the
                                                                          // client (and by the
                                                                          // backend once seen)

// Which essential fields hold observed values (a flow picked up mid-stream starts with none).
inline constexpr std::uint8_t failover_valid_receive = 0x01;    // rcv_nxt, snd_wl1/2, snd_wnd
inline constexpr std::uint8_t failover_valid_send = 0x02;       // snd_nxt, rcv_adv
inline constexpr std::uint8_t failover_valid_timestamp = 0x04;  // ts_recent

/// Figure 7, 702: sent once per flow.
struct tcp_initial_state {
  std::uint16_t client_mss = 0;    // "Maximum Segment Size" option of the client's SYN; 0 none
  std::uint16_t backend_mss = 0;   // the same from the backend's SYN-ACK (NAT mode); 0 none
  std::uint8_t options_size = 0;   // "MSS + Options Size": bytes of TCP options in the SYN
};

/// Figure 7, 701: sent on each change. All sequence values are as on the wire (host order).
struct tcp_essential_state {
  std::uint8_t flags = 0;      // failover_flag_*
  std::uint8_t valid = 0;      // failover_valid_*
  std::uint8_t snd_scale = 0;  // "Send Window Scaling": shift the client asked for (0..14)
  std::uint8_t rcv_scale = 0;  // "Receive Window Scaling": shift the backend asked for (0..14)
  std::uint32_t snd_nxt = 0;   // "Send Next": highest backend seq + length seen
  std::uint32_t snd_wl1 = 0;   // "Window Update Segment Sequence Number" (client segment)
  std::uint32_t snd_wl2 = 0;   // "Window Update Segment Acknowledgement Number"
  std::uint32_t snd_wnd = 0;   // "Send Window": the client's window, scaled, in bytes
  std::uint32_t rcv_nxt = 0;   // "Receive Next": highest client seq + length seen
  std::uint32_t rcv_adv = 0;   // "Receive Advertised Window": highest backend ack + window
  std::uint32_t ts_recent = 0;  // "Recent Timestamp Echo Data": the client's latest TSval

  friend bool operator==(const tcp_essential_state& a, const tcp_essential_state& b) noexcept {
    return a.flags == b.flags && a.valid == b.valid && a.snd_scale == b.snd_scale &&
           a.rcv_scale == b.rcv_scale && a.snd_nxt == b.snd_nxt && a.snd_wl1 == b.snd_wl1 &&
           a.snd_wl2 == b.snd_wl2 && a.snd_wnd == b.snd_wnd && a.rcv_nxt == b.rcv_nxt &&
           a.rcv_adv == b.rcv_adv && a.ts_recent == b.ts_recent;
  }
  friend bool operator!=(const tcp_essential_state& a, const tcp_essential_state& b) noexcept {
    return !(a == b);
  }
};

/// Which way a segment travels relative to the cluster's virtual endpoint.
enum class segment_direction : std::uint8_t {
  from_client,   // client -> cluster IP (before NAT)
  from_backend,  // backend -> client (before the reverse NAT)
};

/// Updates `initial` / `essential` from one TCP segment: `ip_packet` is the whole IPv4 datagram,
/// `fields` its parse_fields() result (protocol must be TCP, not a fragment). Reads the TCP
/// header and, for SYNs and segments with a timestamp, its options; never reads out of bounds
/// (a segment that does not parse changes nothing and returns false).
/// Returns true when the essential portion changed (the caller bumps its replication version);
/// changes to `initial` (SYN options) are not reported, they come with the flow's creation.
/// Sequence comparisons wrap (RFC 9293 modular arithmetic).
bool observe_segment(bytes_view ip_packet, const packet_fields& fields, segment_direction dir,
                     tcp_initial_state& initial, tcp_essential_state& essential) noexcept;

}  // namespace baton::net
