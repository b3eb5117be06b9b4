#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "actors/slr/flow_record.hpp"

using namespace baton;
using namespace baton::slr;

namespace {

net::flow_key key(std::uint32_t client, std::uint16_t port) {
  net::flow_key k;
  k.src_addr = client;
  k.dst_addr = 0x0ac80101u;
  k.src_port = port;
  k.dst_port = 80;
  k.protocol = 6;
  return k;
}

}  // namespace

TEST_CASE("a hot spare's copy of the flow records round-trips") {
  flow_records records(100);
  const auto now = std::chrono::steady_clock::now();
  records.record(key(0x0a3c0002u, 40000), 0x0a320029u, 0x0a32000au, net::flow_origin::chosen, now);
  records.record(key(0x0a3c0002u, 40001), 0x0a32002au, 0, net::flow_origin::shortcut, now);
  records.record(key(0x0a3c0003u, 1), 0x0a32002bu, 0, net::flow_origin::advertised, now);
  const auto bytes = pack_flow_records(records);
  CHECK(bytes.size() == 3 * packed_flow_record_size);
  std::vector<flow_record> back;
  REQUIRE(unpack_flow_records(bytes, back));
  REQUIRE(back.size() == 3);
  for (const auto& r : back) {
    const auto* original = records.find(r.key);
    REQUIRE(original != nullptr);
    CHECK(r.next_hop == original->next_hop);
    CHECK(r.origin == original->origin);
  }
}

TEST_CASE("malformed copies are refused and change nothing") {
  flow_records records(10);
  records.record(key(1, 2), 3, 0, net::flow_origin::chosen, std::chrono::steady_clock::now());
  const auto good = pack_flow_records(records);
  struct row {
    std::string name;
    std::vector<std::uint8_t> bytes;
    bool ok;
  };
  auto bad_origin = good;
  bad_origin[17] = static_cast<std::uint8_t>(net::flow_origin_count);
  std::vector<row> rows = {{"empty (no flows)", {}, true}, {"whole", good, true},
                           {"an origin out of range", bad_origin, false}};
  for (std::size_t cut = 1; cut < good.size(); ++cut)
    rows.push_back({"cut to " + std::to_string(cut) + " bytes",
                    std::vector<std::uint8_t>(good.begin(), good.begin() + static_cast<long>(cut)), false});
  for (const auto& r : rows) {
    CAPTURE(r.name);
    std::vector<flow_record> out(1);
    CHECK(unpack_flow_records(r.bytes, out) == r.ok);
    CHECK(out.size() == (r.ok ? 1 + r.bytes.size() / packed_flow_record_size : 1));
  }
}
