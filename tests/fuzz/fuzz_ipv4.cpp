// libFuzzer target: ipv4_view validation, every accessor, the option walk, and the setters and
// checksum helpers on a writable copy.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/packet/checksum.hpp"
#include "net/packet/ipv4.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace baton::net;
  const ipv4_view ip(bytes_view(data, size));
  volatile std::uint64_t sink = 0;
  if (ip.validate_header() == parse_status::ok) {
    sink = sink + ip.src() + ip.dst() + ip.ttl() + ip.tos() + ip.identification() +
           ip.fragment_offset() + ip.options().size + ip.checksum_ok();
  }
  if (ip.validate() != parse_status::ok) return 0;
  if (ip.payload().size + ip.header_length() != ip.total_length()) __builtin_trap();
  sink = sink + ip.payload().size + ip.is_fragment() + ip.is_first_fragment();

  std::vector<std::uint8_t> copy(data, data + size);
  ipv4_mutable_view w{bytes_span(copy)};
  const bool was_ok = w.checksum_ok();
  w.set_ttl(static_cast<std::uint8_t>(w.ttl() - 1));
  w.set_src(w.src() ^ 0x01020304u);
  w.set_dst(w.dst() + 1);
  // RFC 1624: a right checksum stays right after incremental updates.
  if (was_ok && !w.checksum_ok()) __builtin_trap();
  sink = sink + static_cast<std::uint32_t>(verify_l4_checksum(bytes_view(copy))) +
         static_cast<std::uint32_t>(finish_l4_checksum(bytes_span(copy)));
  if (finish_l4_checksum(bytes_span(copy)) == parse_status::ok &&
      verify_l4_checksum(bytes_view(copy)) != parse_status::ok)
    __builtin_trap();
  (void)sink;
  return 0;
}
