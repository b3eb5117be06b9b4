#pragma once
// Outbound TLS links of the SLR hierarchy: a host agent or SLR dials the SLR(s) one level up
// (document 001: "every physical host site is configured with the identity of the SLR(s) in the
// immediately higher level") and an SLR dials its same-level neighbours for WHOHAS. The TLS
// handshake is the certificate check; the first message on the link is the dialler's slr_hello.
//
// Used by slr_actor.cpp and host_agent_actor.cpp; each keeps a vector of outbound_link in its
// state and calls dial_due() from its timer.

#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "actors/runtime/event_log.hpp"
#include "actors/runtime/tls_dial.hpp"
#include "actors/protocol/slr.hpp"
#include "policy/rules.hpp"

namespace baton::slr {

/// One node this node dials.
struct outbound_link {
  std::string name;
  std::uint32_t address = 0;  // where to dial, host order
  std::uint16_t port = 0;
  caf::actor handle = nullptr;  // set while linked
  bool connecting = false;
  std::chrono::steady_clock::time_point next_attempt{};
  std::uint32_t tunnel_address = 0;  // from the far side's slr_hello (uppers answer the hello)
  std::string level = {};            // likewise
  std::uint64_t attempts = 0, failures = 0;
};

/// Redial period after a failed or lost link.
inline constexpr std::chrono::milliseconds redial_interval{1000};

/// Dials every link of `links` that is down and due (node::dial_tls: TLS checks the far side's
/// certificate; what is published there must be a dynamically typed actor, as the SLR is, not a
/// group actor on the wrong port). On success it monitors the far actor and sends it `hello`; on
/// failure it logs an slr_link_failed event and retries after redial_interval. `Self` is a
/// stateful actor whose state has `links_of(self)` returning the vector (so callbacks find the
/// link again by index after the vector was reached through self). Never throws.
template <class Self, class LinksOf>
void dial_due(Self* self, LinksOf links_of, const protocol::slr_hello& hello,
              node::event_log& events) {
  const auto now = std::chrono::steady_clock::now();
  auto& links = links_of(self);
  for (std::size_t i = 0; i < links.size(); ++i) {
    auto& l = links[i];
    if (l.handle || l.connecting || now < l.next_attempt) continue;
    l.connecting = true;
    ++l.attempts;
    node::dial_tls(
      self, l.address, l.port, {},
      [=, &events](caf::strong_actor_ptr ptr) {
        auto& link = links_of(self)[i];
        link.connecting = false;
        link.handle = caf::actor_cast<caf::actor>(std::move(ptr));
        self->monitor(link.handle);
        self->send(link.handle, hello);
        events.add(node::severity::info, "slr_linked",
                   {{"peer", link.name}, {"address", policy::format_ipv4(link.address)}});
      },
      [=, &events](const std::string& reason, bool wrong_actor) {
        auto& link = links_of(self)[i];
        link.connecting = false;
        ++link.failures;
        link.next_attempt = std::chrono::steady_clock::now() + redial_interval;
        events.add(wrong_actor ? node::severity::warning : node::severity::debug, "slr_link_failed",
                   {{"peer", link.name}, {"reason", reason}});
      });
  }
}

/// Marks the link whose actor went down as lost (it is redialled later). Returns its index or
/// links.size() when the actor was none of them.
inline std::size_t link_lost(std::vector<outbound_link>& links, const caf::actor_addr& who,
                             node::event_log& events) {
  for (std::size_t i = 0; i < links.size(); ++i) {
    auto& l = links[i];
    if (!l.handle || l.handle.address() != who) continue;
    l.handle = nullptr;
    l.tunnel_address = 0;
    l.next_attempt = std::chrono::steady_clock::now() + redial_interval;
    events.add(node::severity::warning, "slr_link_lost", {{"peer", l.name}});
    return i;
  }
  return links.size();
}

/// Sends `message` on every link that is up; returns how many.
template <class Self, class Message>
std::size_t send_to_linked(Self* self, const std::vector<outbound_link>& links,
                           const Message& message) {
  std::size_t sent = 0;
  for (auto& l : links)
    if (l.handle) {
      self->send(l.handle, message);
      ++sent;
    }
  return sent;
}

/// The link whose far actor is `who`, or nullptr.
inline outbound_link* link_of(std::vector<outbound_link>& links, const caf::actor_addr& who) {
  for (auto& l : links)
    if (l.handle && l.handle.address() == who) return &l;
  return nullptr;
}

}  // namespace baton::slr
