// flow_key: layout, byte order, reverse, from_fields, wire encoding, equality and hash.

#include <doctest/doctest.h>

#include <cstring>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

#include "net/flow/flow_key.hpp"
#include "flow_keys.hpp"

using namespace baton::net;
using baton::net::test::key;

TEST_CASE("flow_key is a 16-byte trivially copyable value") {
  CHECK(std::is_trivially_copyable_v<flow_key>);
  CHECK(sizeof(flow_key) == 16);
  flow_key k;
  CHECK(k.reserved[0] == 0);
  CHECK(k.reserved[1] == 0);
  CHECK(k.reserved[2] == 0);
}

TEST_CASE("byte-order helpers turn wire values into host numbers") {
  // 10.0.0.1 as it sits in memory in a header: bytes 0a 00 00 01.
  const std::uint8_t addr_bytes[4] = {0x0a, 0x00, 0x00, 0x01};
  const std::uint8_t port_bytes[2] = {0x1f, 0x90};  // 8080
  wire_u32 a;
  wire_u16 p;
  std::memcpy(&a.raw, addr_bytes, 4);
  std::memcpy(&p.raw, port_bytes, 2);
  CHECK(to_host(a) == 0x0a000001u);
  CHECK(to_host(p) == 8080);
  CHECK(to_host(to_wire32(0xc0a80101u)) == 0xc0a80101u);
  CHECK(to_host(to_wire16(443)) == 443);
  const wire_u32 w = to_wire32(0x0a000001u);
  std::uint8_t back[4];
  std::memcpy(back, &w.raw, 4);
  CHECK(std::memcmp(back, addr_bytes, 4) == 0);

  const flow_key k = flow_key::from_wire(a, to_wire32(0xc0a8010au), p, to_wire16(80), 6);
  CHECK(k == key(0x0a000001u, 0xc0a8010au, 8080, 80, 6));
}

TEST_CASE("reverse swaps the endpoints and keeps the protocol") {
  const flow_key k = key(0x0a000001u, 0xc0a8010au, 40000, 80, 6);
  const flow_key r = k.reverse();
  CHECK(r.src_addr == 0xc0a8010au);
  CHECK(r.dst_addr == 0x0a000001u);
  CHECK(r.src_port == 80);
  CHECK(r.dst_port == 40000);
  CHECK(r.protocol == 6);
  CHECK(r != k);
  CHECK(r.reverse() == k);
}

TEST_CASE("from_fields copies the classification fields") {
  packet_fields f;
  f.src = 0x0a000001u;
  f.dst = 0x0a000002u;
  f.protocol = 17;
  f.src_port = 5353;
  f.dst_port = 53;
  f.tcp_flags = 0x12;  // not part of the key
  f.dscp = 46;
  const flow_key k = from_fields(f);
  CHECK(k == key(0x0a000001u, 0x0a000002u, 5353, 53, 17));
  f.dscp = 0;
  CHECK(from_fields(f) == k);
}

TEST_CASE("wire encoding: 13 network-order bytes, round trip") {
  const flow_key k = key(0x0a000001u, 0xc0a8010au, 0x9c40, 0x0050, 6);
  std::uint8_t out[flow_key::wire_size];
  k.to_wire_bytes(out);
  const std::uint8_t expected[flow_key::wire_size] = {0x0a, 0x00, 0x00, 0x01, 0xc0, 0xa8, 0x01,
                                                      0x0a, 0x9c, 0x40, 0x00, 0x50, 0x06};
  CHECK(std::memcmp(out, expected, sizeof out) == 0);
  CHECK(flow_key::from_wire_bytes(out) == k);
}

TEST_CASE("equality and hash look at every field, never at the reserved bytes") {
  struct row {
    const char* name;
    flow_key other;
  };
  const flow_key base = key(0x0a000001u, 0x0a000002u, 1000, 2000, 6);
  const row rows[] = {
      {"src_addr", key(0x0a000003u, 0x0a000002u, 1000, 2000, 6)},
      {"dst_addr", key(0x0a000001u, 0x0a000003u, 1000, 2000, 6)},
      {"src_port", key(0x0a000001u, 0x0a000002u, 1001, 2000, 6)},
      {"dst_port", key(0x0a000001u, 0x0a000002u, 1000, 2001, 6)},
      {"protocol", key(0x0a000001u, 0x0a000002u, 1000, 2000, 17)},
  };
  for (const row& r : rows) {
    INFO("row: " << r.name);
    CHECK(r.other != base);
    CHECK(hash(r.other) != hash(base));
  }
  flow_key same = base;
  same.reserved[1] = 0x55;
  CHECK(same == base);
  CHECK(hash(same) == hash(base));
  CHECK(hash(base, 1) != hash(base, 2));
}

TEST_CASE("flow_key works as an unordered_map key") {
  std::unordered_map<flow_key, int, flow_key_hash> m;
  for (std::uint16_t p = 0; p < 1000; ++p) m[key(0x0a000001u, 0x0a000002u, p, 80, 6)] = p;
  CHECK(m.size() == 1000);
  CHECK(m.at(key(0x0a000001u, 0x0a000002u, 777, 80, 6)) == 777);
  // Low bits of the hash vary for keys that differ only in one port bit (table indexes use them).
  std::unordered_set<std::uint64_t> low;
  for (std::uint16_t p = 0; p < 256; ++p) low.insert(hash(key(1, 2, p, 80, 6)) & 0xff);
  CHECK(low.size() > 128);
}
