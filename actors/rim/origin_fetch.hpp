#pragma once
// Fetches byte ranges of objects from the rim's origin (document 000's host "D") with Asio's
// asynchronous sockets on the service's io_context: the service thread never waits on the
// network. One TCP connection per range ("Connection: close"): simple, and a chunk (1 MiB by
// default) makes its set-up small beside the transfer.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "actors/rim/chunk_cache.hpp"
#include "actors/rim/origin_range.hpp"
#include "policy/origin_url.hpp"

namespace asio {
class io_context;
}

namespace baton::rim {

/// The outcome of one range request. `data` holds exactly `asked`'s bytes (clipped to the
/// object's end) when verdict is ok.
struct fetch_result {
  origin_verdict verdict = origin_verdict::failed;
  std::uint64_t total = 0;     // the object's size, when ok
  chunk_ptr data;              // when ok
  std::uint64_t received = 0;  // body bytes that came, whatever the verdict
  bool changed = false;        // the object's size at the origin is not the one known
  int status = 0;              // the HTTP status answered; 0 when none came (unreachable, silent)
  std::string why;             // when not ok: names the object, the range and the fault
};

class origin_fetcher {
 public:
  /// Requests go to `at`; one silent for `timeout_ms` (connect, or between two reads) fails.
  /// `io` must outlive the fetcher and run on one thread, the one that calls fetch().
  origin_fetcher(asio::io_context& io, const policy::http_origin& at, std::uint32_t timeout_ms);
  ~origin_fetcher();
  origin_fetcher(const origin_fetcher&) = delete;
  origin_fetcher& operator=(const origin_fetcher&) = delete;

  /// GETs `asked` of `object` (at the origin's prefix + object) and calls `done` exactly once, on
  /// the io_context's thread, never from inside fetch(). `known`: the size the rim already serves
  /// the object at (check_range_answer). A stopped io_context drops `done` uncalled.
  void fetch(const std::string& object, const byte_range& asked, std::optional<std::uint64_t> known,
             std::function<void(fetch_result)> done);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace baton::rim
