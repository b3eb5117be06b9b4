#include "net/packet/ethernet.hpp"

#include <cstring>

namespace baton::net {

parse_status ethernet_view::parse(bytes_view frame) noexcept {
  *this = ethernet_view{};
  frame_ = frame;
  if (frame.size < ethernet_header_length) return parse_status::truncated;
  std::size_t off = 12;
  std::uint16_t type = load_be16(frame.data + off);
  while (type == ethertype_vlan || type == ethertype_qinq) {
    if (vlan_count_ == ethernet_max_vlan_tags) {
      header_length_ = off + 2;
      ethertype_ = type;
      return parse_status::unsupported;
    }
    if (frame.size < off + 2 + ethernet_vlan_tag_length) return parse_status::truncated;
    if (vlan_count_ == 0) tci_ = load_be16(frame.data + off + 2);
    ++vlan_count_;
    off += ethernet_vlan_tag_length;
    type = load_be16(frame.data + off);
  }
  ethertype_ = type;
  header_length_ = off + 2;
  return type == ethertype_ipv4 ? parse_status::ok : parse_status::unsupported;
}

mac_address ethernet_view::dst() const noexcept {
  mac_address m{};
  if (frame_.size >= 6) std::memcpy(m.data(), frame_.data, 6);
  return m;
}

mac_address ethernet_view::src() const noexcept {
  mac_address m{};
  if (frame_.size >= 12) std::memcpy(m.data(), frame_.data + 6, 6);
  return m;
}

}  // namespace baton::net
