// The cluster actor under the test coordinator, over a data path built here as a cluster row
// builds it (actors/cluster/role.cpp) but with memory ports: io_runtime.begin(), the client-side
// and backend-side ports, the cluster stage wrapping a gateway stage. The unit events the group
// actor would send (assign, revoke, take over with state) must reach the gateway: owned units are
// published (datagrams of an owned unit pass, the others are dropped), a take-over's flows are
// imported (found in the gateway with the backend they had), a revoked unit's flows are released;
// the loop's answers come back to the actor as (loop_atom, loop_reply) messages.
//
// The loop is stopped while the actor works (io_runtime::post runs the work at once and the
// answer is queued as a message, as on a node); it runs only while the test sends datagrams
// through it, when the actor is idle.

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/cluster/cluster_actor.hpp"
#include "actors/runtime/event_log.hpp"
#include "actors/runtime/io_runtime.hpp"
#include "net/cluster/cluster_stage.hpp"
#include "net/io/memory_port.hpp"
#include "policy/policy.hpp"
#include "tests/unit/actors/actor_rig.hpp"
#include "tests/unit/gateway/gateway_rig.hpp"

using namespace baton;
using net::test::base_config;
using net::test::client_ip;
using net::test::client_key;
using net::test::tcp_datagram;
using net::test::tcp_spec;
using net::test::vip;

namespace {

using bytes = std::vector<std::uint8_t>;

/// One member's data path, as the cluster row builds it, on memory ports.
struct data_path {
  std::shared_ptr<node::io_runtime> io = std::make_shared<node::io_runtime>();
  net::memory_port* clients = nullptr;   // port 0
  net::memory_port* backends = nullptr;  // port 1
  net::cluster_stage* stage = nullptr;

  data_path() {
    io->begin(policy::load_policy_text(
      R"({"identity": {"name": "m1", "address": "10.0.0.11"}, "roles": ["passthrough"],
          "io": {"backend": "memory"}})",
      "test"));
    auto a = std::make_unique<net::memory_port>(io->pool(), net::memory_port_config{"clients"});
    auto b = std::make_unique<net::memory_port>(io->pool(), net::memory_port_config{"backends"});
    clients = a.get();
    backends = b.get();
    REQUIRE(io->add_port(std::move(a), "clients") == 0);
    REQUIRE(io->add_port(std::move(b), "backends") == 1);
    net::gateway_settings s;
    s.flow_capacity = 1024;
    s.clock = &net::test::test_clock;
    std::vector<net::backend_neighbor> neighbors;
    for (auto& svc : base_config().services)
      for (auto& be : svc.backends) neighbors.push_back({be.addr, {0x02, 0, 0, 0, 0, 0x21}});
    stage = &io->add_stage(std::make_unique<net::cluster_stage>(
      std::make_unique<net::gateway_stage>(io->epoch(), s, base_config()), neighbors, 1));
  }
  ~data_path() { io->stop(); }

  net::gateway_stage& gateway() { return stage->gateway(); }

  /// Runs the loop while `p` enters on the client side; what left on the backend side, if
  /// anything (waiting until the loop dealt with `p`).
  std::optional<bytes> from_client(const bytes& p) {
    const auto seen = gateway().counters().owned + gateway().counters().not_owned;
    REQUIRE(clients->inject(net::bytes_view(p.data(), p.size())));
    // Turns of the loop on this thread until the gateway has seen the datagram.
    for (int i = 0; i < 100 && gateway().counters().owned + gateway().counters().not_owned == seen; ++i)
      io->run_once(std::chrono::milliseconds(10));
    bytes out;
    if (!backends->collect(out)) return std::nullopt;
    return out;
  }
};

bytes syn(std::uint16_t sport) {
  tcp_spec s;
  s.src = client_ip;
  s.dst = vip;
  s.sport = sport;
  s.dport = 80;
  s.seq = 1000;
  s.flags = net::tcp_flag_syn;
  return tcp_datagram(s);
}

std::uint32_t unit_of(std::uint16_t sport) {
  return net::work_unit_hasher{}(client_key(client_ip, sport, 80), net::filter::work_set);
}

/// Two client ports whose flows fall in different units.
std::pair<std::uint16_t, std::uint16_t> two_units() {
  const std::uint16_t a = 40000;
  for (std::uint16_t b = a + 1;; ++b)
    if (unit_of(b) != unit_of(a)) return {a, b};
}

/// Stands in for the group actor: records the portions the role replicates, in order.
struct portion {
  group::unit_id unit;
  std::uint8_t kind;  // group::portion_kind
  bytes data;
};

caf::behavior recording_group(caf::event_based_actor*, std::shared_ptr<std::vector<portion>> log) {
  return {
    [log](protocol::replicate_atom, group::unit_id u, std::uint8_t kind, group::state_bytes& b) {
      log->push_back({u, kind, std::move(b)});
    },
  };
}

/// Lets `actor` handle one unit event and the batch it schedules, checking that the loop's
/// answer arrives as a (loop_atom, loop_reply) message, and runs that too.
template <class Actor>
void apply_through_loop(test::coordinator_rig& rig, const Actor& actor) {
  REQUIRE(rig.run_one(actor));  // the unit event: schedules one apply for the batch
  CAPTURE(rig.next_of(actor));
  REQUIRE(rig.next_is<protocol::apply_atom>(actor));
  REQUIRE(rig.run_one(actor));  // apply: publishes the owned units, posts the flow work
  CAPTURE(rig.next_of(actor));
  REQUIRE(rig.next_is<node::loop_atom, node::loop_reply>(actor));
  REQUIRE(rig.run_one(actor));
  rig.sched.run();
}

/// The events named `name` in `log`, oldest first.
std::vector<nlohmann::json> events_named(const node::event_log& log, const std::string& name) {
  std::vector<nlohmann::json> out;
  for (auto& e : nlohmann::json::parse(log.json()))
    if (e["event"] == name) out.push_back(e);
  return out;
}

}  // namespace

TEST_CASE("cluster actor: assign publishes the owned unit to the gateway, revoke withdraws it") {
  node::event_log events(100, false);  // outlives the rig, whose actors log to it
  test::coordinator_rig rig;
  data_path dp;
  auto actor = rig.keep(cluster::spawn_cluster_actor(rig.sys(), dp.io, events, std::chrono::milliseconds(100)));
  rig.sched.run();  // its first tick: a replication round with nothing to send
  const auto [mine, other] = two_units();

  // Nothing owned yet: the gateway drops the unit's datagrams.
  CHECK_FALSE(dp.from_client(syn(mine)));
  CHECK(dp.gateway().counters().not_owned == 1);

  caf::anon_send(actor, protocol::assign_atom::value, unit_of(mine));
  apply_through_loop(rig, actor);
  auto out = dp.from_client(syn(mine));
  REQUIRE(out);
  CHECK(net::test::checksums_ok(*out));
  CHECK(dp.gateway().counters().nat_new == 1);
  CHECK(dp.gateway().flow_count(unit_of(mine)) == 1);
  // Another unit stays dropped.
  CHECK_FALSE(dp.from_client(syn(other)));
  CHECK(dp.gateway().counters().not_owned == 2);

  // Revoked: the unit's datagrams are dropped and its flows released on the loop.
  caf::anon_send(actor, protocol::revoke_atom::value, unit_of(mine), false);
  apply_through_loop(rig, actor);
  CHECK(dp.gateway().flow_count(unit_of(mine)) == 0);
  auto released = events_named(events, "unit_flows_released");
  REQUIRE(released.size() == 1);
  CHECK(released[0]["flows"] == "1");
  CHECK_FALSE(dp.from_client(syn(mine)));
  CHECK(dp.gateway().counters().not_owned == 3);

}

TEST_CASE("cluster actor: a take-over imports the unit's flows into the gateway") {
  node::event_log events(100, false);  // outlives the rig, whose actors log to it
  test::coordinator_rig rig;
  data_path dp;
  auto actor = rig.keep(cluster::spawn_cluster_actor(rig.sys(), dp.io, events, std::chrono::milliseconds(100)));
  rig.sched.run();
  const std::uint16_t sport = 40000;
  const auto u = unit_of(sport);

  // The flow's owner, elsewhere: a gateway that saw its SYN and exported the unit.
  net::test::member owner;
  REQUIRE(owner.from_client(syn(sport)));
  net::gateway_flow_info there;
  REQUIRE(owner.gw->find_flow(client_key(client_ip, sport, 80), there));
  std::vector<std::uint8_t> state;  // a checkpoint: the unit's whole state
  owner.gw->export_delta(u, 0, state);

  caf::anon_send(actor, protocol::takeover_atom::value, u, state);
  apply_through_loop(rig, actor);

  net::gateway_flow_info here;
  REQUIRE(dp.gateway().find_flow(client_key(client_ip, sport, 80), here));
  CHECK(here.backend_addr == there.backend_addr);
  CHECK(here.backend_port == there.backend_port);
  CHECK(dp.gateway().flow_count(u) == 1);
  auto taken = events_named(events, "unit_taken_over");
  REQUIRE(taken.size() == 1);
  CHECK(taken[0]["unit"] == std::to_string(u));
  CHECK(taken[0]["flows"] == "1");
  CHECK(taken[0]["status"] == "ok");
  // The unit is owned now: its next datagram continues the imported flow to the same backend.
  auto out = dp.from_client(syn(sport));
  REQUIRE(out);
  CHECK(dp.gateway().flow_count(u) == 1);

  // Malformed state (a length prefix past the end) is reported, nothing imported.
  const group::unit_id v = u + 1 == net::owned_units::size() ? u - 1 : u + 1;
  caf::anon_send(actor, protocol::takeover_atom::value, v, group::state_bytes{0, 0, 1, 0, 7});
  apply_through_loop(rig, actor);
  taken = events_named(events, "unit_taken_over");
  REQUIRE(taken.size() == 2);
  CHECK(taken[1]["unit"] == std::to_string(v));
  CHECK(taken[1]["flows"] == "0");
  CHECK(taken[1]["status"] != "ok");
  CHECK(dp.gateway().flows() == 1);

}

TEST_CASE("cluster actor: each replication interval, an owned unit's changes go to the group") {
  node::event_log events(100, false);  // outlives the rig, whose actors log to it
  test::coordinator_rig rig;
  data_path dp;
  auto log = std::make_shared<std::vector<portion>>();
  auto fake_group = rig.keep(rig.sys().spawn(recording_group, log));
  auto actor = rig.keep(cluster::spawn_cluster_actor(rig.sys(), dp.io, events, std::chrono::milliseconds(100)));
  caf::anon_send(actor, protocol::group_atom::value, caf::actor_cast<group::group_actor>(fake_group));
  rig.sched.run();
  const std::uint16_t sport = 40000;
  const auto u = unit_of(sport);
  caf::anon_send(actor, protocol::assign_atom::value, u);
  apply_through_loop(rig, actor);
  REQUIRE(dp.from_client(syn(sport)));

  // Before the interval is up nothing is sent; then the tick's export comes back from the loop
  // as a loop_reply and the unit's state goes to the group: a checkpoint, its first portion.
  rig.advance(std::chrono::milliseconds(50));
  CHECK(log->empty());
  rig.sched.advance_time(std::chrono::milliseconds(50));
  REQUIRE(rig.next_is<protocol::tick_atom>(actor));
  REQUIRE(rig.run_one(actor));
  CAPTURE(rig.next_of(actor));
  REQUIRE(rig.next_is<node::loop_atom, node::loop_reply>(actor));
  CHECK(log->empty());  // not before the loop's answer
  rig.sched.run();
  REQUIRE(log->size() == 1);
  CHECK(log->at(0).unit == u);
  CHECK(log->at(0).kind == static_cast<std::uint8_t>(group::portion_kind::checkpoint));

  // What the group got reproduces the flow on a member that imports it.
  net::test::member backup(base_config(), net::owned_units{});
  auto im = backup.gw->import_blobs(net::bytes_view(log->at(0).data.data(), log->at(0).data.size()));
  CHECK(im.status == net::parse_status::ok);
  CHECK(im.created == 1);
  net::gateway_flow_info copy, original;
  REQUIRE(backup.gw->find_flow(client_key(client_ip, sport, 80), copy));
  REQUIRE(dp.gateway().find_flow(client_key(client_ip, sport, 80), original));
  CHECK(copy.backend_addr == original.backend_addr);

  // Unchanged since: the next interval sends nothing.
  rig.advance(std::chrono::milliseconds(100));
  CHECK(log->size() == 1);

  // A new flow in the unit: the next interval sends a delta, not the unit again (a TCP flow's
  // delta carries its initial and its essential record: an essential portion).
  std::uint16_t sport2 = sport + 1;
  while (unit_of(sport2) != u) ++sport2;
  REQUIRE(dp.from_client(syn(sport2)));
  rig.advance(std::chrono::milliseconds(100));
  REQUIRE(log->size() == 2);
  CHECK(log->at(1).unit == u);
  CHECK(log->at(1).kind == static_cast<std::uint8_t>(group::portion_kind::essential));
  im = backup.gw->import_blobs(net::bytes_view(log->at(1).data.data(), log->at(1).data.size()));
  CHECK(im.created == 1);
  CHECK(backup.gw->flow_count(u) == 2);

  // The group asks for a checkpoint (compaction): the next interval sends one, unchanged or not.
  caf::anon_send(actor, group::checkpoint_atom::value, u);
  rig.sched.run();
  rig.advance(std::chrono::milliseconds(100));
  REQUIRE(log->size() == 3);
  CHECK(log->at(2).kind == static_cast<std::uint8_t>(group::portion_kind::checkpoint));
  net::test::member fresh(base_config(), net::owned_units{});
  im = fresh.gw->import_blobs(net::bytes_view(log->at(2).data.data(), log->at(2).data.size()));
  CHECK(im.created == 2);

  // Revoked: nothing more is sent for the unit.
  caf::anon_send(actor, protocol::revoke_atom::value, u, false);
  rig.sched.run();
  REQUIRE(dp.gateway().flow_count(u) == 0);
  rig.advance(std::chrono::milliseconds(100));
  CHECK(log->size() == 3);
}
