#include "actors/runtime/node_config.hpp"

#include <chrono>

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

#include "actors/protocol/catalog.hpp"

namespace baton::node {

node_config::node_config(const tls_files& tls, std::size_t scheduler_threads) {
  protocol::register_messages(*this);
  load<caf::io::middleman>();
  load<caf::openssl::manager>();
  set("scheduler.max-threads", scheduler_threads);
  // An idle worker sleeps on its condition variable (woken by the next job) after a short spin,
  // instead of polling every 50 us for 25 ms after each job (CAF's default: 500 attempts). A node
  // gets a message every few milliseconds, so the default kept both workers polling for ever:
  // 17 idle nodes of the SLR lab used 1.2-1.5 cores of this 2-core machine, and a lab's own
  // commands then took a second to start.
  set("work-stealing.moderate-poll-attempts", std::size_t{1});
  // That one moderate attempt does not sleep: the 50 us nap after each job was one more
  // context switch per job for an idle node (issue 15); the worker goes to its condition
  // variable at once instead.
  set("work-stealing.moderate-sleep-duration", caf::timespan{0});
  // A worker with nothing to do sleeps on its condition variable; it is notified when a job is
  // queued to it from outside, and wakes every relaxed-sleep-duration to steal jobs queued
  // behind a busy worker. CAF's 10 ms made each idle worker wake 100 times a second (issue 15:
  // about 0.3 % of a core per idle daemon); at 100 ms a job queued behind a long one waits at
  // most that long more. The actors that keep time (the group's watchdogs) have threads of their
  // own (STYLE 14), so none of them waits for a steal.
  set("work-stealing.relaxed-sleep-duration", caf::timespan{std::chrono::milliseconds(100)});
  // CAF's own periodic "heartbeat" is off: failure detection is the group's keepalives and
  // watchdogs (DESIGN §4), because a hung peer keeps its TCP link open.
  set("middleman.heartbeat-interval", caf::timespan{0});
  // The I/O thread deserializes a peer's message and enqueues it to its receiver itself, instead
  // of handing the bytes to a scheduler worker that does it (CAF's default: one such worker
  // here). The group's messages are a few hundred bytes; the hand-off woke a worker for each of
  // them, about as costly as the message itself (issue 15).
  set("middleman.workers", std::size_t{0});
  openssl_certificate = tls.certificate;
  openssl_key = tls.key;
  openssl_cafile = tls.ca;
}

}  // namespace baton::node
