#pragma once
// Counters declared once (STYLE habit 13; Envoy's ALL_TCP_PROXY_STATS(COUNTER, GAUGE)): a counter
// set is one X-macro list next to the struct that holds it, each entry its name and one line of
// help, and everything else is generated from that list: the plain copy struct, its live atomic
// twin and the copy between them, and for_each(), through which the console lists every counter
// in /counters (JSON) and /metrics (Prometheus) with no per-counter line anywhere. CAF-free and
// JSON-free: rendering happens at the console (actors/console/status_render.hpp).
//
// A list takes two macro arguments, one for counters (only grow) and one for gauges (a level):
//
//   #define BATON_EXAMPLE_COUNTERS(COUNTER, GAUGE)  (a backslash ends each line)
//     COUNTER(sent, "datagrams sent")
//     GAUGE(queued, "datagrams waiting now")
//   BATON_COUNTER_STRUCT(example_counters, BATON_EXAMPLE_COUNTERS)        // the copy
//   BATON_LIVE_COUNTER_STRUCT(example_live, example_counters, BATON_EXAMPLE_COUNTERS)
//
// Names must be valid C++ identifiers and valid in a Prometheus metric name; they are the JSON
// keys. Help is free text, one line.

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace baton::net {

enum class counter_kind : std::uint8_t {
  counter,  // only grows (Prometheus counter, "_total")
  gauge,    // a level that goes up and down
};

/// One counter as for_each() hands it out: name and help point to the list's string literals.
struct counter_value {
  const char* name = "";
  const char* help = "";
  counter_kind kind = counter_kind::counter;
  std::uint64_t value = 0;
};

}  // namespace baton::net

// The pieces a list is expanded with.
#define BATON_COUNTER_FIELD(name, help) std::uint64_t name = 0;
#define BATON_COUNTER_ATOMIC(name, help) std::atomic<std::uint64_t> name{0};
#define BATON_COUNTER_LOAD(name, help) out.name = name.load(std::memory_order_relaxed);
#define BATON_COUNTER_VISIT_COUNTER(name, help) \
  f(::baton::net::counter_value{#name, help, ::baton::net::counter_kind::counter, name});
#define BATON_COUNTER_VISIT_GAUGE(name, help) \
  f(::baton::net::counter_value{#name, help, ::baton::net::counter_kind::gauge, name});
#define BATON_COUNTER_ONE(name, help) +1

/// Inside a struct: one std::uint64_t per entry of LIST, and
///   template <class F> void for_each(F&& f) const   // f(counter_value) per entry, in list order
///   static constexpr std::size_t counter_count       // entries in LIST
#define BATON_COUNTER_MEMBERS(LIST)                                          \
  LIST(BATON_COUNTER_FIELD, BATON_COUNTER_FIELD)                             \
  [[maybe_unused]] static constexpr std::size_t counter_count = 0 LIST(BATON_COUNTER_ONE, BATON_COUNTER_ONE); \
  template <class F>                                                         \
  void for_each(F&& f) const {                                               \
    LIST(BATON_COUNTER_VISIT_COUNTER, BATON_COUNTER_VISIT_GAUGE)             \
  }

/// A plain copy struct holding exactly LIST.
#define BATON_COUNTER_STRUCT(Struct, LIST) \
  struct Struct {                          \
    BATON_COUNTER_MEMBERS(LIST)            \
  };

/// The live twin of Copy: one std::atomic<std::uint64_t> per entry (written by one thread, read
/// relaxed by any), and Copy snapshot() const, each counter read once.
#define BATON_LIVE_COUNTER_STRUCT(Struct, Copy, LIST) \
  struct Struct {                                     \
    LIST(BATON_COUNTER_ATOMIC, BATON_COUNTER_ATOMIC)  \
    Copy snapshot() const noexcept {                  \
      Copy out;                                       \
      LIST(BATON_COUNTER_LOAD, BATON_COUNTER_LOAD)    \
      return out;                                     \
    }                                                 \
  };
