#include "actors/cluster/cluster_actor.hpp"

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

#include "actors/cluster/cluster_stage.hpp"
#include "actors/node/event_log.hpp"
#include "actors/node/io_runtime.hpp"
#include "net/packet/bytes.hpp"

namespace baton::cluster {
namespace {

using node::severity;
using protocol::tick_atom;

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

cluster_actor::behavior_type cluster_impl(cluster_pointer self, std::shared_ptr<node::io_runtime> io,
                                          node::event_log* events,
                                          std::chrono::milliseconds interval) {
  auto& st = self->state;
  st.io = std::move(io);
  st.events = events;
  st.interval = interval;
  st.versions.assign(net::owned_units::size(), 0);
  self->send(self, tick_atom::value);
  return {
    [=](protocol::group_atom, group::group_actor g) { self->state.group = std::move(g); },
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
