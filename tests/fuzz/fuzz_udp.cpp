// libFuzzer target: udp_view validation and accessors.
#include <cstddef>
#include <cstdint>

#include "net/packet/udp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace baton::net;
  const udp_view udp(bytes_view(data, size));
  volatile std::uint32_t sink = 0;
  if (udp.validate_header() == parse_status::ok)
    sink = sink + udp.src_port() + udp.dst_port() + udp.length() + udp.checksum();
  if (udp.validate() == parse_status::ok) {
    const bytes_view p = udp.payload();
    if (p.size + 8 != udp.length()) __builtin_trap();
    for (std::size_t i = 0; i < p.size; ++i) sink = sink + p.data[i];
  }
  (void)sink;
  return 0;
}
