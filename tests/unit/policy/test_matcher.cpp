// The rule matcher: every criterion, AND / OR and nesting, order (first match wins), the default
// rule, and that match() does not allocate.

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "policy/policy.hpp"

using namespace baton::policy;
using packet_fields = baton::policy::match_fields;  // what the matcher reads

// Count every allocation in this binary, so a test can show match() makes none. The replacements
// pair malloc with free; GCC's -Wmismatched-new-delete cannot see that once it inlines them.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
std::atomic<std::size_t> allocations{0};
}
void* operator new(std::size_t n) {
  ++allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

constexpr std::uint32_t ip(unsigned a, unsigned b, unsigned c, unsigned d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

// A packet as the classifier sees it, built field by field.
struct pkt {
  packet_fields f;
  pkt() {
    f.src = ip(192, 168, 1, 10);
    f.dst = ip(10, 1, 2, 3);
    f.protocol = 6;
    f.src_port = 40000;
    f.dst_port = 80;
  }
  pkt& src(std::uint32_t a) { f.src = a; return *this; }
  pkt& dst(std::uint32_t a) { f.dst = a; return *this; }
  pkt& proto(std::uint8_t p) { f.protocol = p; return *this; }
  pkt& ports(std::uint16_t s, std::uint16_t d) { f.src_port = s; f.dst_port = d; return *this; }
  pkt& dscp(std::uint8_t d) { f.dscp = d; return *this; }
  pkt& option(std::uint8_t kind) { f.tcp_options |= tcp_option_bit(kind); return *this; }
  pkt& icmp() { f.protocol = 1; f.src_port = 0; f.dst_port = 0; return *this; }
  operator const packet_fields&() const { return f; }
};

const char* base = R"({"identity": {"name": "n1", "address": "10.0.0.1"}, "roles": ["pep"],
  "profiles": [{"name": "hit"}, {"name": "miss"}, {"name": "third"}], "rules": )";

policy with_rules(const std::string& rules) { return load_policy_text(std::string(base) + rules + "}"); }

// One rule with `criteria` selecting "hit", then the default selecting "miss".
policy one_rule(const std::string& criteria) {
  return with_rules(R"([{"name": "r", )" + criteria +
                    R"(, "profile": "hit"}, {"name": "d", "default": true, "profile": "miss"}])");
}

struct match_row {
  const char* name;
  const char* criteria;  // the members of the rule object besides name and profile
  packet_fields packet;
  bool matches;
};

}  // namespace

TEST_CASE("each criterion matches what it says and nothing else") {
  const std::vector<match_row> rows = {
      // source and destination prefixes
      {"src /16 inside", R"("src": "192.168.0.0/16")", pkt(), true},
      {"src /16 outside", R"("src": "192.169.0.0/16")", pkt(), false},
      {"src /0 matches anything", R"("src": "0.0.0.0/0")", pkt().src(ip(203, 0, 113, 9)), true},
      {"src /32 exact", R"("src": "192.168.1.10/32")", pkt(), true},
      {"src /32 neighbour", R"("src": "192.168.1.11/32")", pkt(), false},
      {"src bare address is /32", R"("src": "192.168.1.10")", pkt(), true},
      {"src bare address neighbour", R"("src": "192.168.1.10")", pkt().src(ip(192, 168, 1, 9)), false},
      {"src /31 upper half", R"("src": "192.168.1.10/31")", pkt().src(ip(192, 168, 1, 11)), true},
      {"src does not look at dst", R"("src": "10.1.0.0/16")", pkt(), false},
      {"dst /24 inside", R"("dst": "10.1.2.0/24")", pkt(), true},
      {"dst /24 outside", R"("dst": "10.1.3.0/24")", pkt(), false},
      {"dst /0", R"("dst": "0.0.0.0/0")", pkt(), true},
      {"dst /32", R"("dst": "10.1.2.3/32")", pkt(), true},
      {"dst /1 high half", R"("dst": "128.0.0.0/1")", pkt(), false},
      {"dst /1 low half", R"("dst": "0.0.0.0/1")", pkt(), true},
      // protocol
      {"protocol tcp on tcp", R"("protocol": "tcp")", pkt(), true},
      {"protocol tcp on udp", R"("protocol": "tcp")", pkt().proto(17), false},
      {"protocol udp on udp", R"("protocol": "udp")", pkt().proto(17), true},
      {"protocol icmp", R"("protocol": "icmp")", pkt().icmp(), true},
      {"protocol ipip", R"("protocol": "ipip")", pkt().proto(4), true},
      {"protocol by number", R"("protocol": 47)", pkt().proto(47), true},
      {"protocol by number differs", R"("protocol": 47)", pkt(), false},
      {"protocol 6 is tcp", R"("protocol": 6)", pkt(), true},
      // ports: "port" is source OR destination, 0 = any
      {"port matches destination", R"("port": 80)", pkt().ports(40000, 80), true},
      {"port matches source", R"("port": 80)", pkt().ports(80, 40000), true},
      {"port matches neither", R"("port": 443)", pkt().ports(40000, 80), false},
      {"port 0 is any", R"("port": 0)", pkt().ports(1, 2), true},
      {"port 0 is any even without ports", R"("port": 0)", pkt().icmp(), true},
      {"port on icmp", R"("port": 80)", pkt().icmp(), false},
      {"src_port matches source", R"("src_port": 20)", pkt().ports(20, 5000), true},
      {"src_port ignores destination", R"("src_port": 20)", pkt().ports(5000, 20), false},
      {"dst_port matches destination", R"("dst_port": 443)", pkt().ports(5000, 443), true},
      {"dst_port ignores source", R"("dst_port": 443)", pkt().ports(443, 5000), false},
      {"src_port 0 is any", R"("src_port": 0)", pkt(), true},
      {"dst_port 0 is any", R"("dst_port": 0)", pkt(), true},
      {"port 65535", R"("port": 65535)", pkt().ports(65535, 1), true},
      // TCP options present: every listed option must be there
      {"mss present", R"("tcp_options": ["mss"])", pkt().option(2), true},
      {"mss absent", R"("tcp_options": ["mss"])", pkt().option(3), false},
      {"two options, one present", R"("tcp_options": ["mss", "sack_permitted"])", pkt().option(2), false},
      {"two options, both present", R"("tcp_options": ["mss", "sack_permitted"])",
       pkt().option(2).option(4).option(8), true},
      {"wscale", R"("tcp_options": ["wscale"])", pkt().option(3), true},
      {"sack", R"("tcp_options": ["sack"])", pkt().option(5), true},
      {"timestamp", R"("tcp_options": ["timestamp"])", pkt().option(8), true},
      {"numeric kind", R"("tcp_options": [30])", pkt().option(30), true},
      {"numeric kind absent", R"("tcp_options": [30])", pkt().option(29), false},
      {"name and number mixed", R"("tcp_options": ["timestamp", 34])", pkt().option(8).option(34), true},
      {"no options at all", R"("tcp_options": ["mss"])", pkt(), false},
      // DSCP, exact or with a mask
      {"dscp exact", R"("dscp": 46)", pkt().dscp(46), true},
      {"dscp exact differs", R"("dscp": 46)", pkt().dscp(47), false},
      {"dscp 0 matches best effort", R"("dscp": 0)", pkt(), true},
      {"dscp class selector mask hit", R"("dscp": {"value": 40, "mask": 56})", pkt().dscp(46), true},
      {"dscp class selector mask miss", R"("dscp": {"value": 40, "mask": 56})", pkt().dscp(34), false},
      {"dscp mask 0 is any", R"("dscp": {"value": 0, "mask": 0})", pkt().dscp(63), true},
      {"dscp object without mask is exact", R"("dscp": {"value": 10})", pkt().dscp(10), true},
      {"dscp object without mask miss", R"("dscp": {"value": 10})", pkt().dscp(11), false},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.name));
    policy p = one_rule(row.criteria);
    const rule& r = p.rules.match(row.packet);
    CHECK(r.name == (row.matches ? "r" : "d"));
    CHECK(p.profiles[p.rules.match_profile(row.packet)].name == (row.matches ? "hit" : "miss"));
  }
}

TEST_CASE("criteria combine with AND and OR, nested") {
  const std::vector<match_row> rows = {
      // several keys in one object are ANDed
      {"and: both hold", R"("protocol": "tcp", "port": 80)", pkt(), true},
      {"and: protocol fails", R"("protocol": "tcp", "port": 80)", pkt().proto(17), false},
      {"and: port fails", R"("protocol": "tcp", "port": 80)", pkt().ports(1, 2), false},
      {"and: src dst dscp", R"("src": "192.168.0.0/16", "dst": "10.0.0.0/8", "dscp": 10)",
       pkt().dscp(10), true},
      {"and: src dst dscp, dscp fails", R"("src": "192.168.0.0/16", "dst": "10.0.0.0/8", "dscp": 10)",
       pkt().dscp(12), false},
      // explicit all
      {"all: holds", R"("all": [{"dst": "10.1.0.0/16"}, {"dst_port": 80}])", pkt(), true},
      {"all: one fails", R"("all": [{"dst": "10.1.0.0/16"}, {"dst_port": 81}])", pkt(), false},
      {"all of one is that one", R"("all": [{"dst_port": 80}])", pkt(), true},
      // any
      {"any: first", R"("any": [{"port": 80}, {"port": 443}])", pkt().ports(1, 80), true},
      {"any: second", R"("any": [{"port": 80}, {"port": 443}])", pkt().ports(1, 443), true},
      {"any: none", R"("any": [{"port": 80}, {"port": 443}])", pkt().ports(1, 22), false},
      {"any next to a key is ANDed", R"("protocol": "udp", "any": [{"port": 53}, {"port": 5353}])",
       pkt().ports(1, 53), false},
      {"any next to a key, both hold", R"("protocol": "udp", "any": [{"port": 53}, {"port": 5353}])",
       pkt().proto(17).ports(1, 53), true},
      // nesting: AND of OR, OR of AND, three levels
      {"and of or: hit", R"("all": [{"dst": "10.1.0.0/16"}, {"any": [{"dst_port": 443}, {"dst_port": 8443}]}])",
       pkt().ports(1, 8443), true},
      {"and of or: dst fails", R"("all": [{"dst": "10.1.0.0/16"}, {"any": [{"dst_port": 443}, {"dst_port": 8443}]}])",
       pkt().dst(ip(10, 2, 0, 1)).ports(1, 8443), false},
      {"and of or: port fails", R"("all": [{"dst": "10.1.0.0/16"}, {"any": [{"dst_port": 443}, {"dst_port": 8443}]}])",
       pkt().ports(1, 80), false},
      {"or of and: second branch", R"("any": [{"protocol": "udp", "port": 53}, {"protocol": "tcp", "port": 22}])",
       pkt().ports(22, 1000), true},
      {"or of and: mixed halves do not match",
       R"("any": [{"protocol": "udp", "port": 53}, {"protocol": "tcp", "port": 22}])", pkt().ports(53, 1000),
       false},
      {"three levels", R"("any": [{"dscp": 46}, {"all": [{"src": "192.168.1.0/24"}, {"any": [{"port": 80}, {"tcp_options": ["sack"]}]}]}])",
       pkt().ports(1, 2).option(5), true},
      {"three levels, innermost fails", R"("any": [{"dscp": 46}, {"all": [{"src": "192.168.1.0/24"}, {"any": [{"port": 80}, {"tcp_options": ["sack"]}]}]}])",
       pkt().ports(1, 2), false},
      {"three levels, outer alternative", R"("any": [{"dscp": 46}, {"all": [{"src": "192.168.1.0/24"}, {"any": [{"port": 80}, {"tcp_options": ["sack"]}]}]}])",
       pkt().src(ip(1, 1, 1, 1)).dscp(46), true},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.name));
    policy p = one_rule(row.criteria);
    CHECK(p.rules.match(row.packet).name == (row.matches ? "r" : "d"));
  }
}

TEST_CASE("rules apply in order, first match wins, the default catches the rest") {
  policy p = with_rules(R"([
    {"name": "web", "port": 80, "profile": "hit"},
    {"name": "tcp", "protocol": "tcp", "profile": "third"},
    {"name": "web-again", "port": 80, "profile": "miss"},
    {"name": "rest", "default": true, "profile": "miss"}])");
  struct row {
    const char* name;
    packet_fields packet;
    std::size_t index;
    const char* profile;
  };
  const std::vector<row> rows = {
      {"tcp to 80: the first rule, though later ones match too", pkt(), 0, "hit"},
      {"udp to 80: still the first rule", pkt().proto(17), 0, "hit"},
      {"tcp to 22: the second", pkt().ports(1, 22), 1, "third"},
      {"udp to 53: the default", pkt().proto(17).ports(1, 53), 3, "miss"},
      {"icmp: the default", pkt().icmp(), 3, "miss"},
  };
  for (const auto& r : rows) {
    INFO(std::string(r.name));
    CHECK(p.rules.match_index(r.packet) == r.index);
    CHECK(p.profiles[p.rules.match_profile(r.packet)].name == r.profile);
  }
  CHECK(p.rules.rules().back().is_default);
  CHECK(p.rules.find("tcp") == 1);
  CHECK(p.rules.find("nope") == p.rules.size());
}

TEST_CASE("a list with only the default rule matches everything with it") {
  policy p = with_rules(R"([{"default": true, "profile": "third"}])");
  REQUIRE(p.rules.size() == 1);
  CHECK(p.rules.rules()[0].name == "default");
  CHECK(p.rules.match(pkt()).profile == "third");
  CHECK(p.rules.match(pkt().icmp()).profile == "third");
}

TEST_CASE("no rules: an empty set") {
  policy p = with_rules("[]");
  CHECK(p.rules.empty());
  policy q = load_policy_text(R"({"identity": {"name": "n", "address": "10.0.0.1"}, "roles": ["rim"]})");
  CHECK(q.rules.empty());
}

TEST_CASE("describe() says each rule's criteria") {
  policy p = with_rules(R"([
    {"name": "a", "protocol": "tcp", "any": [{"port": 80}, {"port": 443}], "profile": "hit"},
    {"name": "b", "src": "10.0.0.0/8", "dscp": {"value": 40, "mask": 56}, "tcp_options": ["mss", 30], "profile": "hit"},
    {"name": "c", "src_port": 0, "profile": "hit"},
    {"default": true, "profile": "miss"}])");
  CHECK(p.rules.describe(0) == "(port 80 or port 443) and protocol tcp");
  CHECK(p.rules.describe(1) == "dscp 40/0x38 and src 10.0.0.0/8 and tcp_options mss 30");
  CHECK(p.rules.describe(2) == "src_port any");
  CHECK(p.rules.describe(3) == "default");
}

TEST_CASE("match() does not allocate") {
  policy p = with_rules(R"([
    {"name": "deep", "any": [{"dscp": 46}, {"all": [{"src": "192.168.1.0/24"}, {"any": [{"port": 8080}, {"tcp_options": ["sack"]}]}]}], "profile": "hit"},
    {"name": "web", "protocol": "tcp", "any": [{"port": 80}, {"port": 443}], "profile": "third"},
    {"default": true, "profile": "miss"}])");
  const std::vector<packet_fields> packets = {pkt(), pkt().option(5), pkt().icmp(), pkt().dscp(46),
                                              pkt().ports(1, 53).proto(17)};
  std::size_t hits[3] = {0, 0, 0};
  std::size_t before = allocations.load();
  for (int round = 0; round < 1000; ++round)
    for (const auto& f : packets) ++hits[p.rules.match_index(f)];
  CHECK(allocations.load() == before);
  CHECK(hits[0] == 2000);  // sack from 192.168.1.0/24, and dscp 46
  CHECK(hits[1] == 1000);  // tcp to 80
  CHECK(hits[2] == 2000);  // icmp, udp 53
}
