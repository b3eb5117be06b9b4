// What the master answers (net/cluster/arp_speaker.hpp, answer_for): table-driven over the
// ARP packets a segment carries.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "net/cluster/arp_speaker.hpp"
#include "tests/unit/io/test_packets.hpp"

using namespace baton::net;
using baton::net::answer_for;
using baton::net::test::ip4;

TEST_CASE("arp speaker: the master answers requests for the cluster address only") {
  const mac_address asker{0x02, 0, 0, 0, 0, 0x02};
  const mac_address master_mac{0x02, 0, 0, 0, 0, 0x0b};
  const std::uint32_t vip = ip4(10, 40, 0, 100);
  struct row {
    const char* name;
    arp_message packet;
    std::uint32_t cluster_ip;
    bool answered;
  };
  const row rows[] = {
      {"who has the cluster IP", arp_request(asker, ip4(10, 40, 0, 2), vip), vip, true},
      {"a probe for the cluster IP (sender 0)", arp_request(asker, 0, vip), vip, true},
      {"who has another address", arp_request(asker, ip4(10, 40, 0, 2), ip4(10, 40, 0, 12)), vip, false},
      {"a reply", arp_reply([&] {
                    arp_view v;
                    std::vector<std::uint8_t> f(60);
                    write_arp_frame(bytes_span(f.data(), f.size()), broadcast_mac, asker,
                                    arp_request(asker, ip4(10, 40, 0, 2), vip));
                    ethernet_view e;
                    parse_arp_frame(bytes_view(f), e, v);
                    return v;
                  }(), asker), vip, false},
      {"someone else's announcement of the cluster IP", gratuitous_arp(asker, vip, arp_op_request), vip, false},
      {"no cluster address on this segment", arp_request(asker, ip4(10, 40, 0, 2), vip), 0, false},
  };
  for (const auto& r : rows) {
    CAPTURE(std::string(r.name));
    std::vector<std::uint8_t> frame(60);
    REQUIRE(write_arp_frame(bytes_span(frame.data(), frame.size()), broadcast_mac, asker, r.packet) == 60);
    ethernet_view eth;
    arp_view arp;
    REQUIRE(parse_arp_frame(bytes_view(frame), eth, arp) == parse_status::ok);
    auto a = answer_for(arp, r.cluster_ip, master_mac);
    REQUIRE(a.has_value() == r.answered);
    if (!a) continue;
    CHECK(a->operation == arp_op_reply);
    CHECK(a->sender_mac == master_mac);
    CHECK(a->sender_ip == vip);
    CHECK(a->target_mac == asker);
    CHECK(a->target_ip == r.packet.sender_ip);
  }
}
