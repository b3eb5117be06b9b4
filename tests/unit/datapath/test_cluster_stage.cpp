// The cluster stage's traffic modes (net/cluster/cluster_stage.hpp) on a packet loop with two
// test ports that say which frames were addressed to this host and record each sent datagram's
// next-hop MAC: the cluster MAC mode as before, and forwarding mode on the master (forward to the
// owner unchanged, hold while the unit is being assigned, release, expire, discard, bounds).
#include <doctest/doctest.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/cluster/cluster_stage.hpp"
#include "net/io/packet_loop.hpp"
#include "net/packet/checksum.hpp"
#include "net/packet/fragment.hpp"
#include "tests/unit/gateway/gateway_rig.hpp"

using namespace baton::net;
using namespace baton::net::test;
using baton::net::backend_endpoint;
using baton::net::backend_neighbor;
using baton::net::cluster_stage;
using baton::net::route_kind;
using baton::net::segment_settings;
using baton::net::traffic;
using baton::net::unit_route;

namespace {

using mac = std::array<std::uint8_t, 6>;
const mac owner_mac{0x02, 0, 0, 0, 0, 0x12};
const mac backend1_mac{0x02, 0, 0, 0, 0, 0x21};

/// A port whose frames carry "addressed to this host" as the test says, and which records the next
/// hop of everything sent.
class frame_port final : public packet_port {
 public:
  struct sent {
    std::vector<std::uint8_t> bytes;
    bool has_next_hop = false;
    mac next_hop{};
  };
  frame_port(buffer_pool& pool, const char* name) : packet_port(name, 1500), pool_(pool) {}

  void inject(const std::vector<std::uint8_t>& p, bool to_host) { rx_.push_back({p, to_host}); }
  std::optional<sent> take() {
    if (tx_.empty()) return std::nullopt;
    auto s = tx_.front();
    tx_.pop_front();
    return s;
  }
  std::size_t sent_count() const { return tx_.size(); }

  std::size_t receive_batch(packet_batch& batch, std::chrono::milliseconds) noexcept override {
    std::size_t n = 0;
    while (!rx_.empty() && !batch.full()) {
      packet_buffer* b = pool_.acquire();
      if (b == nullptr) break;
      b->assign(bytes_view(rx_.front().bytes.data(), rx_.front().bytes.size()));
      b->addressed_to_host = rx_.front().to_host;
      b->in_port = id();
      rx_.pop_front();
      batch.push(b);
      ++n;
    }
    return n;
  }
  std::size_t send_batch(const packet_batch& batch) noexcept override {
    for (auto* b : batch) {
      auto d = b->data();
      tx_.push_back({std::vector<std::uint8_t>(d.data, d.data + d.size), b->has_next_hop, b->next_hop});
    }
    return batch.size();
  }
  int wait_fd() const noexcept override { return -1; }

 private:
  struct item {
    std::vector<std::uint8_t> bytes;
    bool to_host;
  };
  buffer_pool& pool_;
  std::deque<item> rx_;
  std::deque<sent> tx_;
};

segment_settings forwarding_settings() {
  segment_settings s;
  s.mode = traffic::forwarding;
  s.cluster_ip = vip;
  s.inside_ip = ip4(10, 1, 0, 100);
  s.client_port = 0;
  s.backend_port = 1;
  s.self = member_a;
  s.backends = {{ip_protocol_tcp, ip4(10, 1, 0, 1), 8080, 80},
                {ip_protocol_tcp, ip4(10, 1, 0, 2), 8080, 80},
                {ip_protocol_tcp, ip4(10, 1, 0, 3), 8081, 80}};
  s.hold_per_unit = 4;
  s.hold_total = 6;
  s.hold_ticks = 3;
  return s;
}

/// One member: a loop with a client-side port (0) and a backend-side port (1), the cluster stage
/// over a gateway owning `owned`, and a release port for port 0.
struct member_rig {
  buffer_pool pool{buffer_pool_config{64, 128, 2048}};
  packet_loop loop{pool};
  frame_port* clients = nullptr;
  frame_port* backends = nullptr;
  frame_port* release = nullptr;  // where held datagrams for port 0 leave
  buffer_pool release_pool{buffer_pool_config{1, 0, 2048}};
  cluster_stage* stage = nullptr;

  member_rig(const owned_units& owned, std::optional<segment_settings> settings) {
    auto a = std::make_unique<frame_port>(pool, "clients");
    auto b = std::make_unique<frame_port>(pool, "backends");
    clients = a.get();
    backends = b.get();
    REQUIRE(loop.add_port(std::move(a)) == 0);
    REQUIRE(loop.add_port(std::move(b)) == 1);
    gateway_settings gs;
    gs.flow_capacity = 256;
    gs.clock = &test_clock;
    auto gw = std::make_unique<gateway_stage>(loop.epoch(), gs, base_config(), owned);
    std::vector<backend_neighbor> neighbors = {{ip4(10, 1, 0, 1), backend1_mac}};
    std::unique_ptr<cluster_stage> st;
    if (settings) st = std::make_unique<cluster_stage>(std::move(gw), neighbors, 1, *settings);
    else st = std::make_unique<cluster_stage>(std::move(gw), neighbors, 1);
    stage = st.get();
    loop.add_stage(std::move(st));
    auto r = std::make_unique<frame_port>(release_pool, "release");
    release = r.get();
    stage->set_release_port(0, std::move(r));
  }

  void routes(std::uint32_t unit, unit_route r) {
    std::vector<unit_route> table(default_work_units);
    table[unit] = r;
    REQUIRE(stage->install_routes(table));
    CHECK(table.size() == default_work_units);  // the previous table came back
  }
};

std::uint32_t unit_of_client(std::uint32_t client, std::uint16_t port) {
  return work_unit_hasher{}(client_key(client, port, 80), filter::work_set);
}

owned_units only(std::uint32_t unit) {
  owned_units o;
  o.set(unit);
  return o;
}

std::vector<std::uint8_t> syn_from(std::uint32_t client, std::uint16_t port) {
  return tcp_datagram({client, vip, port, 80, 1000, 0, tcp_flag_syn, 65535, {}, 0});
}

}  // namespace

TEST_CASE("cluster stage, cluster MAC mode: frames to the host's MAC stay the kernel's") {
  const std::uint32_t unit = unit_of_client(client_ip, 40000);
  member_rig m(only(unit), std::nullopt);
  const auto syn = syn_from(client_ip, 40000);
  m.clients->inject(syn, true);
  m.loop.run_once();
  CHECK(m.backends->sent_count() == 0);
  CHECK(m.clients->sent_count() == 0);
  m.clients->inject(syn, false);  // to the cluster MAC
  m.loop.run_once();
  auto out = m.backends->take();
  REQUIRE(out);
  CHECK(load_be32(out->bytes.data() + 16) != vip);  // NAT rewrote the destination to a backend
}

TEST_CASE("cluster stage: the owned wake fires once, at an armed member's next owned datagram") {
  const std::uint16_t port = 40010;
  const std::uint32_t unit = unit_of_client(client_ip, port);
  const std::uint32_t other = (unit + 1) % default_work_units;
  struct row {
    const char* name;
    bool forwarding;
    std::uint32_t owned;  // the unit this member owns
    bool to_host;         // how the frame reaches it (forwarding mode: addressed to its MAC)
    bool armed;
    int wakes;            // calls after the datagram
    bool still_armed;     // disarm_owned_wake() afterwards
  };
  const row rows[] = {
    {"cluster MAC, own unit, armed", false, unit, false, true, 1, false},
    {"cluster MAC, own unit, not armed", false, unit, false, false, 0, false},
    {"cluster MAC, another member's unit", false, other, false, true, 0, true},
    {"cluster MAC, a frame to the host's MAC", false, unit, true, true, 0, true},
    {"forwarding, own unit, armed", true, unit, true, true, 1, false},
    {"forwarding, another member's unit (relayed)", true, other, true, true, 0, true},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    member_rig m(only(r.owned), r.forwarding ? std::optional<segment_settings>(forwarding_settings())
                                             : std::nullopt);
    if (r.forwarding) {
      m.routes(unit, {r.owned == unit ? route_kind::local : route_kind::forward, 0, owner_mac});
    }
    int wakes = 0;
    m.stage->set_owned_wake([&] { ++wakes; });
    if (r.armed) m.stage->arm_owned_wake();
    m.clients->inject(syn_from(client_ip, port), r.to_host);
    m.clients->inject(syn_from(client_ip, port), r.to_host);  // a second one: no second call
    m.loop.run_once();
    CHECK(wakes == r.wakes);
    CHECK(m.stage->disarm_owned_wake() == r.still_armed);
  }
}

TEST_CASE("cluster stage, forwarding mode: what the master does with one datagram, by route") {
  const std::uint16_t port = 40001;
  const std::uint32_t unit = unit_of_client(client_ip, port);
  const std::uint32_t local_unit = (unit + 1) % default_work_units;
  struct row {
    const char* name;
    bool to_host;
    route_kind route;
    bool from_backend;   // a backend's reply rather than a client's datagram
    int out_port;        // -1: nothing sent
    bool unchanged;      // sent as it came (forwarded), else rewritten by the gateway
    std::size_t held;
  };
  const row rows[] = {
      {"another member's MAC on a flooding segment: ignored", false, route_kind::forward, false, -1, false, 0},
      {"another member's unit: forwarded to its owner unchanged", true, route_kind::forward, false, 0, true, 0},
      {"a backend's reply for another member's unit: forwarded to the owner", true, route_kind::forward, true, 0, true, 0},
      {"a unit being assigned: held", true, route_kind::hold, false, -1, false, 1},
      {"a backend's reply for a unit being assigned: held", true, route_kind::hold, true, -1, false, 1},
      {"nobody's unit (not master): dropped", true, route_kind::none, false, -1, false, 0},
      {"ours by the table, not yet in the owned set: dropped", true, route_kind::local, false, -1, false, 0},
  };
  for (const auto& r : rows) {
    CAPTURE(std::string(r.name));
    member_rig m(only(local_unit), forwarding_settings());
    m.routes(unit, {r.route, 0, owner_mac});
    const auto p = r.from_backend
                     ? tcp_datagram({ip4(10, 1, 0, 1), client_ip, 8080, port, 5000, 1001,
                                     tcp_flag_ack, 65535, {}, 10})
                     : syn_from(client_ip, port);
    (r.from_backend ? m.backends : m.clients)->inject(p, r.to_host);
    m.loop.run_once();
    frame_port* ports[] = {m.clients, m.backends};
    for (int i = 0; i < 2; ++i) {
      CAPTURE(i);
      if (i != r.out_port) {
        CHECK(ports[i]->sent_count() == 0);
        continue;
      }
      auto out = ports[i]->take();
      REQUIRE(out);
      CHECK(out->has_next_hop);
      CHECK(out->next_hop == owner_mac);
      if (r.unchanged) CHECK(out->bytes == p);
    }
    CHECK(m.stage->held_now() == r.held);
    CHECK(m.stage->counters().held == r.held);
    CHECK(m.stage->counters().foreign == (r.to_host ? 0u : 1u));
  }
}

TEST_CASE("cluster stage, forwarding mode: the master still carries its own units") {
  const std::uint32_t unit = unit_of_client(client_ip, 40002);
  member_rig m(only(unit), forwarding_settings());
  m.routes(unit, {route_kind::local, 0, {}});
  m.clients->inject(syn_from(client_ip, 40002), true);
  m.loop.run_once();
  auto out = m.backends->take();
  REQUIRE(out);
  const std::uint32_t dst = load_be32(out->bytes.data() + 16);
  const bool to_backend = dst == ip4(10, 1, 0, 1) || dst == ip4(10, 1, 0, 2) || dst == ip4(10, 1, 0, 3);
  CHECK(to_backend);
  CHECK(m.stage->counters().forwarded == 0);
}

TEST_CASE("cluster stage, forwarding mode: held datagrams leave in order once the owner has the unit") {
  const std::uint32_t unit = unit_of_client(client_ip, 40003);
  member_rig m(owned_units{}, forwarding_settings());
  const std::size_t free_before = m.pool.available();
  m.routes(unit, {route_kind::hold, 0, {}});
  std::vector<std::vector<std::uint8_t>> sent;
  for (std::uint32_t i = 0; i < 3; ++i) {
    sent.push_back(tcp_datagram({client_ip, vip, 40003, 80, 1000 + i, 0, tcp_flag_ack, 65535, {}, i}));
    m.clients->inject(sent.back(), true);
  }
  m.loop.run_once();
  CHECK(m.stage->held_now() == 3);
  CHECK(m.pool.available() == free_before - 3);  // held datagrams keep their buffers
  CHECK(m.release->sent_count() == 0);
  m.routes(unit, {route_kind::forward, 0, owner_mac});
  for (const auto& p : sent) {
    auto out = m.release->take();
    REQUIRE(out);
    CHECK(out->bytes == p);
    CHECK(out->has_next_hop);
    CHECK(out->next_hop == owner_mac);
  }
  CHECK(m.stage->held_now() == 0);
  CHECK(m.stage->counters().released == 3);
  CHECK(m.pool.available() == free_before);
  // Later datagrams of the unit go straight through the loop.
  m.clients->inject(sent[0], true);
  m.loop.run_once();
  CHECK(m.clients->sent_count() == 1);
  CHECK(m.stage->counters().forwarded == 1);
}

TEST_CASE("cluster stage, forwarding mode: holding is bounded and ends") {
  const std::uint32_t unit = unit_of_client(client_ip, 40004);
  const std::uint32_t other = unit_of_client(client_ip, 40005);
  REQUIRE(unit != other);
  SUBCASE("per unit, then in all") {
    member_rig m(owned_units{}, forwarding_settings());  // 4 per unit, 6 in all
    std::vector<unit_route> table(default_work_units);
    table[unit] = table[other] = {route_kind::hold, 0, {}};
    REQUIRE(m.stage->install_routes(table));
    for (int i = 0; i < 5; ++i) m.clients->inject(syn_from(client_ip, 40004), true);
    m.loop.run_once();
    CHECK(m.stage->held_now() == 4);
    CHECK(m.stage->counters().hold_full == 1);
    for (int i = 0; i < 3; ++i) m.clients->inject(syn_from(client_ip, 40005), true);
    m.loop.run_once();
    CHECK(m.stage->held_now() == 6);
    CHECK(m.stage->counters().hold_full == 2);
  }
  SUBCASE("expired after hold_ticks route installs") {
    member_rig m(owned_units{}, forwarding_settings());
    const std::size_t free_before = m.pool.available();
    m.routes(unit, {route_kind::hold, 0, {}});
    m.clients->inject(syn_from(client_ip, 40004), true);
    m.loop.run_once();
    REQUIRE(m.stage->held_now() == 1);
    for (int i = 0; i < 3; ++i) m.routes(unit, {route_kind::hold, 0, {}});
    CHECK(m.stage->held_now() == 1);  // three ticks: still within hold_ticks
    m.routes(unit, {route_kind::hold, 0, {}});
    CHECK(m.stage->held_now() == 0);
    CHECK(m.stage->counters().hold_expired == 1);
    CHECK(m.pool.available() == free_before);
    CHECK(m.release->sent_count() == 0);
  }
  SUBCASE("discarded when the unit becomes ours or nobody's") {
    for (auto kind : {route_kind::local, route_kind::none}) {
      CAPTURE(static_cast<int>(kind));
      member_rig m(owned_units{}, forwarding_settings());
      const std::size_t free_before = m.pool.available();
      m.routes(unit, {route_kind::hold, 0, {}});
      m.clients->inject(syn_from(client_ip, 40004), true);
      m.loop.run_once();
      m.routes(unit, {kind, 0, {}});
      CHECK(m.stage->held_now() == 0);
      CHECK(m.stage->counters().hold_discarded == 1);
      CHECK(m.pool.available() == free_before);
    }
  }
  SUBCASE("a route table of the wrong size is refused") {
    member_rig m(owned_units{}, forwarding_settings());
    std::vector<unit_route> table(10);
    CHECK_FALSE(m.stage->install_routes(table));
    CHECK(table.size() == 10);
  }
}

TEST_CASE("cluster stage: unit_of places both directions of a connection on one unit") {
  member_rig m(owned_units{}, forwarding_settings());
  packet_fields to_vip, reply, other;
  REQUIRE(parse_fields(bytes_view(syn_from(client_ip, 40006)), to_vip) == parse_status::ok);
  REQUIRE(parse_fields(bytes_view(tcp_datagram({ip4(10, 1, 0, 3), client_ip, 8081, 40006, 1, 1,
                                                tcp_flag_ack, 65535, {}, 0})),
                       reply) == parse_status::ok);
  REQUIRE(parse_fields(bytes_view(tcp_datagram({ip4(10, 1, 0, 3), client_ip, 9999, 40006, 1, 1,
                                                tcp_flag_ack, 65535, {}, 0})),
                       other) == parse_status::ok);
  std::uint32_t a = 0, b = 0, c = 0;
  REQUIRE(m.stage->unit_of(to_vip, a));
  REQUIRE(m.stage->unit_of(reply, b));
  CHECK(a == b);
  CHECK(a == unit_of_client(client_ip, 40006));
  CHECK_FALSE(m.stage->unit_of(other, c));  // not a backend endpoint: not the cluster's
}

TEST_CASE("cluster member: malformed frames are counted by parse status, never NATed or forwarded") {
  // Issue 15: a member counted these as not_owned and NATed SYNs whose TCP checksum was wrong.
  // Every row is sent to the cluster MAC (cluster MAC mode) and to the host's MAC (forwarding
  // mode, as the master), for a unit this member owns: nothing leaves, and each is counted under
  // its own parse status.
  const std::uint32_t unit = unit_of_client(client_ip, 40010);
  auto fix_ip_checksum = [](std::vector<std::uint8_t>& p) {
    store_be16(&p[10], 0);
    store_be16(&p[10], internet_checksum(bytes_view(p.data(), (p[0] & 0x0fu) * 4u)));
  };
  auto edit = [](std::vector<std::uint8_t> p, auto f) {
    f(p);
    return p;
  };
  const auto syn = syn_from(client_ip, 40010);
  REQUIRE(verify_l4_checksum(bytes_view(syn.data(), syn.size())) == parse_status::ok);
  struct row {
    const char* name;
    std::vector<std::uint8_t> packet;
    parse_status status;
  };
  const std::vector<row> rows = {
    {"header checksum wrong", edit(syn, [](auto& p) { p[10] ^= 0x5a; }), parse_status::bad_checksum},
    {"IHL 3", edit(syn, [&](auto& p) { p[0] = 0x43; fix_ip_checksum(p); }), parse_status::bad_ihl},
    {"total length past the end",
     edit(syn, [&](auto& p) { store_be16(&p[2], static_cast<std::uint16_t>(p.size() + 100)); fix_ip_checksum(p); }),
     parse_status::bad_total_length},
    {"total length below the header",
     edit(syn, [&](auto& p) { store_be16(&p[2], 12); fix_ip_checksum(p); }), parse_status::bad_total_length},
    {"truncated", edit(syn, [](auto& p) { p.resize(14); }), parse_status::truncated},
    {"SYN with a wrong TCP checksum", edit(syn, [](auto& p) { p[20 + 16] ^= 0x01; }),
     parse_status::bad_l4_checksum},
    {"SYN whose sequence number changed after the checksum", edit(syn, [](auto& p) { p[20 + 4] ^= 0x80; }),
     parse_status::bad_l4_checksum},
  };
  for (const bool forwarding : {false, true}) {
    for (const auto& r : rows) {
      CAPTURE(forwarding);
      CAPTURE(r.name);
      member_rig m(only(unit), forwarding ? std::optional<segment_settings>(forwarding_settings())
                                          : std::nullopt);
      if (forwarding) m.routes(unit, unit_route{route_kind::local, 0, {}});
      m.clients->inject(r.packet, forwarding);
      m.clients->inject(syn, forwarding);  // a good one after it is NATed as before
      m.loop.run_once();
      const auto s = m.loop.snapshot();
      CHECK(s.malformed_for(r.status) == 1);
      CHECK(s.drops_for(drop_reason::malformed) == 1);
      CHECK(s.drops_for(drop_reason::not_owned) == 0);
      CHECK(s.total_drops() == 1);
      CHECK(m.backends->sent_count() == 1);  // the good SYN only
      CHECK(m.clients->sent_count() == 0);
      CHECK(m.release->sent_count() == 0);
    }
  }
}

TEST_CASE("cluster stage, forwarding mode: later fragments go to the owner their first fragment went to") {
  // A 3000-byte TCP segment to the web service, in fragments of at most 1200 bytes.
  const std::uint16_t port = 40050;
  const std::uint32_t unit = unit_of_client(client_ip, port);
  auto whole = tcp_datagram({client_ip, vip, port, 80, 1000, 1, tcp_flag_ack, 65535, {}, 2960});
  store_be16(&whole[6], 0);  // DF off
  store_be16(&whole[10], 0);
  store_be16(&whole[10], internet_checksum(bytes_view(whole.data(), 20)));
  const std::size_t count = ipv4_fragment_count(bytes_view(whole), 1200);
  REQUIRE(count == 3);
  std::vector<std::vector<std::uint8_t>> pieces(count);
  for (std::size_t i = 1; i < count; ++i) {
    pieces[i].resize(1200);
    pieces[i].resize(write_ipv4_fragment(bytes_view(whole), 1200, i, bytes_span(pieces[i].data(), 1200)));
  }
  pieces[0] = whole;
  pieces[0].resize(cut_to_first_ipv4_fragment(bytes_span(pieces[0].data(), pieces[0].size()), 1200));

  struct row {
    const char* name;
    std::vector<std::size_t> order;
    std::size_t relayed;  // later pieces sent on
    std::size_t unplaced;
  };
  const row rows[] = {
    {"in order: all three to the owner, unchanged", {0, 1, 2}, 2, 0},
    {"a later piece before its first: dropped, the rest go", {1, 0, 2}, 1, 1},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    member_rig m(only((unit + 1) % default_work_units), forwarding_settings());
    m.routes(unit, {route_kind::forward, 0, owner_mac});
    std::size_t sent = 0;
    for (std::size_t i : r.order) {
      m.clients->inject(pieces[i], true);
      m.loop.run_once();
      if (auto out = m.clients->take()) {
        CHECK(out->next_hop == owner_mac);
        CHECK(out->bytes == pieces[i]);
        ++sent;
      }
    }
    CHECK(sent == 1 + r.relayed);
    CHECK(m.stage->counters().fragments_relayed == r.relayed);
    CHECK(m.stage->counters().unplaced == r.unplaced);
  }
}
