#pragma once
// Structured events: one JSON object a line on stderr, and the most recent ones kept in memory for
// the console's /events. Thread-safe; every actor of a node writes to the same log.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace baton::node {

enum class severity { debug, info, warning, error };

class event_log {
public:
  /// Keeps the last `capacity` events; `echo` writes each event line to stderr as well.
  explicit event_log(std::size_t capacity = 1000, bool echo = true);

  /// Records event `name` (e.g. "peer_refused") with string fields, stamped with wall-clock time
  /// and a sequence number. Field values are JSON-escaped here.
  void add(severity level, std::string name,
           std::vector<std::pair<std::string, std::string>> fields = {});

  /// The retained events with sequence number > `after`, oldest first, as a JSON array text.
  std::string json(std::uint64_t after = 0) const;

  /// Number of events recorded with this name since start (not only the retained ones).
  std::uint64_t count(const std::string& name) const;

  /// Minimum severity echoed to stderr (events below it are still retained).
  void set_echo_level(severity level);

private:
  struct entry {
    std::uint64_t seq;
    std::string line;  // the JSON object
  };
  mutable std::mutex mutex_;
  std::deque<entry> entries_;
  std::vector<std::pair<std::string, std::uint64_t>> counts_;
  std::size_t capacity_;
  std::uint64_t next_seq_ = 1;
  bool echo_;
  severity echo_level_ = severity::info;
};

const char* to_string(severity s) noexcept;

}  // namespace baton::node
