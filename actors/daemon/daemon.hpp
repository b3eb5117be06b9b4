#pragma once
// batond's whole life, apart from argument parsing and signals: it loads nothing itself (main hands
// it a validated policy), opens the data path, starts the actor system with TLS links, spawns the
// group actor and the packet-I/O actor, serves the console, and applies reloads.

#include <memory>
#include <mutex>
#include <string>

#include "actors/runtime/event_log.hpp"

namespace baton::policy {
struct policy;
}

namespace baton::node {

class daemon {
public:
  /// Starts everything the policy asks for. Throws std::runtime_error with a one-line reason
  /// (port cannot be opened, console address in use, TLS files unreadable, ...).
  daemon(std::string policy_path, policy::policy initial);
  /// Stops the console, the actors and the data path (TUN devices vanish with their descriptors).
  ~daemon();

  /// Re-reads the policy file. A bad file keeps the running policy and says why (event
  /// "reload_failed" with the pointer and reason); a good one is compared with the running one and
  /// only changed sections are applied; what needs a restart is logged. Returns a JSON summary.
  /// Thread-safe (SIGHUP and POST /reload may race).
  std::string reload();

  /// Leaves the group gracefully: units are handed to the other members. Returns a JSON summary.
  std::string drain();

  event_log& events() { return events_; }
  /// Where the console listens ("HOST:PORT").
  std::string console_address() const;

  struct impl;

private:
  event_log events_;
  std::unique_ptr<impl> impl_;
};

}  // namespace baton::node
