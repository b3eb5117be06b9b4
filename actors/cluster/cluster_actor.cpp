#include "actors/cluster/cluster_actor.hpp"

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

#include <arpa/inet.h>

#include "actors/cluster/arp_speaker.hpp"
#include "actors/cluster/cluster_stage.hpp"
#include "actors/node/event_log.hpp"
#include "actors/node/io_runtime.hpp"
#include "net/io/af_packet_port.hpp"
#include "net/packet/bytes.hpp"
#include "policy/rules.hpp"

namespace baton::cluster {
namespace {

using node::severity;
using protocol::tick_atom;

/// A send-only AF_PACKET port for the datagrams the stage releases from hold, with the one-buffer
/// pool the port's constructor wants (a send-only port never receives into it).
class release_port final : public net::packet_port {
 public:
  explicit release_port(const std::string& interface)
      : packet_port(interface + "/release", net::interface_mtu(interface)),
        pool_(net::buffer_pool_config{1, 0, 2048}),
        port_(pool_, [&] {
          net::af_packet_config c;
          c.interface = interface;
          c.receive = false;
          return c;
        }()) {}
  std::size_t receive_batch(net::packet_batch&, std::chrono::milliseconds) noexcept override { return 0; }
  std::size_t send_batch(const net::packet_batch& batch) noexcept override {
    return port_.send_batch(batch);
  }
  int wait_fd() const noexcept override { return -1; }

 private:
  net::buffer_pool pool_;
  net::af_packet_port port_;
};

std::uint32_t parse_address(const std::string& text) {
  in_addr a{};
  return ::inet_pton(AF_INET, text.c_str(), &a) == 1 ? ntohl(a.s_addr) : 0;
}

struct cluster_state {
  static inline const char* name = "cluster";
  std::shared_ptr<node::io_runtime> io;
  node::event_log* events = nullptr;
  group::group_actor group;
  net::owned_units owned;
  std::vector<std::uint64_t> versions;  // per unit: export version last replicated
  std::chrono::milliseconds interval{100};
  // Unit events arrive by the hundred when the group rebalances; they are applied together, in
  // one table publish and one command on the loop thread, rather than one blocking round trip each.
  std::vector<group::unit_id> pending_drops;
  std::vector<std::pair<group::unit_id, group::state_bytes>> pending_imports;
  bool apply_scheduled = false;
  std::uint64_t replicated_blobs = 0, replicated_bytes = 0, takeovers = 0, imported_flows = 0,
                import_errors = 0;
  // The segment side (traffic mode).
  segment_settings segment;
  std::unique_ptr<arp_speaker> arp;     // null when it could not be opened (logged)
  bool master = false;
  std::vector<group::node_id> owners;   // the group's owners at the last view (master only)
  std::vector<std::uint8_t> confirmed;  // owner unchanged across two views
  std::vector<unit_route> routes;       // scratch, swapped with the stage's table
  std::uint64_t views = 0, view_errors = 0, routes_forward = 0, routes_hold = 0;

  net::gateway_stage& gateway() { return io->cluster()->gateway(); }
  void publish() { gateway().publish_owned(owned); }
};

using cluster_pointer = cluster_actor::stateful_pointer<cluster_state>;

void schedule_apply(cluster_pointer self) {
  if (self->state.apply_scheduled) return;
  self->state.apply_scheduled = true;
  self->send(self, protocol::apply_atom::value);
}

/// Publishes the owned units, then drops the flows of units given up and imports the state of
/// units taken over, all in one command on the loop thread.
void apply_pending(cluster_pointer self) {
  auto& st = self->state;
  st.apply_scheduled = false;
  st.publish();
  auto drops = std::move(st.pending_drops);
  auto imports = std::move(st.pending_imports);
  st.pending_drops.clear();
  st.pending_imports.clear();
  struct outcome {
    group::unit_id unit;
    net::unit_import result;
  };
  std::vector<outcome> imported;
  std::size_t dropped = 0;
  st.io->run_on_loop([&] {
    auto& gw = st.gateway();
    for (auto u : drops)
      if (!st.owned.test(u)) dropped += gw.drop_unit(u);
    for (auto& [u, state] : imports) {
      std::size_t initial_size = 0;
      if (!unpack_unit_state(state, initial_size)) {
        imported.push_back({u, net::unit_import{net::parse_status::truncated, 0, 0, 0, 0}});
        continue;
      }
      net::bytes_view initial{state.data() + 4, initial_size};
      net::bytes_view essential{state.data() + 4 + initial_size, state.size() - 4 - initial_size};
      imported.push_back({u, gw.import_unit(initial, essential)});
    }
  });
  for (auto& [u, r] : imported) {
    st.imported_flows += r.created;
    if (r.status != net::parse_status::ok) ++st.import_errors;
    st.events->add(severity::info, "unit_taken_over",
                   {{"unit", std::to_string(u)}, {"flows", std::to_string(r.created)},
                    {"status", net::to_string(r.status)}});
  }
  if (dropped)
    st.events->add(severity::info, "unit_flows_released",
                   {{"units", std::to_string(drops.size())}, {"flows", std::to_string(dropped)}});
}

/// Exports every owned unit whose flows changed since the last round and hands the unit's whole
/// state to the group, which sends it to the unit's backup.
void replicate(cluster_pointer self) {
  auto& st = self->state;
  if (!st.group) return;
  std::vector<std::pair<group::unit_id, group::state_bytes>> out;
  st.io->run_on_loop([&] {
    auto& gw = st.gateway();
    std::vector<std::uint8_t> initial, essential;
    for (group::unit_id u = 0; u < st.versions.size(); ++u) {
      if (!st.owned.test(u)) continue;
      initial.clear();
      essential.clear();
      auto changed = gw.export_unit(u, st.versions[u], initial, essential);
      if (changed.initial_flows == 0 && changed.essential_flows == 0) continue;
      st.versions[u] = changed.version;
      // The group keeps the latest essential portion per unit, so send the unit's whole state.
      initial.clear();
      essential.clear();
      gw.export_unit(u, 0, initial, essential);
      out.emplace_back(u, pack_unit_state(initial, essential));
    }
    gw.expire(4096);  // idle flows leave the table a slice at a time
  });
  for (auto& [u, bytes] : out) {
    ++st.replicated_blobs;
    st.replicated_bytes += bytes.size();
    self->send(st.group, protocol::replicate_atom::value, u, std::move(bytes));
  }
}

/// Opens the ARP side and, in forwarding mode, the release ports. Failures are logged: the
/// member still carries the units it owns, but cannot be a useful master.
void start_segment(cluster_pointer self) {
  auto& st = self->state;
  const auto& seg = st.segment;
  // A stage built without the policy's segment settings (no interface names) has no segment side:
  // the cluster MAC mode as it was, with static neighbour entries naming the cluster MAC.
  if (seg.outside.empty() || seg.inside.empty()) return;
  arp_speaker_config cfg;
  const bool own = seg.mode == traffic::forwarding;
  cfg.segments.push_back({seg.outside, seg.cluster_ip, own, seg.cluster_mac});
  cfg.segments.push_back({seg.inside, seg.inside_ip, own, seg.cluster_mac});
  try {
    st.arp = std::make_unique<arp_speaker>(std::move(cfg));
  } catch (const std::exception& e) {
    st.events->add(severity::error, "arp_unavailable", {{"reason", e.what()}});
  }
  if (seg.mode != traffic::forwarding) return;
  try {
    auto out = std::make_unique<release_port>(seg.outside);
    auto in = std::make_unique<release_port>(seg.inside);
    st.io->run_on_loop([&] {
      st.io->cluster()->set_release_port(seg.client_port, std::move(out));
      st.io->cluster()->set_release_port(seg.backend_port, std::move(in));
    });
  } catch (const std::exception& e) {
    st.events->add(severity::error, "release_ports_unavailable", {{"reason", e.what()}});
  }
}

/// Brings the ARP side and the stage's routes in line with one view of the group.
void apply_view(cluster_pointer self, bool master, const std::vector<group::node_id>& owners,
                const std::vector<group::node_id>& members) {
  auto& st = self->state;
  ++st.views;
  if (master != st.master) {
    st.master = master;
    st.events->add(severity::info, master ? "cluster_ip_claimed" : "cluster_ip_released",
                   {{"traffic", st.segment.mode == traffic::forwarding ? "forwarding" : "cluster_mac"},
                    {"ip", policy::format_ipv4(st.segment.cluster_ip)}});
  }
  if (st.arp) {
    st.arp->set_master(master);  // becoming master starts the gratuitous ARPs
    if (master && st.segment.mode == traffic::forwarding) {
      std::vector<std::uint32_t> others;
      for (auto m : members)
        if (m != st.segment.self) others.push_back(m);
      for (auto p : st.segment.peers) others.push_back(p);  // before they are members, too
      st.arp->watch(others);
    }
  }
  if (st.segment.mode != traffic::forwarding) return;
  const std::size_t units = st.routes.size();
  std::size_t forward = 0, hold = 0;
  if (!master || owners.size() != units) {
    std::fill(st.routes.begin(), st.routes.end(), unit_route{});
    st.owners.clear();
  } else {
    if (st.owners.size() != units) {
      st.owners.assign(units, group::no_node);
      st.confirmed.assign(units, 0);
    }
    for (std::size_t u = 0; u < units; ++u) {
      const auto owner = owners[u];
      st.confirmed[u] = owner != group::no_node && owner == st.owners[u];
      st.owners[u] = owner;
      unit_route r;
      if (owner == group::no_node) {
        r.kind = route_kind::hold;  // unassigned: the master is about to give it to someone
      } else if (owner == st.segment.self) {
        r.kind = route_kind::local;
      } else if (auto n = st.arp ? st.arp->neighbor(owner) : std::nullopt; n && st.confirmed[u]) {
        r.kind = route_kind::forward;
        r.port = n->segment == 0 ? st.segment.client_port : st.segment.backend_port;
        r.mac = n->mac;
      } else {
        r.kind = route_kind::hold;  // not acknowledged yet, or the owner's MAC is not known yet
      }
      forward += r.kind == route_kind::forward;
      hold += r.kind == route_kind::hold;
      st.routes[u] = r;
    }
  }
  st.routes_forward = forward;
  st.routes_hold = hold;
  auto* stage = st.io->cluster();
  st.io->run_on_loop([&] { stage->install_routes(st.routes); });
}

void schedule_view(cluster_pointer self) {
  self->delayed_send(self, view_interval, view_atom::value);
}

/// Reads the group's view: status first (master or not, members), then, on the master in
/// forwarding mode, the unit table.
void read_view(cluster_pointer self) {
  auto& st = self->state;
  if (!st.group) {
    schedule_view(self);
    return;
  }
  auto fail = [=](caf::error&) {
    ++self->state.view_errors;
    schedule_view(self);
  };
  self->request(st.group, std::chrono::seconds(1), protocol::get_atom::value)
    .then(
      [=](std::string& status) {
        auto& st = self->state;
        bool master = false;
        std::vector<group::node_id> members;
        try {
          auto j = nlohmann::json::parse(status);
          master = j.value("is_master", false);
          for (auto& m : j.at("members")) members.push_back(parse_address(m.at("address")));
        } catch (const std::exception&) {
          ++st.view_errors;
          schedule_view(self);
          return;
        }
        if (!master || st.segment.mode != traffic::forwarding) {
          apply_view(self, master, {}, members);
          schedule_view(self);
          return;
        }
        self->request(st.group, std::chrono::seconds(1), protocol::units_atom::value)
          .then(
            [=](std::string& units) {
              std::vector<group::node_id> owners(self->state.routes.size(), group::no_node);
              try {
                for (auto& u : nlohmann::json::parse(units)) {
                  auto i = u.at("unit").get<std::size_t>();
                  if (i < owners.size()) owners[i] = parse_address(u.at("owner").get<std::string>());
                }
              } catch (const std::exception&) {
                ++self->state.view_errors;
                owners.clear();  // no table: hold nothing, forward nothing this round
              }
              apply_view(self, true, owners, members);
              schedule_view(self);
            },
            fail);
      },
      fail);
}

cluster_actor::behavior_type cluster_impl(cluster_pointer self, std::shared_ptr<node::io_runtime> io,
                                          node::event_log* events,
                                          std::chrono::milliseconds interval) {
  auto& st = self->state;
  st.io = std::move(io);
  st.events = events;
  st.interval = interval;
  st.versions.assign(net::owned_units::size(), 0);
  st.segment = st.io->cluster()->settings();
  st.routes.assign(st.gateway().settings().hasher.units(), unit_route{});
  start_segment(self);
  self->send(self, tick_atom::value);
  self->send(self, view_atom::value);
  return {
    [=](protocol::group_atom, group::group_actor g) { self->state.group = std::move(g); },
    [=](view_atom) { read_view(self); },
    [=](protocol::assign_atom, group::unit_id u) {
      auto& st = self->state;
      if (u >= net::owned_units::size()) return;
      st.owned.set(u);
      st.versions[u] = 0;
      schedule_apply(self);
    },
    [=](protocol::revoke_atom, group::unit_id u, bool) {
      // Moving on purpose or not, the filter stops passing the unit; its flows here go stale.
      auto& st = self->state;
      if (u >= net::owned_units::size()) return;
      st.owned.reset(u);
      st.pending_drops.push_back(u);
      schedule_apply(self);
    },
    [=](protocol::takeover_atom, group::unit_id u, group::state_bytes& state) {
      auto& st = self->state;
      if (u >= net::owned_units::size()) return;
      ++st.takeovers;
      if (!state.empty()) st.pending_imports.emplace_back(u, std::move(state));
      st.owned.set(u);
      st.versions[u] = 0;
      schedule_apply(self);
    },
    [=](protocol::apply_atom) { apply_pending(self); },
    [=](tick_atom) {
      replicate(self);
      self->delayed_send(self, self->state.interval, tick_atom::value);
    },
    [=](protocol::units_atom) {
      // Flows carried per owned unit: {"66": 1, ...}; units without flows are left out.
      auto& st = self->state;
      nlohmann::json j = nlohmann::json::object();
      st.io->run_on_loop([&] {
        for (group::unit_id u = 0; u < st.versions.size(); ++u)
          if (st.owned.test(u))
            if (auto n = st.gateway().flow_count(u)) j[std::to_string(u)] = n;
      });
      return j.dump();
    },
    [=](protocol::get_atom) {
      auto& st = self->state;
      auto c = st.gateway().counters();
      nlohmann::json j;
      j["owned_units"] = st.owned.count();
      j["flows"] = st.gateway().flows();
      j["gateway"] = {{"owned", c.owned},           {"not_owned", c.not_owned},
                      {"not_cluster", c.not_cluster}, {"nat_new", c.nat_new},
                      {"nat_hit", c.nat_hit},       {"recovered", c.recovered},
                      {"returned", c.returned},     {"dsr_encapsulated", c.dsr_encapsulated},
                      {"unhealthy_skipped", c.unhealthy_skipped}, {"no_backend", c.no_backend},
                      {"no_service", c.no_service}, {"fragments", c.fragments},
                      {"table_full", c.table_full}, {"essential_changes", c.essential_changes}};
      j["replication"] = {{"blobs", st.replicated_blobs}, {"bytes", st.replicated_bytes},
                          {"takeovers", st.takeovers}, {"imported_flows", st.imported_flows},
                          {"import_errors", st.import_errors}};
      j["traffic"] = st.segment.mode == traffic::forwarding ? "forwarding" : "cluster_mac";
      j["master"] = st.master;
      j["views"] = {{"read", st.views}, {"errors", st.view_errors}};
      if (st.segment.mode == traffic::forwarding) {
        auto f = st.io->cluster()->counters();
        j["forwarding"] = {{"routes_forward", st.routes_forward}, {"routes_hold", st.routes_hold},
                           {"forwarded", f.forwarded},       {"held", f.held},
                           {"released", f.released},         {"hold_full", f.hold_full},
                           {"hold_expired", f.hold_expired}, {"hold_discarded", f.hold_discarded},
                           {"release_errors", f.release_errors}, {"foreign", f.foreign},
                           {"unplaced", f.unplaced}};
      }
      if (st.arp) {
        auto a = st.arp->stats();
        j["arp"] = {{"received", a.received},       {"malformed", a.malformed},
                    {"answered", a.answered},       {"announced", a.announced},
                    {"resolutions", a.resolutions}, {"learned", a.learned},
                    {"send_errors", a.send_errors}};
      }
      return j.dump();
    },
  };
}

}  // namespace

group::state_bytes pack_unit_state(const std::vector<std::uint8_t>& initial,
                                   const std::vector<std::uint8_t>& essential) {
  group::state_bytes out(4 + initial.size() + essential.size());
  net::store_be32(out.data(), static_cast<std::uint32_t>(initial.size()));
  std::copy(initial.begin(), initial.end(), out.begin() + 4);
  std::copy(essential.begin(), essential.end(), out.begin() + 4 + static_cast<long>(initial.size()));
  return out;
}

bool unpack_unit_state(const group::state_bytes& packed, std::size_t& initial_size) {
  if (packed.size() < 4) return false;
  initial_size = net::load_be32(packed.data());
  return initial_size <= packed.size() - 4;
}

cluster_actor spawn_cluster_actor(caf::actor_system& sys, std::shared_ptr<node::io_runtime> io,
                                  node::event_log& events,
                                  std::chrono::milliseconds replication_interval) {
  return sys.spawn(cluster_impl, std::move(io), &events, replication_interval);
}

}  // namespace baton::cluster
