#pragma once
// The client gateway's data path (document 002, Figures 2, 5A-5C and 6A-6C). It sits between
// the clients' side and the WAN, before pass-through (which forwards what it leaves alone):
//
// From the client side:
//  - A SYN (no ACK) to a tagged port: entered in the translation table (client address and
//    port, server port -> the server; pending) and tagged with the replica tag
//    (net/packet/replica_tag.hpp) carrying this gateway's address. A retransmitted SYN (same
//    sequence number) is tagged again and keeps its entry; a new SYN on a known key starts the
//    entry afresh. A full table: sent untagged.
//  - Any other segment of an entry a replica won: configuration A and B rewrite the destination
//    to the replica; C encapsulates it to the replica (outer source: this gateway). Entries the
//    origin won, pending ones and unknown segments pass untouched.
// From the WAN:
//  - The first SYN-ACK of an entry decides it (Figure 5): its answerer (A: the source; B: the
//    inner source of the encapsulated answer; C: the outer source) is recorded as the winner
//    and the SYN-ACK goes to the client as if from the server (A: source rewritten; B: cracked,
//    inner source rewritten; C: cracked). The origin answering first leaves the entry in state
//    origin (nothing to translate) so later answers are still recognised.
//  - A later SYN-ACK from the winner (a retransmission) is delivered the same way; one from
//    anyone else is turned, in place, into one RST from the client's address and port to the
//    answerer (sequence number = the SYN-ACK's ACK field) and sent back over the WAN. The
//    client never sees it.
//  - Before the first SYN-ACK, any other segment but a RST is dropped (stray_answers: a
//    replica's ACK from an old connection's TIME-WAIT is not for the client); in A so is one from
//    neither the winner nor the server (a late answerer's).
//  - A: the winner's segments get the server's address as source. B: they already carry it.
//    C: encapsulated segments from the winner are cracked and delivered; other tunnels that
//    match no entry are dropped (not_owned, unknown_tunnel), and so are those that do not parse
//    or whose inner checksums are wrong (malformed with its parse status, unknown_tunnel).
// A TCP segment whose option area does not walk (either side): with config.pass_bad_options
// false (the policy's /replica/bad_options "drop", the default) the packet loop drops it before
// the stage (malformed, bad_option_length); with true the stage takes it (on_bad_tcp_options),
// counts it in bad_options and handles it as any other segment, except that a start packet is
// not tagged or entered; what it would leave to pass-through (which does not take such segments)
// it forwards itself, untouched, to the other side.
// Idle entries expire in pump() (a bounded sweep per loop turn).
//
// Threading: process() and pump() on the loop thread; list_entries() on the loop thread
// (control code posts it); counters(), table_counters() and scoreboard() from any thread.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "net/io/counter_list.hpp"
#include "net/io/stage.hpp"
#include "net/replica/replica_types.hpp"
#include "net/replica/translation_table.hpp"

namespace baton::net {

struct client_gateway_config {
  replica_configuration configuration = replica_configuration::a;
  port_id client_side = 0;  // port toward the clients
  port_id wan_side = 1;     // port toward servers and replicas
  std::uint32_t self = 0;   // this gateway's address: in the tag, outer source of C's tunnels
  std::vector<std::uint16_t> ports{80};  // start packets to these destination ports are tagged
  std::size_t capacity = 65536;
  translation_timeouts timeouts{};
  /// Whether segments whose TCP options do not walk reach the stage and pass (see above).
  bool pass_bad_options = false;
  /// Milliseconds clock for stamps and expiry; nullptr: coarse_now().
  std::chrono::milliseconds (*clock)() noexcept = nullptr;
};

#define BATON_CLIENT_GATEWAY_COUNTERS(COUNTER, GAUGE)                                        \
  COUNTER(tagged, "start packets tagged and entered")                                        \
  COUNTER(syn_retransmits, "tagged start packets seen again (same sequence number)")         \
  COUNTER(already_tagged, "start packets that already carried a tag (passed as they are)")   \
  COUNTER(bad_options, "segments whose TCP options do not walk, passed (policy: pass)")       \
  COUNTER(tag_no_room, "start packets with no room for the tag (sent untagged)")             \
  COUNTER(table_full, "start packets with no room in the table (sent untagged)")             \
  COUNTER(replica_wins, "connections a replica answered first")                              \
  COUNTER(origin_wins, "connections the origin answered first")                              \
  COUNTER(resets_sent, "RSTs sent to answerers that came after the first")                   \
  COUNTER(winner_retransmits, "SYN-ACKs the winner sent again (delivered)")                   \
  COUNTER(translated_to_replica, "client segments rewritten to the replica (A, B)")          \
  COUNTER(translated_from_replica, "replica segments rewritten to the server's address (A)") \
  COUNTER(encapsulated, "client segments tunnelled to the replica (C)")                      \
  COUNTER(decapsulated, "tunnelled answers cracked and delivered (B, C)")                    \
  COUNTER(unknown_tunnel, "tunnelled datagrams not parsed, with a wrong inner checksum or matching no entry (dropped)") \
  COUNTER(stray_answers, "segments from the WAN before the first SYN-ACK, or (A) from a late answerer (dropped)") \
  COUNTER(oversize, "no room to encapsulate (dropped)")
BATON_COUNTER_STRUCT(client_gateway_counters, BATON_CLIENT_GATEWAY_COUNTERS)

class client_gateway_stage final : public stage {
 public:
  /// Allocates the table now. Throws std::invalid_argument for a capacity the table refuses,
  /// a self address of 0 or equal client_side and wan_side ports; std::bad_alloc.
  explicit client_gateway_stage(client_gateway_config config);
  ~client_gateway_stage() override;

  const char* name() const noexcept override { return "client_gateway"; }
  /// See the file comment. Verdicts: next() for what pass-through forwards unchanged (or
  /// after an in-place tag / client-side rewrite it may also forward); forward(client_side) for
  /// answers delivered; forward(wan_side) for RSTs and translated client segments;
  /// drop(not_owned) for unknown tunnels;
  /// drop(oversize) when C cannot encapsulate.
  verdict process(packet_context& ctx) noexcept override;
  /// Expires idle entries (at most 256 slots per call).
  std::size_t pump(std::uint64_t now_ns) noexcept override;
  /// config.pass_bad_options, or what set_pass_bad_options() said last.
  bad_tcp_options on_bad_tcp_options() const noexcept override {
    return pass_bad_options_.load(std::memory_order_relaxed) ? bad_tcp_options::take : bad_tcp_options::refuse;
  }
  /// Any thread (a reload): whether segments whose TCP options do not walk pass from now on.
  void set_pass_bad_options(bool pass) noexcept { pass_bad_options_.store(pass, std::memory_order_relaxed); }

  /// Loop thread: f(const translation_entry&) for at most `limit` entries; returns how many.
  template <class F>
  std::size_t list_entries(std::size_t limit, F&& f) const {
    std::size_t n = 0;
    table_.for_each([&](const translation_entry& e) {
      if (n < limit) {
        f(e);
        ++n;
      }
    });
    return n;
  }
  /// Loop thread: the clock the entries' stamps come from, in ms (wrapping).
  std::uint32_t now_ms() const noexcept;

  client_gateway_counters counters() const noexcept;
  translation_counters table_counters() const noexcept { return table_.counters(); }
  const answer_scoreboard& scoreboard() const noexcept { return scoreboard_; }
  const client_gateway_config& config() const noexcept { return config_; }

 private:
  struct live_counters;
  verdict decide(packet_context& ctx) noexcept;
  verdict from_client(packet_context& ctx) noexcept;
  verdict from_wan(packet_context& ctx) noexcept;
  // The SYN-ACK `segment` (an IPv4 datagram: the packet, or the inner one of a tunnel) answers
  // entry `e` from `answerer`; `inner` is the datagram to deliver (B and C: the cracked one).
  verdict answer(packet_context& ctx, translation_entry& e, std::uint32_t answerer,
                 bytes_span inner) noexcept;
  bool tags_port(std::uint16_t port) const noexcept;

  client_gateway_config config_;
  translation_table table_;
  answer_scoreboard scoreboard_;
  std::unique_ptr<live_counters> live_;
  std::atomic<bool> pass_bad_options_;
  std::uint16_t ipip_id_ = 0;
};

}  // namespace baton::net
