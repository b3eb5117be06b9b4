// libFuzzer target: the SLR flow advertisement (net/packet/flow_advert), which an SLR reads out of
// any ICMP echo or echo reply routed towards a virtual host, so from anyone on the Internet. An
// accepted advertisement written back with build_flow_advert must parse to the same fields.
#include <array>
#include <cstddef>
#include <cstdint>

#include "net/packet/flow_advert.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace baton::net;
  flow_advert a;
  a.client_port = 0x5a5a;  // a marker: any status but ok leaves `a` as it was
  const parse_status s = parse_flow_advert(bytes_view(data, size), a);
  if (static_cast<std::size_t>(s) >= parse_status_count) __builtin_trap();
  if (s != parse_status::ok) {
    if (a != flow_advert{[] { flow_advert m; m.client_port = 0x5a5a; return m; }()}) __builtin_trap();
    return 0;
  }
  if (size < flow_advert_icmp_size || (data[0] != 0 && data[0] != 8) || data[1] != 0) __builtin_trap();
  // Round trip through the writer (identifier and sequence from the input).
  std::array<std::uint8_t, 108> out{};
  if (flow_advert_size() != out.size()) __builtin_trap();
  const std::uint16_t id = static_cast<std::uint16_t>(data[4] << 8 | data[5]);
  const std::uint16_t seq = static_cast<std::uint16_t>(data[6] << 8 | data[7]);
  if (build_flow_advert(bytes_span(out.data(), out.size()), a, id, seq) != edit_status::ok) __builtin_trap();
  if (build_flow_advert(bytes_span(out.data(), out.size() - 1), a, id, seq) != edit_status::no_room)
    __builtin_trap();
  flow_advert b;
  if (parse_flow_advert(bytes_view(out.data() + 20, out.size() - 20), b) != parse_status::ok || b != a)
    __builtin_trap();
  return 0;
}
