#include "actors/runtime/cpu_affinity.hpp"

#include <pthread.h>
#include <sched.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace baton::node {

namespace {

// Set once by pin_control_plane before other threads exist; read-only afterwards.
bool pinned = false;
cpu_set_t allowed;

}  // namespace

control_cpu_choice parse_control_cpu(const std::string& text) {
  if (text == "auto") return {true, -1};
  if (text == "off") return {false, -1};
  std::size_t used = 0;
  int cpu = -1;
  try {
    cpu = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || cpu < 0 || cpu >= CPU_SETSIZE)
    throw std::invalid_argument("--control-cpu: \"" + text + "\" is not auto, off or a CPU number");
  return {true, cpu};
}

int pin_control_plane(const control_cpu_choice& choice) {
  if (!choice.pin) return -1;
  cpu_set_t mine;
  CPU_ZERO(&mine);
  if (int e = pthread_getaffinity_np(pthread_self(), sizeof mine, &mine); e != 0)
    throw std::runtime_error(std::string("control-plane CPU: pthread_getaffinity_np: ") + std::strerror(e));
  if (CPU_COUNT(&mine) < 2) return -1;  // nothing to choose
  int cpu = choice.cpu;
  if (cpu < 0) {
    // The same CPU for every batond on a machine (the lab, several roles on one host): a message
    // between two of them then wakes its receiver on the CPU it was sent from, not on a halted one.
    for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &mine); ++cpu) {
    }
  } else if (!CPU_ISSET(cpu, &mine)) {
    throw std::runtime_error("--control-cpu " + std::to_string(cpu) +
                             ": not a CPU this process may run on");
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  if (int e = pthread_setaffinity_np(pthread_self(), sizeof one, &one); e != 0)
    throw std::runtime_error(std::string("control-plane CPU: pthread_setaffinity_np: ") + std::strerror(e));
  allowed = mine;
  pinned = true;
  return cpu;
}

void start_data_path_thread(const std::function<void()>& start) {
  if (!pinned) {
    start();
    return;
  }
  // Puts the caller's own affinity back however `start` ends.
  struct restore {
    cpu_set_t mine;
    bool have;
    restore() {
      CPU_ZERO(&mine);
      have = pthread_getaffinity_np(pthread_self(), sizeof mine, &mine) == 0;
    }
    ~restore() {
      if (have) pthread_setaffinity_np(pthread_self(), sizeof mine, &mine);
    }
  } caller;
  // Best effort: if the widening is refused the thread starts pinned, which is slower, not wrong.
  pthread_setaffinity_np(pthread_self(), sizeof allowed, &allowed);
  start();
}

}  // namespace baton::node
