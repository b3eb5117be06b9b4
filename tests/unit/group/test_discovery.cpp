// Discovery beacons: what goes on the wire and what is refused.

#include <doctest/doctest.h>

#include <string>

#include "actors/group/discovery.hpp"

using baton::group::beacon;
using baton::group::decode_beacon;
using baton::group::encode_beacon;

TEST_CASE("a beacon round-trips through its wire text") {
  beacon b{"m1", 0x0a1e000b, 4790};
  auto text = encode_beacon(b);
  CHECK(text == "baton-beacon 1 m1 10.30.0.11 4790");
  beacon back{};
  REQUIRE(decode_beacon(text, back));
  CHECK(back.name == b.name);
  CHECK(back.address == b.address);
  CHECK(back.port == b.port);
}

TEST_CASE("malformed beacons are refused") {
  struct row {
    const char* name;
    std::string datagram;
  };
  const row rows[] = {
    {"empty", ""},
    {"other magic", "hello 1 m1 10.0.0.1 4790"},
    {"other version", "baton-beacon 2 m1 10.0.0.1 4790"},
    {"missing port", "baton-beacon 1 m1 10.0.0.1"},
    {"port 0", "baton-beacon 1 m1 10.0.0.1 0"},
    {"port too large", "baton-beacon 1 m1 10.0.0.1 65536"},
    {"not an address", "baton-beacon 1 m1 10.0.0.300 4790"},
    {"trailing field", "baton-beacon 1 m1 10.0.0.1 4790 extra"},
    {"binary junk", std::string("\x00\xff\x10", 3)},
    {"oversized", "baton-beacon 1 " + std::string(300, 'a') + " 10.0.0.1 4790"},
  };
  for (auto& r : rows) {
    CAPTURE(std::string(r.name));
    beacon out{};
    CHECK_FALSE(decode_beacon(r.datagram, out));
  }
}
