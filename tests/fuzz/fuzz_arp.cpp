// libFuzzer target: ARP as the cluster master's ARP speaker reads it off a segment (any host on
// the segment can send it): parse_arp_frame over a whole Ethernet frame, arp_view over the bare
// ARP packet, and the speaker's answer_for on what parsed. An accepted request written back with
// write_arp_frame must parse to the same message.
#include <array>
#include <cstddef>
#include <cstdint>

#include "net/cluster/arp_speaker.hpp"
#include "net/packet/arp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace baton::net;
  const bytes_view frame(data, size);
  ethernet_view eth;
  arp_view arp;
  const parse_status s = parse_arp_frame(frame, eth, arp);
  if (static_cast<std::size_t>(s) >= parse_status_count) __builtin_trap();

  arp_view bare;  // the same bytes as an ARP packet on its own (after the Ethernet header)
  const parse_status b = bare.parse(frame);
  if (b == parse_status::ok && size < arp_ipv4_length) __builtin_trap();

  for (const arp_view* v : {&arp, &bare}) {
    if ((v == &arp ? s : b) != parse_status::ok) continue;
    const arp_message& m = v->message();
    if (m.operation != arp_op_request && m.operation != arp_op_reply) __builtin_trap();
    // Answering: for the asked address, for another one, and with no cluster address.
    const mac_address cluster_mac{0x02, 0, 0, 0, 0, 1};
    for (std::uint32_t ip : {m.target_ip, m.target_ip + 1, 0u}) {
      auto answer = answer_for(*v, ip, cluster_mac);
      if (!answer) continue;
      if (ip == 0 || ip != m.target_ip || m.operation != arp_op_request || answer->operation != arp_op_reply ||
          answer->sender_ip != ip || answer->sender_mac != cluster_mac)
        __builtin_trap();
    }
    // Written back, it parses to the same fields.
    std::array<std::uint8_t, ethernet_min_frame_length> out{};
    if (write_arp_frame(bytes_span(out.data(), out.size()), broadcast_mac, cluster_mac, m) !=
        ethernet_min_frame_length)
      __builtin_trap();
    ethernet_view eth2;
    arp_view again;
    if (parse_arp_frame(bytes_view(out.data(), out.size()), eth2, again) != parse_status::ok) __builtin_trap();
    const arp_message& m2 = again.message();
    if (m2.operation != m.operation || m2.sender_mac != m.sender_mac || m2.sender_ip != m.sender_ip ||
        m2.target_mac != m.target_mac || m2.target_ip != m.target_ip)
      __builtin_trap();
  }
  return 0;
}
