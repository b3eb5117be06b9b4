// libFuzzer target: icmp_view and the quoted datagram of ICMP errors.
#include <cstddef>
#include <cstdint>

#include "net/packet/icmp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace baton::net;
  const icmp_view icmp(bytes_view(data, size));
  if (icmp.validate() != parse_status::ok) return 0;
  volatile std::uint32_t sink = icmp.type() + icmp.code() + icmp.identifier() + icmp.sequence() +
                                icmp.next_hop_mtu() + icmp.gateway() + icmp.pointer() +
                                icmp.checksum_ok() + icmp.is_error();
  icmp_quoted q;
  if (icmp.quoted(q) == parse_status::ok) {
    sink = sink + q.ip.src() + q.ip.dst() + q.ip.protocol() + q.ip.checksum_ok() +
           q.src_port + q.dst_port + q.tcp_seq + q.transport.size;
    if (q.transport.data && q.transport.data + q.transport.size > data + size) __builtin_trap();
  }
  (void)sink;
  return 0;
}
