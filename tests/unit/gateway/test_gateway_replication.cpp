// Replication as deltas (document 004, Figure 7): export_delta(since) carries exactly the flows
// created since (initial records), the essential states changed since and the flows that ended
// since; a checkpoint (since = 0) and then each delta, applied in order with import_blobs on
// another member, reproduce the owner's flows.

#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "tests/unit/gateway/gateway_rig.hpp"

using namespace baton::net;
using namespace baton::net::test;
using namespace std::chrono_literals;

namespace {

tcp_spec client_segment(std::uint16_t sport, std::uint32_t seq, std::uint32_t ack,
                        std::uint8_t flags, std::size_t len = 0) {
  tcp_spec s;
  s.src = client_ip;
  s.dst = vip;
  s.sport = sport;
  s.dport = 80;
  s.seq = seq;
  s.ack = ack;
  s.flags = flags;
  s.window = 1000;
  s.payload = len;
  if (flags & tcp_flag_syn) s.options = syn_options(1460, 7, 111);
  return s;
}

std::vector<std::uint8_t> udp_query(std::uint16_t sport) {
  return udp_packet(7, 16, client_ip, vip, sport, 53);
}

struct delta_counts {
  std::size_t initial = 0, essential = 0, removed = 0, bytes = 0;
  bool complete = true;
};

/// One replication round over every unit: exports what changed since each unit's last export
/// on `a` and applies it on `b`, as the owner's role and the backup's role would.
delta_counts replicate_round(member& a, member& b, std::vector<std::uint64_t>& since) {
  delta_counts c;
  for (std::uint32_t u = 0; u < default_work_units; ++u) {
    std::vector<std::uint8_t> out;
    const unit_export e = a.gw->export_delta(u, since[u], out);
    since[u] = e.version;
    c.initial += e.initial_flows;
    c.essential += e.essential_flows;
    c.removed += e.removed_flows;
    c.bytes += out.size();
    c.complete = c.complete && e.complete;
    if (out.empty()) continue;
    const unit_import im = b.gw->import_blobs(bytes_view(out));
    CHECK(im.status == parse_status::ok);
    CHECK(im.rejected == 0);
  }
  return c;
}

/// Every client port used below: the flow is on both members with the same state, or on neither.
void check_same(member& a, member& b) {
  for (std::uint16_t p = 50000; p < 50020; ++p) {
    for (auto proto : {ip_protocol_tcp, ip_protocol_udp}) {
      CAPTURE(p);
      CAPTURE(int(proto));
      const flow_key k = client_key(client_ip, p, proto == ip_protocol_tcp ? 80 : 53, proto);
      gateway_flow_info x, y;
      const bool on_a = a.gw->find_flow(k, x);
      const bool on_b = b.gw->find_flow(k, y);
      REQUIRE(on_a == on_b);
      if (!on_a) continue;
      CHECK(x.backend_addr == y.backend_addr);
      CHECK(x.backend_port == y.backend_port);
      CHECK(x.snat_port == y.snat_port);
      CHECK(x.unit == y.unit);
      CHECK(x.initial.client_mss == y.initial.client_mss);
      CHECK(x.initial.backend_mss == y.initial.backend_mss);
      CHECK(x.initial.options_size == y.initial.options_size);
      if (proto == ip_protocol_tcp) {
        CHECK(x.essential == y.essential);
        CHECK(x.state == y.state);
      }
    }
  }
}

}  // namespace

TEST_CASE("gateway: a checkpoint and then the deltas in order reproduce the owner's flows") {
  test_now = 1'000'000ms;
  member a;
  member b(base_config(), owned_units{});
  // Before the checkpoint: three established connections and a half-open one.
  for (std::uint16_t p = 50000; p < 50003; ++p) {
    REQUIRE(a.from_client(tcp_datagram(client_segment(p, 1000, 0, tcp_flag_syn))));
    REQUIRE(a.from_client(tcp_datagram(client_segment(p, 1001, 5001, tcp_flag_ack, 100))));
  }
  REQUIRE(a.from_client(tcp_datagram(client_segment(50003, 1000, 0, tcp_flag_syn))));
  std::vector<std::uint64_t> since(default_work_units, 0);
  const delta_counts cp = replicate_round(a, b, since);
  CHECK(cp.initial == 4);
  CHECK(cp.essential == 4);
  CHECK(cp.removed == 0);
  check_same(a, b);

  struct step {
    std::string name;
    std::function<void()> act;
    std::size_t initial, essential, removed;
  };
  std::uint32_t seq = 1101;
  const std::vector<step> steps = {
    {"nothing happened", [] {}, 0, 0, 0},
    {"a new TCP flow: its initial and essential records",
     [&] { REQUIRE(a.from_client(tcp_datagram(client_segment(50004, 7000, 0, tcp_flag_syn)))); },
     1, 1, 0},
    {"a new UDP flow: an initial record only",
     [&] { REQUIRE(a.from_client(udp_query(50005))); }, 1, 0, 0},
    {"data on one connection: its essential record only",
     [&] {
       REQUIRE(a.from_client(tcp_datagram(client_segment(50000, seq, 5001, tcp_flag_ack, 50))));
       seq += 50;
     },
     0, 1, 0},
    {"data on two connections, twice each: one record each",
     [&] {
       for (int i = 0; i < 2; ++i)
         for (std::uint16_t p : {50001, 50002})
           REQUIRE(a.from_client(
             tcp_datagram(client_segment(p, 1101 + 10 * i, 5001, tcp_flag_ack, 10))));
     },
     0, 2, 0},
    {"the half-open flows (50003, 50004) idle out: a removal each",
     [&] {
       test_now += 40s;  // past the SYN timeout, within the established one
       a.gw->expire(1u << 16);
     },
     0, 0, 2},
    {"a reset closes a connection: its essential record (state)",
     [&] {
       REQUIRE(a.from_client(tcp_datagram(client_segment(50002, 1121, 5001, tcp_flag_rst))));
     },
     0, 1, 0},
    {"the closed connection expires and its 4-tuple opens again: removal, then the new flow",
     [&] {
       test_now += 40s;
       a.gw->expire(1u << 16);
       REQUIRE(a.from_client(tcp_datagram(client_segment(50002, 9000, 0, tcp_flag_syn))));
     },
     1, 1, 1},
  };
  for (const auto& s : steps) {
    CAPTURE(s.name);
    s.act();
    const delta_counts d = replicate_round(a, b, since);
    CHECK(d.complete);
    CHECK(d.initial == s.initial);
    CHECK(d.essential == s.essential);
    CHECK(d.removed == s.removed);
    if (s.initial + s.essential + s.removed == 0) CHECK(d.bytes == 0);
    check_same(a, b);
  }
}

TEST_CASE("gateway: concatenated blobs are checked before use") {
  test_now = 1'000'000ms;
  member a;
  REQUIRE(a.from_client(tcp_datagram(client_segment(50000, 1000, 0, tcp_flag_syn))));
  const std::uint32_t u = work_unit_hasher{}(client_key(client_ip, 50000, 80), filter::work_set);
  std::vector<std::uint8_t> cp;
  a.gw->export_delta(u, 0, cp);
  REQUIRE(cp.size() == 2 * gateway_state_header_size + gateway_initial_record_size +
                         gateway_essential_record_size);
  auto cut = [](std::vector<std::uint8_t> v, std::size_t n) {
    v.resize(n);
    return v;
  };
  auto with = [](std::vector<std::uint8_t> v, std::size_t at, std::uint8_t value) {
    v[at] = value;
    return v;
  };
  auto count = [](std::vector<std::uint8_t> v, std::uint32_t n) {
    store_be32(&v[8], n);
    return v;
  };
  struct row {
    const char* name;
    std::vector<std::uint8_t> blobs;
    parse_status status;
    std::size_t created, updated;
  };
  const std::size_t second = gateway_state_header_size + gateway_initial_record_size;
  const row rows[] = {
    {"as exported", cp, parse_status::ok, 1, 1},
    {"nothing", {}, parse_status::ok, 0, 0},
    {"header cut", cut(cp, 7), parse_status::truncated, 0, 0},
    {"second blob cut: the first stays applied", cut(cp, cp.size() - 1), parse_status::truncated, 1, 0},
    {"unknown kind", with(cp, 1, 'X'), parse_status::unsupported, 0, 0},
    {"unknown format in the second blob", with(cp, second, 7), parse_status::unsupported, 1, 0},
    {"count beyond the bytes", count(cp, 1000), parse_status::truncated, 0, 0},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    member b(base_config(), owned_units{});
    const unit_import im = b.gw->import_blobs(bytes_view(r.blobs));
    CHECK(im.status == r.status);
    CHECK(im.created == r.created);
    CHECK(im.updated == r.updated);
  }
}
