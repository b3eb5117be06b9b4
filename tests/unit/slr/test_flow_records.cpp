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

// Same key, next hop and origin in both (the replicated copy carries no previous hop or time).
bool same_records(const flow_records& a, const flow_records& b) {
  if (a.size() != b.size()) return false;
  bool same = true;
  a.for_each([&](const flow_record& r) {
    auto* o = const_cast<flow_records&>(b).find(r.key);
    same = same && o && o->next_hop == r.next_hop && o->origin == r.origin;
  });
  return same;
}

TEST_CASE("a checkpoint then each round's delta reproduce the active SLR's records") {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  enum class op { record, expire, clear };
  struct step {
    op what;
    std::uint16_t port = 0;          // record: the flow (client 10.60.0.2:port)
    std::uint32_t next_hop = 0;      // record
    net::flow_origin origin = net::flow_origin::chosen;
    int at_s = 0;                    // the step's time, seconds after t0 (expire: ttl 10 s)
  };
  struct row {
    std::string name;
    std::vector<std::vector<step>> rounds;  // the owner's changes, one replication round each
    std::vector<std::uint8_t> kinds;        // the blob each round sends ('C', 'D', 0: nothing)
    std::vector<std::size_t> removals;      // removal records in each round's blob
  };
  const auto rec = [](std::uint16_t port, std::uint32_t hop, int at = 0,
                      net::flow_origin o = net::flow_origin::chosen) {
    return step{op::record, port, hop, o, at};
  };
  const std::vector<row> rows = {
      {"new flows only", {{rec(1, 41), rec(2, 42)}, {rec(3, 43)}}, {'D', 'D'}, {0, 0}},
      {"nothing changed: nothing sent", {{rec(1, 41)}, {}}, {'D', 0}, {0, 0}},
      {"an update with the same hop and origin is no change", {{rec(1, 41)}, {rec(1, 41, 1)}}, {'D', 0}, {0, 0}},
      {"a new next hop or origin is sent again",
       {{rec(1, 41)}, {rec(1, 44)}, {rec(1, 44, 0, net::flow_origin::shortcut)}}, {'D', 'D', 'D'}, {0, 0, 0}},
      {"expired flows are removed",
       {{rec(1, 41), rec(2, 42, 5)}, {step{op::expire, 0, 0, net::flow_origin::chosen, 12}}}, {'D', 'D'}, {0, 1}},
      {"a flow that comes back after expiring is recorded, not removed",
       {{rec(1, 41)}, {step{op::expire, 0, 0, net::flow_origin::chosen, 11}, rec(1, 45, 11)}}, {'D', 'D'}, {0, 0}},
      {"a flush is only said by a checkpoint",
       {{rec(1, 41), rec(2, 42)}, {step{op::clear}, rec(3, 43)}}, {'D', 'C'}, {0, 0}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    flow_records owner(100, std::chrono::seconds(10)), spare(100);
    owner.track_changes(true);
    // Becoming active: a checkpoint of what the owner holds (nothing yet).
    REQUIRE(apply_records_blob(encode_records_checkpoint(owner), spare, t0).ok);
    for (std::size_t i = 0; i < r.rounds.size(); ++i) {
      CAPTURE(i);
      for (const auto& s : r.rounds[i]) {
        const auto at = t0 + std::chrono::seconds(s.at_s);
        if (s.what == op::record) owner.record(key(0x0a3c0002u, s.port), s.next_hop, 7, s.origin, at);
        if (s.what == op::expire) owner.expire(at);
        if (s.what == op::clear) owner.clear();
      }
      const auto changes = owner.take_changes();
      std::uint8_t kind = 0;
      std::vector<std::uint8_t> blob;
      if (changes.cleared) {
        blob = encode_records_checkpoint(owner);
      } else if (!changes.empty()) {
        blob = encode_records_delta(changes);
      }
      if (!blob.empty()) kind = blob[0];
      CHECK(kind == r.kinds[i]);
      CHECK(changes.removed.size() == r.removals[i]);
      if (!blob.empty()) {
        const auto a = apply_records_blob(blob, spare, t0);
        CHECK(a.ok);
        CHECK(a.checkpoint == (kind == records_checkpoint));
      }
      CHECK(same_records(owner, spare));
      CHECK(owner.take_changes().empty());  // taken
    }
  }
}

TEST_CASE("record blobs: the layout, and malformed blobs are refused and change nothing") {
  const auto now = std::chrono::steady_clock::now();
  flow_changes c;
  c.recorded.push_back(flow_record{key(0x0a3c0002u, 40000), 0x0a320029u, 0, net::flow_origin::shortcut, now});
  c.removed.push_back(key(0x0a3c0003u, 1));
  const auto good = encode_records_delta(c);
  REQUIRE(good.size() == records_blob_header_size + packed_flow_key_size + packed_flow_record_size);
  CHECK(good == std::vector<std::uint8_t>{
                    'D', 0, 0, 0, 1, 0, 0, 0, 1,                              // one removal, one record
                    10, 60, 0, 3, 10, 200, 1, 1, 0, 1, 0, 80, 6,              // its key
                    10, 60, 0, 2, 10, 200, 1, 1, 0x9c, 0x40, 0, 80, 6,        // the record's key
                    10, 50, 0, 41, static_cast<std::uint8_t>(net::flow_origin::shortcut)});
  struct row {
    std::string name;
    std::vector<std::uint8_t> bytes;
    bool ok;
    std::size_t size_after;  // of a copy holding flows :1 and :2 (10.60.0.3) before
  };
  auto bad_origin = good;
  bad_origin.at(records_blob_header_size + packed_flow_key_size + packed_flow_record_size - 1) =
      static_cast<std::uint8_t>(net::flow_origin_count);
  auto bad_kind = good;
  bad_kind[0] = 'X';
  auto too_many_removals = good;
  too_many_removals[4] = 3;
  auto too_many_records = good;
  too_many_records[8] = 2;
  auto checkpoint = good;
  checkpoint[0] = 'C';
  checkpoint[4] = 0;  // no removals said: the 13 bytes are left over
  std::vector<row> rows = {
      {"the delta", good, true, 2},  // :1 removed, :40000 added
      {"an empty delta", {'D', 0, 0, 0, 0, 0, 0, 0, 0}, true, 2},
      {"an empty checkpoint", {'C', 0, 0, 0, 0, 0, 0, 0, 0}, true, 0},
      {"an unknown kind", bad_kind, false, 2},
      {"an origin out of range", bad_origin, false, 2},
      {"removals past the end", too_many_removals, false, 2},
      {"records past the end", too_many_records, false, 2},
      {"bytes left over", checkpoint, false, 2},
      {"a trailing byte", [&] { auto b = good; b.push_back(0); return b; }(), false, 2},
      {"no header", {}, false, 2},
  };
  for (std::size_t cut = 1; cut < good.size(); ++cut)
    rows.push_back({"cut to " + std::to_string(cut) + " bytes",
                    std::vector<std::uint8_t>(good.begin(), good.begin() + static_cast<long>(cut)),
                    false, 2});
  for (const auto& r : rows) {
    CAPTURE(r.name);
    flow_records copy(10);
    copy.record(key(0x0a3c0003u, 1), 1, 0, net::flow_origin::chosen, now);
    copy.record(key(0x0a3c0003u, 2), 2, 0, net::flow_origin::chosen, now);
    CHECK(apply_records_blob(r.bytes, copy, now).ok == r.ok);
    CHECK(copy.size() == r.size_after);
  }
}
