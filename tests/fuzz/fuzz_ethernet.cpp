// libFuzzer target: ethernet_view over arbitrary frames, then the IPv4 layer inside.
#include <cstddef>
#include <cstdint>

#include "net/packet/ethernet.hpp"
#include "net/packet/packet_fields.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace baton::net;
  ethernet_view eth;
  const parse_status s = eth.parse(bytes_view(data, size));
  volatile std::uint32_t sink = eth.ethertype() + eth.vlan_id() + eth.vlan_pcp() +
                                eth.dst()[0] + eth.src()[5];
  if (s == parse_status::ok) {
    if (eth.header_length() > size) __builtin_trap();
    packet_fields f;
    sink = sink + static_cast<std::uint32_t>(parse_fields(eth.payload(), f)) + f.src;
  }
  (void)sink;
  return 0;
}
