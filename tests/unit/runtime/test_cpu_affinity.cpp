#include <doctest/doctest.h>

#include <pthread.h>
#include <sched.h>

#include <stdexcept>
#include <string>
#include <thread>

#include "actors/runtime/cpu_affinity.hpp"

using baton::node::control_cpu_choice;
using baton::node::parse_control_cpu;

namespace {

cpu_set_t affinity_of_this_thread() {
  cpu_set_t s;
  CPU_ZERO(&s);
  CHECK(pthread_getaffinity_np(pthread_self(), sizeof s, &s) == 0);
  return s;
}

}  // namespace

TEST_CASE("--control-cpu's text") {
  struct row {
    const char* text;
    bool ok;
    bool pin;
    int cpu;
  };
  const row rows[] = {
    {"auto", true, true, -1},
    {"off", true, false, -1},
    {"0", true, true, 0},
    {"3", true, true, 3},
    {"-1", false, false, 0},
    {"1x", false, false, 0},
    {"", false, false, 0},
    {"99999", false, false, 0},
    {"any", false, false, 0},
  };
  for (const row& r : rows) {
    CAPTURE(r.text);
    if (!r.ok) {
      CHECK_THROWS_AS(parse_control_cpu(r.text), std::invalid_argument);
      continue;
    }
    const control_cpu_choice c = parse_control_cpu(r.text);
    CHECK(c.pin == r.pin);
    CHECK(c.cpu == r.cpu);
  }
}

TEST_CASE("the control plane is pinned to one CPU; a data-path thread keeps them all") {
  // In a thread of its own, so the test runner's thread keeps its affinity. No REQUIRE in it: an
  // assertion that throws would end the process.
  std::thread([] {
    const cpu_set_t all = affinity_of_this_thread();
    if (CPU_COUNT(&all) < 2) {
      CHECK(baton::node::pin_control_plane({true, -1}) == -1);  // nothing to choose
      return;
    }
    CHECK(baton::node::pin_control_plane({false, -1}) == -1);  // off: nothing pinned
    const cpu_set_t unpinned = affinity_of_this_thread();
    CHECK(CPU_EQUAL(&all, &unpinned));
    CHECK_THROWS_AS(baton::node::pin_control_plane({true, CPU_SETSIZE - 1}), std::runtime_error);

    const int cpu = baton::node::pin_control_plane({true, -1});
    CHECK(cpu >= 0);
    if (cpu < 0) return;  // no assertion may throw out of this thread
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    const cpu_set_t pinned = affinity_of_this_thread();
    CHECK(CPU_EQUAL(&one, &pinned));

    cpu_set_t control{}, data{};
    std::thread([&] { control = affinity_of_this_thread(); }).join();  // inherits the pin
    std::thread data_thread;
    baton::node::start_data_path_thread(
        [&] { data_thread = std::thread([&] { data = affinity_of_this_thread(); }); });
    data_thread.join();
    CHECK(CPU_EQUAL(&one, &control));
    CHECK(CPU_EQUAL(&all, &data));
    const cpu_set_t after = affinity_of_this_thread();
    CHECK(CPU_EQUAL(&one, &after));  // the caller's pin is back
  }).join();
}
