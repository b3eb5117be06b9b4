#pragma once
// The packet loop (DESIGN §3): on its own thread it receives batches from its ports, runs each
// datagram through parse -> stages -> emit, and sends batches out. Control code changes its
// behaviour only through tables the stages read (table_slot over the loop's reader_epoch); the loop
// never locks, allocates or sends a message per packet. Counters are written by the loop thread and
// read by anyone through snapshot().
//
// The data path knows nothing of CAF: the packet-I/O actor owns a packet_loop and calls start(),
// stop() and snapshot().

#include <array>
#include <mutex>
#include <future>
#include <functional>
#include <deque>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/io/counter_list.hpp"
#include "net/io/packet_buffer.hpp"
#include "net/io/packet_port.hpp"
#include "net/io/stage.hpp"
#include "net/io/table_slot.hpp"
#include "net/packet/parse_status.hpp"

namespace baton::net {

inline constexpr std::size_t max_ports = 32;
inline constexpr std::size_t max_stages = 8;

struct packet_loop_config {
  std::size_t batch_size = max_batch_size;        // datagrams received per port per turn
  // Longest wait when idle. 0 (the default): until a port has datagrams, a command or stop()
  // signals the loop, or a stage's pump is due; an idle node then costs no wake-ups (issue 15).
  // Every port that receives has a descriptor (packet_port::wait_fd), and stop() and commands
  // signal an eventfd, so nothing needs a periodic turn. 1..50 ms bound the wait.
  std::chrono::milliseconds idle_wait{0};
  bool verify_ipv4_checksum = true;                // a wrong header checksum is malformed
  /// A TCP SYN leaving in an IP-in-IP datagram gets an MSS that fits the port's MTU with the
  /// tunnel's header (mss_clamp.hpp): the peers' default MSS would not (policy io.clamp_mss).
  bool clamp_tunnelled_mss = true;
  // A wrong TCP or UDP checksum of an unfragmented datagram is malformed (bad_l4_checksum): no
  // stage forwards, NATs (an incremental update keeps the error but the flow entry would be made)
  // or tunnels a segment the receiver would throw away. Ports finish the checksums that TX offload
  // left partial (TP_STATUS_CSUMNOTREADY) before the loop sees them, so those pass.
  bool verify_l4_checksum = true;
};

/// Per-stage counts, declared once (net/io/counter_list.hpp).
#define BATON_STAGE_COUNTERS(COUNTER, GAUGE)              \
  COUNTER(seen, "datagrams that reached the stage")       \
  COUNTER(forwarded, "datagrams the stage said forward")  \
  COUNTER(dropped, "datagrams the stage said drop")       \
  COUNTER(consumed, "datagrams whose buffer the stage took")

/// Per-stage counts; "parse" is the first stage, then the installed ones in order.
struct stage_stats {
  std::string name;
  BATON_COUNTER_MEMBERS(BATON_STAGE_COUNTERS)
};

struct named_port_stats {
  std::string name;
  std::size_t mtu = 0;
  port_stats stats;
  std::string backend;          // packet_port::backend()
  std::string fallback_reason;  // packet_port::fallback_reason(): empty unless it fell back
};

/// The loop's own counters, declared once (net/io/counter_list.hpp): written by the loop thread.
#define BATON_LOOP_COUNTERS(COUNTER, GAUGE)                                                    \
  COUNTER(turns, "packet loop iterations")                                                     \
  COUNTER(idle_waits, "times the loop found nothing to do and waited")                         \
  COUNTER(rx_packets, "datagrams that entered the pipeline")                                   \
  COUNTER(tx_packets, "datagrams an output port took (stages' pump() sends included)")         \
  COUNTER(thread_cpu_ns, "CPU time of the loop thread in ns (updated when idle and at stop)")  \
  COUNTER(command_errors, "posted commands that threw")                                        \
  COUNTER(icmp_frag_needed, "tunnel datagrams too long for their port, answered with ICMP fragmentation needed") \
  COUNTER(icmp_rate_limited, "ICMP fragmentation needed not sent: over the rate limit (the datagram is dropped)") \
  COUNTER(mss_clamped, "TCP SYNs leaving in IP-in-IP whose MSS was lowered to fit the port's MTU") \
  COUNTER(fragmented, "datagrams without DF too long for their port, sent in fragments")          \
  COUNTER(fragments_sent, "fragments those datagrams were sent in")
/// The buffer pool's, read from the pool at snapshot time.
#define BATON_POOL_COUNTERS(COUNTER, GAUGE)                                                    \
  GAUGE(pool_capacity, "buffers in the pool")                                                  \
  GAUGE(pool_available, "buffers free now")                                                    \
  COUNTER(pool_exhausted, "failed buffer acquisitions")
#define BATON_LOOP_SNAPSHOT_COUNTERS(COUNTER, GAUGE) \
  BATON_LOOP_COUNTERS(COUNTER, GAUGE) BATON_POOL_COUNTERS(COUNTER, GAUGE)

/// A copy of the loop's counters at one moment (each counter read once, relaxed: a snapshot taken
/// while the loop runs may be a few packets apart between counters). for_each() lists the
/// scalar ones (BATON_LOOP_SNAPSHOT_COUNTERS); drops, malformed, stages and ports are labelled.
struct loop_snapshot {
  BATON_COUNTER_MEMBERS(BATON_LOOP_SNAPSHOT_COUNTERS)
  std::array<std::uint64_t, drop_reason_count> drops{};        // by drop_reason
  std::array<std::uint64_t, parse_status_count> malformed{};   // malformed drops by parse_status
  std::vector<stage_stats> stages;
  std::vector<named_port_stats> ports;

  std::uint64_t drops_for(drop_reason r) const noexcept { return drops[static_cast<std::size_t>(r)]; }
  std::uint64_t malformed_for(parse_status s) const noexcept {
    return malformed[static_cast<std::size_t>(s)];
  }
  std::uint64_t total_drops() const noexcept;
};

class packet_loop {
 public:
  /// A stopped loop drawing on `pool` (which must outlive it, and is the pool its ports receive
  /// into). Throws std::system_error when its stop eventfd cannot be made.
  explicit packet_loop(buffer_pool& pool, packet_loop_config config = {});
  /// Stops the thread if running.
  ~packet_loop();
  packet_loop(const packet_loop&) = delete;
  packet_loop& operator=(const packet_loop&) = delete;

  /// Adds a port (before start) and returns its id, which verdicts use. The loop owns the port.
  /// Throws std::logic_error when running or when max_ports are already there.
  port_id add_port(std::unique_ptr<packet_port> port);
  /// Appends a stage (before start). Throws std::logic_error when running or when full.
  void add_stage(std::unique_ptr<stage> s);

  /// The epoch the loop enters for each turn; table_slots read by its stages are made over it.
  reader_epoch& epoch() noexcept { return epoch_; }

  /// Runs the loop on a new thread. Throws std::logic_error when already running,
  /// std::system_error when the thread cannot be made.
  void start();
  /// Asks the thread to finish its turn and joins it (it is woken at once when idle).
  /// Does nothing when not running. Never throws.
  void stop() noexcept;
  /// Whether the loop thread runs (set before the thread starts, cleared after it joined: a
  /// command queued while it reads true is run by the thread). Any thread may ask.
  bool running() const noexcept { return running_.load(std::memory_order_acquire); }

  /// One turn on the caller's thread (tests, benchmarks): receives from every port, processes and
  /// sends, then pumps every stage (stage::pump); when nothing came, waits up to `wait` for a port
  /// to become readable, less when a stage's next_pump_ns() is sooner. Returns the datagrams
  /// received and processed (not those pumped). Must not be called while the thread runs
  /// (std::logic_error).
  std::size_t run_once(std::chrono::milliseconds wait = std::chrono::milliseconds{0});

  /// Counters, readable from any thread.
  loop_snapshot snapshot() const;

  /// Control thread: runs `command` on the loop thread between two batches and returns once it
  /// ran, so the command may touch state the stages own (a flow table, say) without locks on the
  /// hot path. When the loop is not running, runs it on the caller's thread. Must not be called
  /// from the loop thread. Rethrows what the command throws.
  void run_on_loop(std::function<void()> command);

  /// Control thread: queues `command` to run on the loop thread between two batches and returns at
  /// once (actors use it so that they never wait on the loop; the command reports back itself).
  /// When the loop is not running, runs it on the caller's thread before returning. What the
  /// command throws is caught and counted (snapshot().command_errors). Allocates (control path).
  void post(std::function<void()> command);

 private:
  struct stage_counters {
    BATON_STAGE_COUNTERS(BATON_COUNTER_ATOMIC, BATON_COUNTER_ATOMIC)
  };

  std::size_t turn() noexcept;
  void process(packet_batch& rx) noexcept;
  // The stages' decision for one parsed datagram, then its emit or drop.
  void decide(packet_context& ctx) noexcept;
  // Whether a TCP segment whose options do not walk goes past the parse step (stage.hpp).
  bool bad_tcp_options_taken() const noexcept;
  void emit(packet_buffer* b, const verdict& v) noexcept;
  /// `b` (no DF, too long for `out`) as `count` fragments (ipv4_fragment_count's): b keeps the
  /// first, pool buffers the rest.
  void emit_fragments(packet_buffer* b, port_id out, std::size_t count) noexcept;
  void drop(packet_buffer* b, drop_reason why, parse_status status) noexcept;
  void flush(port_id out) noexcept;
  void wait_for_work(std::chrono::milliseconds wait) noexcept;
  void run_thread() noexcept;

  void run_commands() noexcept;
  void enqueue(std::function<void()> command);

  buffer_pool& pool_;
  std::mutex commands_mutex_;                       // control side; the loop takes it only when
  std::deque<std::function<void()>> commands_;      // commands_pending_ says there is work
  std::atomic<bool> commands_pending_{false};
  packet_loop_config config_;
  reader_epoch epoch_;  // first: the stages' table slots refer to it until they are gone
  std::vector<std::unique_ptr<packet_port>> ports_;
  std::vector<std::unique_ptr<stage>> stages_;
  std::vector<packet_batch> tx_;  // one pending output batch per port
  std::array<packet_context, max_batch_size> batch_{};  // process()'s parsed batch (loop thread)
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stop_requested_{false};
  // Loop thread: the soonest any stage's pump() can send, from the last turn (UINT64_MAX: none
  // holds anything); bounds the idle wait.
  std::uint64_t next_pump_ns_ = UINT64_MAX;
  // ICMP errors the loop sends: a token bucket (per second, with a burst), loop thread only.
  double icmp_tokens_ = 0;
  std::int64_t icmp_refilled_ns_ = 0;
  bool icmp_allowed() noexcept;
  int stop_event_ = -1;

  // Counters: written by the loop thread only (command_errors also by post() while stopped).
  struct live_counters {
    BATON_LOOP_COUNTERS(BATON_COUNTER_ATOMIC, BATON_COUNTER_ATOMIC)
  };
  live_counters live_;
  std::array<std::atomic<std::uint64_t>, drop_reason_count> drops_{};
  std::array<std::atomic<std::uint64_t>, parse_status_count> malformed_{};
  std::array<stage_counters, max_stages + 1> stage_counters_{};  // [0] is parse
};

}  // namespace baton::net
