#pragma once
// The one way a node dials another over TLS (group links, SLR links): through the OpenSSL
// middleman, so the handshake checks the far side's certificate against our CA, then a check that
// what is published on that port is the actor we meant to reach.

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

#include <chrono>
#include <cstdint>
#include <set>
#include <string>

#include "policy/rules.hpp"

namespace baton::node {

/// One link per pair of nodes that both know each other (group peers, same-level SLR neighbours):
/// the node with the lower address dials, the other attaches when the dialler's hello arrives.
/// (Two nodes dialling each other at once make CAF 0.17's BASP drop one of the two connections and
/// with it the proxies of both: the link would flap.)
constexpr bool dials(std::uint32_t self, std::uint32_t peer) noexcept { return self < peer; }

/// How long a dial may take, TLS handshake included.
inline constexpr std::chrono::seconds dial_timeout{5};

/// Dials `address`:`port` (host order) with TLS and checks the published actor's interface against
/// `expected` (sys.message_types<Handle>() of the typed handle the caller wants; empty for a
/// dynamically typed actor). Then, in `self`'s context, calls `ok(caf::strong_actor_ptr)` or
/// `fail(std::string reason, bool wrong_actor)`: wrong_actor when the node answered but what it
/// publishes there is not the actor we meant (nothing, or another interface: a misconfiguration,
/// worth a louder log and a longer wait); otherwise CAF's error (TLS refused, connection refused,
/// timeout). Returns at once; never throws.
template <class Self, class Ok, class Fail>
void dial_tls(Self* self, std::uint32_t address, std::uint16_t port,
              std::set<std::string> expected, Ok ok, Fail fail) {
  auto mm = self->home_system().openssl_manager().actor_handle();
  self->request(mm, dial_timeout, caf::connect_atom::value, policy::format_ipv4(address), port)
    .then(
      [=](const caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>& ifs) mutable {
        if (!ptr) {
          fail(std::string("nothing published on that port"), true);
          return;
        }
        if (ifs != expected) {
          fail(std::string("the actor published on that port has another interface"), true);
          return;
        }
        ok(std::move(ptr));
      },
      [=](caf::error& err) mutable { fail(self->home_system().render(err), false); });
}

}  // namespace baton::node
