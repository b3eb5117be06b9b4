#include "net/packet/ttl.hpp"

#include <algorithm>

#include "net/packet/checksum.hpp"
#include "net/packet/icmp.hpp"
#include "net/packet/ipv4.hpp"

namespace baton::net {

ttl_result decrement_ttl(bytes_span packet) noexcept {
  std::uint8_t* p = packet.data;
  if (p[8] <= 1) return ttl_result::expired;
  // TTL shares its 16-bit word with the protocol.
  const auto before = static_cast<std::uint16_t>(p[8] << 8 | p[9]);
  --p[8];
  const auto after = static_cast<std::uint16_t>(p[8] << 8 | p[9]);
  store_be16(p + 10, checksum_update16(load_be16(p + 10), before, after));
  return ttl_result::decremented;
}

edit_status make_time_exceeded(bytes_span storage, std::size_t offset, std::size_t length, std::uint32_t from,
                               bytes_span& out) noexcept {
  if (offset > storage.size || length > storage.size - offset) return edit_status::malformed;
  const bytes_view dgram(storage.data + offset, length);
  const ipv4_view ip(dgram);
  if (ip.validate_header() != parse_status::ok) return edit_status::malformed;
  if (!ip.is_first_fragment()) return edit_status::unsupported;
  const std::uint32_t to = ip.src();
  if (to == 0 || to == 0xffffffffU || (to >> 28) == 0xe) return edit_status::unsupported;
  const std::size_t header = ip.header_length();
  const std::size_t quote = std::min<std::size_t>(ip.total_length(), header + time_exceeded_quote);
  if (quote > length) return edit_status::malformed;
  if (ip.protocol() == ip_protocol_icmp && quote > header) {
    const std::uint8_t type = dgram.data[header];
    if (type != icmp_echo && type != icmp_echo_reply && type != icmp_timestamp && type != icmp_timestamp_reply)
      return edit_status::unsupported;  // never an error about an error
  }
  constexpr std::size_t added = 20 + icmp_header_length;
  if (offset < added) return edit_status::no_room;
  std::uint8_t* p = storage.data + offset - added;
  const std::size_t total =
    write_icmp_error(p, from, to, icmp_time_exceeded, icmp_ttl_exceeded_in_transit, 0, quote);
  out = bytes_span(p, total);
  return edit_status::ok;
}

}  // namespace baton::net
