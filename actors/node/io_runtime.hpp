#pragma once
// The data path one batond runs: a buffer pool, a packet loop with its ports and the role stages,
// built from the policy's io section. Plain C++ (no CAF): the packet-I/O actor owns one and is its
// only control-plane face.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

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

namespace baton::cluster {
class cluster_stage;
}

namespace baton::net {
class shaper_stage;
class slr_stage;
}

namespace baton::node {

class classify_stage;

class io_runtime {
public:
  /// Opens every port the policy's io section names and installs the stages: classify (the
  /// policy's rules) and pass-through (its routes). With a "shaping" section (pass-through only),
  /// what pass-through forwards to the shaping interface goes through a shaper (net/sched) that
  /// shares that link's rate among the classes. Throws std::runtime_error naming the port and
  /// the system error when a port cannot be opened (no such interface, no CAP_NET_ADMIN /
  /// CAP_NET_RAW, no /dev/net/tun), naming /shaping/interface when it is not one of the io
  /// interfaces, and "shaping: ..." when the shaper refuses the section.
  explicit io_runtime(const policy::policy& p);
  ~io_runtime();

  /// Starts / stops the loop thread. stop() is idempotent.
  void start();
  void stop() noexcept;

  /// Applies a reloaded policy by table swaps: new rules for classify, new pass-through routes,
  /// new shaping classes, shares, rate and burst. Throws std::runtime_error when the io ports
  /// differ, or the shaping section appears, disappears or names another interface (those need a
  /// restart); the rules are replaced even then.
  void apply(const policy::policy& p);

  /// Whether the io section asked for a data path at all (a memory backend with no ports does not).
  bool active() const noexcept { return !port_names_.empty(); }

  /// The cluster member's stage when the policy has a cluster section, else nullptr. Its
  /// publish_* calls are safe from any thread; flow-table calls go through run_on_loop().
  cluster::cluster_stage* cluster() noexcept { return cluster_; }
  /// The service level router's stage when the policy has an slr section with an SLR level (not
  /// host), else nullptr. Its publish() and set_active() are safe from any thread; flow-table
  /// calls go through run_on_loop().
  net::slr_stage* slr() noexcept { return slr_; }
  /// Runs `command` on the loop thread between batches (or here when the loop is stopped).
  void run_on_loop(std::function<void()> command);

  /// The loop's counters as JSON: rx/tx, drops by reason, malformed by parse status, stages, ports,
  /// and "shaping" (interface, rate, burst, per class counters) when a shaper runs.
  nlohmann::json counters() const;
  /// The raw snapshot, for /metrics.
  net::loop_snapshot snapshot() const;

private:
  net::pass_through_table routes_for(const policy::io_section& io) const;
  void build_cluster(const policy::policy& p);
  void build_slr(const policy::policy& p);
  void build_host_agent(const policy::policy& p);
  void start_loop();
  void add_classify_stage(const policy::policy& p);
  /// Adds a port (its name kept for reloads); returns its id.
  net::port_id add_port(std::unique_ptr<net::packet_port> port, const std::string& name);
  /// Opens and adds an io-section device; an error names the device. The loop owns the port.
  net::packet_port& add_io_port(const policy::io_interface& itf, policy::io_backend backend);

  std::unique_ptr<net::buffer_pool> pool_;
  std::unique_ptr<net::packet_loop> loop_;
  net::pass_through_stage* pass_through_ = nullptr;  // owned by loop_
  classify_stage* classify_ = nullptr;                // owned by loop_
  cluster::cluster_stage* cluster_ = nullptr;         // owned by loop_
  net::slr_stage* slr_ = nullptr;                     // owned by loop_
  net::shaper_stage* shaper_ = nullptr;               // owned by loop_; owns pass_through_
  std::unique_ptr<policy::shaping_section> shaping_;  // what shaper_ runs (for reload diffs)
  std::vector<std::string> port_names_;
};

}  // namespace baton::node
