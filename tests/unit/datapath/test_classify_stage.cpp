// The classify stage in a real packet loop over in-memory ports: rules whose profile says drop
// are policy drops, everything else passes through; a reloaded rule table takes effect without
// stopping the loop.

#include <doctest/doctest.h>

#include <memory>

#include "net/classify/classify_stage.hpp"
#include "net/io/memory_port.hpp"
#include "net/io/packet_loop.hpp"
#include "net/io/pass_through.hpp"
#include "net/packet/rewrite.hpp"
#include "policy/policy.hpp"
#include "../io/test_packets.hpp"

using namespace baton;

namespace {

policy::policy with_rules(const char* rules) {
  std::string text = R"({"identity": {"name": "t", "address": "10.0.0.9"}, "roles": ["passthrough"],
    "profiles": [{"name": "pass"}, {"name": "block", "action": "drop"}], "rules": )";
  text += rules;
  text += "}";
  return policy::load_policy_text(text, "test");
}

std::vector<std::uint8_t> tcp_to(std::uint16_t dport) {
  auto p = net::test::tcp_packet(16);
  net::rewrite_dst_port(net::bytes_span(p.data(), p.size()), dport);
  return p;
}

struct rig {
  net::buffer_pool pool{net::buffer_pool_config{256, 128, 2048}};
  net::packet_loop loop{pool};
  net::memory_port* in = nullptr;
  net::memory_port* out = nullptr;
  net::classify_stage* classify = nullptr;

  explicit rig(const policy::policy& p) {
    auto a = std::make_unique<net::memory_port>(pool);
    auto b = std::make_unique<net::memory_port>(pool);
    in = a.get();
    out = b.get();
    auto ia = loop.add_port(std::move(a));
    auto ib = loop.add_port(std::move(b));
    auto c = std::make_unique<net::classify_stage>(loop.epoch(), net::classify_table::from(p));
    classify = c.get();
    loop.add_stage(std::move(c));
    loop.add_stage(std::make_unique<net::pass_through_stage>(
      loop.epoch(), net::pass_through_table{}.route(ia, ib)));
  }

  /// Sends one packet through a loop turn; true when it came out of the other port.
  bool passes(const std::vector<std::uint8_t>& p) {
    REQUIRE(in->inject(net::bytes_view(p.data(), p.size())));
    loop.run_once();
    std::vector<std::uint8_t> got;
    return out->collect(got) && got == p;
  }
};

}  // namespace

TEST_CASE("classify: rules with a drop profile are policy drops, first match wins") {
  auto p = with_rules(R"([
    {"name": "ssh", "port": 22, "profile": "block"},
    {"name": "web", "dst_port": 80, "profile": "pass"},
    {"name": "high", "dst_port": 8000, "profile": "block"},
    {"name": "rest", "default": true, "profile": "pass"}])");
  rig r{p};
  struct row {
    const char* name;
    std::uint16_t dport;
    bool passes;
  };
  const row rows[] = {
    {"ssh dropped", 22, false},
    {"web passes", 80, true},
    {"8000 dropped", 8000, false},
    {"default passes", 443, true},
  };
  std::uint64_t expected_drops = 0;
  for (auto& row : rows) {
    CAPTURE(row.name);
    CHECK(r.passes(tcp_to(row.dport)) == row.passes);
    expected_drops += row.passes ? 0 : 1;
    CHECK(r.loop.snapshot().drops_for(net::drop_reason::policy) == expected_drops);
  }
}

TEST_CASE("classify: a published rule table replaces the old one") {
  auto blocking = with_rules(R"([{"name": "ssh", "port": 22, "profile": "block"},
                                 {"name": "rest", "default": true, "profile": "pass"}])");
  auto open = with_rules(R"([{"name": "rest", "default": true, "profile": "pass"}])");
  rig r{blocking};
  CHECK_FALSE(r.passes(tcp_to(22)));
  r.classify->publish(net::classify_table::from(open));
  CHECK(r.passes(tcp_to(22)));
  r.classify->publish(net::classify_table::from(blocking));
  CHECK_FALSE(r.passes(tcp_to(22)));
}

TEST_CASE("classify: a policy without rules lets everything through") {
  auto none = with_rules("[]");
  rig r{none};
  CHECK(r.passes(tcp_to(22)));
  CHECK(r.loop.snapshot().drops_for(net::drop_reason::policy) == 0);
}
