#pragma once
// The pipeline the packet loop runs on every datagram: parse (built into the loop) -> the stages
// the owner installed (classify, the role's stage) -> emit (built into the loop). A stage returns a
// verdict; the first stage that does not say "next" decides the packet's fate.

#include <cstddef>
#include <cstdint>

#include "net/io/packet_buffer.hpp"
#include "net/packet/packet_fields.hpp"
#include "net/packet/parse_status.hpp"

namespace baton::net {

/// Why the loop dropped a datagram. Counted per reason; malformed is also counted per parse_status.
enum class drop_reason : std::uint8_t {
  malformed = 0,  // did not parse (or the inner datagram of a tunnel did not)
  no_route,       // no stage said where it goes, or it names a port the loop does not have
  not_owned,      // not ours to handle (another member owns its work unit, not a tunnel packet, ...)
  policy,         // a rule said drop
  oversize,       // larger than the output port's MTU (after any encapsulation)
  tx_error,       // the output port did not take it
  ttl_expired,    // a role forwarding as a router would have sent it with TTL 0 (net/packet/ttl.hpp)
};
inline constexpr std::size_t drop_reason_count = 7;

/// Short stable name ("malformed", "no_route", ...) for counters and logs.
const char* to_string(drop_reason r) noexcept;

/// What a stage decided.
struct verdict {
  enum class kind : std::uint8_t { next, forward, drop, consume };
  kind what = kind::next;
  port_id port = 0;                          // forward: the output port
  drop_reason reason = drop_reason::policy;  // drop: why

  /// Hand the packet to the next stage.
  static constexpr verdict next() noexcept { return {}; }
  /// Send the packet on `out` (the emit step checks the port exists and the MTU).
  static constexpr verdict forward(port_id out) noexcept { return {kind::forward, out, {}}; }
  /// Drop it and count `why`.
  static constexpr verdict drop(drop_reason why) noexcept { return {kind::drop, 0, why}; }
  /// The stage has taken the buffer: it must give it back to ctx.pool on the loop thread later.
  static constexpr verdict consume() noexcept { return {kind::consume, 0, {}}; }
};

/// How a stage meets a TCP segment whose option area does not walk. The loop lets such a segment
/// past the parse step only when, in stage order, a stage that takes it comes before any that
/// refuses it; otherwise the parse step drops it (malformed, bad_option_length), as it does every
/// datagram that does not parse. Once in, a stage that refuses it drops it the same way.
enum class bad_tcp_options : std::uint8_t {
  refuse,  // never sees one (the default)
  take,    // sees and decides it; must not trust its option area (a walk stops at the bad
           // option), and what it leaves (next()) to a stage that refuses it is dropped there
  follow,  // sees it, as any other datagram, when a later stage takes it (classify: the rules
           // apply to it too)
};

/// What the stages know about the datagram in hand.
struct packet_context {
  packet_buffer* buffer = nullptr;  // the datagram (IPv4, no link header); stages may edit it
  port_id in_port = 0;
  packet_fields fields;             // filled by the parse step
  parse_status status = parse_status::ok;  // set with drop(malformed) to count the reason; on
                                           // entry ok, or bad_option_length for a TCP segment
                                           // whose options do not walk (fields.tcp_options_bad)
                                           // let in for a stage that takes it
  buffer_pool* pool = nullptr;      // where a consuming stage returns the buffer
};

/// One step of the pipeline. Runs on the loop thread only.
/// How many prefetch rounds the loop runs over a receive batch (stage::prefetch).
inline constexpr unsigned prefetch_rounds = 2;

class stage {
 public:
  virtual ~stage() = default;
  /// A short stable name for counters ("pass_through", "classify", ...); a static string.
  virtual const char* name() const noexcept = 0;
  /// Decides one datagram. Must not block, allocate or throw. Tables it reads through a
  /// table_slot are valid for the whole call (the loop is inside its reader_epoch).
  virtual verdict process(packet_context& ctx) noexcept = 0;
  /// What the stage does with a TCP segment whose option area does not walk (status
  /// bad_option_length, fields.tcp_options_bad; every other field is filled; see
  /// bad_tcp_options). Read by the loop thread for each such segment; may change at any time.
  virtual bad_tcp_options on_bad_tcp_options() const noexcept { return bad_tcp_options::refuse; }
  /// Starts the memory loads process() will need for this datagram, as a hint. The loop calls it
  /// for every datagram of a receive batch before it processes any, in `prefetch_rounds` rounds
  /// (round 0 for the whole batch, then round 1 ...), so the loads of a batch overlap instead of
  /// each process() waiting for its own misses: round 0 can start the flow-table slot's load,
  /// round 1 read that slot (arrived by then) and start the load of what it points to. Must not
  /// change anything a later process() sees. Default: nothing.
  virtual void prefetch(const packet_context& ctx, unsigned round) const noexcept {
    (void)ctx;
    (void)round;
  }
  /// Called by the loop every turn, whether or not anything arrived, with the steady clock's
  /// nanoseconds (one reading per turn): a stage that holds datagrams back (a shaper) sends the
  /// ones now due and returns how many its port took. Default: holds nothing, sends nothing.
  virtual std::size_t pump(std::uint64_t now_ns) noexcept {
    (void)now_ns;
    return 0;
  }
  /// Nanoseconds from `now_ns` until pump() can send something (0: now), or UINT64_MAX when the
  /// stage holds nothing. The loop sleeps no longer than this while it is finite.
  virtual std::uint64_t next_pump_ns(std::uint64_t now_ns) noexcept {
    (void)now_ns;
    return UINT64_MAX;
  }
};

}  // namespace baton::net
