#pragma once
// ARP for IPv4 over Ethernet (RFC 826; announcements as RFC 5227 calls them): a view over an ARP
// packet and writers of the frames a cluster master sends (document 004: "the MAC address of the
// master is bound to the cluster IP address (using the ARP protocol)", and a new master "sends
// broadcast ARP responses to tell anyone on the network what Ethernet address to use for the
// cluster IP address").
//
// Only the Ethernet/IPv4 form is understood (hardware type 1, protocol type 0x0800, lengths 6
// and 4, operation request or reply); anything else parses as unsupported.

#include <array>
#include <cstddef>
#include <cstdint>

#include "net/packet/bytes.hpp"
#include "net/packet/ethernet.hpp"
#include "net/packet/parse_status.hpp"

namespace baton::net {

inline constexpr std::size_t arp_ipv4_length = 28;        // the ARP packet, Ethernet/IPv4 form
inline constexpr std::size_t arp_frame_length = 42;       // untagged Ethernet header + ARP
inline constexpr std::size_t ethernet_min_frame_length = 60;  // without FCS; shorter is padded
inline constexpr std::uint16_t arp_hardware_ethernet = 1;  // ar$hrd (IANA hardware type 1)
inline constexpr std::uint16_t arp_op_request = 1;         // ares_op$REQUEST
inline constexpr std::uint16_t arp_op_reply = 2;           // ares_op$REPLY

inline constexpr mac_address broadcast_mac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/// The fields of one Ethernet/IPv4 ARP packet. Addresses in host order.
struct arp_message {
  std::uint16_t operation = arp_op_request;
  mac_address sender_mac{};  // ar$sha
  std::uint32_t sender_ip = 0;  // ar$spa
  mac_address target_mac{};  // ar$tha (zero in a request)
  std::uint32_t target_ip = 0;  // ar$tpa
};

/// Read-only view of an ARP packet (the Ethernet payload). Build it empty and call parse(); the
/// accessors are meaningful only after parse() returned ok.
class arp_view {
 public:
  /// Returns ok for an Ethernet/IPv4 request or reply; truncated when fewer than 28 bytes (or
  /// fewer than the declared address lengths need); unsupported for another hardware or protocol
  /// type, other address lengths, or another operation (RARP, InARP). Trailing link padding is
  /// allowed. The view keeps a pointer into `packet`; the bytes must outlive it.
  parse_status parse(bytes_view packet) noexcept;

  std::uint16_t operation() const noexcept { return message_.operation; }
  const mac_address& sender_mac() const noexcept { return message_.sender_mac; }
  std::uint32_t sender_ip() const noexcept { return message_.sender_ip; }
  const mac_address& target_mac() const noexcept { return message_.target_mac; }
  std::uint32_t target_ip() const noexcept { return message_.target_ip; }
  /// A gratuitous ARP (announcement): sender and target protocol address are the same.
  bool gratuitous() const noexcept { return message_.sender_ip == message_.target_ip; }
  /// An address probe (RFC 5227): a request with sender address 0.
  bool probe() const noexcept { return message_.operation == arp_op_request && message_.sender_ip == 0; }
  const arp_message& message() const noexcept { return message_; }

 private:
  arp_message message_;
};

/// Parses a whole Ethernet frame carrying ARP (VLAN tags skipped). Returns ok when the frame is
/// ARP and the ARP packet parsed; unsupported when the frame is not ARP; otherwise the first
/// failing status. `eth` and `arp` are filled as far as parsing got.
parse_status parse_arp_frame(bytes_view frame, ethernet_view& eth, arp_view& arp) noexcept;

/// A request "who has `target_ip`? tell `sender_ip`" from `sender_mac`. A sender_ip of 0 makes
/// it a probe.
arp_message arp_request(const mac_address& sender_mac, std::uint32_t sender_ip,
                        std::uint32_t target_ip) noexcept;
/// The reply to `request` saying `request.target_ip` is at `answer_mac`, addressed to the asker.
arp_message arp_reply(const arp_view& request, const mac_address& answer_mac) noexcept;
/// An announcement that `ip` is at `mac` (sender and target address both `ip`): as a reply
/// (target MAC = `mac`, what Linux and most stacks act on for an existing entry) or, with
/// `operation` = arp_op_request, as an RFC 5227 announcement (target MAC zero).
arp_message gratuitous_arp(const mac_address& mac, std::uint32_t ip,
                           std::uint16_t operation = arp_op_reply) noexcept;

/// Writes an untagged Ethernet frame from `eth_src` to `eth_dst` carrying `m`, zero-padded to
/// the 60-byte minimum. Returns the frame length (60), or 0 (nothing written) when `out` is
/// smaller than that. The Ethernet source and the ARP sender MAC may differ: a member announcing
/// a cluster MAC sends from its own MAC, so learning switches never bind the cluster MAC to it.
std::size_t write_arp_frame(bytes_span out, const mac_address& eth_dst, const mac_address& eth_src,
                            const arp_message& m) noexcept;

}  // namespace baton::net
