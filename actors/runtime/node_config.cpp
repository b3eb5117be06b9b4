#include "actors/runtime/node_config.hpp"

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

#include "actors/protocol/catalog.hpp"

namespace baton::node {

node_config::node_config(const tls_files& tls, std::size_t scheduler_threads) {
  protocol::register_messages(*this);
  load<caf::io::middleman>();
  load<caf::openssl::manager>();
  set("scheduler.max-threads", scheduler_threads);
  // One shared job queue (CAF's work-sharing policy) instead of a queue per worker with
  // stealing: an idle worker waits on the queue's condition variable without a timeout and is
  // woken by the next job, whoever queues it. Work stealing cannot do that: a job an actor queues
  // from a worker goes to that worker's own queue, unannounced, so idle workers must wake to look
  // (every relaxed-sleep-duration; 12 wake-ups a second for each of the two in an idle cluster
  // member, issue 15), and CAF's default polling after each job kept 17 idle SLR-lab nodes at
  // 1.2-1.5 cores. The jobs here are control-plane actors, a few hundred a second; one lock per
  // job is nothing next to a thread wake-up. The actors that keep time (the group's watchdogs)
  // and the packet loop have threads of their own (STYLE 14).
  set("scheduler.policy", caf::atom("sharing"));
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
