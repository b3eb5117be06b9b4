#pragma once
// The data path one batond runs: a buffer pool, a packet loop with its ports and stages. Plain C++
// (no CAF): the packet-I/O actor owns it and is its control-plane face; roles build their part of
// it through the builder calls below (a role row's build_data_path) before the loop starts, and
// reach their stage afterwards with stage<T>().
//
// Who may call what:
//   build phase (one thread, loop not started): begin(), add_port(), add_io_port(),
//       add_tunnel_port(), add_stage(), build_pass_through();
//   any thread, any time: post(), run_on_loop() (not from the loop thread), status(),
//       snapshot(), stage<T>() (the pointer; what the stage allows from other threads is in its
//       header), apply().

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/runtime/role_status.hpp"
#include "net/io/packet_buffer.hpp"
#include "net/io/packet_loop.hpp"
#include "net/io/pass_through.hpp"

namespace baton::policy {
struct io_section;
struct io_interface;
enum class io_backend : std::uint8_t;
struct policy;
struct shaping_section;
}

namespace baton::net {
class classify_stage;
class shaper_stage;
}

namespace baton::node {

class io_runtime {
public:
  /// An empty runtime: no loop until begin().
  io_runtime() = default;
  ~io_runtime();
  io_runtime(const io_runtime&) = delete;
  io_runtime& operator=(const io_runtime&) = delete;

  // ---- build phase ----

  /// Makes the pool and the loop and installs the classify stage (the policy's rules), which
  /// every data path runs first. Idempotent.
  void begin(const policy::policy& p);
  /// Adds a port (the loop owns it) under `name`, kept for reload checks; returns its id.
  net::port_id add_port(std::unique_ptr<net::packet_port> port, const std::string& name);
  /// Opens an io-section device (AF_PACKET, TUN or raw) and adds it. Throws std::runtime_error
  /// naming the device and the system error.
  net::packet_port& add_io_port(const policy::io_interface& itf, policy::io_backend backend);
  /// Opens the raw IP-in-IP port (receives the tunnels that end here, sends the ones this node
  /// makes through the kernel's routing) and adds it as "ipip". Throws std::runtime_error.
  net::port_id add_tunnel_port();
  /// Appends a role's stage after classify; returns it (the loop owns it).
  template <class Stage>
  Stage& add_stage(std::unique_ptr<Stage> s) {
    auto& kept = *s;
    add_any_stage(std::move(s));
    return kept;
  }
  /// The default data path of a node no role builds one for: pass-through between the io
  /// section's two interfaces (IP-in-IP by its ipip settings) and, with a "shaping" section, a
  /// shaper on the shaping interface. A memory backend with no interfaces builds nothing. Throws
  /// std::runtime_error naming /shaping/interface or the interface count.
  void build_pass_through(const policy::policy& p);

  /// The pool and the loop's epoch, for stages under construction (after begin()).
  net::buffer_pool& pool() noexcept { return *pool_; }
  net::reader_epoch& epoch() noexcept { return loop_->epoch(); }

  // ---- running ----

  /// Starts / stops the loop thread. stop() is idempotent.
  void start();
  void stop() noexcept;
  /// One turn of the loop on the caller's thread (tests): receive, process, send, pump; waits up
  /// to `wait` when nothing came. Returns the datagrams processed; 0 without a loop. Must not be
  /// called while the loop thread runs (std::logic_error).
  std::size_t run_once(std::chrono::milliseconds wait = std::chrono::milliseconds{0});

  /// Applies a reloaded policy by table swaps: new rules for classify and, on the default data
  /// path, new pass-through routes and shaping classes. `ports` are the port names the new policy
  /// asks for (the role rows' and the default path's); when they differ from the running ones,
  /// throws std::runtime_error ("needs a restart"); the rules are replaced even then.
  void apply(const policy::policy& p, const std::vector<std::string>& ports);
  /// The port names the default data path opens for `p`.
  static std::vector<std::string> pass_through_ports(const policy::policy& p);

  /// Whether there is a data path at all (a memory backend with no ports has none).
  bool active() const noexcept { return !port_names_.empty(); }

  /// The installed stage of type Stage, or nullptr.
  template <class Stage>
  Stage* stage() const noexcept {
    for (auto* s : stages_)
      if (auto* hit = dynamic_cast<Stage*>(s)) return hit;
    return nullptr;
  }

  /// Runs `command` on the loop thread between batches (or here when the loop is stopped) and
  /// returns once it ran. For start-up and tests only: an actor never waits on the loop, it
  /// posts (actors/runtime/on_loop.hpp).
  void run_on_loop(std::function<void()> command);
  /// Queues `command` for the loop thread and returns at once (runs it here when stopped).
  void post(std::function<void()> command);

  /// The loop's status (the packet-I/O actor's answer to get_atom): the loop's counter list at
  /// the top (rx/tx, turns, pool, ...), drops by reason, malformed by parse status, the stages and
  /// ports tables (their counter lists), and "shaping" (interface, rate, burst, per class
  /// counters) when a shaper runs.
  role_status status() const;
  /// The raw snapshot, for /metrics.
  net::loop_snapshot snapshot() const;

private:
  void add_any_stage(std::unique_ptr<net::stage> s);

  std::unique_ptr<net::buffer_pool> pool_;
  std::unique_ptr<net::packet_loop> loop_;
  std::vector<net::stage*> stages_;                   // owned by loop_, in order
  net::classify_stage* classify_ = nullptr;           // owned by loop_
  net::pass_through_stage* pass_through_ = nullptr;   // owned by loop_ (or by shaper_)
  net::shaper_stage* shaper_ = nullptr;               // owned by loop_; owns pass_through_
  std::unique_ptr<policy::shaping_section> shaping_;  // what shaper_ runs (for reload diffs)
  std::vector<std::string> port_names_;
};

}  // namespace baton::node
