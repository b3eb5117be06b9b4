// The cross-node messages as a node decodes them from a peer (CAF 0.17's binary_deserializer over
// our inspect overloads, as the middleman decodes a payload), with the guards of
// actors/protocol/wire.hpp. Rows from the fuzzers' findings:
//   - fuzz_group_messages: a string or byte vector declaring more bytes than the payload holds
//     made CAF resize the field to that length first (up to 4 GiB from 5 bytes). The rows declare
//     1 MiB and check the decode fails with nothing allocated (the field stays empty).
//   - fuzz_slr_messages: sending an infinite double (an slr_subnet_load's load) never returned
//     (CAF's pack754 halves infinity until it is below 2). Non-finite values go out as the largest
//     finite one of their sign.

#include <doctest/doctest.h>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "actors/protocol/group.hpp"
#include "actors/protocol/node.hpp"
#include "actors/protocol/replica.hpp"
#include "actors/protocol/rim.hpp"
#include "actors/protocol/slr.hpp"

using namespace baton;

namespace {

using bytes = std::vector<char>;

template <class T>
bytes encode(T x) {
  bytes out;
  caf::binary_serializer sink{nullptr, out};
  REQUIRE(!sink(x));
  return out;
}

template <class T>
caf::error decode(const bytes& in, T& x) {
  caf::binary_deserializer src{nullptr, in.data(), in.size()};
  return src(x);
}

/// CAF's varbyte sequence length.
void put_length(bytes& out, std::uint32_t n) {
  do {
    std::uint8_t b = n & 0x7f;
    n >>= 7;
    if (n) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (n);
}

constexpr std::uint32_t mib = 1u << 20;

struct overlong_row {
  const char* name;
  bytes input;
  // Decodes into a fresh message; returns the decode's error and the bytes the message holds.
  std::function<std::pair<caf::error, std::size_t>(const bytes&)> load;
};

template <class T, class Size>
std::function<std::pair<caf::error, std::size_t>(const bytes&)> loader(Size size) {
  return [size](const bytes& in) {
    T x{};
    auto err = decode(in, x);
    return std::make_pair(std::move(err), size(x));
  };
}

bytes with_overlong(bytes prefix) {
  put_length(prefix, mib);
  prefix.push_back('a');
  prefix.push_back('b');
  return prefix;
}

}  // namespace

TEST_CASE("a string or byte vector longer than the payload is refused before it is allocated") {
  const bytes u32_zero(4, 0), u64_zero(8, 0);
  std::vector<overlong_row> rows = {
    {"exit_request reason", with_overlong({}),
     loader<group::exit_request>([](auto& x) { return x.reason.size(); })},
    {"join_request identity", with_overlong({}),
     loader<group::join_request>([](auto& x) { return x.identity.size(); })},
    {"state_portion data", [&] {
       bytes b = u64_zero;
       b.push_back(0);  // kind
       return with_overlong(b);
     }(),
     loader<group::state_portion>([](auto& x) { return x.data.size(); })},
    {"slr_hello name", with_overlong({}), loader<protocol::slr_hello>([](auto& x) { return x.name.size(); })},
    {"hello roles[0]", [] {
       bytes b;
       put_length(b, 0);  // name ""
       b.insert(b.end(), 4, 0);  // address
       put_length(b, 1);  // one role
       return with_overlong(b);
     }(),
     loader<protocol::hello>([](auto& x) { return x.roles.empty() ? 0 : x.roles[0].size(); })},
    {"hello roles count (never reserved; each role is read, and the first fails)", [] {
       bytes b;
       put_length(b, 0);
       b.insert(b.end(), 4, 0);
       put_length(b, 0xffffffffu);  // 4 G roles in a few bytes
       return b;
     }(),
     loader<protocol::hello>([](auto& x) { return x.roles.size(); })},
    {"replica_report name", with_overlong({}),
     loader<protocol::replica_report>([](auto& x) { return x.name.size(); })},
    {"rim_tcp_state send_queue", [&] {
       bytes b;
       for (int i = 0; i < 4; ++i) b.insert(b.end(), i % 2 ? 2 : 4, 0);  // addresses and ports
       b.insert(b.end(), 8, 0);  // send_seq, receive_seq
       return with_overlong(b);
     }(),
     loader<net::tcp_snapshot>([](auto& x) { return x.send_queue.size(); })},
  };
  for (auto& row : rows) {
    CAPTURE(row.name);
    auto [err, held] = row.load(row.input);
    CHECK(err == caf::sec::end_of_stream);
    CHECK(held == 0);
  }
}

TEST_CASE("guarded fields decode as CAF encodes them") {
  protocol::hello h{"m1", 0x0a000001, {"cluster", "slr"}, "10.0.0.1:9000", 1};
  protocol::hello h2;
  REQUIRE(!decode(encode(h), h2));
  CHECK(h2.name == "m1");
  CHECK(h2.roles == std::vector<std::string>{"cluster", "slr"});
  CHECK(h2.console == "10.0.0.1:9000");

  group::state_delta d{3, 7, {{1, group::portion_kind::checkpoint, {1, 2, 3}}, {2, group::portion_kind::essential, {}}}};
  group::state_delta d2;
  REQUIRE(!decode(encode(d), d2));
  REQUIRE(d2.portions.size() == 2);
  CHECK(d2.portions[0].data == std::vector<std::uint8_t>{1, 2, 3});
  CHECK(d2.portions[1].data.empty());

  // The same bytes as CAF's own encoding of the plain fields.
  bytes plain;
  caf::binary_serializer sink{nullptr, plain};
  std::string name = "m1", console = "10.0.0.1:9000";
  std::uint32_t address = 0x0a000001, version = 1;
  std::vector<std::string> roles{"cluster", "slr"};
  REQUIRE(!sink(name, address, roles, console, version));
  CHECK(encode(h) == plain);
}

TEST_CASE("a non-finite load is sent as the largest finite one of its sign") {
  constexpr double max = std::numeric_limits<double>::max();
  struct row {
    const char* name;
    double load;
    double received;
  } rows[] = {
    {"+inf", std::numeric_limits<double>::infinity(), max},
    {"-inf", -std::numeric_limits<double>::infinity(), -max},
    {"nan", std::numeric_limits<double>::quiet_NaN(), max},
    {"finite", 0.25, 0.25},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    protocol::slr_subnet_load x{0x0a320000, 16, r.load};
    protocol::slr_subnet_load y;
    REQUIRE(!decode(encode(x), y));  // before the guard, encoding +-inf never returned
    CHECK(y.load == r.received);
  }
}
