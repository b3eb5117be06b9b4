// Work units: the document 004 hash (hand-computed rows), the mixed alternative, the hasher and
// the owned-units bitmap.

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <stdexcept>
#include <vector>

#include "net/flow/work_unit.hpp"
#include "flow_keys.hpp"

using namespace baton::net;
using baton::net::test::key;

namespace {
constexpr std::uint8_t icmp = 1, tcp = 6, udp = 17, gre = 47;

constexpr std::uint32_t ip(std::uint32_t a, std::uint32_t b, std::uint32_t c, std::uint32_t d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}
}  // namespace

TEST_CASE("document 004 hash: hand-computed work units") {
  // Expected values worked by hand from the document's rule: work-set filter, TCP/UDP:
  // source address XOR source port; other protocols: source XOR destination; forward filter:
  // source XOR destination; then modulo N (the low 10 bits for N = 1024).
  struct row {
    const char* name;
    flow_key k;
    filter f;
    std::uint32_t units;
    std::uint32_t expected;
  };
  const std::uint32_t vip = ip(192, 168, 1, 10);
  const row rows[] = {
      // 0x0A000001 ^ 0x9C40 = 0x0A009C41; low 10 bits 0x041
      {"tcp 10.0.0.1:40000", key(ip(10, 0, 0, 1), vip, 40000, 80, tcp), filter::work_set, 1024, 65},
      // 40000 ^ 0x400 = 41024: the same low 10 bits, the same unit
      {"tcp 10.0.0.1:41024", key(ip(10, 0, 0, 1), vip, 41024, 80, tcp), filter::work_set, 1024, 65},
      // destination port plays no part
      {"tcp other dport", key(ip(10, 0, 0, 1), vip, 40000, 443, tcp), filter::work_set, 1024, 65},
      // 0xAC1005C8 ^ 0x0035 = 0xAC1005FD; low 10 bits 0x1FD
      {"udp 172.16.5.200:53", key(ip(172, 16, 5, 200), vip, 53, 53, udp), filter::work_set, 1024,
       509},
      // 0xC00002FF ^ 0x03FF: low 10 bits 0x2FF ^ 0x3FF = 0x100
      {"tcp 192.0.2.255:1023", key(ip(192, 0, 2, 255), vip, 1023, 80, tcp), filter::work_set, 1024,
       256},
      // 0xFA010203 ^ 0x1388 = 0xFA01118B (sign bit set in the document's int); low 10 bits 0x18B
      {"udp 250.1.2.3:5000", key(ip(250, 1, 2, 3), vip, 5000, 53, udp), filter::work_set, 1024,
       395},
      // other protocol: 0x0A010203 ^ 0x0A0102C8 = 0xCB; ports ignored even if present
      {"icmp 10.1.2.3->10.1.2.200", key(ip(10, 1, 2, 3), ip(10, 1, 2, 200), 7, 9, icmp),
       filter::work_set, 1024, 203},
      // 0xCB007109 ^ 0xC6336414 = 0x0D33151D; low 10 bits 0x11D
      {"gre 203.0.113.9->198.51.100.20", key(ip(203, 0, 113, 9), ip(198, 51, 100, 20), 0, 0, gre),
       filter::work_set, 1024, 285},
      // forward filter: 0x0A000001 ^ 0x0A000307 = 0x306, ports ignored
      {"forward tcp", key(ip(10, 0, 0, 1), ip(10, 0, 3, 7), 40000, 80, tcp), filter::forward, 1024,
       774},
      {"forward tcp reply", key(ip(10, 0, 3, 7), ip(10, 0, 0, 1), 80, 40000, tcp), filter::forward,
       1024, 774},
      // N = 1000 is not a power of two: 0x0A009C41 = 167812161, modulo 1000 = 161
      {"tcp N=1000", key(ip(10, 0, 0, 1), vip, 40000, 80, tcp), filter::work_set, 1000, 161},
      // N = 1: everything in unit 0
      {"tcp N=1", key(ip(10, 0, 0, 1), vip, 40000, 80, tcp), filter::work_set, 1, 0},
  };
  for (const row& r : rows) {
    INFO("row: " << r.name);
    CHECK(document_work_unit(r.k, r.f, r.units) == r.expected);
    const work_unit_hasher h(work_unit_hash::document, r.units);
    CHECK(h(r.k, r.f) == r.expected);
  }
}

TEST_CASE("document hash value before folding") {
  CHECK(document_hash_value(key(ip(10, 0, 0, 1), 0, 40000, 80, tcp), filter::work_set) ==
        0x0A009C41u);
  CHECK(document_hash_value(key(ip(10, 0, 0, 1), ip(10, 0, 0, 2), 40000, 80, udp),
                            filter::forward) == 3u);
  CHECK(document_hash_value(key(ip(10, 0, 0, 1), ip(10, 0, 0, 2), 0, 0, icmp),
                            filter::work_set) == 3u);
}

TEST_CASE("work units are always below N, for both hashes and many N") {
  std::mt19937_64 rng(7);
  const std::uint32_t counts[] = {1, 2, 3, 7, 64, 1000, 1024, 4093, 65536};
  const std::uint8_t protos[] = {tcp, udp, icmp, gre};
  for (std::uint32_t n : counts) {
    CAPTURE(n);
    for (auto kind : {work_unit_hash::document, work_unit_hash::mixed}) {
      const work_unit_hasher h(kind, n);
      for (int i = 0; i < 20000; ++i) {
        const std::uint64_t r = rng();
        const flow_key k = key(static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(r >> 32),
                               static_cast<std::uint16_t>(rng()), static_cast<std::uint16_t>(rng()),
                               protos[i % 4]);
        const filter f = (i & 4) ? filter::forward : filter::work_set;
        const std::uint32_t u = h(k, f);
        if (u >= n) FAIL("unit " << u << " >= " << n);
      }
    }
  }
}

TEST_CASE("mixed hash: symmetric, uses the whole 5-tuple, deterministic") {
  std::mt19937 rng(11);
  std::uint32_t dport_changes = 0, proto_changes = 0;
  for (int i = 0; i < 2000; ++i) {
    const flow_key k = key(rng(), rng(), static_cast<std::uint16_t>(rng()),
                           static_cast<std::uint16_t>(rng()), i % 2 ? tcp : udp);
    CHECK(mixed_work_unit(k, filter::work_set) == mixed_work_unit(k.reverse(), filter::work_set));
    CHECK(mixed_work_unit(k, filter::forward) == mixed_work_unit(k, filter::work_set));
    flow_key d = k;
    d.dst_port = static_cast<std::uint16_t>(d.dst_port + 1);
    dport_changes += mixed_work_unit(d, filter::work_set) != mixed_work_unit(k, filter::work_set);
    flow_key p = k;
    p.protocol = icmp;
    proto_changes += mixed_work_unit(p, filter::work_set) != mixed_work_unit(k, filter::work_set);
  }
  // A changed field moves the flow to another unit about 1023 times in 1024.
  CHECK(dport_changes > 1950);
  CHECK(proto_changes > 1950);
  CHECK(mixed_work_unit(key(1, 2, 3, 4, tcp), filter::work_set) ==
        mixed_work_unit(key(1, 2, 3, 4, tcp), filter::work_set));
}

namespace {
// Most-loaded unit over the mean; 1.0 is perfect.
double peak_over_mean(const std::vector<std::uint32_t>& load) {
  std::uint64_t total = 0;
  std::uint32_t peak = 0;
  for (auto c : load) {
    total += c;
    peak = std::max(peak, c);
  }
  return peak / (static_cast<double>(total) / load.size());
}
}  // namespace

TEST_CASE("spread: random ephemeral ports, and fixed source ports from many sites") {
  const auto used = [](const std::vector<std::uint32_t>& v) {
    return std::count_if(v.begin(), v.end(), [](std::uint32_t c) { return c != 0; });
  };
  std::vector<std::uint32_t> doc(1024), mix(1024);
  const std::uint32_t vip = ip(192, 168, 1, 10);

  SUBCASE("random ephemeral ports from three /24s") {
    std::mt19937 rng(3);
    const std::uint32_t nets[] = {ip(10, 1, 4, 0), ip(10, 1, 8, 0), ip(10, 1, 12, 0)};
    for (int i = 0; i < 100000; ++i) {
      const std::uint32_t src = nets[rng() % 3] | (rng() & 0xff);
      const auto sport = static_cast<std::uint16_t>(32768 + rng() % (60999 - 32768 + 1));
      const flow_key k = key(src, vip, sport, 80, tcp);
      ++doc[document_work_unit(k, filter::work_set)];
      ++mix[mixed_work_unit(k, filter::work_set)];
    }
    // ~98 flows a unit: random ports hide the document hash's weakness; both stay near the mean.
    CHECK(used(doc) == 1024);
    CHECK(used(mix) == 1024);
    CHECK(peak_over_mean(doc) < 1.7);
    CHECK(peak_over_mean(mix) < 1.7);
  }

  SUBCASE("fixed source port 53, clients in 10.s.0.0/24 for 40 sites") {
    // 10240 distinct resolvers talking to a DNS VIP, each once.
    for (std::uint32_t site = 1; site <= 40; ++site) {
      for (std::uint32_t host = 0; host < 256; ++host) {
        const flow_key k = key(ip(10, site, 0, host), vip, 53, 53, udp);
        ++doc[document_work_unit(k, filter::work_set)];
        ++mix[mixed_work_unit(k, filter::work_set)];
      }
    }
    // The document's hash sees only the low 10 bits of the address: the last octet and two bits
    // of the third, which is 0 at every site. Exactly 256 units get 40 flows each; 768 get none.
    CHECK(used(doc) == 256);
    CHECK(peak_over_mean(doc) == doctest::Approx(4.0));
    // The mixed hash reaches (nearly) every unit; 10 flows a unit on average.
    CHECK(used(mix) > 1000);
    CHECK(peak_over_mean(mix) < 2.8);
  }
}

TEST_CASE("hash names and hasher construction") {
  CHECK(parse_work_unit_hash("document") == work_unit_hash::document);
  CHECK(parse_work_unit_hash("mixed") == work_unit_hash::mixed);
  CHECK_FALSE(parse_work_unit_hash("Mixed").has_value());
  CHECK_FALSE(parse_work_unit_hash("").has_value());
  CHECK(std::string(to_string(work_unit_hash::document)) == "document");
  CHECK(std::string(to_string(work_unit_hash::mixed)) == "mixed");

  CHECK_THROWS_AS(work_unit_hasher(work_unit_hash::document, 0), std::invalid_argument);
  CHECK_THROWS_AS(work_unit_hasher(work_unit_hash::mixed, max_work_units + 1),
                  std::invalid_argument);
  const work_unit_hasher def;
  CHECK(def.units() == 1024);
  CHECK(def.kind() == work_unit_hash::document);
  const flow_key k = key(ip(10, 0, 0, 1), ip(192, 168, 1, 10), 40000, 80, tcp);
  CHECK(work_unit_hasher(work_unit_hash::mixed)(k) == mixed_work_unit(k, filter::work_set));
}

TEST_CASE("owned_units bitmap") {
  owned_units o;
  CHECK(o.none());
  CHECK(o.size() == 1024);
  struct row {
    const char* name;
    std::uint32_t unit;
  };
  const row rows[] = {{"first", 0}, {"word edge 63", 63}, {"word edge 64", 64}, {"last", 1023}};
  for (const row& r : rows) {
    INFO("row: " << r.name);
    CHECK_FALSE(o.test(r.unit));
    CHECK(o.set(r.unit));
    CHECK(o.test(r.unit));
  }
  CHECK(o.count() == 4);
  CHECK_FALSE(o.test(62));
  CHECK_FALSE(o.test(65));
  CHECK_FALSE(o.set(1024));
  CHECK_FALSE(o.test(1024));
  CHECK_FALSE(o.test(0xffffffffu));
  CHECK(o.reset(64));
  CHECK_FALSE(o.test(64));
  CHECK(o.count() == 3);
  owned_units copy = o;
  CHECK(copy == o);
  copy.reset(0);
  CHECK(copy != o);
  o.clear();
  CHECK(o.none());
  o.set_first(1000);
  CHECK(o.count() == 1000);
  CHECK(o.test(999));
  CHECK_FALSE(o.test(1000));
  o.set_first(5000);
  CHECK(o.count() == 1024);
}
