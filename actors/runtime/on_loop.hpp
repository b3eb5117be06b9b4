#pragma once
// How an actor gets work done on the packet loop without waiting for it (STYLE: never block an
// actor). The work is posted to the loop thread, which runs it between two batches and sends the
// result back to the actor as a loop_reply message; the actor's continuation then runs in the
// actor's own context, where it may touch the actor's state. The actors that keep time (the
// group's watchdogs) share CAF's workers with the roles, so a role that waited on the loop would
// delay them; this way no worker ever waits.

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "actors/runtime/io_runtime.hpp"
#include "actors/runtime/loop_reply.hpp"

namespace baton::node {

/// Runs `work()` on `io`'s loop thread, then `then(result)` (or `then()` when work returns void) in
/// `self`'s context. `work` must capture only what the loop thread may touch (stages, copies) and
/// must not throw; `then` may capture `self`'s state through `self`. If the actor is gone when the
/// result arrives, `then` is not run. Returns at once.
///
/// `io` is the packet loop (io_runtime) or any other thread an actor hands work to that has
/// post(std::function<void()>) (the PEP's engine, the rim's service).
template <class Self, class Runner, class Work, class Then>
void on_loop(Self* self, Runner& io, Work work, Then then) {
  auto me = caf::actor_cast<caf::actor>(self);
  auto w = std::make_shared<Work>(std::move(work));
  auto t = std::make_shared<Then>(std::move(then));
  io.post([me, w, t] {
    if constexpr (std::is_void_v<decltype((*w)())>) {
      (*w)();
      caf::anon_send(me, loop_atom::value, loop_reply{[t] { (*t)(); }});
    } else {
      auto result = std::make_shared<decltype((*w)())>((*w)());
      caf::anon_send(me, loop_atom::value, loop_reply{[t, result] { (*t)(std::move(*result)); }});
    }
  });
}

}  // namespace baton::node
