#pragma once
// The PEP endpoint's stream engine (document 003's TSK and BPK): one thread running an Asio
// io_context that owns everything a spoofed connection touches:
//   - the SYN queue (net/pep/syn_queue.hpp): each SYN from the LAN is judged by the policy's
//     rules at arrival (spoof, pass unspoofed, refuse) and, when the three-way handshake is not
//     spoofed, held until the far side answers (CE) or refuses (CT);
//   - the transparent listener the kernel diverts spoofed connections to (the kernel's TCP acks
//     the host locally, [197]);
//   - one backbone per PEP peer (TLS with mutual certificates over kernel TCP with the policy's
//     congestion control, kept warm by keepalives), multiplexing every spoofed connection
//     between the pair as TSK messages (actors/protocol/tsk.hpp);
//   - path selection (document 003's PSK): a peer that lists WAN paths gets one backbone per
//     path, each with its keepalive; a connection takes its profile's first path up, else the
//     cheapest. A movable connection (both ends read RS) keeps what it sent until the peer's WAs
//     acknowledge it, so when its path fails it continues on the next one without a reset: each
//     end sends RS on the new backbone (what it received, the credit it granted) and the other
//     sends again what was lost. With no path up it is held up to user_timeout_ms; when a
//     preferred path returns the initiator moves it back ("revert");
//   - one CCB per spoofed connection: connection ids on the backbone, the local socket, the data
//     queued toward the host, and a flow-control window per direction, so a slow receiver stops
//     only its own sender;
//   - compression ([84]) per connection when its profile says "compress": each chunk read from
//     the host goes as one zstd frame (CTD) when that saves at least 3%, else as it is, and a
//     connection whose chunks keep not compressing stops trying for a while (net/pep/compressor.hpp).
//     Windows and WA count the bytes before compression;
//   - encryption ([84]'s encryption kernel): every backbone is TLS 1.3 with mutual certificates
//     (older versions are refused at the handshake), so every byte a spoofed connection puts on
//     the WAN is encrypted and authenticated. A profile with "encrypt" is never passed unspoofed
//     (in clear): a SYN it selects that no backbone can carry is refused with a RST.
// Not an actor: the PEP's actor (pep_actor.hpp) owns it, posts work to it (post()) and gets
// snapshots back as messages. Nothing here blocks the engine's thread except the short kernel
// rule commands at start and stop.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/pep/branch_unit.hpp"
#include "actors/protocol/tsk.hpp"
#include "net/io/counter_list.hpp"
#include "net/pep/syn_queue.hpp"
#include "policy/policy.hpp"

namespace baton::node {
class event_log;
}

namespace baton::pep {

#define BATON_PEP_COUNTERS(COUNTER, GAUGE)                                                           \
  COUNTER(syns_spoofed, "SYNs whose connection is spoofed")                                          \
  COUNTER(syns_unspoofed, "SYNs passed unspoofed by a rule (spoof: false) or no peer for the destination") \
  COUNTER(syns_refused, "SYNs refused by a rule whose profile drops them")                           \
  COUNTER(syns_not_spoofable, "SYNs a rule would spoof but no backbone or CCB was free (passed or refused by disposition)") \
  COUNTER(syns_held_retransmitted, "SYN retransmissions dropped while the first waits for the far side") \
  COUNTER(syns_previous_incarnation, "SYNs dropped while the same connection's CCB still exists")   \
  COUNTER(accepts, "connections the transparent listener accepted")                                  \
  COUNTER(accepts_orphan, "accepted connections with no CCB (reset)")                                \
  COUNTER(connects, "connections opened to local hosts for a peer's CR")                            \
  COUNTER(connects_failed, "connections to local hosts refused or unanswered")                      \
  COUNTER(mss_mismatch, "CEs whose MSS is below the one given to the local host ([247])")           \
  COUNTER(refusals_sent, "RSTs sent to a host whose held SYN was refused by the far side")          \
  COUNTER(resets_to_host, "connections reset toward the local host (CT, lost backbone)")           \
  COUNTER(closed_normally, "spoofed connections ended by FIN both ways")                             \
  COUNTER(messages_in, "TSK messages received")                                                      \
  COUNTER(messages_out, "TSK messages sent")                                                         \
  COUNTER(messages_discarded, "TSK messages for no CCB (after a CT or NR) discarded")               \
  COUNTER(bytes_from_hosts, "bytes read from local hosts and sent over backbones")                  \
  COUNTER(bytes_to_hosts, "bytes written to local hosts from backbones")                            \
  COUNTER(backbones_opened, "backbones that completed the TLS handshake")                           \
  COUNTER(backbones_lost, "backbones closed by an error, the peer, or keepalive silence")           \
  COUNTER(backbone_dial_failures, "backbone dials that failed before the TLS handshake")            \
  COUNTER(dial_timeouts, "backbone dials not connected within redial_ms (dialled again with a fresh SYN)") \
  COUNTER(tls_refused, "backbone handshakes refused (no certificate from our CA, or not TLS)")     \
  COUNTER(malformed_frames, "backbones dropped for a malformed TSK frame")                          \
  COUNTER(redundant_sent, "RTD copies sent on a second backbone (the start of each transfer)")       \
  COUNTER(redundant_used, "RTD copies that delivered data before the first backbone did")           \
  COUNTER(redundant_duplicates, "copies (RTD, CR) dropped because the other backbone's came first")  \
  COUNTER(syns_refused_unencrypted, "SYNs of an encrypt profile refused: no backbone could carry them, and they never pass in clear") \
  COUNTER(compress_bytes_in, "bytes from hosts on connections that compress, before compression")    \
  COUNTER(compress_bytes_out, "the same bytes as sent on backbones (CTD frames, or as they were when skipped)") \
  COUNTER(compress_chunks, "chunks sent compressed (CTD)")                                           \
  COUNTER(compress_chunks_skipped, "chunks of compressing connections sent as they were (saved < 3%, small, or paused)") \
  COUNTER(compress_paused, "times a connection stopped trying to compress (incompressible chunks)")  \
  COUNTER(decompressed_bytes, "bytes restored from CTD messages")                                   \
  COUNTER(malformed_compressed, "CTD messages that did not restore their stated size (backbone dropped)") \
  COUNTER(connections_moved, "spoofed connections moved to another backbone without a reset (path failed, or revert)") \
  COUNTER(connections_reverted, "of those, moves back to a preferred path that came up again")      \
  COUNTER(resumes_received, "RS messages received (the peer continues a connection on a backbone)") \
  COUNTER(bytes_resent, "bytes sent again after a move (the peer had not received them)")           \
  COUNTER(moved_discarded, "messages of a moved connection that arrived on its old backbone (discarded)") \
  COUNTER(connections_held, "connections held when their path failed and no other was up")          \
  COUNTER(held_expired, "held connections reset after user_timeout_ms with no path back")            \
  COUNTER(group_refused, "branch backbones refused (NR not_owner): another hub group member owns the branch's unit") \
  COUNTER(group_dropped, "branch backbones closed because their unit left this member (its connections reset)") \
  COUNTER(group_redirects, "NR not_owner received: a hub group member refused our backbone and named the owner") \
  COUNTER(group_member_switches, "backbone dials that went to another member of a peer's hub group")   \
  COUNTER(unsent_dry, "times a backbone socket ran dry while data waited in user space (unsent_ms bound too small for the pump)") \
  GAUGE(connections, "spoofed connections (CCBs) now")                                               \
  GAUGE(backbones_up, "backbones up now")
BATON_COUNTER_STRUCT(pep_counters, BATON_PEP_COUNTERS)

/// One priority's queue on a backbone (document 003's PK) as the console shows it.
struct priority_status {
  std::uint8_t priority = 0;       // 0..3, 3 the top
  std::uint32_t weight = 0;        // its share's weight; 0 for the top (strict)
  std::uint64_t queued_bytes = 0, queued_messages = 0;  // waiting in user space now
  std::uint64_t sent_bytes = 0, sent_messages = 0;      // since the backbone came up
  double share = 0;                // of the bytes sent since the backbone came up
};

/// One backbone as the console shows it.
struct backbone_status {
  std::string peer;         // the peer's name (from /peers, else its certificate's CN)
  std::string path;         // the peer's path it runs on ("" when the peer lists none)
  std::string address;      // "a.b.c.d:port"
  std::string state;        // dialling, handshake, up, down
  std::uint64_t moved_in = 0, moved_out = 0;  // connections moved onto / off it since it came up
  bool dialled = false;     // we dialled it (else the peer did)
  bool top = false;         // carries the top priority only (pep.top_backbone)
  double keepalive_rtt_ms = 0;  // from KA echoes (includes queueing behind data)
  double tcp_rtt_ms = 0;        // the kernel's smoothed RTT of the backbone's TCP
  double tcp_min_rtt_ms = 0;    // ... and its minimum: the difference is queueing on the path
  std::uint64_t delivery_rate_bps = 0;  // the kernel's last delivery rate estimate
  std::uint64_t retransmissions = 0;    // the kernel's total retransmitted segments
  std::string congestion;   // the congestion control the kernel uses for it
  std::string tls;          // the negotiated protocol and cipher, "TLSv1.3 TLS_AES_256_GCM_SHA384"
  std::uint64_t wire_bytes_in = 0, wire_bytes_out = 0;  // the kernel's TCP payload counts (TLS records;
                                                        // out includes retransmissions)
  std::uint64_t bytes_in = 0, bytes_out = 0;
  std::uint64_t messages_in = 0, messages_out = 0;
  std::uint64_t queued = 0;     // bytes waiting in user space for the TLS stream
  std::uint32_t unsent_limit = 0;  // TCP_NOTSENT_LOWAT now (unsent_ms at the pacing rate; 0: none)
  std::uint32_t unsent = 0;        // bytes in the socket not yet sent (the kernel's notsent)
  std::uint64_t pacing_limit_bps = 0;  // SO_MAX_PACING_RATE from the path's rate_mbit (bit/s; 0: none)
  std::uint64_t pacing_rate_bps = 0;   // the kernel's pacing rate now (bit/s)
  std::uint32_t unsent_boost = 1;      // the unsent bound is unsent_ms times this (dry spells double it)
  std::uint64_t unsent_dry = 0;        // times the socket ran dry while data waited in user space
  std::vector<priority_status> priorities;  // by priority, 0..3
  std::uint32_t connections = 0;
  std::uint32_t peer_max_ccbs = 0;
};

/// One spoofed connection (CCB) as the console shows it.
struct connection_status {
  std::uint16_t cid = 0, peer_cid = 0;
  std::uint32_t host_ip = 0, remote_ip = 0;   // the local host, the far host (host order)
  std::uint16_t host_port = 0, remote_port = 0;
  std::string peer;         // the backbone's peer
  std::string profile;
  std::string state;
  bool initiator = false;   // the local host sent the SYN
  bool three_way_spoofed = false;
  std::uint16_t mss = 0;
  std::uint64_t bytes_from_host = 0, bytes_to_host = 0;
  std::uint64_t queued_to_host = 0;  // received from the peer, not yet written to the host
  std::uint64_t send_window = 0;     // bytes the peer still lets us send
  bool compress = false;             // this direction sends CTD when it pays
  bool compress_paused = false;      // ... but the last chunks did not compress: not trying now
  std::uint64_t compress_in = 0, compress_out = 0;  // bytes from the host, and as sent
  std::string path;                  // its backbone's path
  bool movable = false;              // keeps its data until acknowledged: may move (RS)
  std::uint64_t kept = 0;            // bytes kept for sending again
  std::uint32_t moves = 0;
};

/// One WAN path to a peer (document 003's PSK) as the console shows it: its backbones summed.
struct path_status {
  std::string peer, path;
  std::string local, address;  // as the policy lists them
  std::uint32_t rate_mbit = 0, cost = 0;
  bool up = false;             // a backbone on it is up
  bool preferred = false;      // the cheapest path up (new connections without a preference)
  double rtt_ms = 0;           // the smallest kernel smoothed RTT of its backbones up
  std::uint32_t backbones_up = 0, connections = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0;
  std::uint64_t moved_in = 0, moved_out = 0;
};

/// A hub group member's view of one branch peer (pep.group): the work unit its name hashes to and
/// the member that owns it.
struct group_branch_status {
  std::string branch;        // the branch peer's name (listed, else its certificate's CN)
  std::uint32_t unit = 0;    // branch_unit(branch, work units)
  std::string owner;         // the owning member's address ("-": none known)
  bool here = false;         // this member owns the unit
  std::string backbone;      // "up" while its backbone is served here, else "-"
  std::uint64_t accepted = 0, refused = 0, dropped = 0;  // its backbones, by outcome, here
};

struct pep_snapshot {
  bool group = false;                 // pep.group: a hub group member
  std::string group_self, group_master;
  std::uint32_t units_owned = 0;
  std::vector<group_branch_status> group_branches;
  pep_counters counters;
  net::syn_queue_counters queue;
  std::vector<backbone_status> backbones;
  std::vector<path_status> paths;
  std::vector<connection_status> connections;
  std::vector<std::pair<std::string, std::uint64_t>> ct_sent, ct_received, nr_sent, nr_received;
  std::uint64_t connections_total = 0;  // connections listed may be fewer (limit)
};

/// What the hub group tells the engine (pep.group): this member, the master, each unit's owner
/// (the group's view; for the redirect hint and the console) and which units this member owns
/// (the group's unit events: it serves exactly those branches).
struct group_state {
  std::uint32_t self = 0, master = 0;   // IPv4 addresses, host order (group node ids); 0: none
  std::vector<std::uint32_t> owners;    // per unit; 0: none known
  std::vector<std::uint8_t> owned;      // per unit: 1 while this member owns it
};

class engine {
 public:
  /// Reads the certificates and binds nothing yet. Throws std::runtime_error (unreadable
  /// certificate or key, no pep section).
  engine(const policy::policy& p, node::event_log& events);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  /// Installs the interception rules, binds the SYN queue, the listener and the backbone port,
  /// dials the peers and starts the thread. Throws std::runtime_error naming what failed (then
  /// nothing is left installed).
  void start();
  /// Stops the thread, resets every spoofed connection, removes the rules. Idempotent.
  void stop() noexcept;

  /// Runs `work` on the engine's thread.
  void post(std::function<void()> work);
  /// Engine thread only: the console's view, at most `limit` connections listed.
  pep_snapshot snapshot(std::size_t limit) const;
  /// Engine thread only: new rules, profiles and limits for new connections; existing ones keep
  /// theirs. Peers added are dialled; a removed peer's backbone is closed (its connections reset).
  /// Returns what changed, for the log.
  std::string apply(const policy::policy& p);
  /// Engine thread only: the hub group's state (pep.group). A branch whose unit this member no
  /// longer owns loses its backbone here (its spoofed connections are reset; the branch redials).
  void set_group(group_state g);
  /// Engine thread only: spoofed connections per branch unit (pep.group), for /units.
  std::vector<std::pair<std::uint32_t, std::uint64_t>> unit_connections() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace baton::pep
