#pragma once
// The service level router's data path (document 001): the flow classifier, pinned flows and
// the IP-in-IP tunnel to the next level. CAF-free; the SLR's packet-I/O actor installs it in its
// packet_loop and drives the control calls below.
//
// Where datagrams come from:
//  - the TUN into which the kernel routes the virtual subnets (traffic from clients), and
//  - config.tunnel_in, a raw IP-in-IP port (raw_ipv4_port with receive_protocol 4): datagrams an
//    upper-level SLR tunneled to this one. They are decapsulated in place first; the outer
//    source is the previous hop (prev_hop), which a new_flow event names so control code can
//    send that SLR a "tunnel object" for a shortcut (the selected server's address).
//
// Per datagram (process()):
//  (a) tunnel_in: must be IP-in-IP (else drop not_owned), decapsulated; an inner datagram that
//      does not parse (or whose header checksum is wrong) is dropped malformed with its status.
//  (b) An ICMP echo reply or request carrying a flow advertisement (flow_advert.hpp; Figure 10's
//      augmented ping) for a virtual address in a published subnet is the server's message to
//      the SLR: the flow it names (client -> virtual, its protocol) is installed with the server
//      as next hop (origin advertised), an advertised_flow event is queued, and the datagram is
//      dropped (policy). The IPv4 addresses must agree with the advertisement (reply: client ->
//      virtual; request: virtual -> client), else it is refused (drop policy, adverts_refused).
//  (c) The destination must fall in a published virtual subnet (longest prefix wins), else drop
//      no_route.
//  (d) The flow key (src, sport, dst, dport, protocol) is looked up in the flow table
//      (flow_value::user = next hop, flow_value::flags = flow_origin). Hit ("pinned-down" path):
//      the datagram is encapsulated to the next hop (outer source config.self, TTL 64) and sent
//      on config.out. The inner datagram is not changed: the host recovers it exactly as the
//      client sent it. A SYN on an entry is a new connection reusing the 4-tuple (and chooses
//      again, as in (e)) when the entry's flow has closed or the SYN's sequence number differs
//      from the one that opened it (low 16 bits kept in flow_value::work_unit); with the same
//      sequence number it is a retransmission and follows the pinned path.
//  (e) Miss: a TCP segment other than a SYN without ACK belongs to a flow whose entry was lost
//      (recovery, document 001 "state failure and recovery"): an unknown_flow event is queued
//      (not for a RST) and it is dropped (not_owned); TCP retransmits it once control code has
//      re-installed the entry (WHOHAS, hot-spare state, a flow advertisement). Anything else
//      (a SYN, a UDP datagram, other protocols) is a new flow: a candidate of the subnet is
//      chosen by weighted rendezvous hashing of the key (select_candidate), the flow is pinned
//      (origin chosen), a new_flow event is queued and the datagram is tunneled. No candidate
//      with a weight above 0: drop no_route. A full table: drop policy (table_full).
//  The hop: a datagram that came through tunnel_in and is tunnelled on is routed by this SLR, so
//  its TTL goes down by one (RFC 2003 §3: the encapsulator decrements the inner TTL as a router
//  would); one that would go on with TTL 0 is dropped (ttl_expired) and its source hears ICMP
//  time exceeded from config.self through config.out. What arrives from the TUN was routed by
//  the kernel, which did that already.
//  Fragments: a later fragment has no ports, so fragments are never looked up or pinned; every
//  fragment of a datagram is tunneled to the rendezvous choice over (src, dst, protocol) with
//  ports 0, so all its pieces reach the same next hop (counted in fragments).
//  (f) Not active (a hot spare): (a)-(e) run as above (the table learns flows, adverts install,
//      events are queued) but every datagram that would be tunneled is dropped (not_owned,
//      standby_drops).
//
// Threading: process(), install(), erase(), find(), flush(), expire() and for_each_flow() run on
// the loop thread (control code wraps them in packet_loop::run_on_loop), or while the loop is
// stopped. publish() is for control threads (table swap through the loop's reader_epoch).
// set_active() and counters() may be called from any thread. drain_events() and event_fd()
// belong to one control thread, the events' single consumer.
//
// Nothing is allocated per datagram: the flow table and the event ring are allocated at
// construction; a full ring drops the event (events_lost) and never blocks the loop.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "net/flow/flow_key.hpp"
#include "net/flow/flow_table.hpp"
#include "net/io/clock.hpp"
#include "net/io/counter_list.hpp"
#include "net/io/spsc_ring.hpp"
#include "net/io/stage.hpp"
#include "net/io/table_slot.hpp"
#include "net/sched/token_bucket.hpp"

namespace baton::net {

/// A tunnel termination point of the next level (an SLR, or a host server) and its share.
struct slr_candidate {
  std::uint32_t next_hop = 0;  // host order; not 0, not the SLR itself
  std::uint32_t weight = 1;    // relative share of new flows; 0: draining (keeps pinned flows,
                               // gets no new ones)
};

/// A virtual subnet and where its new flows may go.
struct slr_subnet {
  std::uint32_t prefix = 0;  // host order, no bits set past `length`
  std::uint8_t length = 0;   // 0..32
  std::vector<slr_candidate> candidates;
};

/// The routing table, built by control code and published whole. Longest prefix wins.
struct slr_routes {
  std::vector<slr_subnet> subnets;
};

struct slr_stage_config {
  std::uint32_t self = 0;       // this SLR's address: outer source of the tunnels it makes
  port_id tunnel_in = 0;        // raw IPIP port: datagrams here are IP-in-IP addressed to us
  port_id out = 0;              // where encapsulated datagrams leave (the raw port)
  bool active = true;           // false: a hot spare (learns, forwards nothing)
  std::size_t flow_capacity = 1 << 16;
  flow_timeouts timeouts{};
  std::size_t event_capacity = 4096;  // rounded up to a power of two
  bool accept_flow_adverts = true;    // false: flow advertisements are ordinary pings
  /// Time source in milliseconds; nullptr: coarse_now() (net/io/clock.hpp). A `now` passed to
  /// install() or expire() must come from the same clock. Tests pass their own.
  std::chrono::milliseconds (*clock)() noexcept = nullptr;
};

/// How a flow entry came to be (stored in flow_value::flags).
enum class flow_origin : std::uint8_t {
  chosen,      // this SLR chose the next hop for the flow's first datagram
  shortcut,    // a downstream SLR's tunnel object: the selected server, bypassing SLRs
  recovered,   // re-installed after a loss (WHOHAS answer, control code)
  advertised,  // a server's flow advertisement (Figure 10)
  replicated,  // copied from the main SLR (hot spare)
};
inline constexpr std::size_t flow_origin_count = 5;
/// A short stable name ("chosen", "shortcut", ...). Never returns null.
const char* to_string(flow_origin o) noexcept;

enum class slr_event_kind : std::uint8_t {
  new_flow,         // a new flow was pinned to next_hop (control: shortcut signalling, hot spare)
  unknown_flow,     // a mid-flow TCP segment had no entry (control: recovery, WHOHAS)
  advertised_flow,  // a flow advertisement installed key -> next_hop
};
/// A short stable name. Never returns null.
const char* to_string(slr_event_kind k) noexcept;

struct slr_event {
  slr_event_kind kind = slr_event_kind::new_flow;
  flow_key key;                 // client -> virtual host
  std::uint32_t next_hop = 0;   // new_flow / advertised_flow: the next hop; unknown_flow: 0
  std::uint32_t prev_hop = 0;   // outer source of the tunnel it came in on; 0 from the TUN
};

/// The stage's counters, declared once (net/io/counter_list.hpp).
#define BATON_SLR_COUNTERS(COUNTER, GAUGE)                                                      \
  COUNTER(tunneled, "datagrams encapsulated and forwarded")                                    \
  COUNTER(decapsulated, "tunnel_in datagrams unwrapped")                                       \
  COUNTER(new_flows, "flows pinned by this SLR's choice")                                      \
  COUNTER(reused_tuples, "of those, a new connection on a pinned 4-tuple: chosen again")      \
  COUNTER(pinned_hits, "datagrams of known flows (all origins)")                               \
  COUNTER(shortcut_hits, "of those, flows installed as shortcuts")                             \
  COUNTER(unknown_flow_drops, "mid-flow TCP segments without an entry")                        \
  COUNTER(advert_installs, "flow advertisements installed")                                    \
  COUNTER(adverts_refused, "advertisements whose addresses disagree, or server 0")             \
  COUNTER(no_route, "not in a virtual subnet, or no candidate")                                \
  COUNTER(decap_errors, "tunnel_in: not IP-in-IP, or the inner datagram did not parse")        \
  COUNTER(standby_drops, "would have been tunneled, but this SLR is a hot spare")              \
  COUNTER(table_full, "new flows (or adverts) with no room in the flow table")                 \
  COUNTER(fragments, "fragments tunneled by the stateless choice")                             \
  COUNTER(oversize, "no headroom or over 64 KiB after encapsulation")                          \
  COUNTER(events_lost, "flow events dropped because the event ring was full")                  \
  COUNTER(ttl_expired, "tunnel_in datagrams that would have gone on with TTL 0 (dropped)")     \
  COUNTER(icmp_time_exceeded, "ICMP time exceeded sent for them (100/s, bursts of 20)")

/// A copy of the stage's counters (each read once, relaxed).
BATON_COUNTER_STRUCT(slr_counters, BATON_SLR_COUNTERS)

/// The rendezvous hash of a flow and a next hop, as a number in (0, 1]: the same on every SLR
/// (fixed seed), so a hot spare with the same routes makes the same choices. Pure.
double hash_to_unit_interval(const flow_key& key, std::uint32_t next_hop) noexcept;

/// Weighted rendezvous score: -ln(hash_to_unit_interval(key, next_hop)) / weight; the lowest
/// score wins, which gives each candidate the share weight / sum of weights. weight 0: +infinity.
double candidate_score(const flow_key& key, std::uint32_t next_hop, std::uint32_t weight) noexcept;

/// Index into `candidates` of the one `key` goes to (lowest score; a tie goes to the lower
/// address), or -1 when there is none with a weight above 0. Pure.
long select_candidate(const slr_candidate* candidates, std::size_t count,
                      const flow_key& key) noexcept;

class slr_stage final : public stage {
 public:
  /// A stage reading its routes through `epoch` (the loop's; must outlive the stage), with no
  /// routes yet (everything is no_route until publish()). Allocates the flow table and the event
  /// ring now. Throws std::invalid_argument for a capacity the flow table refuses, an
  /// event_capacity of 0 or a self address of 0; std::system_error when the eventfd cannot be
  /// made; std::bad_alloc.
  slr_stage(const reader_epoch& epoch, slr_stage_config config);
  ~slr_stage() override;

  const char* name() const noexcept override { return "slr"; }
  /// See the file comment. Verdicts: forward(config.out); drop(not_owned) for non-IPIP on
  /// tunnel_in, mid-flow misses and everything a hot spare would forward; drop(malformed) for a
  /// bad inner datagram or advertisement; drop(no_route); drop(policy) for adverts (consumed
  /// here) and a full table; drop(oversize) when the outer header does not fit.
  /// The flow-table slot of a datagram from the TUN, loaded ahead for the batch in round 0
  /// (stage.hpp; the slot holds the whole decision, so round 1 has nothing to add); a
  /// tunnelled one is keyed by its inner datagram, known only once unwrapped.
  void prefetch(const packet_context& ctx, unsigned round) const noexcept override;
  verdict process(packet_context& ctx) noexcept override;

  /// Control thread: replaces the routing table. Returns once the loop uses the new one. Pinned
  /// flows keep their next hop. Throws std::invalid_argument (naming the subnet) for a length
  /// above 32, bits set past the length, the same subnet twice, or a candidate next hop of 0 or
  /// of config.self; std::bad_alloc.
  void publish(const slr_routes& routes);

  /// Any thread: makes the stage the active SLR or a hot spare (takes effect within a batch).
  void set_active(bool active) noexcept { active_.store(active, std::memory_order_relaxed); }
  bool active() const noexcept { return active_.load(std::memory_order_relaxed); }

  // Loop thread only (packet_loop::run_on_loop) ---------------------------------------------------

  /// Pins `key` to `next_hop`: inserts, or overwrites the next hop and origin of an existing
  /// entry (its protocol state is kept). The entry starts as an established flow, seen at `now`.
  /// Returns false when the table is full, or next_hop is 0 or this SLR (a tunnel to itself
  /// would loop). Never throws.
  bool install(const flow_key& key, std::uint32_t next_hop, flow_origin origin,
               std::chrono::milliseconds now) noexcept;
  /// Forgets one flow; false when it was not there. Never throws.
  bool erase(const flow_key& key) noexcept;
  /// The entry of `key`: true and next_hop / origin filled, or false. Never throws.
  bool find(const flow_key& key, std::uint32_t& next_hop, flow_origin& origin) const noexcept;
  /// Erases every flow entry (the lab's "lose the flow table"); returns how many there were.
  std::size_t flush() noexcept;
  /// Removes idle flows, examining at most `max_slots` table slots (continuing where the last
  /// call stopped). Returns how many were removed. Never throws.
  std::size_t expire(std::chrono::milliseconds now, std::size_t max_slots) noexcept;
  /// Calls f(const flow_key&, std::uint32_t next_hop, flow_origin) for every entry (export to a
  /// hot spare, console). f must not call back into the stage. Throws what f throws.
  template <class F>
  void for_each_flow(F&& f) const {
    table_.for_each([&](const flow_key& k, const flow_value& v) {
      f(k, v.user, static_cast<flow_origin>(v.flags));
    });
  }
  /// Console (/flows): calls f(const flow_key&, std::uint32_t next_hop, flow_origin,
  /// flow_state, std::uint32_t idle_ms) for at most `limit` entries, in slot order; returns how
  /// many. Copies at most `limit` entries but looks at every slot of the table (a pass over the
  /// slot array, no hashing: about 0.1 ms for 64 Ki flows). f must not call back into the stage.
  template <class F>
  std::size_t list_flows(std::size_t limit, F&& f) const {
    const std::uint32_t t = flow_stamp(now());
    std::size_t n = 0;
    if (limit == 0) return 0;
    table_.for_each([&](const flow_key& k, const flow_value& v) {
      if (n >= limit) return;
      f(k, v.user, static_cast<flow_origin>(v.flags), v.state, t - v.last_seen);
      ++n;
    });
    return n;
  }
  /// Flows pinned now.
  std::size_t flows() const noexcept { return table_.size(); }
  std::size_t flow_capacity() const noexcept { return table_.capacity(); }

  // The events' single consumer (one control thread) ---------------------------------------------

  /// Calls f(const slr_event&) for each queued event, oldest first, until the ring is empty;
  /// returns how many. Clears event_fd() first, so an event queued during or after the call makes
  /// it readable again. Throws what f throws (the event it threw on is consumed).
  template <class F>
  std::size_t drain_events(F&& f);
  /// An eventfd (non-blocking, owned by the stage) that polls readable when events may wait.
  /// Scheme: the loop writes it when it queues an event into an empty ring; drain_events() reads
  /// it (resetting it) before taking events. So after drain_events() returns, the descriptor is
  /// readable again exactly when an event was queued since — at worst spuriously (the event was
  /// already taken by that drain), never missing one. Use: poll, then drain_events().
  int event_fd() const noexcept { return event_fd_; }

  /// Counters, readable from any thread.
  slr_counters counters() const noexcept;

  const slr_stage_config& config() const noexcept { return config_; }

 private:
  struct compiled_routes;
  struct live_counters;

  std::chrono::milliseconds now() const noexcept;
  // Encapsulates to next_hop and forwards on config.out (or drops, on a hot spare).
  verdict tunnel(packet_context& ctx, std::uint32_t next_hop) noexcept;
  // (b): true when the datagram was a flow advertisement for this SLR; `v` is then its verdict.
  bool advertisement(packet_context& ctx, const compiled_routes& routes, std::uint32_t prev_hop,
                     verdict& v) noexcept;
  void queue(slr_event_kind kind, const flow_key& key, std::uint32_t next_hop,
             std::uint32_t prev_hop) noexcept;
  void clear_event_fd() noexcept;

  slr_stage_config config_;
  flow_table table_;
  table_slot<compiled_routes> routes_;
  spsc_ring<slr_event> events_;
  int event_fd_ = -1;
  std::atomic<bool> active_{true};
  std::uint16_t ipip_id_ = 0;
  token_bucket icmp_budget_{100, 20, 0};  // ICMP errors the stage may send (one "byte" each)
  std::unique_ptr<live_counters> counters_;
};

template <class F>
std::size_t slr_stage::drain_events(F&& f) {
  clear_event_fd();
  std::size_t n = 0;
  // The final empty() re-check is a sequentially consistent load pair with the producer's
  // publish(), so an event published while the ring looked empty here was either seen by this
  // loop or signalled on the eventfd.
  do {
    while (slr_event* e = events_.read_slot()) {
      const slr_event copy = *e;
      events_.consume();
      ++n;
      f(static_cast<const slr_event&>(copy));
    }
  } while (!events_.empty());
  return n;
}

}  // namespace baton::net
