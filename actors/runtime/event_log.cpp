#include "actors/runtime/event_log.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>

namespace baton::node {

const char* to_string(severity s) noexcept {
  switch (s) {
    case severity::debug: return "debug";
    case severity::info: return "info";
    case severity::warning: return "warning";
    case severity::error: return "error";
  }
  return "info";
}

event_log::event_log(std::size_t capacity, bool echo) : capacity_(capacity), echo_(echo) {}

void event_log::add(severity level, std::string name,
                    std::vector<std::pair<std::string, std::string>> fields) {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  nlohmann::json j;
  j["ts_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  j["level"] = to_string(level);
  j["event"] = name;
  for (auto& [k, v] : fields) j[k] = std::move(v);
  std::lock_guard<std::mutex> guard{mutex_};
  j["seq"] = next_seq_;
  auto line = j.dump();
  if (echo_ && level >= echo_level_) std::fprintf(stderr, "%s\n", line.c_str());
  entries_.push_back({next_seq_++, std::move(line)});
  if (entries_.size() > capacity_) entries_.pop_front();
  for (auto& [n, c] : counts_)
    if (n == name) {
      ++c;
      return;
    }
  counts_.emplace_back(std::move(name), 1);
}

std::string event_log::json(std::uint64_t after) const {
  std::string out = "[";
  std::lock_guard<std::mutex> guard{mutex_};
  bool first = true;
  for (auto& e : entries_) {
    if (e.seq <= after) continue;
    if (!first) out += ',';
    out += e.line;
    first = false;
  }
  out += ']';
  return out;
}

std::uint64_t event_log::count(const std::string& name) const {
  std::lock_guard<std::mutex> guard{mutex_};
  for (auto& [n, c] : counts_)
    if (n == name) return c;
  return 0;
}

void event_log::set_echo_level(severity level) {
  std::lock_guard<std::mutex> guard{mutex_};
  echo_level_ = level;
}

}  // namespace baton::node
