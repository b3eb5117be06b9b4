#include "net/gateway/tcp_failover_state.hpp"

#include "net/packet/tcp.hpp"

namespace baton::net {

namespace {

// RFC 9293 §3.4: sequence numbers compare modulo 2^32.
bool seq_lt(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) < 0; }
bool seq_gt(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) > 0; }
bool seq_leq(std::uint32_t a, std::uint32_t b) { return !seq_gt(a, b); }

constexpr std::uint8_t max_window_shift = 14;  // RFC 7323 §2.3

std::uint8_t clamp_shift(std::uint8_t s) { return s > max_window_shift ? max_window_shift : s; }

// RFC 7323 §2.2: windows scale only when both SYNs carried the option. When the backend's SYN-ACK
// was never seen (direct server return, or a flow picked up mid-stream) the client's offer is all
// we know, so we assume the backend accepted it (every current stack does).
bool scaling_on(const tcp_essential_state& e) {
  if ((e.flags & failover_flag_receive_window_scaling) == 0) return false;
  return (e.flags & failover_flag_request_window_scaling) != 0 ||
         (e.valid & failover_valid_send) == 0;
}

}  // namespace

bool observe_segment(bytes_view ip_packet, const packet_fields& fields, segment_direction dir,
                     tcp_initial_state& initial, tcp_essential_state& e) noexcept {
  if (fields.protocol != 6 || fields.fragment) return false;
  if (fields.total_len > ip_packet.size || fields.ip_header_len > fields.total_len) return false;
  const tcp_view tcp(ip_packet.sub(fields.ip_header_len, fields.total_len - fields.ip_header_len));
  if (tcp.validate() != parse_status::ok) return false;

  const tcp_essential_state before = e;
  const std::uint32_t seq = tcp.seq();
  const std::uint32_t ack = tcp.ack();
  const std::uint32_t win = tcp.window();
  const bool syn = tcp.syn(), has_ack = tcp.ack_flag();
  const std::uint32_t seg_len = static_cast<std::uint32_t>(tcp.payload().size) + (syn ? 1 : 0) +
                                (tcp.fin() ? 1 : 0);
  const std::uint32_t end = seq + seg_len;

  // Options are walked only where they matter: SYNs, and segments carrying a timestamp.
  tcp_options_summary opts;
  bool opts_ok = false;
  if (syn || (fields.tcp_options & tcp_option_bit(tcp_option_timestamps)) != 0)
    opts_ok = summarize_tcp_options(tcp.options(), opts) == parse_status::ok;

  if (dir == segment_direction::from_client) {
    if (syn && !has_ack) {
      // The client's SYN opens (or re-opens) the connection: Figure 7's initial portion and the
      // receive side start here.
      initial.options_size = static_cast<std::uint8_t>(tcp.options().size);
      initial.client_mss = opts_ok && opts.has(tcp_option_maximum_segment_size) ? opts.mss : 0;
      e.flags &= static_cast<std::uint8_t>(~(failover_flag_no_options |
                                             failover_flag_receive_window_scaling |
                                             failover_flag_receive_timestamp |
                                             failover_flag_permit_selective_ack));
      if (tcp.options().size == 0) e.flags |= failover_flag_no_options;
      if (opts_ok && opts.has(tcp_option_window_scale)) {
        e.flags |= failover_flag_receive_window_scaling;
        e.snd_scale = clamp_shift(opts.window_scale);
      }
      if (opts_ok && opts.has(tcp_option_sack_permitted))
        e.flags |= failover_flag_permit_selective_ack;
      if (opts_ok && opts.has(tcp_option_timestamps)) e.flags |= failover_flag_receive_timestamp;
      e.rcv_nxt = end;
      e.snd_wl1 = seq;
      e.snd_wl2 = ack;
      e.snd_wnd = win;  // a SYN's window is never scaled (RFC 7323 §2.2)
      e.valid |= failover_valid_receive;
    } else {
      const std::uint32_t scaled = win << (scaling_on(e) ? e.snd_scale : 0);
      if ((e.valid & failover_valid_receive) == 0) {
        // Picked up mid-stream (recovery after lost state): start from this segment.
        e.rcv_nxt = end;
        e.snd_wl1 = seq;
        e.snd_wl2 = ack;
        e.snd_wnd = scaled;
        e.valid |= failover_valid_receive;
      } else {
        if (seq_gt(end, e.rcv_nxt)) e.rcv_nxt = end;
        // RFC 9293 §3.10.7.4: a segment updates the window if it is newer than the last update.
        if (has_ack && (seq_lt(e.snd_wl1, seq) || (e.snd_wl1 == seq && seq_leq(e.snd_wl2, ack)))) {
          e.snd_wnd = scaled;
          e.snd_wl1 = seq;
          e.snd_wl2 = ack;
        }
      }
    }
    if (opts_ok && opts.has(tcp_option_timestamps)) {
      // RFC 7323 §4.3 keeps the newest TSval; the comparison wraps like sequence numbers.
      if ((e.valid & failover_valid_timestamp) == 0 ||
          static_cast<std::int32_t>(opts.ts_val - e.ts_recent) > 0) {
        e.ts_recent = opts.ts_val;
        e.valid |= failover_valid_timestamp;
      }
    }
  } else {
    if (syn && has_ack) {
      initial.backend_mss = opts_ok && opts.has(tcp_option_maximum_segment_size) ? opts.mss : 0;
      e.flags &= static_cast<std::uint8_t>(
        ~(failover_flag_request_window_scaling | failover_flag_request_timestamp));
      if (opts_ok && opts.has(tcp_option_window_scale)) {
        e.flags |= failover_flag_request_window_scaling;
        e.rcv_scale = clamp_shift(opts.window_scale);
      }
      if (opts_ok && opts.has(tcp_option_timestamps)) e.flags |= failover_flag_request_timestamp;
      // SACK is permitted only when both SYNs said so (RFC 2018 §2).
      if (!(opts_ok && opts.has(tcp_option_sack_permitted)))
        e.flags &= static_cast<std::uint8_t>(~failover_flag_permit_selective_ack);
      e.snd_nxt = end;
      e.rcv_adv = ack + win;  // unscaled in a SYN
      e.valid |= failover_valid_send;
    } else {
      const std::uint32_t adv =
        ack + (win << ((scaling_on(e) && (e.flags & failover_flag_request_window_scaling))
                         ? e.rcv_scale
                         : 0));
      if ((e.valid & failover_valid_send) == 0) {
        e.snd_nxt = end;
        if (has_ack) e.rcv_adv = adv;
        e.valid |= failover_valid_send;
      } else {
        if (seq_gt(end, e.snd_nxt)) e.snd_nxt = end;
        if (has_ack && seq_gt(adv, e.rcv_adv)) e.rcv_adv = adv;
      }
    }
  }
  // Field by field, at the widths just stored: wider loads over those stores (a memcmp) cannot
  // be forwarded from the store buffer and stall (perf: a third of this function's time).
  return e != before;
}

}  // namespace baton::net
