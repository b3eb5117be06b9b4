// libFuzzer target: the group substrate's messages (actors/protocol/group.hpp) as a node decodes
// them from a peer's link, fed to a group_member (the whole protocol: election, membership,
// keepalives, work units, replication) as a joining node, as a client, or as a master.
//
// Input: byte 0 picks the starting phase; then records, read by the same deserializer: a byte
// choosing the sender (one of three peers, an unknown node, or node 0), a byte choosing the
// message type, the message as CAF encodes it, a byte of time to let pass. Decoded messages
// must re-encode identically. The state portions a take-over hands to a role go to the SLR's
// blob reader, as the hot spare's SLR does with them.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <variant>

#include "actors/group/group_member.hpp"
#include "actors/protocol/group.hpp"
#include "actors/slr/flow_record.hpp"
#include "tests/fuzz/wire.hpp"

namespace {

using namespace baton::group;
using baton::fuzz::check_round_trip;
using baton::fuzz::decode;

template <class T>
bool read_message(caf::binary_deserializer& src, message& out) {
  T x{};
  if (!decode(src, x)) return false;
  check_round_trip(x);
  out = std::move(x);
  return true;
}

bool read_any(caf::binary_deserializer& src, std::uint8_t type, message& out) {
  switch (type % std::variant_size_v<message>) {
    case 0: return read_message<join_request>(src, out);
    case 1: return read_message<join_reply>(src, out);
    case 2: return read_message<exit_request>(src, out);
    case 3: return read_message<master_offer>(src, out);
    case 4: return read_message<other_master_exists>(src, out);
    case 5: return read_message<master_keepalive>(src, out);
    case 6: return read_message<client_keepalive>(src, out);
    case 7: return read_message<work_assign>(src, out);
    case 8: return read_message<work_assign_ack>(src, out);
    case 9: return read_message<work_deassign>(src, out);
    case 10: return read_message<work_deassign_done>(src, out);
    case 11: return read_message<state_delta>(src, out);
    case 12: return read_message<state_ack>(src, out);
    default: return read_message<state_handover>(src, out);
  }
}

constexpr node_id self_id = 0x0a000001;  // 10.0.0.1
constexpr node_id peers[] = {0x0a000002, 0x0a000003, 0x0a000004, 0x0a0000ff /* unknown */, 0};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  group_config cfg;
  cfg.peers = {peers[0], peers[1], peers[2]};
  cfg.work_units = 8;  // small, so unit numbers >= N are easy to reach
  group_member m(self_id, "m1", cfg);
  time_ms now{1000};
  m.start(now);
  const std::uint8_t phase = data[0] % 3;  // 0 joining, 1 master, 2 client of peers[0]
  if (phase == 1)
    for (int i = 0; i < 10 && !m.is_master(); ++i) m.on_tick(now += time_ms{100});
  if (phase == 2) {
    join_reply ok;
    ok.result = join_result::ok;
    m.on_message(peers[0], ok, now);
  }
  baton::slr::flow_records records(64);
  caf::binary_deserializer src{nullptr, reinterpret_cast<const char*>(data + 1), size - 1};
  for (int n = 0; n < 64; ++n) {
    std::uint8_t from = 0, type = 0, wait = 0;
    message msg;
    if (!decode(src, from) || !decode(src, type) || !read_any(src, type, msg)) break;
    (void)message_name(msg);
    m.on_message(peers[from % std::size(peers)], msg, now);
    (void)decode(src, wait);
    m.on_tick(now += time_ms{wait});
    (void)m.take_outbox();
    for (auto& e : m.take_events())
      if (auto* t = std::get_if<take_over_unit>(&e))
        for (auto& p : t->portions) {
          (void)portion_name(p.kind);
          (void)baton::slr::apply_records_blob(p.data, records, std::chrono::steady_clock::time_point{});
        }
  }
  (void)m.members();
  (void)m.owned_units();
  return 0;
}
