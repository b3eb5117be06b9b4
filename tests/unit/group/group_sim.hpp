#pragma once
// A deterministic simulator for the group substrate: K group_members, a network that loses a
// seeded fraction of messages and delays the rest, partitions, crashes, and simulated time in
// 1 ms steps. Each node also runs a small model of a role that owns units: it keeps a counter
// per owned unit as the unit's state and replicates it as portions - an initial delta
// "init:<unit>" when the unit is new, an essential delta with the counter on every change, a
// checkpoint (counter + initial) when the group asks for one - and checks that every take-over's
// portions fold into a consistent state (counters consecutive: nothing reordered or skipped) and
// that every hand-over continues from exactly the counter the previous owner stopped at.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "actors/group/group_member.hpp"

namespace baton::group::sim {

struct sim_config {
  std::uint32_t nodes = 5;
  std::uint64_t seed = 1;
  double loss = 0.0;          // fraction of messages dropped, each independently
  time_ms min_delay{1};       // one-way delay, uniform in [min_delay, max_delay]
  time_ms max_delay{5};
  group_config group;         // template for every node (peers are filled in)
  bool state_updates = true;  // the role model changes its units' state
  time_ms state_period{20};   // ... every this long, for one unit in 8
  std::vector<std::string> identities;  // certificate identity per node; default "node-<i+1>"
  // false: every node's on_tick runs every simulated millisecond; true: only when its
  // group_member::next_due() says something is due (as batond's group actor schedules its
  // ticks), and 1 ms later when that is now or past.
  bool tick_when_due = false;
  // A started node's links come up this long after its start (as batond's TLS links do): until
  // then nothing it sends or is sent arrives. Then it is told (group_member::on_links_up).
  time_ms link_delay{0};
};

/// A take-over seen by the role model.
struct takeover_record {
  std::size_t node = 0;
  unit_id unit = 0;
  node_id from = no_node;
  bool handover = false;
  std::uint64_t value = 0;  // the counter the new owner continues from
  time_ms at{0};
};

class group_sim {
 public:
  using hooks_factory = std::function<group_hooks(std::size_t index)>;

  explicit group_sim(sim_config cfg, hooks_factory hooks = {});

  std::size_t size() const noexcept { return nodes_.size(); }
  static node_id address(std::size_t i) noexcept {
    return (10u << 24) | static_cast<node_id>(i + 1);  // 10.0.0.(i+1)
  }
  std::optional<std::size_t> index_of(node_id a) const noexcept;
  group_member& node(std::size_t i) { return *nodes_[i].member; }
  const group_member& node(std::size_t i) const { return *nodes_[i].member; }
  bool alive(std::size_t i) const noexcept { return nodes_[i].alive; }
  time_ms now() const noexcept { return now_; }

  void start(std::size_t i);
  void start_all();
  /// kill -9 and start again: node i gets a fresh group_member (nothing of its previous life)
  /// and starts; its links come up link_delay later.
  void restart(std::size_t i);
  /// Node i's links come up `d` after its (next) start instead of link_delay; never: time_ms::max().
  void set_link_delay(std::size_t i, time_ms d) { nodes_[i].link_delay = d; }
  /// Crash: the node stops at once, says nothing, and messages to it are lost.
  void kill(std::size_t i);
  /// Only nodes in the same group can talk; nodes in no group are isolated.
  void partition(const std::vector<std::vector<std::size_t>>& groups);
  void heal();
  void set_state_updates(bool on) noexcept { cfg_.state_updates = on; }
  void set_loss(double loss) noexcept { cfg_.loss = loss; }
  /// A machine-wide stall (a saturated host): for `d` no node runs; what was in flight arrives
  /// after it, and each node's timers fire late, once, before it reads those messages.
  void stall(time_ms d);

  /// Collects what node i produced after the test called it directly (e.g. resolve_join).
  void drain(std::size_t i);

  void step();
  void run_for(time_ms d);
  /// Steps until `done()` holds (checked after every step) or `limit` passes; true if it held.
  bool run_until(const std::function<bool()>& done, time_ms limit);
  /// Steps until converged() has held for `stable` without a break, or `limit` passes.
  bool run_until_stable(time_ms stable, time_ms limit);

  // ---- checks ----
  std::vector<std::size_t> masters() const;
  /// Exactly one master among the live nodes; every live node is its member and in its member
  /// list; every unit is owned by exactly one live node, which the master's table names as its
  /// acknowledged owner. `why` receives the first reason it is not.
  bool converged(std::string* why = nullptr) const;
  /// Units owned by two or more live nodes at this moment.
  std::size_t doubly_owned_units() const;
  /// Units owned by each live node.
  std::map<std::size_t, std::uint32_t> loads() const;

  const std::vector<event>& events(std::size_t i) const { return nodes_[i].log; }
  const std::vector<takeover_record>& takeovers() const noexcept { return takeovers_; }
  /// Hand-overs whose state did not continue where the old owner stopped (should stay empty).
  const std::vector<std::string>& violations() const noexcept { return violations_; }
  /// The role model's counter for a unit node i owns.
  std::optional<std::uint64_t> counter(std::size_t i, unit_id u) const;
  /// The results of the join replies node i received, in order.
  const std::vector<join_result>& join_replies(std::size_t i) const { return nodes_[i].replies; }
  std::uint64_t sent() const noexcept { return sent_; }
  /// Checkpoints the role models registered when asked (checkpoint_wanted).
  std::uint64_t checkpoints() const noexcept { return checkpoints_; }
  std::uint64_t dropped() const noexcept { return dropped_; }
  /// Master keepalives sent (per destination), and the owner/backup table entries they carried.
  std::uint64_t keepalives() const noexcept { return keepalives_; }
  std::uint64_t keepalive_table_entries() const noexcept { return keepalive_table_entries_; }
  /// on_tick calls made, over all nodes.
  std::uint64_t ticks() const noexcept { return ticks_; }

 private:
  struct node_state {
    std::unique_ptr<group_member> member;
    bool alive = false;
    bool started = false;
    int partition = 0;
    std::map<unit_id, std::uint64_t> counters;    // role model: state of owned units
    std::map<unit_id, std::uint64_t> stopped_at;  // counter when a unit was handed over
    // Whether the node holds a unit's initial portion. A unit taken over from a replica whose
    // initial portion was lost with its owner (possible under loss) legitimately lacks it.
    std::map<unit_id, bool> has_initial;
    std::map<unit_id, bool> stopped_with_initial;
    std::vector<event> log;
    std::vector<join_result> replies;
    time_ms next_tick{0};  // tick_when_due: when on_tick runs next
    time_ms link_delay{0};
    time_ms links_at{0};        // when its links come up
    bool links_reported = true;
  };
  struct in_flight {
    time_ms at;
    std::uint64_t seq;
    std::size_t from, to;
    message msg;
  };
  bool connected(std::size_t a, std::size_t b) const noexcept;
  void transmit(std::size_t from, node_id to, const message& m);
  void react(std::size_t i, const event& e);
  void role_updates(std::size_t i);
  std::unique_ptr<group_member> make_member(std::size_t i) const;
  void report_links(std::size_t i);

  sim_config cfg_;
  hooks_factory hooks_;
  std::vector<node_state> nodes_;
  std::multimap<std::pair<time_ms, std::uint64_t>, in_flight> queue_;
  std::mt19937_64 rng_;
  time_ms now_{0};
  std::uint64_t seq_ = 0;
  std::uint64_t sent_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t keepalives_ = 0;
  std::uint64_t ticks_ = 0;
  std::uint64_t keepalive_table_entries_ = 0;
  std::uint64_t checkpoints_ = 0;
  std::vector<takeover_record> takeovers_;
  std::vector<std::string> violations_;
};

/// Counter <-> essential bytes (8 bytes, little endian).
state_bytes encode_counter(std::uint64_t v);
std::uint64_t decode_counter(const state_bytes& b);
/// The role model's checkpoint: the counter (8 bytes) then the initial portion, if any.
state_bytes encode_checkpoint(std::uint64_t counter, const state_bytes& initial);

/// What the role model rebuilds from a take-over's portions.
struct model_state {
  std::uint64_t counter = 0;
  bool has_initial = false;
  state_bytes initial;
  bool consistent = true;  // false: an essential delta did not follow its predecessor by one
};
model_state fold_portions(const std::vector<state_portion>& portions);

/// One row of the loss tables the scenario tests loop over.
struct loss_row {
  std::string name;
  double loss;
  std::uint64_t seed;
};

/// A simulation of `nodes` nodes dropping `loss` of the messages, randomised by `seed`.
inline sim_config make_config(std::uint32_t nodes, double loss, std::uint64_t seed) {
  sim_config c;
  c.nodes = nodes;
  c.loss = loss;
  c.seed = seed;
  return c;
}

}  // namespace baton::group::sim
