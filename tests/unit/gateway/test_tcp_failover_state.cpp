// Figure 7's essential TCP state as the middlebox observes it, segment by segment.

#include <doctest/doctest.h>

#include "net/packet/packet_fields.hpp"
#include "tests/unit/gateway/gateway_rig.hpp"

using namespace baton::net;
using namespace baton::net::test;

namespace {

const std::uint32_t backend = ip4(10, 1, 0, 1);

tcp_spec seg(bool from_client, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
             std::uint16_t window, std::size_t len, std::vector<std::uint8_t> options = {}) {
  tcp_spec s;
  s.src = from_client ? client_ip : backend;
  s.dst = from_client ? vip : client_ip;
  s.sport = from_client ? 40000 : 8080;
  s.dport = from_client ? 80 : 40000;
  s.seq = seq;
  s.ack = ack;
  s.flags = flags;
  s.window = window;
  s.payload = len;
  s.options = std::move(options);
  return s;
}

bool observe(const tcp_spec& s, bool from_client, tcp_initial_state& i, tcp_essential_state& e) {
  const auto p = tcp_datagram(s);
  packet_fields f;
  REQUIRE(parse_fields(bytes_view(p), f) == parse_status::ok);
  return observe_segment(bytes_view(p), f,
                         from_client ? segment_direction::from_client
                                     : segment_direction::from_backend,
                         i, e);
}

}  // namespace

TEST_CASE("tcp failover state: a connection's segments update the essential portion") {
  tcp_initial_state i;
  tcp_essential_state e;
  struct row {
    const char* name;
    bool from_client;
    tcp_spec segment;
    bool changed;
    std::uint32_t rcv_nxt, snd_nxt, snd_wnd, rcv_adv, ts_recent;
  };
  const std::uint8_t syn = tcp_flag_syn, ack = tcp_flag_ack, fin = tcp_flag_fin;
  // Client ISN 0xfffffff0 so receive next wraps past 2^32 on the way.
  const row rows[] = {
    {"client SYN", true, seg(true, 0xfffffff0, 0, syn, 64240, 0, syn_options(1460, 7, 100)), true,
     0xfffffff1, 0, 64240, 0, 100},
    {"backend SYN-ACK", false,
     seg(false, 7000, 0xfffffff1, syn | ack, 65160, 0, syn_options(1400, 9, 500, 100)), true,
     0xfffffff1, 7001, 64240, 0xfffffff1 + 65160, 100},
    {"client ACK with 100 bytes, window 501", true,
     seg(true, 0xfffffff1, 7001, ack, 501, 100, ts_options(101, 500)), true, 0x55, 7001,
     501u << 7, 0xfffffff1 + 65160, 101},
    {"retransmission changes nothing", true,
     seg(true, 0xfffffff1, 7001, ack, 501, 100, ts_options(101, 500)), false, 0x55, 7001,
     501u << 7, 0xfffffff1 + 65160, 101},
    {"older timestamp is not kept (the window-update sequence moves)", true,
     seg(true, 0x55, 7001, ack, 501, 0, ts_options(90, 500)), true, 0x55, 7001, 501u << 7, 0xfffffff1 + 65160, 101},
    {"backend 1000 bytes, window 300", false, seg(false, 7001, 0x55, ack, 300, 1000), true, 0x55,
     8001, 501u << 7, 0x55 + (300u << 9), 101},
    {"client window update", true, seg(true, 0x55, 8001, ack, 800, 0), true, 0x55, 8001,
     800u << 7, 0x55 + (300u << 9), 101},
    {"client FIN takes a sequence number", true, seg(true, 0x55, 8001, fin | ack, 800, 0), true,
     0x56, 8001, 800u << 7, 0x55 + (300u << 9), 101},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK(observe(r.segment, r.from_client, i, e) == r.changed);
    CHECK(e.rcv_nxt == r.rcv_nxt);
    CHECK(e.snd_nxt == r.snd_nxt);
    CHECK(e.snd_wnd == r.snd_wnd);
    CHECK(e.rcv_adv == r.rcv_adv);
    CHECK(e.ts_recent == r.ts_recent);
  }
  CHECK(i.client_mss == 1460);
  CHECK(i.backend_mss == 1400);
  CHECK(i.options_size == 20);
  CHECK(e.snd_scale == 7);
  CHECK(e.rcv_scale == 9);
  CHECK(e.snd_wl1 == 0x55);
  CHECK(e.snd_wl2 == 8001);
  const std::uint8_t all = failover_flag_request_window_scaling |
                           failover_flag_receive_window_scaling | failover_flag_request_timestamp |
                           failover_flag_receive_timestamp | failover_flag_permit_selective_ack;
  CHECK(e.flags == all);
  CHECK(e.valid == (failover_valid_receive | failover_valid_send | failover_valid_timestamp));
}

TEST_CASE("tcp failover state: options decide the flags and whether windows scale") {
  struct row {
    const char* name;
    std::vector<std::uint8_t> client_options, backend_options;
    std::uint8_t flags;
    std::uint32_t snd_wnd_after_100;  // client window 100 after the handshake
  };
  const std::vector<std::uint8_t> mss_only = {2, 4, 5, 0xb4};
  const row rows[] = {
    {"no options at all", {}, {}, failover_flag_no_options, 100},
    {"client offers scaling, backend refuses", syn_options(1460, 7, 1), mss_only,
     failover_flag_receive_window_scaling | failover_flag_receive_timestamp, 100},
    {"both scale", syn_options(1460, 3, 1), syn_options(1460, 2, 1),
     failover_flag_receive_window_scaling | failover_flag_request_window_scaling |
       failover_flag_receive_timestamp | failover_flag_request_timestamp |
       failover_flag_permit_selective_ack,
     800},
    {"a shift above 14 is taken as 14", syn_options(1460, 20, 1), syn_options(1460, 2, 1),
     failover_flag_receive_window_scaling | failover_flag_request_window_scaling |
       failover_flag_receive_timestamp | failover_flag_request_timestamp |
       failover_flag_permit_selective_ack,
     100u << 14},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    tcp_initial_state i;
    tcp_essential_state e;
    observe(seg(true, 1, 0, tcp_flag_syn, 1000, 0, r.client_options), true, i, e);
    observe(seg(false, 9, 2, tcp_flag_syn | tcp_flag_ack, 1000, 0, r.backend_options), false, i, e);
    observe(seg(true, 2, 10, tcp_flag_ack, 100, 0), true, i, e);
    CHECK(e.flags == r.flags);
    CHECK(e.snd_wnd == r.snd_wnd_after_100);
  }
}

TEST_CASE("tcp failover state: a flow picked up mid-stream starts from the first segment seen") {
  tcp_initial_state i;
  tcp_essential_state e;
  CHECK(observe(seg(false, 9000, 400, tcp_flag_ack, 100, 10), false, i, e));
  CHECK(e.valid == failover_valid_send);
  CHECK(e.snd_nxt == 9010);
  CHECK(e.rcv_adv == 500);
  CHECK(observe(seg(true, 400, 9010, tcp_flag_ack, 200, 5), true, i, e));
  CHECK(e.valid == (failover_valid_send | failover_valid_receive));
  CHECK(e.rcv_nxt == 405);
  CHECK(e.snd_wnd == 200);
  // A segment that does not parse changes nothing.
  auto p = tcp_datagram(seg(true, 405, 9010, tcp_flag_ack, 200, 5));
  packet_fields f;
  REQUIRE(parse_fields(bytes_view(p), f) == parse_status::ok);
  f.total_len = static_cast<std::uint16_t>(p.size() + 10);  // claims more than is there
  const tcp_essential_state before = e;
  CHECK_FALSE(observe_segment(bytes_view(p), f, segment_direction::from_client, i, e));
  CHECK(e == before);
}
