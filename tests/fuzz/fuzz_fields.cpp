// libFuzzer target: parse_fields over arbitrary IPv4 datagrams, and the status names.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "net/packet/packet_fields.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace baton::net;
  packet_fields f;
  const parse_status s = parse_fields(bytes_view(data, size), f);
  if (static_cast<std::size_t>(s) >= parse_status_count) __builtin_trap();
  if (std::strlen(to_string(s)) == 0) __builtin_trap();
  if (s == parse_status::ok) {
    if (f.total_len > size || f.ip_header_len < 20 || f.ip_header_len > f.total_len) __builtin_trap();
    if (f.ip_header_len + f.l4_header_len > f.total_len) __builtin_trap();
    if (!f.first_fragment && (f.src_port || f.dst_port)) __builtin_trap();
  }
  return 0;
}
