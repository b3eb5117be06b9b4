#include "net/packet/arp.hpp"

#include <cstring>

namespace baton::net {

namespace {

constexpr std::uint8_t hardware_length = 6;
constexpr std::uint8_t protocol_length = 4;

mac_address read_mac(const std::uint8_t* p) noexcept {
  mac_address m{};
  std::memcpy(m.data(), p, 6);
  return m;
}

}  // namespace

parse_status arp_view::parse(bytes_view packet) noexcept {
  message_ = arp_message{};
  // The fixed part says how long the addresses are; check it before trusting them.
  if (packet.size < 8) return parse_status::truncated;
  const std::uint8_t* p = packet.data;
  const std::uint16_t hrd = load_be16(p);
  const std::uint16_t pro = load_be16(p + 2);
  const std::uint8_t hln = p[4];
  const std::uint8_t pln = p[5];
  const std::uint16_t op = load_be16(p + 6);
  if (packet.size < 8 + 2 * (std::size_t{hln} + pln)) return parse_status::truncated;
  if (hrd != arp_hardware_ethernet || pro != ethertype_ipv4 || hln != hardware_length ||
      pln != protocol_length || (op != arp_op_request && op != arp_op_reply))
    return parse_status::unsupported;
  message_.operation = op;
  message_.sender_mac = read_mac(p + 8);
  message_.sender_ip = load_be32(p + 14);
  message_.target_mac = read_mac(p + 18);
  message_.target_ip = load_be32(p + 24);
  return parse_status::ok;
}

parse_status parse_arp_frame(bytes_view frame, ethernet_view& eth, arp_view& arp) noexcept {
  const parse_status s = eth.parse(frame);
  if (s == parse_status::truncated) return s;
  // ethernet_view answers unsupported for every EtherType but IPv4, yet fills the header.
  if (eth.ethertype() != ethertype_arp || eth.header_length() == 0) return parse_status::unsupported;
  return arp.parse(eth.payload());
}

arp_message arp_request(const mac_address& sender_mac, std::uint32_t sender_ip,
                        std::uint32_t target_ip) noexcept {
  arp_message m;
  m.operation = arp_op_request;
  m.sender_mac = sender_mac;
  m.sender_ip = sender_ip;
  m.target_ip = target_ip;
  return m;
}

arp_message arp_reply(const arp_view& request, const mac_address& answer_mac) noexcept {
  arp_message m;
  m.operation = arp_op_reply;
  m.sender_mac = answer_mac;
  m.sender_ip = request.target_ip();
  m.target_mac = request.sender_mac();
  m.target_ip = request.sender_ip();
  return m;
}

arp_message gratuitous_arp(const mac_address& mac, std::uint32_t ip,
                           std::uint16_t operation) noexcept {
  arp_message m;
  m.operation = operation;
  m.sender_mac = mac;
  m.sender_ip = ip;
  m.target_ip = ip;
  if (operation == arp_op_reply) m.target_mac = mac;
  return m;
}

std::size_t write_arp_frame(bytes_span out, const mac_address& eth_dst, const mac_address& eth_src,
                            const arp_message& m) noexcept {
  if (out.size < ethernet_min_frame_length) return 0;
  std::uint8_t* p = out.data;
  std::memset(p, 0, ethernet_min_frame_length);
  std::memcpy(p, eth_dst.data(), 6);
  std::memcpy(p + 6, eth_src.data(), 6);
  store_be16(p + 12, ethertype_arp);
  std::uint8_t* a = p + ethernet_header_length;
  store_be16(a, arp_hardware_ethernet);
  store_be16(a + 2, ethertype_ipv4);
  a[4] = hardware_length;
  a[5] = protocol_length;
  store_be16(a + 6, m.operation);
  std::memcpy(a + 8, m.sender_mac.data(), 6);
  store_be32(a + 14, m.sender_ip);
  std::memcpy(a + 18, m.target_mac.data(), 6);
  store_be32(a + 24, m.target_ip);
  return ethernet_min_frame_length;
}

}  // namespace baton::net
