#pragma once
// The cluster member's gateway stage (document 004; issue 4 "The packet path"): the work-unit
// filter, NAT or direct-server-return forwarding to a consistently chosen backend, per-flow TCP
// failover state (Figure 7) and its export / import for replication. CAF-free; the packet-I/O
// actor installs it in its packet_loop and drives the control calls below.
//
// Per datagram (process()):
//  1. Work-unit filter. A datagram to the cluster IP is hashed (settings.hasher, the document's
//     function by default, work-set filter) over its own flow key, which is the client-side key
//     client:port -> cluster:service. A reply from a backend is hashed over the SAME client-side
//     key, rebuilt from the reply: client = the reply's destination address and port, cluster =
//     the cluster IP and the port of the service the reply's source (the backend endpoint)
//     belongs to, protocol kept. Both directions of a connection therefore land on one unit on
//     every member, with no state and whatever hash is configured. (With source NAT on, the
//     reply's destination is this member, not the client: the client-side key comes from this
//     member's flow table, and a reply without state cannot be placed; see gateway_config.)
//     A unit this member does not own: drop(not_owned), silently: nothing is ever sent back, so
//     no RST or ICMP leaks from a non-owner.
//  2. NAT: a new flow (TCP SYN or any UDP datagram without state) gets a backend by rendezvous
//     hashing of the client-side key (select_backend), skipping unhealthy backends; the
//     destination becomes the backend (and the source member_addr if source_nat); the flow is
//     recorded. Return traffic gets the cluster IP and service port back as its source. A TCP
//     segment without state that is not a SYN (the state was lost in a failover) re-derives the
//     same backend from the same hash and is counted as recovered: the connection survives.
//  3. DSR: the datagram is wrapped in IP-in-IP (member_addr -> backend) in the buffer's headroom.
//  4. TCP state: every TCP segment of a carried flow updates its Figure 7 state
//     (tcp_failover_state.hpp) in both directions the member sees.
//  5. The hop: the member forwards as a router (as IPVS does), so an owned datagram's TTL goes
//     down by one; one that would leave with TTL 0 is dropped and its sender gets ICMP time
//     exceeded (from the cluster IP toward clients, from member_addr toward backends).
//  6. Fragments: a first fragment carries the ports and goes through 1-3 as a whole datagram;
//     the later pieces, which have no ports to hash, get what their first piece got, from the
//     member that carried it (fragment_follow.hpp); other members drop them (not_owned).
//
// Threading: process() runs on the loop thread. publish_config() / publish_owned() may be
// called from any control thread (table_slot). Everything else (export_unit, import_unit,
// drop_unit, expire, find_flow, flow_count) touches the flow table and must run on the loop
// thread between batches (the packet-I/O actor's command queue), or while the loop is stopped.
// counters() may be read from any thread.
//
// Replication cost per flow (the figures bench_gateway prints come from these layouts):
//   initial portion, once per flow:      22 bytes (gateway_initial_record_size)
//   essential portion, per change batch: 41 bytes (gateway_essential_record_size), TCP only
//   plus a 12-byte header per unit and message. A steadily transferring TCP flow changes its
//   essential state with nearly every segment; sent per segment that is 41 B x packets/s, batched
//   every T it is at most 41 B / T per flow (410 B/s at T = 100 ms), however fast the flow runs.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "net/flow/flow_table.hpp"
#include "net/flow/work_unit.hpp"
#include "net/gateway/fragment_follow.hpp"
#include "net/gateway/gateway_config.hpp"
#include "net/sched/token_bucket.hpp"
#include "net/gateway/tcp_failover_state.hpp"
#include "net/io/clock.hpp"
#include "net/io/counter_list.hpp"
#include "net/io/stage.hpp"
#include "net/io/table_slot.hpp"

namespace baton::net {

/// Fixed at construction: every member of a cluster must agree on the hasher.
struct gateway_settings {
  std::size_t flow_capacity = 65536;  // flows carried at once (records; the table holds 2 keys each)
  flow_timeouts timeouts{};
  work_unit_hasher hasher{};          // document's function, 1024 units by default (<= 1024)
  /// Time source in milliseconds; nullptr: coarse_now() (net/io/clock.hpp: a few ns, 1-4 ms
  /// resolution, plenty for idle timeouts). Tests pass their own for determinism.
  std::chrono::milliseconds (*clock)() noexcept = nullptr;
};

/// The stage's counters, declared once (net/io/counter_list.hpp).
#define BATON_GATEWAY_COUNTERS(COUNTER, GAUGE)                                                  \
  COUNTER(owned, "datagrams whose unit this member owns (both directions)")                   \
  COUNTER(not_owned, "dropped silently: another member's unit")                               \
  COUNTER(not_cluster, "neither to the cluster IP nor from a backend: left to later stages")  \
  COUNTER(nat_new, "new flows (SYN, or UDP without state)")                                   \
  COUNTER(nat_hit, "client datagrams of known flows")                                         \
  COUNTER(recovered, "flows re-derived without state (mid-flow, either direction)")           \
  COUNTER(returned, "replies rewritten back to the cluster IP")                               \
  COUNTER(dsr_encapsulated, "datagrams sent to a backend in IP-in-IP (direct server return)") \
  COUNTER(unhealthy_skipped, "new flows whose first-choice backend was unhealthy")            \
  COUNTER(no_backend, "dropped (no_route): no healthy backend")                               \
  COUNTER(no_service, "dropped (no_route): owned, TCP/UDP, but no such service")              \
  COUNTER(fragments_first, "first fragments decided as whole datagrams (kept for the rest)")  \
  COUNTER(fragments_followed, "later fragments sent as their first fragment was")              \
  COUNTER(fragments_unmatched, "dropped (not_owned): later fragment with no first fragment here") \
  COUNTER(table_full, "dropped (policy): no room for a new flow")                             \
  COUNTER(snat_collision, "dropped (policy): source-NAT endpoint already in use")             \
  COUNTER(return_unknown, "dropped (not_owned): source-NAT reply without state")              \
  COUNTER(essential_changes, "times a flow's essential TCP state changed")                    \
  COUNTER(ttl_expired, "dropped (ttl_expired): would have left with TTL 0 (owned units only)") \
  COUNTER(icmp_time_exceeded, "ICMP time exceeded sent for them (100/s, bursts of 20)")

/// A copy of the stage's counters (each read once, relaxed). for_each() lists the scalar ones;
/// backend_chosen is labelled by service and backend index (the config's order).
struct gateway_counters {
  BATON_COUNTER_MEMBERS(BATON_GATEWAY_COUNTERS)
  /// Flows given to each backend: [service][backend], new and recovered.
  std::array<std::array<std::uint64_t, max_backends_per_service>, max_services> backend_chosen{};
};

// Replication byte layout (all integers big-endian). One blob per unit and portion:
//   header: format(1) = 1, kind(1) = 'I' or 'E', unit(2), cluster_ip(4), count(4)
//   initial record:   client addr(4) client port(2) service port(2) protocol(1)
//                     backend addr(4) backend port(2) source-NAT port(2) (0: none)
//                     client MSS(2) backend MSS(2) options size(1)
//   essential record: client addr(4) client port(2) service port(2) protocol(1)
//                     connection state(1) flags(1) valid(1) scales(1: send << 4 | receive)
//                     snd_nxt snd_wl1 snd_wl2 snd_wnd rcv_nxt rcv_adv ts_recent (4 each)
inline constexpr std::uint8_t gateway_state_format = 1;
inline constexpr std::size_t gateway_state_header_size = 12;
inline constexpr std::size_t gateway_initial_record_size = 22;
inline constexpr std::size_t gateway_essential_record_size = 41;
//   removal record:   client addr(4) client port(2) service port(2) protocol(1)  (kind 'R': a
//                     flow that ended - expired or closed - since the version asked for)
inline constexpr std::size_t gateway_removal_record_size = 9;
/// Removals remembered per unit for export_delta; older ones are forgotten, and a delta asked
/// for from before them reports complete = false (send a checkpoint instead).
inline constexpr std::size_t gateway_removals_per_unit = 1024;

/// What export_unit produced.
struct unit_export {
  std::uint64_t version = 0;      // pass as `since` next time to get only later changes
  std::size_t initial_flows = 0;  // records in the initial blob
  std::size_t essential_flows = 0;
  std::size_t removed_flows = 0;  // export_delta only: removal records
  bool complete = true;           // export_delta only: false when removals since `since` were
                                  // forgotten (more than gateway_removals_per_unit): export a
                                  // checkpoint (since = 0) instead
};

/// What import_unit did.
struct unit_import {
  parse_status status = parse_status::ok;  // not ok: a blob did not parse; nothing after the
                                           // bad record was applied
  std::size_t created = 0;   // flows new to this member
  std::size_t updated = 0;   // essential records applied
  std::size_t orphans = 0;   // essential records for flows with no initial record here
  std::size_t rejected = 0;  // records that do not hash to the blob's unit, or no room
  std::size_t removed = 0;   // import_blobs: flows removed by removal records
};

/// A copy of one flow's state (console, tests).
struct gateway_flow_info {
  flow_key client;            // client-side key
  ipv4_host backend_addr = 0;
  port_host backend_port = 0;
  port_host snat_port = 0;    // 0: no source NAT
  std::uint32_t unit = 0;
  flow_state state = flow_state::other;
  tcp_initial_state initial;
  tcp_essential_state essential;
  std::uint32_t age_ms = 0;   // since the flow was created on this member (or imported here)
  std::uint32_t idle_ms = 0;  // since its last datagram (either direction)
};

class gateway_stage final : public stage {
 public:
  /// A stage reading its tables through `epoch` (the loop's; must outlive the stage). Allocates
  /// everything now: the flow table, flow_capacity records, the per-unit lists.
  /// `config` must pass validate(); `owned` starts as given (empty: drop everything).
  /// Throws std::invalid_argument for a config that does not validate, a capacity of 0 or a
  /// hasher with more than 1024 units; std::bad_alloc.
  gateway_stage(const reader_epoch& epoch, gateway_settings settings, const gateway_config& config,
                const owned_units& owned = {});
  ~gateway_stage() override;

  /// Control thread: replaces the config (health, services, mode). Flows keep the backend they
  /// have. Throws std::invalid_argument when `config` does not validate; std::bad_alloc.
  void publish_config(const gateway_config& config);
  /// Control thread: replaces the owned-units set. Returns once the loop uses the new set.
  /// Dropping a unit here stops its traffic; drop_unit() then frees its flows. Throws
  /// std::bad_alloc.
  void publish_owned(const owned_units& owned);

  const char* name() const noexcept override { return "gateway"; }
  /// See the file comment. Verdicts: forward(backend_port) for client traffic, forward(client_port)
  /// for replies, drop(not_owned) for other members' units, drop(no_route) for no service or no
  /// healthy backend, drop(policy) for a full table / a source-NAT collision, drop(not_owned)
  /// for a later fragment whose first fragment this member did not carry (fragment_follow.hpp),
  /// drop(oversize) when DSR has no headroom, next() for traffic that is not the cluster's
  /// (and owned non-TCP/UDP datagrams to the cluster IP, e.g. ping, for a later stage).
  verdict process(packet_context& ctx) noexcept override;
  /// Loads ahead for the batch (stage.hpp) what process() reads of a datagram to the cluster IP
  /// or of a source-NAT reply: its flow-table slot in round 0, its flow record in round 1.
  /// Only with at least prefetch_min_flows flows in the table (about 3 MB of slots and records,
  /// past a core's L2).
  void prefetch(const packet_context& ctx, unsigned round) const noexcept override;
  static constexpr std::size_t prefetch_min_flows = 16384;

  // Loop thread only (see the file comment). -------------------------------------------------

  /// Appends unit `unit`'s replication blobs to `initial` and `essential` (each gets a header
  /// even with no records): initial records of flows created after version `since`, essential
  /// records of TCP flows whose essential state changed after `since`. since = 0: everything.
  /// Returns the version to pass next time. Allocates only by growing the vectors (control path).
  unit_export export_unit(std::uint32_t unit, std::uint64_t since, std::vector<std::uint8_t>& initial,
                          std::vector<std::uint8_t>& essential) const;

  /// Takes over flows from blobs made by export_unit on another member (either may be empty):
  /// initial records create flows not yet here (same backend, same NAT binding), then essential
  /// records overwrite their TCP state. Records whose client key does not hash to the blob's unit
  /// are rejected. The bytes are untrusted: every read is bounds-checked. Never throws.
  unit_import import_unit(bytes_view initial, bytes_view essential) noexcept;

  /// Replication as deltas (document 004's initial portion once per flow, the essential portion
  /// when it changes; actors/group/replication.hpp). Appends to `out` the blobs that carry unit
  /// `unit`'s changes after version `since`, each only if it has records, in the order they must
  /// be applied: removals ('R': flows that ended - expired or closed - after `since`; none when
  /// since = 0), initial records ('I': flows created after `since`), essential records ('E':
  /// TCP flows whose essential state changed after `since`, new ones included). since = 0 gives
  /// the unit's whole state: a checkpoint. Applying a checkpoint and then each delta, in order,
  /// with import_blobs on an empty unit reproduces this stage's flows of the unit (backend, NAT
  /// binding, initial and essential state, connection state).
  /// One consumer per stage: a call forgets the unit's removals at or before `since`, so
  /// `since` must only grow (the version returned by the previous call). Returns the version to
  /// pass next time; complete = false when removals after `since` were already forgotten (then
  /// `out` holds a partial delta: export a checkpoint instead). Allocates only by growing `out`.
  unit_export export_delta(std::uint32_t unit, std::uint64_t since, std::vector<std::uint8_t>& out);

  /// Applies blobs made by export_delta (or export_unit), concatenated, in order: removals free
  /// the flows named (if here and of the blob's unit), initial records create flows, essential
  /// records overwrite TCP state, as import_unit does. The bytes are untrusted: every read is
  /// bounds-checked; status not ok stops at the first blob that does not parse (what came before
  /// it stays applied). Never throws.
  unit_import import_blobs(bytes_view blobs) noexcept;

  /// Forgets every flow of `unit` (it was revoked or handed over). Returns how many. Never throws.
  std::size_t drop_unit(std::uint32_t unit) noexcept;

  /// Removes idle flows: examines `max_slots` table slots, continuing where the previous call
  /// stopped (a bounded slice of work; call it between batches; slot count / max_slots calls make
  /// a full pass). Any max_slots is honoured (the work is done in internal slices of 256).
  /// Returns what the table sweep did: visited == max_slots, expired = keys removed.
  sweep_result expire(std::size_t max_slots) noexcept;

  /// The state of the flow with client-side key `client`, or false.
  bool find_flow(const flow_key& client, gateway_flow_info& out) const noexcept;
  /// Flows of one unit (for /units).
  std::size_t flow_count(std::uint32_t unit) const noexcept;
  /// Console (/flows): appends a copy of at most `limit` carried flows to `out`, walking the
  /// units' flow lists in unit order (the work is bounded by `limit` plus one look at each unit's
  /// list head, however many flows the table holds). Returns how many it appended. Loop thread
  /// only; allocates only by growing `out`.
  std::size_t list_flows(std::size_t limit, std::vector<gateway_flow_info>& out) const;
  /// Flows carried now.
  std::size_t flows() const noexcept { return records_in_use_; }
  /// The replication version: grows with every flow creation and essential change.
  std::uint64_t version() const noexcept { return version_; }
  const gateway_settings& settings() const noexcept { return settings_; }

  /// Counters, readable from any thread.
  gateway_counters counters() const noexcept;

 private:
  struct flow_record;
  struct live_counters;
  static constexpr std::uint32_t npos = 0xffffffffU;

  std::chrono::milliseconds now() const noexcept;
  // These three return their verdict packed in an integer (gateway_stage.cpp: pack / unpack).
  std::uint64_t from_client(packet_context& ctx, const gateway_config& cfg,
                            const owned_units& owned) noexcept;
  std::uint64_t from_backend(packet_context& ctx, const gateway_config& cfg,
                             const owned_units& owned, std::size_t service,
                             std::size_t backend) noexcept;
  std::uint64_t from_backend_snat(packet_context& ctx, const gateway_config& cfg,
                                  const owned_units& owned) noexcept;
  // Lowers the TTL of the owned datagram in ctx; true when it goes on. False when it expired:
  // `v` is then the ICMP time exceeded from `from` sent out `back`, or a drop. With
  // `lower_later` it only checks: nat_hop() lowers the TTL with the rewrite (one checksum update).
  // Inline for the datagram that goes on that way: no call on the NAT path.
  bool hop(packet_context& ctx, ipv4_host from, port_id back, verdict& v,
           bool lower_later = false) noexcept {
    if (lower_later && ctx.buffer->data().data[8] > 1) return true;
    return lower_ttl(ctx, from, back, v, lower_later);
  }
  // hop() for the rest: lowers the TTL (unless lower_later), or answers its expiry.
  bool lower_ttl(packet_context& ctx, ipv4_host from, port_id back, verdict& v,
                 bool lower_later) noexcept;
  // A whole datagram or a first fragment: the cluster's decision.
  verdict decide(packet_context& ctx, const gateway_config& cfg, const owned_units& owned) noexcept;
  // decide() for what is not to the cluster IP in NAT mode: a reply from a backend, or not ours.
  verdict decide_reply(packet_context& ctx, const gateway_config& cfg,
                       const owned_units& owned) noexcept;
  // process() for any fragment: a first one decided and remembered, a later one followed.
  verdict fragment(packet_context& ctx, const gateway_config& cfg,
                   const owned_units& owned) noexcept;
  // A later fragment: does what was done to its first fragment, or drops it (not_owned).
  verdict follow_fragment(packet_context& ctx, const gateway_config& cfg) noexcept;
  // A first fragment (`key` as it arrived) got verdict forward `v`: remembers what it became.
  void remember_fragment(const fragment_key& key, const packet_context& ctx, const verdict& v) noexcept;
  // Makes a flow record and its table entries; npos when full or on a source-NAT collision
  // (`why` says which).
  std::uint32_t create_flow(const flow_key& client, std::uint32_t unit, ipv4_host backend_addr,
                            port_host backend_port, bool source_nat, ipv4_host snat_addr,
                            std::uint8_t tcp_flags, std::chrono::milliseconds now,
                            drop_reason& why, bool& collision) noexcept;
  // Frees a record; `remember` keeps a removal for export_delta (expiry, not drop_unit/import).
  void free_record(std::uint32_t index, bool remember = false) noexcept;
  // expire()'s second half for one slice: frees the `n` records whose keys the sweep removed, or
  // puts back a source-NAT flow's expired key while its other direction is live at time `t`.
  void settle_expired(const std::uint32_t* dead, std::size_t n,
                      std::chrono::milliseconds t) noexcept;
  // Updates a TCP flow's Figure 7 state; bumps the version when it (or `state_changed`) changed.
  void track(std::uint32_t index, bytes_view packet, const packet_fields& f,
             segment_direction dir, bool state_changed) noexcept;

  gateway_settings settings_;
  flow_table table_;
  std::vector<flow_record> records_;
  std::vector<std::uint32_t> free_;        // stack of free record indexes
  std::vector<std::uint32_t> unit_head_;   // per unit: first record of its list
  std::vector<std::uint32_t> unit_flows_;  // per unit: records in its list
  struct removal {
    flow_key client;
    std::uint64_t version = 0;
  };
  std::vector<std::vector<removal>> removed_;  // per unit: flows ended, oldest first
  std::vector<std::uint64_t> removed_floor_;   // per unit: newest removal forgotten unasked
  std::size_t records_in_use_ = 0;
  std::uint64_t version_ = 0;
  std::uint16_t ipip_id_ = 0;
  fragment_follow fragments_;  // later fragments follow their first one (loop thread)
  token_bucket icmp_budget_;   // ICMP errors the stage may send (one "byte" per message)
  table_slot<gateway_config> config_;
  // Copies for the loop-thread control calls, which run outside the loop's epoch and so must not
  // hold a config pointer that a concurrent publish_config() may free.
  std::atomic<ipv4_host> cluster_ip_{0};
  std::atomic<ipv4_host> member_addr_{0};
  table_slot<owned_units> owned_;
  std::unique_ptr<live_counters> counters_;
};

}  // namespace baton::net
