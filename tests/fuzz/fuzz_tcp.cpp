// libFuzzer target: tcp_view, the option walker and the options summary over arbitrary
// segments; then option add/strip and port rewrites on an IPv4 datagram around the segment.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "net/packet/checksum.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/rewrite.hpp"
#include "net/packet/tcp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace baton::net;
  const tcp_view tcp(bytes_view(data, size));
  volatile std::uint64_t sink = 0;
  if (tcp.validate() != parse_status::ok) return 0;
  sink = sink + tcp.src_port() + tcp.dst_port() + tcp.seq() + tcp.ack() + tcp.flags() +
         tcp.window() + tcp.urgent_pointer() + tcp.payload().size;

  tcp_option_walker walker(tcp.options());
  tcp_option opt;
  while (walker.next(opt)) {
    const auto* end = tcp.options().data + tcp.options().size;
    if (opt.value.data + opt.value.size > end || opt.length < 2) __builtin_trap();
    for (std::size_t i = 0; i < opt.value.size; ++i) sink = sink + opt.value.data[i];
  }
  tcp_options_summary s;
  if (summarize_tcp_options(tcp.options(), s) != walker.status()) __builtin_trap();
  if (s.sack_block_count > tcp_max_sack_blocks) __builtin_trap();
  sink = sink + s.mss + s.ts_val + s.sack_block_count;

  // Wrap the segment in a minimal IPv4 header and edit it in place.
  if (size > 0xffff - 20) return 0;
  std::vector<std::uint8_t> pkt(20 + size + 64);
  pkt[0] = 0x45;
  store_be16(pkt.data() + 2, static_cast<std::uint16_t>(20 + size));
  pkt[8] = 64;
  pkt[9] = ip_protocol_tcp;
  store_be32(pkt.data() + 12, 0x0a000001);
  store_be32(pkt.data() + 16, 0x0a000002);
  std::memcpy(pkt.data() + 20, data, size);
  ipv4_mutable_view(bytes_span(pkt.data(), 20 + size)).recompute_checksum();
  finish_l4_checksum(bytes_span(pkt.data(), 20 + size));
  const std::vector<std::uint8_t> original(pkt.begin(), pkt.begin() + 20 + static_cast<long>(size));

  std::size_t len = 20 + size;
  const std::uint8_t tag[] = {253, 3, 1};
  if (tcp_add_option(bytes_span(pkt), len, bytes_view(tag, sizeof tag)) == edit_status::ok) {
    if (verify_l4_checksum(bytes_view(pkt.data(), len)) != parse_status::ok) __builtin_trap();
    if (tcp_strip_option(bytes_span(pkt), len, 253) != edit_status::ok) __builtin_trap();
    // The first 253 may have been one already present; only the untouched case must round-trip.
    if (s.has(253) == false &&
        (len != original.size() || std::memcmp(pkt.data(), original.data(), len) != 0))
      __builtin_trap();
  }
  if (rewrite_destination(bytes_span(pkt.data(), len), 0xc0000201, 8080) == edit_status::ok &&
      verify_l4_checksum(bytes_view(pkt.data(), len)) != parse_status::ok)
    __builtin_trap();
  (void)sink;
  return 0;
}
