#pragma once
// The server gateway's data path (document 002, Figure 3). The kernel routes the servers'
// addresses into a TUN (config.from_clients); every datagram that comes out of it goes on to the
// origin on config.to_origin (an AF_PACKET port whose next hop is the origin), and a tagged start
// packet is also sent, encapsulated (IP-in-IP, outer source config.self), to every replica of
// its server that may take it:
//  - the tag must parse (replica_tag_status::ok) and permit redirection;
//  - it must name a client gateway the table knows, and the SYN's source must lie in that
//    gateway's client prefix (a tag forged elsewhere is not fanned out: untrusted_tags);
//  - the destination must be a server the table lists, and the table's rules (the policy's
//    rule matcher) must call the start packet replicatable (their profile's action "forward";
//    "drop" means origin only);
//  - replicas marked busy or dead get nothing; at most table.max_fanout copies are made.
// A TCP segment whose option area does not walk: with config.pass_bad_options false (the
// policy's /replica/bad_options "drop", the default) the packet loop drops it before the stage
// (malformed, bad_option_length); with true the stage takes it (on_bad_tcp_options), counts it
// in bad_options and sends it on to the origin untouched, never to a replica (its tag, if any,
// cannot be read). Datagrams arriving on to_origin are copies of what the kernel forwards (the
// origin's answers) and are dropped here (not_owned).
//
// Threading: process() on the loop thread; publish() from a control thread (table swap);
// counters() from any thread. The copies are sent on config.tunnel (a send-only raw IPv4 port
// that the loop owns) from process() and their buffers returned to the pool at once.

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "net/io/counter_list.hpp"
#include "net/io/packet_port.hpp"
#include "net/io/stage.hpp"
#include "net/io/table_slot.hpp"
#include "net/replica/replica_types.hpp"
#include "policy/rules.hpp"

namespace baton::net {

struct server_gateway_replica {
  std::uint32_t address = 0;
  replica_health health = replica_health::active;
};

struct server_gateway_server {
  std::uint32_t address = 0;
  std::vector<server_gateway_replica> replicas;
};

struct known_client_gateway {
  std::uint32_t address = 0;  // as the tag names it
  std::uint32_t prefix = 0;   // the clients behind it
  std::uint32_t mask = 0;
};

/// What the stage reads; control code builds it from the policy (and replica reports) and
/// publishes it whole.
struct server_gateway_table {
  std::vector<server_gateway_server> servers;
  std::vector<known_client_gateway> gateways;
  policy::rule_set rules;               // empty: every tagged start packet is replicatable
  std::vector<bool> replicatable;       // by profile index: the profile's action is forward
  std::size_t max_fanout = 8;
};

struct server_gateway_config {
  port_id from_clients = 0;     // the TUN the servers' addresses are routed into
  port_id to_origin = 1;        // toward the origin server(s)
  packet_port* tunnel = nullptr;  // send-only raw IPv4 port for the copies (owned by the loop)
  std::uint32_t self = 0;       // outer source of the copies
  bool pass_bad_options = false;  // segments whose TCP options do not walk reach the stage
};

#define BATON_SERVER_GATEWAY_COUNTERS(COUNTER, GAUGE)                                        \
  COUNTER(start_packets, "SYNs toward a server")                                             \
  COUNTER(tagged, "of those, carrying a valid tag")                                          \
  COUNTER(fanned_out, "start packets sent to replicas")                                      \
  COUNTER(copies, "encapsulated copies sent (the fan-out's WAN packets)")                    \
  COUNTER(copies_failed, "copies the raw port did not take")                                 \
  COUNTER(untrusted_tags, "tags from an unknown gateway or a source outside its clients")    \
  COUNTER(not_permitted, "tags saying redirection is not permitted")                         \
  COUNTER(bad_tags, "our experiment id with the wrong length")                               \
  COUNTER(bad_options, "segments whose TCP options do not walk, sent to the origin (policy: pass)") \
  COUNTER(not_replicated, "tagged start packets to a server with no replicas listed")        \
  COUNTER(not_replicatable, "tagged start packets the rules keep at the origin")             \
  COUNTER(skipped_unhealthy, "replicas passed over because busy or dead")                    \
  COUNTER(fanout_capped, "start packets whose fan-out hit max_fanout")                       \
  COUNTER(no_buffer, "copies not made for want of a buffer")                                 \
  COUNTER(to_origin, "datagrams sent on to the origin")
BATON_COUNTER_STRUCT(server_gateway_counters, BATON_SERVER_GATEWAY_COUNTERS)

class server_gateway_stage final : public stage {
 public:
  /// Reads its table through `epoch`. Throws std::invalid_argument without a tunnel port or with
  /// self 0.
  server_gateway_stage(const reader_epoch& epoch, server_gateway_config config,
                       std::unique_ptr<const server_gateway_table> initial);
  ~server_gateway_stage() override;

  const char* name() const noexcept override { return "server_gateway"; }
  /// forward(to_origin) for everything from the TUN (after any fan-out); drop(not_owned) for
  /// other ports.
  verdict process(packet_context& ctx) noexcept override;

  /// config.pass_bad_options, or what set_pass_bad_options() said last.
  bad_tcp_options on_bad_tcp_options() const noexcept override {
    return pass_bad_options_.load(std::memory_order_relaxed) ? bad_tcp_options::take : bad_tcp_options::refuse;
  }
  /// Any thread (a reload): whether segments whose TCP options do not walk pass from now on.
  void set_pass_bad_options(bool pass) noexcept { pass_bad_options_.store(pass, std::memory_order_relaxed); }

  /// Control thread: replaces the table.
  void publish(std::unique_ptr<const server_gateway_table> next) { table_.publish(std::move(next)); }

  server_gateway_counters counters() const noexcept;

 private:
  struct live_counters;
  server_gateway_config config_;
  table_slot<server_gateway_table> table_;
  std::unique_ptr<live_counters> live_;
  std::atomic<bool> pass_bad_options_;
  std::uint16_t ipip_id_ = 0;
};

}  // namespace baton::net
