// libFuzzer target: the service level routing messages (actors/protocol/slr.hpp) as an SLR
// decodes them from a lower node's or a neighbour's link, and what the SLR does with them
// (actors/slr: the routing table's update and recompute, the flow records, the hot spare's
// record blobs, which arrive as replicated state bytes).
//
// Input: byte 0 picks the routing table's configuration (selection, F, G, a time-of-day rule);
// then records read by one deserializer: a byte choosing the message type, the message as CAF
// encodes it. Decoded messages must re-encode identically.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "actors/protocol/slr.hpp"
#include "actors/slr/flow_record.hpp"
#include "actors/slr/routing.hpp"
#include "tests/fuzz/wire.hpp"

namespace {

using namespace baton;
using baton::fuzz::check_round_trip;
using baton::fuzz::decode;
using clock_type = std::chrono::steady_clock;

template <class T>
bool read(caf::binary_deserializer& src, T& x) {
  if (!decode(src, x)) return false;
  check_round_trip(x);
  return true;
}

policy::slr_section config_from(std::uint8_t b) {
  policy::slr_section c;
  c.selection = (b & 1) ? policy::slr_selection::lowest : policy::slr_selection::spread;
  c.function.kind = static_cast<policy::slr_function_kind>((b >> 1) % 3);
  c.function.cost_weight = 0.5;
  c.aggregate = static_cast<policy::slr_aggregate>((b >> 3) % 3);
  if (b & 0x20) c.time_of_day.push_back({22, 6, policy::virtual_subnet{0x0a000000, 8}, {}});
  if (b & 0x40) c.route_costs.push_back({0x0a140001, 2.5});
  if (b & 0x80) c.aggregate_cost = 0.25;
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  slr::routing_table table(config_from(data[0]));
  slr::flow_records records(64);
  const auto t0 = clock_type::time_point{} + std::chrono::hours(1);
  auto now = t0;
  const auto wall = std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 365 * 50);
  caf::binary_deserializer src{nullptr, reinterpret_cast<const char*>(data + 1), size - 1};
  for (int n = 0; n < 64; ++n) {
    std::uint8_t type = 0;
    if (!decode(src, type)) break;
    now += std::chrono::milliseconds(100);
    switch (type % 8) {
      case 0: {
        protocol::slr_hello h;
        if (!read(src, h)) return 0;
        break;
      }
      case 1: {  // as slr_actor's slr_state handler
        protocol::slr_state s;
        if (!read(src, s)) return 0;
        slr::advertisement a;
        a.from = s.name;
        a.next_hop = s.tunnel_address ? s.tunnel_address : 0x0a140001;
        for (auto& x : s.subnets) a.loads.push_back({slr::subnet{x.prefix, x.length}, x.load});
        if (table.update(a, now) > a.loads.size()) __builtin_trap();
        break;
      }
      case 2: {
        protocol::slr_flow f;
        if (!read(src, f)) return 0;
        const auto key = slr::to_key(f);
        (void)slr::to_string(key);
        records.record(key, 0x0a140001, 0, net::flow_origin::chosen, now);
        break;
      }
      case 3: {  // as the tunnel_object handler: pin the flow to the host
        protocol::tunnel_object t;
        if (!read(src, t)) return 0;
        records.record(slr::to_key(t.flow), t.host, 0, net::flow_origin::shortcut, now);
        break;
      }
      case 4: {  // as the whohas handler: look the flow up
        protocol::whohas q;
        if (!read(src, q)) return 0;
        (void)records.find(slr::to_key(q.flow));
        break;
      }
      case 5: {  // as the ihave handler: recover the flow
        protocol::ihave a;
        if (!read(src, a)) return 0;
        const auto key = slr::to_key(a.flow);
        if (!records.find(key)) records.record(key, a.next_hop, 0, net::flow_origin::recovered, now);
        break;
      }
      case 6: {  // a hot spare's replicated record blob (the group carries it as state bytes)
        std::vector<std::uint8_t> blob;
        auto field = protocol::bytes_field(blob);  // as state_portion::data carries it
        if (!decode(src, field)) return 0;
        const std::size_t before = records.size();
        const auto r = slr::apply_records_blob(blob, records, now);
        if (!r.ok && records.size() != before) __builtin_trap();  // validated whole first
        break;
      }
      default: {  // Figure 9's recompute over what arrived, as the periodic timer runs it
        const auto rows = table.recompute(now, wall);
        for (const auto& row : rows) {
          std::uint32_t sum = 0;
          for (const auto& c : row.candidates) sum += c.weight;
          if (!row.candidates.empty() && sum != slr::weight_total) __builtin_trap();
          (void)slr::expected_shares(row);
          (void)slr::longest_match(rows, row.net.prefix);
        }
        (void)slr::upward(rows);
        // The records round trip through a checkpoint blob.
        slr::flow_records copy(64);
        if (!slr::apply_records_blob(slr::encode_records_checkpoint(records), copy, now).ok ||
            copy.size() != records.size())
          __builtin_trap();
        (void)records.expire(now);
        break;
      }
    }
  }
  return 0;
}
