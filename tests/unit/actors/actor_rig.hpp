#pragma once
// Shared by the actor tests: an actor system with CAF 0.17's deterministic test coordinator
// (scheduler.policy "testing": every actor runs on the test's thread, only when the test says so,
// and delayed sends wait for the test to advance the simulated clock), configured by the one
// node_config (STYLE habit 9). No sockets, no root: the middleman is never run.
//
// CAF's own DSL (caf/test/dsl.hpp: expect, allow) reports through CAF's unit-test engine, which
// doctest does not run, so the few clauses the tests need are here with doctest's checks:
// next_is<Ts...>(actor) looks at an actor's next message, run_one(actor) lets it handle it.
//
// The packet loops of these tests are not running unless a test starts one: io_runtime::post
// then runs the work on the caller's thread, and the answer still reaches the actor as a
// (loop_atom, loop_reply) message, as on a running node.

#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "actors/runtime/node_config.hpp"

namespace baton::test {

class coordinator_rig {
 public:
  coordinator_rig() : sys_(prepare(cfg_)), sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys_.scheduler())) {}
  /// Ends every kept actor first: the coordinator's shutdown fires pending timeouts until none
  /// is left, so an actor that re-arms a timer on each tick (as most here do) would keep it busy
  /// for ever, and a test that failed half-way never told it to stop.
  ~coordinator_rig() {
    for (auto& a : kept_) caf::anon_send_exit(a, caf::exit_reason::kill);
    sched.run();
  }

  caf::actor_system& sys() { return sys_; }

  /// Keeps `h` to be ended with the rig; returns it.
  template <class Handle>
  Handle keep(Handle h) {
    kept_.push_back(caf::actor_cast<caf::actor>(h));
    return h;
  }

  /// Whether `whom`'s next message matches Ts (element types, in order).
  template <class... Ts, class Handle>
  bool next_is(const Handle& whom) {
    auto* ptr = caf::actor_cast<caf::abstract_actor*>(whom);
    auto* local = dynamic_cast<caf::local_actor*>(ptr);
    REQUIRE(local != nullptr);
    auto* e = local->peek_at_next_mailbox_element();
    return e != nullptr && e->content().template match_elements<Ts...>();
  }
  /// `whom`'s next message as text, "(none)" when its mailbox is empty (for CAPTURE).
  template <class Handle>
  std::string next_of(const Handle& whom) {
    auto* local = dynamic_cast<caf::local_actor*>(caf::actor_cast<caf::abstract_actor*>(whom));
    auto* e = local ? local->peek_at_next_mailbox_element() : nullptr;
    return e ? caf::to_string(e->content()) : std::string("(none)");
  }
  /// Lets `whom` handle its next message (and only that one). False when it has none.
  template <class Handle>
  bool run_one(const Handle& whom) {
    if (!sched.prioritize(whom)) return false;
    sched.run_once();
    return true;
  }
  /// Advances the simulated clock by `d`, firing the delayed sends due, and runs every actor
  /// until all mailboxes are empty.
  void advance(std::chrono::milliseconds d) {
    sched.advance_time(d);
    sched.run();
  }

 private:
  static node::node_config& prepare(node::node_config& c) {
    c.set("logger.file-verbosity", caf::atom("quiet"));
    c.set("logger.console", caf::atom("none"));
    c.set("scheduler.policy", caf::atom("testing"));
    // The OpenSSL manager (node_config loads it) wants the default network backend; with manual
    // multiplexing nothing runs it: no middleman thread, no socket is opened.
    c.set("middleman.manual-multiplexing", true);
    c.set("middleman.workers", std::size_t{0});
    return c;
  }

  node::node_config cfg_;
  caf::actor_system sys_;
  std::vector<caf::actor> kept_;

 public:
  caf::scheduler::test_coordinator& sched;
};

}  // namespace baton::test
