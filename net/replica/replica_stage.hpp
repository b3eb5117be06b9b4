#pragma once
// The replica host's data path (document 002, Figures 4A-4C). Start packets (and, in
// configuration C, every client segment) arrive encapsulated on config.tunnel, a raw IP-in-IP
// port: the replica cracks them and hands the inner datagram to the local stack through a TUN
// (config.local) with its destination rewritten from the server's address to the replica's own
// (config.self), so the local web server accepts the connection on the replica's address. In
// configurations A and B the client gateway then sends the client's segments straight to that
// address; the kernel handles them without this stage.
//
// What the local stack sends back depends on the configuration:
//  A: nothing passes here: the stack answers from the replica's address, and the client gateway
//     translates.
//  B and C: the host routes the web server's segments (source config.self, source port one of the
//     served ports) into the TUN (a policy route, see the README). B: the SYN-ACK goes out
//     encapsulated (outer server -> client, inner as the stack made it: replica -> client), every
//     later segment with the server's address as source (the replica spoofs the server). C: every
//     segment gets the server's address as source and goes out encapsulated, outer replica ->
//     client. Both leave on config.tunnel (the kernel routes them by destination).
// The server a connection was for is remembered per connection (a translation table keyed like
// the client gateway's), so one replica may stand in for several servers; segments of
// connections that did not come through a tunnel (a client of the replica's own address) leave
// as the stack made them.
//
// Health: busy drops start packets (Figure 4: "the replica drops the start packet"), dead
// ignores them; segments of established connections are still delivered.
//
// Threading: process() and pump() on the loop thread; set_health() and counters() any thread.

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

struct replica_stage_config {
  replica_configuration configuration = replica_configuration::a;
  port_id tunnel = 0;     // raw IP-in-IP: receives the tunnels, sends B's and C's answers
  port_id local = 1;      // TUN into (and, in B and C, out of) the local stack
  std::uint32_t self = 0; // the replica's address
  std::vector<std::uint32_t> servers;  // the servers this host is a replica of
  std::size_t capacity = 65536;        // connections remembered (which server each was for)
  translation_timeouts timeouts{};
  std::chrono::milliseconds (*clock)() noexcept = nullptr;
};

#define BATON_REPLICA_COUNTERS(COUNTER, GAUGE)                                               \
  COUNTER(cracked, "tunnelled datagrams delivered to the local stack")                       \
  COUNTER(start_packets, "of those, start packets (SYN)")                                    \
  COUNTER(busy_drops, "start packets dropped while busy")                                    \
  COUNTER(dead_drops, "start packets ignored while dead")                                    \
  COUNTER(decap_errors, "tunnels that did not parse, had a wrong inner checksum, or not TCP inside") \
  COUNTER(not_served, "tunnelled datagrams for a server this host does not replicate")       \
  COUNTER(answers_encapsulated, "local segments sent encapsulated (B: SYN-ACK; C: all)")    \
  COUNTER(answers_spoofed, "local segments sent with the server's address (B)")              \
  COUNTER(direct, "local segments of connections not made through a tunnel (sent as they are)") \
  COUNTER(oversize, "no room to encapsulate (dropped)")
BATON_COUNTER_STRUCT(replica_counters, BATON_REPLICA_COUNTERS)

class replica_stage final : public stage {
 public:
  /// Throws std::invalid_argument for self 0, no servers, tunnel == local or a capacity the
  /// table refuses; std::bad_alloc.
  explicit replica_stage(replica_stage_config config);
  ~replica_stage() override;

  const char* name() const noexcept override { return "replica"; }
  /// forward(local) for cracked datagrams, forward(tunnel) for B's and C's answers;
  /// drop(policy) for start packets while busy or dead; drop(not_owned) for what is not ours;
  /// drop(malformed) for a tunnel that does not parse.
  verdict process(packet_context& ctx) noexcept override;
  std::size_t pump(std::uint64_t now_ns) noexcept override;

  void set_health(replica_health h) noexcept { health_.store(h, std::memory_order_relaxed); }
  replica_health health() const noexcept { return health_.load(std::memory_order_relaxed); }
  replica_counters counters() const noexcept;
  translation_counters table_counters() const noexcept { return table_.counters(); }
  const replica_stage_config& config() const noexcept { return config_; }

 private:
  struct live_counters;
  verdict from_tunnel(packet_context& ctx) noexcept;
  verdict from_local(packet_context& ctx) noexcept;
  bool serves(std::uint32_t server) const noexcept;
  std::uint32_t now_ms() const noexcept;

  replica_stage_config config_;
  translation_table table_;
  std::atomic<replica_health> health_{replica_health::active};
  std::unique_ptr<live_counters> live_;
  std::uint16_t ipip_id_ = 0;
};

}  // namespace baton::net
