// Replication of per-unit state (document 004, Figure 7) as deltas: the owner registers initial
// and essential deltas and checkpoints, each numbered; the backup keeps the checkpoint and the
// deltas after it in order and acknowledges the highest contiguous sequence; unacknowledged
// portions are resent; a new backup gets the log from its checkpoint; compaction asks the role for
// a checkpoint; take-over hands the role the log in order.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "actors/group/replication.hpp"
#include "group_sim.hpp"

using namespace baton::group;
using namespace baton::group::sim;

namespace {

state_bytes bytes(const std::string& s) { return state_bytes(s.begin(), s.end()); }

using sends = std::vector<std::pair<node_id, message>>;

sends collect(owned_state& o, long now) {
  sends out;
  o.collect(time_ms{now}, time_ms{50}, out);
  return out;
}

/// The sequences carried by the one state_delta in `out` (which must hold exactly one).
std::vector<std::uint64_t> sequences(const sends& out) {
  REQUIRE(out.size() == 1);
  std::vector<std::uint64_t> seqs;
  for (const auto& p : std::get<state_delta>(out[0].second).portions) seqs.push_back(p.sequence);
  return seqs;
}

std::vector<std::uint64_t> sequences(const unit_log& log) {
  std::vector<std::uint64_t> seqs;
  for (const auto& p : log.portions) seqs.push_back(p.sequence);
  return seqs;
}

state_portion portion(std::uint64_t seq, portion_kind kind, const std::string& data) {
  return state_portion{seq, kind, bytes(data)};
}

group_config bounds(std::uint32_t deltas, std::uint32_t ratio, std::uint32_t min_bytes) {
  group_config c;
  c.compact_deltas = deltas;
  c.compact_ratio = ratio;
  c.compact_min_bytes = min_bytes;
  return c;
}

}  // namespace

TEST_CASE("owner sends each portion once and resends what is unacknowledged") {
  owned_state o;
  CHECK_FALSE(o.add(7, portion_kind::initial, bytes("syn")));
  CHECK_FALSE(o.add(7, portion_kind::essential, bytes("e1")));
  CHECK(collect(o, 0).empty());  // no backup yet
  o.set_backup(7, 42);
  auto out = collect(o, 1);
  CHECK(out[0].first == 42);
  CHECK(sequences(out) == std::vector<std::uint64_t>{1, 2});
  const auto stream = std::get<state_delta>(out[0].second).stream;
  CHECK(stream != 0);
  CHECK(std::get<state_delta>(out[0].second).portions[0].kind == portion_kind::initial);
  CHECK(collect(o, 2).empty());  // sent, not yet due again

  // A new portion goes out at once, alone: what was sent is not repeated before it is due.
  o.add(7, portion_kind::essential, bytes("e2"));
  CHECK(sequences(collect(o, 10)) == std::vector<std::uint64_t>{3});
  // The backup acknowledged 1 only: after the resend interval 2 and 3 go again.
  o.on_ack(7, 42, state_ack{7, stream, 1});
  CHECK(collect(o, 40).empty());
  CHECK(sequences(collect(o, 51)) == std::vector<std::uint64_t>{2, 3});
  // An acknowledgement from someone else, or of a stream we are not on, does not stop resends.
  o.on_ack(7, 99, state_ack{7, stream, 3});
  CHECK(sequences(collect(o, 102)) == std::vector<std::uint64_t>{2, 3});
  // Acknowledged up to the last: nothing more, ever, until the next portion.
  o.on_ack(7, 42, state_ack{7, stream, 3});
  CHECK(collect(o, 200).empty());
  CHECK(collect(o, 400).empty());
  o.add(7, portion_kind::essential, bytes("e3"));
  CHECK(sequences(collect(o, 401)) == std::vector<std::uint64_t>{4});
}

TEST_CASE("backup holds the portions in sequence order and acknowledges the contiguous prefix") {
  struct row {
    std::string name;
    std::vector<std::uint64_t> arrivals;  // sequences in arrival order (3 is a checkpoint)
    std::vector<std::uint64_t> acks;      // the sequence acknowledged after each arrival
    std::vector<std::uint64_t> held;      // sequences held at the end
  };
  // Portions 1 (initial), 2 (essential), 3 (checkpoint), 4, 5 (essential).
  const std::vector<row> rows = {
      {"in order", {1, 2, 3, 4, 5}, {1, 2, 3, 4, 5}, {3, 4, 5}},
      {"one overtaken", {1, 3, 2, 4, 5}, {1, 3, 3, 4, 5}, {3, 4, 5}},
      {"deltas overtaken", {1, 2, 5, 4, 3}, {1, 2, 2, 2, 5}, {3, 4, 5}},
      {"duplicates", {1, 1, 2, 2, 4, 5, 3, 5}, {1, 1, 2, 2, 2, 2, 5, 5}, {3, 4, 5}},
      {"no checkpoint yet", {1, 2, 4}, {1, 2, 2}, {1, 2}},
      // A delta of a stream not held is dropped (the owner resends from the checkpoint).
      {"stream joined at its checkpoint", {4, 3, 5}, {0, 3, 3}, {3}},
      {"a delta of a stream not held waits for its start", {2, 1, 2}, {0, 1, 2}, {1, 2}},
  };
  auto kind_of = [](std::uint64_t seq) {
    return seq == 1 ? portion_kind::initial
                    : seq == 3 ? portion_kind::checkpoint : portion_kind::essential;
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    replica_store s;
    std::vector<std::uint64_t> acks;
    for (auto seq : r.arrivals) {
      const auto ack = s.on_delta(1, state_delta{3, 77, {portion(seq, kind_of(seq), std::to_string(seq))}});
      acks.push_back(ack.sequence);
      if (ack.sequence != 0) CHECK(ack.stream == 77);
    }
    CHECK(acks == r.acks);
    REQUIRE(s.replica(3) != nullptr);
    CHECK(sequences(*s.replica(3)) == r.held);
    for (const auto& p : s.replica(3)->portions) CHECK(p.data == bytes(std::to_string(p.sequence)));
  }
}

TEST_CASE("a checkpoint replaces the deltas before it, on the owner and on the backup") {
  owned_state o;
  replica_store b;
  o.set_backup(5, 2);
  o.add(5, portion_kind::initial, bytes("i1"));
  o.add(5, portion_kind::essential, bytes("e1"));
  auto deliver = [&](const sends& out) {
    for (const auto& [to, m] : out) {
      CHECK(to == 2);
      o.on_ack(5, 2, b.on_delta(1, std::get<state_delta>(m)));
    }
  };
  deliver(collect(o, 0));
  CHECK(sequences(*b.replica(5)) == std::vector<std::uint64_t>{1, 2});
  o.add(5, portion_kind::checkpoint, bytes("whole"));
  o.add(5, portion_kind::essential, bytes("e2"));
  CHECK(sequences(*o.get(5, 1)) == std::vector<std::uint64_t>{3, 4});
  deliver(collect(o, 60));
  const auto* held = b.replica(5);
  REQUIRE(held != nullptr);
  CHECK(sequences(*held) == std::vector<std::uint64_t>{3, 4});
  CHECK(held->portions[0].kind == portion_kind::checkpoint);
  CHECK(held->portions[0].data == bytes("whole"));
  CHECK(held->portions[1].data == bytes("e2"));
  CHECK(collect(o, 200).empty());  // all acknowledged
}

TEST_CASE("a new backup gets the checkpoint and the deltas after it") {
  owned_state o;
  o.set_backup(9, 42);
  o.add(9, portion_kind::initial, bytes("i"));
  o.add(9, portion_kind::checkpoint, bytes("cp"));
  o.add(9, portion_kind::essential, bytes("e1"));
  o.add(9, portion_kind::initial, bytes("i2"));
  const auto first = collect(o, 0);
  const auto stream = std::get<state_delta>(first[0].second).stream;
  o.on_ack(9, 42, state_ack{9, stream, 4});
  CHECK(collect(o, 100).empty());
  o.set_backup(9, 43);
  const auto out = collect(o, 101);
  CHECK(out[0].first == 43);
  CHECK(sequences(out) == std::vector<std::uint64_t>{2, 3, 4});
  const auto& ps = std::get<state_delta>(out[0].second).portions;
  CHECK(ps[0].kind == portion_kind::checkpoint);
  // The new backup, starting from nothing, holds exactly the owner's log.
  replica_store b;
  const auto ack = b.on_delta(1, std::get<state_delta>(out[0].second));
  CHECK(ack.stream == stream);
  CHECK(ack.sequence == 4);
  CHECK(sequences(*b.replica(9)) == sequences(*o.get(9, 1)));
}

TEST_CASE("an owner whose stream the backup does not hold sends the log again from its start") {
  owned_state o;
  o.set_backup(4, 42);
  o.add(4, portion_kind::checkpoint, bytes("cp"));
  o.add(4, portion_kind::essential, bytes("e1"));
  o.add(4, portion_kind::essential, bytes("e2"));
  const auto stream = std::get<state_delta>(collect(o, 0)[0].second).stream;
  o.on_ack(4, 42, state_ack{4, stream, 3});
  CHECK(collect(o, 100).empty());
  SUBCASE("the backup lost it") {
    o.add(4, portion_kind::essential, bytes("e3"));
    CHECK(sequences(collect(o, 101)) == std::vector<std::uint64_t>{4});
    o.on_ack(4, 42, state_ack{4, 0, 0});  // it holds nothing of ours any more
    CHECK(sequences(collect(o, 102)) == std::vector<std::uint64_t>{1, 2, 3, 4});
  }
  SUBCASE("the backup holds an earlier life's stream under our number") {
    o.add(4, portion_kind::essential, bytes("e3"));
    collect(o, 101);
    o.on_ack(4, 42, state_ack{4, stream, 57});
    const auto out = collect(o, 102);
    CHECK(sequences(out) == std::vector<std::uint64_t>{1, 2, 3, 4});
    CHECK(std::get<state_delta>(out[0].second).stream != stream);
  }
}

TEST_CASE("the owner asks for a checkpoint once the deltas pass the compaction bound") {
  struct row {
    std::string name;
    group_config cfg;
    std::size_t checkpoint_bytes;  // 0: no checkpoint registered first
    std::size_t delta_bytes;       // each
    std::size_t asked_at;          // the delta (1-based) whose add() asks first
  };
  const std::vector<row> rows = {
      {"count bound", bounds(4, 100, 1 << 20), 10, 1, 5},
      {"bytes pass ratio x checkpoint", bounds(1000, 2, 0), 100, 30, 7},
      {"bytes pass the floor without a checkpoint", bounds(1000, 4, 100), 0, 30, 4},
      {"floor above ratio x checkpoint", bounds(1000, 4, 500), 10, 100, 6},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    owned_state o{r.cfg};
    if (r.checkpoint_bytes) CHECK_FALSE(o.add(1, portion_kind::checkpoint, state_bytes(r.checkpoint_bytes)));
    std::size_t asked = 0;
    for (std::size_t i = 1; i <= r.asked_at + 3 && !asked; ++i)
      if (o.add(1, portion_kind::essential, state_bytes(r.delta_bytes))) asked = i;
    CHECK(asked == r.asked_at);
    // Asked once: the next deltas do not ask again until the deltas' bytes double...
    CHECK_FALSE(o.add(1, portion_kind::essential, state_bytes(r.delta_bytes)));
    // ... and a checkpoint ends the request and truncates the log.
    CHECK_FALSE(o.add(1, portion_kind::checkpoint, state_bytes(r.checkpoint_bytes + 1)));
    CHECK(o.get(1, 1)->portions.size() == 1);
    CHECK_FALSE(o.add(1, portion_kind::essential, state_bytes(r.delta_bytes)));
  }
}

TEST_CASE("take-over picks the freshest log") {
  struct row {
    std::string name;
    node_id replica_owner;
    std::uint64_t replica_stream, replica_last;
    node_id handover_owner;  // 0: no hand-over held
    std::uint64_t handover_stream, handover_last;
    node_id previous_owner;
    bool expect_handover;
  };
  const std::vector<row> rows = {
      {"only a replica", 1, 1, 5, 0, 0, 0, 1, false},
      {"hand-over newer than replica, same owner", 1, 1, 5, 1, 1, 6, 1, true},
      {"stale hand-over from an abandoned move", 1, 1, 9, 1, 1, 6, 1, false},
      {"equal sequences: the hand-over is final", 1, 1, 5, 1, 1, 5, 1, true},
      {"a later stream of the same owner is newer", 1, 1, 9, 1, 2, 2, 1, true},
      {"replica from the previous owner beats a foreign hand-over", 1, 1, 5, 2, 1, 9, 1, false},
      {"hand-over from the previous owner beats a foreign replica", 2, 1, 9, 1, 1, 5, 1, true},
  };
  auto log_to = [](std::uint64_t last, const std::string& tag) {
    std::vector<state_portion> ps{portion(1, portion_kind::initial, tag)};
    for (std::uint64_t s = 2; s <= last; ++s) ps.push_back(portion(s, portion_kind::essential, tag));
    return ps;
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    replica_store s;
    s.on_delta(r.replica_owner, state_delta{4, r.replica_stream, log_to(r.replica_last, "replica")});
    REQUIRE(s.replica(4)->last == r.replica_last);
    if (r.handover_owner != 0)
      s.on_handover(r.handover_owner,
                    state_handover{4, r.handover_stream, log_to(r.handover_last, "handover")});
    bool handover = false;
    const auto got = s.take(4, r.previous_owner, handover);
    REQUIRE(got.has_value());
    CHECK(handover == r.expect_handover);
    CHECK(got->portions.front().data == bytes(r.expect_handover ? "handover" : "replica"));
    CHECK(sequences(*got).size() == (r.expect_handover ? r.handover_last : r.replica_last));
    // both copies are consumed
    CHECK(s.replica(4) == nullptr);
    CHECK(s.handover(4) == nullptr);
  }
}

// ---- the same through whole group members, under loss ----

namespace {

const std::vector<loss_row> replication_loss_rows = {
    {"0% loss", 0.0, 11}, {"10% loss", 0.10, 12}, {"20% loss", 0.20, 13},
};

sim_config small_group(double loss, std::uint64_t seed) {
  sim_config c = make_config(3, loss, seed);
  c.group.work_units = 24;
  c.group.compact_deltas = 6;  // compaction every few changes, so it happens under loss too
  c.group.compact_min_bytes = 1 << 20;
  c.state_period = time_ms{10};
  return c;
}

bool same_portions(const unit_log& a, const unit_log& b) {
  if (a.stream != b.stream || a.portions.size() != b.portions.size()) return false;
  for (std::size_t i = 0; i < a.portions.size(); ++i)
    if (a.portions[i].sequence != b.portions[i].sequence ||
        a.portions[i].kind != b.portions[i].kind || a.portions[i].data != b.portions[i].data)
      return false;
  return true;
}

}  // namespace

TEST_CASE("deltas reach each unit's backup under loss; compaction bounds what it holds") {
  for (const auto& r : replication_loss_rows) {
    CAPTURE(r.name);
    group_sim s{small_group(r.loss, r.seed)};
    s.start_all();
    REQUIRE(s.run_until_stable(time_ms{300}, time_ms{20000}));
    std::size_t max_deltas_held = 0;
    for (int round = 0; round < 40; ++round) {
      s.run_for(time_ms{50});
      // While changes flow, a backup never holds more than the bound plus what is in flight.
      for (std::size_t i = 0; i < s.size(); ++i)
        for (auto u : s.node(i).replicas().replica_units()) {
          const auto* log = s.node(i).replicas().replica(u);
          const auto deltas = static_cast<std::size_t>(std::count_if(
              log->portions.begin(), log->portions.end(),
              [](const state_portion& p) { return p.kind != portion_kind::checkpoint; }));
          max_deltas_held = std::max(max_deltas_held, deltas);
        }
    }
    CHECK(s.checkpoints() > 0);
    CHECK(max_deltas_held <= 6 + 1 + 8);  // bound + the delta that asked + a few in flight
    // Quiesce: every unit's backup then holds exactly its owner's log.
    s.set_state_updates(false);
    s.run_for(time_ms{1000});
    REQUIRE(s.run_until_stable(time_ms{500}, time_ms{20000}));
    const auto master = s.masters().at(0);
    const auto* table = s.node(master).table();
    for (unit_id u = 0; u < 24; ++u) {
      CAPTURE(u);
      const auto owner = s.index_of(table->at(u).owner);
      const auto backup = s.index_of(table->at(u).backup);
      REQUIRE(owner.has_value());
      REQUIRE(backup.has_value());
      const auto mine = s.node(*owner).own_state(u);
      const auto* held = s.node(*backup).replicas().replica(u);
      REQUIRE(mine.has_value());
      REQUIRE(held != nullptr);
      CHECK(same_portions(*mine, *held));
      CHECK(fold_portions(held->portions).counter == s.counter(*owner, u).value());
      CHECK(fold_portions(held->portions).consistent);
    }
    for (const auto& v : s.violations()) FAIL_CHECK(v);
  }
}

TEST_CASE("take-over gives the role the checkpoint and the deltas after it, in order") {
  for (const auto& r : replication_loss_rows) {
    CAPTURE(r.name);
    group_sim s{small_group(r.loss, r.seed)};
    s.start_all();
    REQUIRE(s.run_until_stable(time_ms{300}, time_ms{20000}));
    s.run_for(time_ms{1500});
    s.set_state_updates(false);
    s.run_for(time_ms{1000});  // the last changes reach the backups
    REQUIRE(s.run_until_stable(time_ms{300}, time_ms{20000}));
    const auto master = s.masters().at(0);
    const std::size_t victim = (master + 1) % 3;
    std::map<unit_id, std::uint64_t> expected;
    for (auto u : s.node(victim).owned_units()) expected[u] = s.counter(victim, u).value();
    REQUIRE(!expected.empty());
    const auto before = s.takeovers().size();
    s.kill(victim);
    CHECK(s.run_until_stable(time_ms{300}, time_ms{20000}));
    std::size_t seen = 0, with_checkpoint = 0;
    for (std::size_t k = before; k < s.takeovers().size(); ++k) {
      const auto& t = s.takeovers()[k];
      if (t.from != s.address(victim) || !expected.count(t.unit)) continue;
      CAPTURE(t.unit);
      CHECK(t.value == expected[t.unit]);
      ++seen;
    }
    CHECK(seen == expected.size());
    // The taken-over logs were checkpoint-first once the owner had compacted; the new owners
    // have since registered a checkpoint of the merged state.
    for (const auto& [u, v] : expected) {
      for (std::size_t i = 0; i < s.size(); ++i) {
        if (!s.alive(i) || !s.node(i).owns(u)) continue;
        const auto log = s.node(i).own_state(u);
        REQUIRE(log.has_value());
        with_checkpoint += log->portions.front().kind == portion_kind::checkpoint ? 1 : 0;
        CHECK(fold_portions(log->portions).counter == v);
      }
    }
    CHECK(with_checkpoint == expected.size());
    for (const auto& v : s.violations()) FAIL_CHECK(v);  // portions in order, nothing skipped
  }
}
