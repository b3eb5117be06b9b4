// libFuzzer target: the console client's HTTP response parser (batonctl, and batond's /peer
// reading a peer's console). Anything that is not a response must be refused with
// http_client_error; any other exception or a crash is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "actors/console/http_client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace baton::console;
  try {
    const http_reply r = parse_http_reply(std::string_view(reinterpret_cast<const char*>(data), size));
    if (r.status < 100 || r.status > 999 || r.body.size() > size) __builtin_trap();
  } catch (const http_client_error&) {
  }
  return 0;
}
