// libFuzzer target: ipip_decapsulate, and encapsulate-then-decapsulate round trips.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "net/packet/ipip.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace baton::net;
  bytes_view inner;
  volatile std::size_t sink = 0;
  if (ipip_decapsulate(bytes_view(data, size), inner) == parse_status::ok) {
    if (inner.data < data || inner.data + inner.size > data + size) __builtin_trap();
    sink = sink + inner.size;
  }
  if (ipip_decapsulate(bytes_view(data, size), inner, false) == parse_status::ok)
    sink = sink + inner.size;

  std::vector<std::uint8_t> buf(ipip_overhead + size);
  std::memcpy(buf.data() + ipip_overhead, data, size);
  ipip_tunnel t;
  t.src = 0x0a000001;
  t.dst = 0x0a000002;
  bytes_span outer;
  if (ipip_encapsulate(bytes_span(buf), ipip_overhead, t, outer) == edit_status::ok) {
    bytes_view back;
    if (ipip_decapsulate(bytes_view(outer), back) != parse_status::ok) __builtin_trap();
    if (back.data != buf.data() + ipip_overhead || std::memcmp(back.data, data, back.size) != 0)
      __builtin_trap();
  }
  (void)sink;
  return 0;
}
