// The SLR actor under the test coordinator, over a data path built as the SLR row builds it
// (actors/slr/role.cpp) with a memory port in place of the raw IP-in-IP socket: the hot-spare
// pair's unit events switch the data path between active and spare, a take-over installs the
// replicated flow records in the data path (the answer coming back as a loop_reply), and a lower
// node that says hello is answered with the SLR's own, linked once and monitored.
//
// What is not tested here: the data path's flow events. The actor learns of them from its event
// pump, a thread of its own that sends (pump_atom) when the stage's eventfd is readable; the test
// coordinator is not thread-safe, so no test here makes the stage queue events (no datagrams go
// through it). Dialling uppers and neighbours goes through the OpenSSL middleman (TLS over real
// sockets): these SLRs have none. Figure 9's routes are not checked here either: the actor shows
// them only in its status (whose type is changing) and the stage has no getter. All of it is
// covered by tests/lab/test_slr.

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "actors/group/group_actor.hpp"
#include "actors/protocol/atoms.hpp"
#include "actors/protocol/slr.hpp"
#include "actors/runtime/event_log.hpp"
#include "actors/runtime/io_runtime.hpp"
#include "actors/runtime/loop_reply.hpp"
#include "actors/slr/flow_record.hpp"
#include "actors/slr/slr_actor.hpp"
#include "net/io/memory_port.hpp"
#include "net/slr/slr_stage.hpp"
#include "policy/policy.hpp"
#include "tests/unit/actors/actor_rig.hpp"

using namespace baton;

namespace {

constexpr std::uint32_t ip4(std::uint32_t a, std::uint32_t b, std::uint32_t c, std::uint32_t d) {
  return a << 24 | b << 16 | c << 8 | d;
}

policy::policy site_policy(bool hot_spare) {
  std::string text = R"({"identity": {"name": "site-a", "address": "10.0.0.2"}, "roles": ["slr"],
    "io": {"backend": "memory"},
    "slr": {"level": "site", "virtual_subnets": ["10.200.0.0/24"], "update_interval_ms": 100)";
  if (hot_spare) text += R"(, "hot_spare": {"address": "10.0.0.50"})";
  text += "}}";
  return policy::load_policy_text(text, "test");
}

/// An SLR's data path, as the SLR row builds it, with a memory port for the IP-in-IP socket.
struct slr_path {
  std::shared_ptr<node::io_runtime> io = std::make_shared<node::io_runtime>();
  net::slr_stage* stage = nullptr;

  explicit slr_path(const policy::policy& p) {
    io->begin(p);
    const auto tunnel = io->add_port(
      std::make_unique<net::memory_port>(io->pool(), net::memory_port_config{"ipip"}), "ipip");
    net::slr_stage_config cfg;
    cfg.self = p.slr->tunnel_address;
    cfg.tunnel_in = tunnel;
    cfg.out = tunnel;
    cfg.active = !p.slr->hot_spare;
    cfg.flow_capacity = p.slr->flow_capacity;
    stage = &io->add_stage(std::make_unique<net::slr_stage>(io->epoch(), cfg));
  }
  ~slr_path() { io->stop(); }
};

net::flow_key flow(std::uint16_t client_port) {
  net::flow_key k;
  k.src_addr = ip4(192, 0, 2, 10);
  k.src_port = client_port;
  k.dst_addr = ip4(10, 200, 0, 7);
  k.dst_port = 80;
  k.protocol = 6;
  return k;
}

}  // namespace

TEST_CASE("SLR actor, hot spare: unit events switch the data path between spare and active") {
  node::event_log events(100, false);  // outlives the rig, whose actors log to it
  test::coordinator_rig rig;
  const auto p = site_policy(true);
  slr_path dp(p);
  auto slr = rig.keep(slr::spawn_slr_actor(rig.sys(), dp.io, events, p));
  rig.sched.run();
  CHECK_FALSE(dp.stage->active());  // a hot-spare pair waits for the group

  caf::anon_send(slr, protocol::assign_atom::value, group::unit_id{0});
  rig.sched.run();
  CHECK(dp.stage->active());
  CHECK(events.count("slr_active") == 1);

  caf::anon_send(slr, protocol::revoke_atom::value, group::unit_id{0}, true);
  rig.sched.run();
  CHECK_FALSE(dp.stage->active());
  CHECK(events.count("slr_standby") == 1);

}

TEST_CASE("SLR actor, hot spare: a take-over installs the replicated flows, then replicates a checkpoint") {
  node::event_log events(100, false);  // outlives the rig, whose actors log to it
  test::coordinator_rig rig;
  const auto p = site_policy(true);
  slr_path dp(p);
  auto slr = rig.keep(slr::spawn_slr_actor(rig.sys(), dp.io, events, p));
  // The pair's group, standing in: records what the SLR replicates.
  auto sent = std::make_shared<std::vector<std::pair<std::uint8_t, group::state_bytes>>>();
  // (State goes in as a spawn argument: CAF 0.17's spawn of a function without arguments binds a
  // reference through a null pointer, which UBSan stops.)
  using sent_log = std::shared_ptr<std::vector<std::pair<std::uint8_t, group::state_bytes>>>;
  auto fake_group = rig.keep(rig.sys().spawn(
    [](caf::event_based_actor*, sent_log log) -> caf::behavior {
      return {[log](protocol::replicate_atom, group::unit_id, std::uint8_t kind, group::state_bytes& b) {
        log->emplace_back(kind, std::move(b));
      }};
    },
    sent));
  caf::anon_send(slr, protocol::group_atom::value, caf::actor_cast<group::group_actor>(fake_group));
  rig.sched.run();

  // The active SLR's records, as the group replicated them: one checkpoint.
  slr::flow_records records;
  const auto now = std::chrono::steady_clock::now();
  records.record(flow(40000), ip4(10, 0, 9, 1), ip4(10, 0, 0, 3), net::flow_origin::chosen, now);
  records.record(flow(40001), ip4(10, 0, 9, 2), ip4(10, 0, 0, 3), net::flow_origin::shortcut, now);
  auto bytes = slr::encode_records_checkpoint(records);

  caf::anon_send(slr, protocol::takeover_atom::value, group::unit_id{0}, bytes);
  REQUIRE(rig.run_one(slr));
  // The entries went to the loop; its answer comes back as a message.
  CAPTURE(rig.next_of(slr));
  REQUIRE(rig.next_is<node::loop_atom, node::loop_reply>(slr));
  rig.sched.run();

  std::uint32_t hop = 0;
  net::flow_origin origin{};
  REQUIRE(dp.stage->find(flow(40000), hop, origin));
  CHECK(hop == ip4(10, 0, 9, 1));
  CHECK(origin == net::flow_origin::replicated);
  REQUIRE(dp.stage->find(flow(40001), hop, origin));
  CHECK(hop == ip4(10, 0, 9, 2));
  CHECK(dp.stage->flows() == 2);
  CHECK(dp.stage->active());  // took over: the active SLR now
  CHECK(events.count("slr_active") == 1);
  CHECK(events.count("slr_takeover_state_malformed") == 0);

  // Its own log starts from a checkpoint of what it took over, sent at the next round.
  CHECK(sent->empty());
  rig.advance(std::chrono::milliseconds(100));
  REQUIRE(sent->size() == 1);
  CHECK(sent->at(0).first == static_cast<std::uint8_t>(group::portion_kind::checkpoint));
  slr::flow_records copy;
  CHECK(slr::apply_records_blob(sent->at(0).second, copy, now).ok);
  CHECK(copy.size() == 2);
  // Nothing changed since: nothing more is sent.
  rig.advance(std::chrono::milliseconds(100));
  CHECK(sent->size() == 1);

  // Malformed state: reported, nothing installed.
  caf::anon_send(slr, protocol::takeover_atom::value, group::unit_id{0}, group::state_bytes{1, 2, 3});
  rig.sched.run();
  CHECK(events.count("slr_takeover_state_malformed") == 1);
  CHECK(dp.stage->flows() == 2);
}

TEST_CASE("SLR actor: a lower node that says hello is answered, linked once and monitored") {
  node::event_log events(100, false);  // outlives the rig, whose actors log to it
  test::coordinator_rig rig;
  const auto p = site_policy(false);
  slr_path dp(p);
  auto slr = rig.keep(slr::spawn_slr_actor(rig.sys(), dp.io, events, p));
  rig.sched.run();
  CHECK(dp.stage->active());

  // A host agent below: it says hello, the SLR answers with its own.
  auto heard = std::make_shared<std::vector<protocol::slr_hello>>();
  using hello_log = std::shared_ptr<std::vector<protocol::slr_hello>>;
  auto host = rig.keep(rig.sys().spawn(
    [](caf::event_based_actor*, hello_log log) -> caf::behavior {
      return {[log](const protocol::slr_hello& h) { log->push_back(h); }};
    },
    heard));
  const std::uint32_t host_tunnel = ip4(10, 0, 9, 1);
  caf::send_as(host, slr, protocol::slr_hello{"host-1", "host", host_tunnel});
  rig.sched.run();
  REQUIRE(heard->size() == 1);
  CHECK(heard->at(0).name == "site-a");
  CHECK(heard->at(0).level == "site");
  CHECK(events.count("slr_lower_linked") == 1);

  // A second hello on the same link is not a new lower node.
  caf::send_as(host, slr, protocol::slr_hello{"host-1", "host", host_tunnel});
  rig.sched.run();
  CHECK(heard->size() == 1);
  CHECK(events.count("slr_lower_linked") == 1);

  // The SLR monitors what dialled it: the host going away is noticed (and its routes forgotten).
  CHECK(events.count("slr_lower_lost") == 0);
  caf::anon_send_exit(host, caf::exit_reason::kill);
  rig.sched.run();
  CHECK(events.count("slr_lower_lost") == 1);

}
