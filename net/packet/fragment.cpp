#include "net/packet/fragment.hpp"

#include <cstring>

#include "net/packet/checksum.hpp"
#include "net/packet/ipv4.hpp"

namespace baton::net {
namespace {

constexpr std::size_t header = 20;  // only option-less datagrams are fragmented here

// Data bytes per fragment but the last: the room after the header, in whole 8-byte units.
std::size_t chunk(std::size_t mtu) noexcept { return (mtu - header) / 8 * 8; }

// Offset (8-byte units), MF, total length and checksum of one fragment's header at `h`.
void finish_header(std::uint8_t* h, std::uint16_t offset_units, bool more, std::size_t total) noexcept {
  const std::uint16_t keep = load_be16(h + 6) & 0x8000;  // the reserved bit; DF is clear here
  store_be16(h + 6, static_cast<std::uint16_t>(keep | (more ? 0x2000 : 0) | offset_units));
  store_be16(h + 2, static_cast<std::uint16_t>(total));
  store_be16(h + 10, 0);
  store_be16(h + 10, internet_checksum(bytes_view(h, header)));
}

}  // namespace

std::size_t ipv4_fragment_count(bytes_view packet, std::size_t mtu) noexcept {
  const ipv4_view ip(packet);
  if (ip.validate() != parse_status::ok || ip.header_length() != header) return 0;
  const std::size_t total = ip.total_length();
  if (total <= mtu) return 1;
  if (ip.dont_fragment() || mtu < 68) return 0;
  const std::size_t data = total - header;
  return (data + chunk(mtu) - 1) / chunk(mtu);
}

std::size_t write_ipv4_fragment(bytes_view packet, std::size_t mtu, std::size_t index, bytes_span out) noexcept {
  const ipv4_view ip(packet);
  const std::size_t data = ip.total_length() - header;
  const std::size_t from = index * chunk(mtu);
  const std::size_t length = data - from < chunk(mtu) ? data - from : chunk(mtu);
  const bool last = from + length == data;
  std::memcpy(out.data, packet.data, header);
  std::memcpy(out.data + header, packet.data + header + from, length);
  // A datagram that was itself a fragment: its offset adds, and its MF stays on its last piece.
  const auto offset = static_cast<std::uint16_t>(ip.fragment_offset() + from / 8);
  finish_header(out.data, offset, !last || ip.more_fragments(), header + length);
  return header + length;
}

std::size_t cut_to_first_ipv4_fragment(bytes_span packet, std::size_t mtu) noexcept {
  const ipv4_view ip(bytes_view(packet.data, packet.size));
  const std::size_t length = header + chunk(mtu);
  finish_header(packet.data, ip.fragment_offset(), true, length);
  return length;
}

}  // namespace baton::net
