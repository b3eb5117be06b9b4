// libFuzzer target: the console's HTTP request-head parser (actors/console/http_parse), which
// reads bytes from whoever reaches the console address. An accepted head must be well formed.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "actors/console/http_parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace baton::console;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  http_request req;
  head_info info;
  const head_verdict v = parse_request_head(bytes, 100, req, info);
  if (v.ok()) {
    if (req.method.empty() || req.path.empty() || req.path[0] != '/') __builtin_trap();
    if (req.headers.size() > 100) __builtin_trap();
    for (const auto& [name, value] : req.headers)
      if (name != lower(name) || value != trim(value)) __builtin_trap();
  } else if (v.status < 400 || v.status > 599 || v.reason.empty()) {
    __builtin_trap();
  }
  // The query and percent decoders on their own, as the server calls them on a target.
  if (auto q = parse_query(bytes)) (void)q->size();
  // Decoding never grows the text and never makes a NUL out of an escape (a literal one stays).
  if (auto d = percent_decode(bytes, true))
    if (d->size() > size ||
        (bytes.find('\0') == std::string_view::npos && d->find('\0') != std::string::npos))
      __builtin_trap();
  return 0;
}
