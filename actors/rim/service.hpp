#pragma once
// A rim host's service (document 000): it serves the rim's content (the same files on every rim
// host: the "multiple copies" embodiment, or objects fetched by range from an origin outside the
// rim, the document's host "D") to unmodified HTTP clients, and gives away or takes over a live
// connection in the middle of a response. One thread running an Asio io_context owns
// every connection; the rim actor (rim_actor.hpp) posts work to it (post()) and gets results back
// as messages. Nothing here blocks the thread but the kernel calls of a hand-off.
//
// A connection's position is the number of response bytes (header, then the object) written to
// its socket. A hand-off freezes the socket (net/rim/tcp_repair.hpp): the bytes the kernel had not
// sent yet are not carried, so the taker starts writing at position - unsent from its own copy.
//
// An object missing from the local copy comes from the origin (rim.origin) in chunks
// (origin_range.hpp): the host serving a connection needs the chunk at its write position and the
// next two, asynchronously on the same io_context, into a bounded cache (chunk_cache.hpp). Each
// chunk has one rim host responsible for it (chunk_owner over the members): the owner fetches it
// from the origin and keeps it; the others ask the owner's service for it by a Range request
// (and the origin directly when the owner fails; a request from a member is never passed on). A
// taker needs chunks from the taken position on, never from 0. The object's size comes from the
// first chunk's Content-Range, so the header waits for it: an origin failure before the header is
// a 502 (404 for the origin's 404); after it, the connection is closed (a short body).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/protocol/rim.hpp"
#include "net/io/counter_list.hpp"
#include "policy/origin_url.hpp"
#include "policy/policy.hpp"

namespace baton::rim {

#define BATON_RIM_SERVICE_COUNTERS(COUNTER, GAUGE)                                          \
  COUNTER(accepted, "client connections accepted")                                          \
  COUNTER(responses, "responses started (200)")                                             \
  COUNTER(completed, "responses written to the end and closed")                             \
  COUNTER(bad_requests, "requests that did not parse, or named no object (400 / 404)")      \
  COUNTER(refused_full, "connections closed at once: max_flows reached")                    \
  COUNTER(bytes_sent, "response bytes written to sockets")                                  \
  COUNTER(handed_away, "connections frozen and given to another rim host")                  \
  COUNTER(taken_over, "connections re-created here from another host's hand-off")           \
  COUNTER(thawed, "connections frozen for a hand-off that did not happen, carried on here")   \
  COUNTER(take_failures, "hand-offs this host could not take (content, socket, limit)")     \
  COUNTER(socket_errors, "connections ended by a socket error")                             \
  GAUGE(connections, "connections this host serves now")

BATON_COUNTER_STRUCT(service_counters, BATON_RIM_SERVICE_COUNTERS)

#define BATON_RIM_ORIGIN_COUNTERS(COUNTER, GAUGE)                                                 \
  COUNTER(origin_requests, "range requests sent to the origin")                                  \
  COUNTER(origin_bytes, "body bytes received from the origin")                                   \
  COUNTER(origin_errors, "range requests that failed: unreachable, silent, 404, malformed, short, object changed") \
  COUNTER(bad_gateway, "responses answered 502: the origin failed before their header")          \
  COUNTER(origin_not_found, "responses answered 404 because the origin has no such object")      \
  COUNTER(origin_aborted, "connections closed mid-response: the origin failed after their header") \
  COUNTER(member_requests, "chunks asked of the rim host responsible for them")                  \
  COUNTER(member_bytes, "body bytes received from other rim hosts")                              \
  COUNTER(member_errors, "chunk requests to a rim host that failed (then asked of the origin)")  \
  COUNTER(served_to_members, "requests from other rim hosts for chunks this host is responsible for") \
  COUNTER(cache_hits, "chunks a connection found in the cache")                                  \
  COUNTER(cache_misses, "chunks a connection had to wait for from the origin")                   \
  COUNTER(cache_evictions, "chunks dropped from the cache to keep it within cache_bytes")        \
  GAUGE(cache_bytes, "bytes of origin chunks held in the cache")                                 \
  GAUGE(fetches_in_flight, "range requests to the origin under way")

BATON_COUNTER_STRUCT(origin_counters, BATON_RIM_ORIGIN_COUNTERS)

/// One connection as the console shows it.
struct connection_status {
  protocol::rim_flow flow;
  std::string content;
  std::uint64_t size = 0;       // the object's
  std::uint64_t position = 0;   // response bytes written so far
  std::uint64_t total = 0;      // header + object
  bool taken = false;           // re-created here by a hand-off
  bool frozen = false;          // being handed away now
};

struct service_snapshot {
  service_counters counters;
  origin_counters origin;
  std::vector<connection_status> connections;
  double last_freeze_us = 0, last_restore_us = 0;  // how long the last hand-off's kernel calls took
};

/// Where objects missing from the local copy come from, and in what pieces.
struct origin_settings {
  bool enabled = false;
  policy::http_origin at;
  std::uint32_t chunk_bytes = 1u << 20;
  std::uint64_t cache_bytes = 64ull << 20;
  std::uint32_t timeout_ms = 5000;
  /// The rim's hosts (this one included), sorted: chunk i of an object is fetched from the origin
  /// by members[chunk_owner(object, i)]; the others ask that host's service for it (a Range
  /// request), and the origin directly when it fails. One member: the origin for everything.
  std::vector<std::uint32_t> members;
};

/// The policy's origin settings (enabled when rim.origin is set; the members are the node and its
/// /peers). Throws std::invalid_argument when rim.origin does not parse (validation prevents it).
origin_settings origin_settings_of(const policy::policy& p);

struct service_config {
  std::uint32_t address = 0;   // where clients connect (the node's identity address)
  std::uint16_t port = 8080;
  std::string content;         // directory of the objects
  std::uint32_t max_flows = 1024;
  std::uint32_t mss = 1440;    // TCP_MAXSEG of the service's sockets; 0: the kernel's
  origin_settings origin;      // objects not in `content` (which may be "")
  /// Origin failures are reported here (event name, detail), on the service's thread.
  std::function<void(const std::string& event, const std::string& detail)> log;
};

class service {
 public:
  /// Opens the listener; throws std::runtime_error naming the address when it cannot.
  explicit service(const service_config& c);
  ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  void start();
  void stop() noexcept;
  /// Runs `work` on the service's thread. Any thread.
  void post(std::function<void()> work);

  // The calls below run on the service's thread only (inside post()).

  /// Freezes the connection of `flow` and describes it for a taker; "" and `out` filled, or why
  /// not. The connection stays frozen until release().
  std::string freeze(const protocol::rim_flow& flow, protocol::rim_take& out);
  /// After freeze(): `given` forgets the connection without a packet (the taker has it); else it
  /// thaws and carries on here.
  void release(const protocol::rim_flow& flow, bool given);
  /// Re-creates a connection from another host's hand-off and carries on writing; "" or why not
  /// (the content differs or is missing, the limit, a kernel call). `before_thaw` runs while the
  /// new socket is still in repair mode (the owner lets the client's packets in there: its
  /// kernel has the socket now, so it will not reset them).
  std::string take(const protocol::rim_take& t, bool transparent, const std::function<void()>& before_thaw = {});
  /// The owner takes a flow back from a holder that died: `t` is the owner's own hand-off of the
  /// flow with the socket rewound to the client's last acknowledgement (send_seq), and position
  /// the byte that sequence number carries. The client may hold up to `window` bytes past it (what
  /// the dead holder may have sent): that much of the response is refilled as already sent, so
  /// the client's acknowledgements of it are valid here and what it lacks is retransmitted.
  /// An object from the origin is refilled from this host's chunk cache; a chunk not there fails it.
  std::string take_back(protocol::rim_take t, std::uint32_t window, const std::function<void()>& before_thaw);
  /// Connections that ended since the last call (written to the end, or failed).
  std::vector<protocol::rim_flow> ended();
  service_snapshot snapshot() const;
  /// Each connection's TCP counters (not the frozen ones): the management object's per-flow
  /// status. `exit`, `via` and `moved_ms_ago` are left for the rim actor, which knows them.
  std::vector<protocol::rim_flow_report> tcp_reports() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace baton::rim
