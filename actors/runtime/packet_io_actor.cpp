#include "actors/runtime/packet_io_actor.hpp"

#include <caf/all.hpp>

#include "actors/runtime/event_log.hpp"
#include "actors/runtime/io_runtime.hpp"
#include "policy/policy.hpp"

namespace baton::node {
namespace {

struct packet_io_state {
  static inline const char* name = "packet_io";
  std::shared_ptr<io_runtime> io;
  event_log* events = nullptr;
  ~packet_io_state() {
    if (io) io->stop();
  }
};

packet_io_actor::behavior_type packet_io_impl(packet_io_actor::stateful_pointer<packet_io_state> self,
                                              std::shared_ptr<io_runtime> io,
                                              event_log* events) {
  self->state.io = std::move(io);
  self->state.events = events;
  return {
    [=](protocol::get_atom) { return self->state.io->status(); },
    [=](protocol::reload_atom, const policy_ptr& p, const std::vector<std::string>& ports) -> std::string {
      try {
        self->state.io->apply(*p, ports);
        return "rules and io routes replaced";
      } catch (const std::exception& e) {
        self->state.events->add(severity::warning, "io_reload_needs_restart", {{"reason", e.what()}});
        return std::string("io not changed: ") + e.what();
      }
    },
  };
}

}  // namespace

packet_io_actor spawn_packet_io_actor(caf::actor_system& sys, std::shared_ptr<io_runtime> io,
                                      event_log& events) {
  return sys.spawn(packet_io_impl, std::move(io), &events);
}

}  // namespace baton::node
