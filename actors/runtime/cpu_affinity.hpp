#pragma once
// Where the daemon's threads run. The control plane (CAF's workers, clock and I/O thread, the
// group's own thread, the console) is pinned to one CPU; the threads that carry traffic (the
// packet loop, the PEP's and the rim's relays) keep every CPU the process may use.
//
// Why: an idle node's cost is its wake-ups (issue 15). One control-plane thread wakes another a
// few hundred times a second (a keepalive goes I/O thread -> group thread, a timer clock -> group
// thread), and the kernel likes to wake a thread on an idle CPU; on a virtual machine waking a
// halted virtual CPU is the most expensive thing the idle daemon does. Pinned to one CPU, the same
// wake-ups cost a third to a half as much (README, idle CPU).

#include <functional>
#include <string>

namespace baton::node {

/// What --control-cpu asks for: "auto" (the first CPU the process may use), "off", or a CPU number.
struct control_cpu_choice {
  bool pin = true;
  int cpu = -1;  // -1: the first CPU of the process's allowed set
};

/// Parses --control-cpu's text. Throws std::invalid_argument with the reason.
control_cpu_choice parse_control_cpu(const std::string& text);

/// Pins the calling thread, and so every thread it starts later, to one CPU of the process's
/// allowed set, and remembers that set for start_data_path_thread. Call it before any thread
/// starts. Returns the CPU chosen, or -1 when nothing was pinned (off, or the allowed set has one
/// CPU). Throws std::runtime_error when the CPU asked for is not in the allowed set.
int pin_control_plane(const control_cpu_choice& choice);

/// Runs `start`, which starts a thread that carries traffic, with the caller's affinity widened to
/// the process's allowed set, so the new thread inherits the whole set; then restores the caller's.
/// Without a pin it only runs `start`. Exceptions from `start` pass through (the caller's affinity
/// is restored first).
void start_data_path_thread(const std::function<void()>& start);

}  // namespace baton::node
