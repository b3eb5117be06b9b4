#include "actors/cluster/cluster_actor.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include "actors/runtime/event_log.hpp"
#include "actors/runtime/on_loop.hpp"
#include "net/cluster/arp_speaker.hpp"
#include "net/cluster/cluster_stage.hpp"
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

struct cluster_state {
  static inline const char* name = "cluster";
  std::shared_ptr<node::io_runtime> io;
  net::cluster_stage* stage = nullptr;  // owned by the loop; flow-table calls only on the loop
  node::event_log* events = nullptr;
  group::group_actor group;
  net::owned_units owned;
  // Per unit: the export version its backup's log reaches (export_delta's `since`; 0: nothing
  // sent yet, the next export is the whole unit, sent as a checkpoint), whether the group asked
  // for a checkpoint, and a count of ownership changes, so an export that was on the loop while
  // the unit changed hands is not sent.
  std::vector<std::uint64_t> since;
  std::vector<bool> checkpoint_wanted;
  std::vector<std::uint32_t> epoch;
  std::chrono::milliseconds interval{100};
  // Unit events arrive by the hundred when the group rebalances; they are applied together, in
  // one table publish and one command on the loop thread. A take-over's portions are applied in
  // order: a checkpoint first if there is one, then the deltas after it.
  std::vector<group::unit_id> pending_drops;
  std::vector<std::pair<group::unit_id, std::vector<group::state_bytes>>> pending_imports;
  bool apply_scheduled = false;
  bool replicating = false;  // an export is on the loop; the next tick waits for it
  std::size_t flows = 0;     // the gateway's flow count, as the loop last reported it
  // A round may be skipped when nothing can have changed since the last one (issue 15: an idle
  // member does not wake its packet loop ten times a second): set when units are applied or
  // taken over, cleared when a round starts; `owned_seen` is the gateway's count of owned
  // datagrams when the last round started (every flow change is made by one of them).
  bool units_changed = true;
  std::uint64_t owned_seen = 0;
  // A quiet round arms the stage's owned wake and schedules no next tick (issue 15: an idle
  // member's clock and workers were woken ten times a second for rounds that found nothing):
  // the next owned datagram, or a unit event, sends the tick that ends the sleep.
  bool sleeping = false;
  cluster_replication_counters replication;
  // The segment side (traffic mode).
  net::segment_settings segment;
  std::unique_ptr<net::arp_speaker> arp;  // null when it could not be opened (logged)
  bool master = false;
  std::vector<net::unit_route> routes;    // what the stage was last given
  cluster_view_counters views;
  cluster_route_gauges route_counts;

  net::gateway_stage& gateway() { return stage->gateway(); }
  void publish() { gateway().publish_owned(owned); }
};

using cluster_pointer = cluster_actor::stateful_pointer<cluster_state>;

/// Ends a quiet sleep at once: a tick now (unless the stage's wake has fired: its tick is coming).
void wake(cluster_pointer self) {
  auto& st = self->state;
  if (!st.sleeping || !st.stage->disarm_owned_wake()) return;
  st.sleeping = false;
  self->send(self, tick_atom::value);
}

void schedule_apply(cluster_pointer self) {
  wake(self);
  self->state.units_changed = true;
  if (self->state.apply_scheduled) return;
  self->state.apply_scheduled = true;
  self->send(self, protocol::apply_atom::value);
}

/// One unit's export for the group: the portion kind and the gateway's blobs.
struct unit_portion {
  group::unit_id unit = 0;
  std::uint32_t epoch = 0;
  std::uint64_t version = 0;
  group::portion_kind kind = group::portion_kind::checkpoint;
  group::state_bytes bytes;
};

/// Sends an export to the group as (replicate_atom, unit, kind, bytes) unless the unit changed
/// hands while it was on the loop; records the version the backup's log now reaches.
void send_portion(cluster_pointer self, unit_portion& x) {
  auto& st = self->state;
  if (!st.owned.test(x.unit) || st.epoch[x.unit] != x.epoch || !st.group) return;
  st.since[x.unit] = x.version;
  ++st.replication.blobs;
  st.replication.bytes += x.bytes.size();
  if (x.kind == group::portion_kind::checkpoint) ++st.replication.checkpoints;
  self->send(st.group, protocol::replicate_atom::value, x.unit, static_cast<std::uint8_t>(x.kind),
             std::move(x.bytes));
}

/// On the loop: unit u's whole state as a checkpoint.
unit_portion export_checkpoint(net::gateway_stage& gw, group::unit_id u, std::uint32_t epoch) {
  unit_portion p;
  p.unit = u;
  p.epoch = epoch;
  p.version = gw.export_delta(u, 0, p.bytes).version;
  return p;
}

/// Publishes the owned units, then drops the flows of units given up and, for units taken over,
/// replaces what the unit held here with the replicated portions (applied in order) and exports
/// a checkpoint of the result: the new owner's log starts from it (the group asks for one too).
/// One command on the loop thread.
void apply_pending(cluster_pointer self) {
  auto& st = self->state;
  st.apply_scheduled = false;
  st.publish();
  struct outcome {
    group::unit_id unit;
    net::unit_import result;
  };
  struct work_result {
    std::vector<outcome> imported;
    std::vector<unit_portion> checkpoints;
    std::size_t dropped = 0, units_dropped = 0, flows = 0;
  };
  std::vector<std::uint32_t> epochs;
  for (auto& [u, blobs] : st.pending_imports) epochs.push_back(st.epoch[u]);
  auto* stage = st.stage;
  node::on_loop(
    self, *st.io,
    [stage, owned = st.owned, drops = std::move(st.pending_drops),
     imports = std::move(st.pending_imports), epochs = std::move(epochs)] {
      work_result r;
      auto& gw = stage->gateway();
      for (auto u : drops)
        if (!owned.test(u)) r.dropped += gw.drop_unit(u);
      r.units_dropped = drops.size();
      for (std::size_t i = 0; i < imports.size(); ++i) {
        const auto u = imports[i].first;
        if (!owned.test(u)) continue;  // revoked again since
        gw.drop_unit(u);
        net::unit_import total;
        for (const auto& blobs : imports[i].second) {
          const auto x = gw.import_blobs(net::bytes_view{blobs.data(), blobs.size()});
          total.created += x.created;
          total.updated += x.updated;
          total.orphans += x.orphans;
          total.rejected += x.rejected;
          total.removed += x.removed;
          if (x.status != net::parse_status::ok && total.status == net::parse_status::ok)
            total.status = x.status;
        }
        r.imported.push_back({u, total});
        r.checkpoints.push_back(export_checkpoint(gw, u, epochs[i]));
      }
      r.flows = gw.flows();
      return r;
    },
    [self](work_result r) {
      auto& st = self->state;
      st.flows = r.flows;
      for (auto& [u, x] : r.imported) {
        st.replication.imported_flows += x.created;
        if (x.status != net::parse_status::ok) ++st.replication.import_errors;
        st.events->add(severity::info, "unit_taken_over",
                       {{"unit", std::to_string(u)}, {"flows", std::to_string(x.created)},
                        {"status", net::to_string(x.status)}});
      }
      for (auto& c : r.checkpoints) {
        if (st.epoch[c.unit] == c.epoch) st.checkpoint_wanted[c.unit] = false;
        send_portion(self, c);
      }
      if (r.dropped)
        st.events->add(severity::info, "unit_flows_released",
                       {{"units", std::to_string(r.units_dropped)}, {"flows", std::to_string(r.dropped)}});
    });
  st.pending_drops.clear();
  st.pending_imports.clear();
}

/// Exports, on the loop, each owned unit's changes since its backup's log (export_delta) and hands
/// them to the group as one portion: initial when it holds only new flows' initial records, else
/// essential. A unit gets a checkpoint instead when the group asked for one, when nothing was sent
/// yet, or when the delta is incomplete (removals forgotten). Units without changes send nothing.
/// Returns true when the round was quiet (nothing to export or expire: the member may sleep).
bool replicate(cluster_pointer self) {
  auto& st = self->state;
  if (st.replicating) return false;
  // Nothing to export or expire: the table was empty after the last round, no datagram of an
  // owned unit has arrived since, no unit was applied or taken over and no checkpoint is wanted.
  const std::uint64_t owned_now = st.stage->gateway().counters().owned;
  const bool quiet = st.flows == 0 && !st.units_changed && owned_now == st.owned_seen &&
                     std::none_of(st.checkpoint_wanted.begin(), st.checkpoint_wanted.end(),
                                  [](bool w) { return w; });
  if (quiet) {
    ++st.replication.rounds_skipped;
    return true;
  }
  st.units_changed = false;
  st.owned_seen = owned_now;
  st.replicating = true;
  struct work_result {
    std::vector<unit_portion> out;
    std::size_t flows = 0;
  };
  auto* stage = st.stage;
  node::on_loop(
    self, *st.io,
    [stage, owned = st.owned, since = st.since, wanted = st.checkpoint_wanted, epoch = st.epoch,
     send = bool(st.group)] {
      work_result r;
      auto& gw = stage->gateway();
      for (group::unit_id u = 0; send && u < since.size(); ++u) {
        if (!owned.test(u)) continue;
        if (wanted[u] || since[u] == 0) {
          auto c = export_checkpoint(gw, u, epoch[u]);
          // Nothing yet in a unit never sent: nothing to say (the backup's log is empty too).
          if (!c.bytes.empty() || wanted[u]) r.out.push_back(std::move(c));
          continue;
        }
        unit_portion p;
        p.unit = u;
        p.epoch = epoch[u];
        const auto x = gw.export_delta(u, since[u], p.bytes);
        if (!x.complete) {
          r.out.push_back(export_checkpoint(gw, u, epoch[u]));
          continue;
        }
        if (p.bytes.empty()) continue;
        p.version = x.version;
        p.kind = x.essential_flows == 0 && x.removed_flows == 0 ? group::portion_kind::initial
                                                                 : group::portion_kind::essential;
        r.out.push_back(std::move(p));
      }
      gw.expire(4096);  // idle flows leave the table a slice at a time
      r.flows = gw.flows();
      return r;
    },
    [self](work_result r) {
      auto& st = self->state;
      st.replicating = false;
      st.flows = r.flows;
      for (auto& x : r.out) {
        if (x.kind == group::portion_kind::checkpoint && st.epoch[x.unit] == x.epoch)
          st.checkpoint_wanted[x.unit] = false;
        send_portion(self, x);
      }
    });
  return false;
}

/// A unit taken over with its replicated portions (in order; may be empty): owned from now on,
/// its flows replaced by the portions' on the loop, then a checkpoint of the result replicated.
void take_over(cluster_pointer self, group::unit_id u, std::vector<group::state_bytes> blobs) {
  auto& st = self->state;
  if (u >= net::owned_units::size()) return;
  ++st.replication.takeovers;
  st.owned.set(u);
  st.since[u] = 0;
  st.checkpoint_wanted[u] = false;
  ++st.epoch[u];
  st.pending_imports.emplace_back(u, std::move(blobs));
  schedule_apply(self);
}

/// Opens the ARP side and, in forwarding mode, the release ports. Failures are logged: the
/// member still carries the units it owns, but cannot be a useful master.
void start_segment(cluster_pointer self) {
  auto& st = self->state;
  const auto& seg = st.segment;
  // A stage built without the policy's segment settings (no interface names) has no segment side:
  // the cluster MAC mode as it was, with static neighbour entries naming the cluster MAC.
  if (seg.outside.empty() || seg.inside.empty()) return;
  net::arp_speaker_config cfg;
  const bool own = seg.mode == net::traffic::forwarding;
  cfg.segments.push_back({seg.outside, seg.cluster_ip, own, seg.cluster_mac});
  cfg.segments.push_back({seg.inside, seg.inside_ip, own, seg.cluster_mac});
  try {
    st.arp = std::make_unique<net::arp_speaker>(std::move(cfg));
  } catch (const std::exception& e) {
    st.events->add(severity::error, "arp_unavailable", {{"reason", e.what()}});
  }
  if (seg.mode != net::traffic::forwarding) return;
  try {
    auto out = std::make_shared<std::unique_ptr<net::packet_port>>(std::make_unique<release_port>(seg.outside));
    auto in = std::make_shared<std::unique_ptr<net::packet_port>>(std::make_unique<release_port>(seg.inside));
    auto* stage = st.stage;
    st.io->post([stage, out, in, client = seg.client_port, backend = seg.backend_port] {
      stage->set_release_port(client, std::move(*out));
      stage->set_release_port(backend, std::move(*in));
    });
  } catch (const std::exception& e) {
    st.events->add(severity::error, "release_ports_unavailable", {{"reason", e.what()}});
  }
}

/// Brings the ARP side and the stage's routes in line with the group's view.
void apply_view(cluster_pointer self, const group::group_view& view) {
  auto& st = self->state;
  ++st.views.applied;
  const bool master = view.is_master;
  if (master != st.master) {
    st.master = master;
    st.events->add(severity::info, master ? "cluster_ip_claimed" : "cluster_ip_released",
                   {{"traffic", st.segment.mode == net::traffic::forwarding ? "forwarding" : "cluster_mac"},
                    {"ip", policy::format_ipv4(st.segment.cluster_ip)}});
  }
  if (st.arp) {
    st.arp->set_master(master);  // becoming master starts the gratuitous ARPs
    if (master && st.segment.mode == net::traffic::forwarding) {
      std::vector<std::uint32_t> others;
      for (auto m : view.members)
        if (m != st.segment.self) others.push_back(m);
      for (auto p : st.segment.peers) others.push_back(p);  // before they are members, too
      st.arp->watch(others);
    }
  }
  if (st.segment.mode != net::traffic::forwarding) return;
  const std::size_t units = st.routes.size();
  std::vector<net::unit_route> routes(units);
  std::size_t forward = 0, hold = 0;
  if (master && view.owners.size() == units && view.acked.size() == units) {
    for (std::size_t u = 0; u < units; ++u) {
      const auto owner = view.owners[u];
      net::unit_route r;
      if (owner == group::no_node) {
        r.kind = net::route_kind::hold;  // unassigned: the master is about to give it to someone
      } else if (owner == st.segment.self) {
        r.kind = net::route_kind::local;
      } else if (auto n = st.arp ? st.arp->neighbor(owner) : std::nullopt; n && view.acked[u]) {
        r.kind = net::route_kind::forward;
        r.port = n->segment == 0 ? st.segment.client_port : st.segment.backend_port;
        r.mac = n->mac;
      } else {
        r.kind = net::route_kind::hold;  // not acknowledged yet, or the owner's MAC is not known yet
      }
      forward += r.kind == net::route_kind::forward;
      hold += r.kind == net::route_kind::hold;
      routes[u] = r;
    }
  }
  st.route_counts.routes_forward = forward;
  st.route_counts.routes_hold = hold;
  st.routes = routes;
  auto* stage = st.stage;
  auto shared = std::make_shared<std::vector<net::unit_route>>(std::move(routes));
  st.io->post([stage, shared] { stage->install_routes(*shared); });
}

/// The member's status: the gateway's counters (with flows per backend), replication, the
/// traffic mode, and in forwarding mode the routes and the stage's forwarding counters, and the
/// ARP side's counters when it runs. Counters from the stage are read relaxed (any thread).
node::role_status status(const cluster_state& st) {
  node::role_status s;
  s.group("", cluster_unit_gauges{st.owned.count(), st.flows});
  const auto c = st.stage->gateway().counters();
  s.group("gateway", c);
  node::counter_family chosen{"gateway.backend_chosen",
                              "flows given to each backend (service index/backend index)",
                              net::counter_kind::counter, "backend", {}};
  for (std::size_t i = 0; i < c.backend_chosen.size(); ++i)
    for (std::size_t j = 0; j < c.backend_chosen[i].size(); ++j)
      if (c.backend_chosen[i][j] != 0)
        chosen.values.emplace_back(std::to_string(i) + "/" + std::to_string(j), c.backend_chosen[i][j]);
  s.families.push_back(std::move(chosen));
  s.group("replication", st.replication);
  s.fact("traffic", node::scalar(st.segment.mode == net::traffic::forwarding ? "forwarding" : "cluster_mac"));
  s.fact("master", node::scalar(st.master));
  s.group("views", st.views);
  if (st.segment.mode == net::traffic::forwarding) {
    s.group("forwarding", st.route_counts);
    s.group("forwarding", st.stage->counters());
  }
  if (st.arp) s.group("arp", st.arp->stats());
  return s;
}

/// The gateway's flows as /flows lists them.
node::flow_list flow_list_of(const std::vector<net::gateway_flow_info>& flows, std::size_t total) {
  node::flow_list out;
  out.role = "cluster";
  out.total = total;
  out.flows.reserve(flows.size());
  for (const auto& f : flows) {
    node::flow_row r;
    r.key = f.client;
    r.to_addr = f.backend_addr;
    r.to_port = f.backend_port;
    r.snat_port = f.snat_port;
    r.unit = f.unit;
    r.state = net::to_string(f.state);
    r.age_ms = f.age_ms;
    r.idle_ms = f.idle_ms;
    out.flows.push_back(std::move(r));
  }
  return out;
}

/// How often a master in forwarding mode looks again at a view whose owners' MACs were not all
/// known: the ARP side learns them on its own thread, without a view change to say so.
constexpr std::chrono::milliseconds mac_recheck{40};

cluster_actor::behavior_type cluster_impl(cluster_pointer self, std::shared_ptr<node::io_runtime> io,
                                          node::event_log* events,
                                          std::chrono::milliseconds interval) {
  auto& st = self->state;
  st.io = std::move(io);
  st.stage = st.io->stage<net::cluster_stage>();
  st.events = events;
  st.interval = interval;
  st.since.assign(net::owned_units::size(), 0);
  st.checkpoint_wanted.assign(net::owned_units::size(), false);
  st.epoch.assign(net::owned_units::size(), 0);
  st.segment = st.stage->settings();
  st.routes.assign(st.gateway().settings().hasher.units(), net::unit_route{});
  start_segment(self);
  // The loop thread's call when a sleeping member's unit gets a datagram: a tick to this actor
  // (a weak handle: the stage, which the io runtime owns, must not keep the actor alive).
  st.stage->set_owned_wake([weak = caf::weak_actor_ptr{self->ctrl()}] {
    if (auto strong = weak.lock()) caf::anon_send(caf::actor_cast<cluster_actor>(strong), tick_atom::value);
  });
  self->send(self, tick_atom::value);
  auto last_view = std::make_shared<group::group_view>();
  auto recheck_pending = std::make_shared<bool>(false);
  auto recheck_if_holding = [=] {
    if (*recheck_pending || self->state.route_counts.routes_hold == 0 || !last_view->is_master) return;
    *recheck_pending = true;
    self->delayed_send(self, mac_recheck, view_atom::value);
  };
  return {
    [=](protocol::group_atom, group::group_actor g) { self->state.group = std::move(g); },
    [=](node::loop_atom, node::loop_reply& k) { k(); },
    [=](const group::group_view& view) {
      *last_view = view;
      apply_view(self, view);
      recheck_if_holding();
    },
    [=](view_atom) {
      // Held routes whose owner's MAC was unknown become forward routes once ARP learned it.
      *recheck_pending = false;
      apply_view(self, *last_view);
      recheck_if_holding();
    },
    [=](protocol::assign_atom, group::unit_id u) {
      auto& st = self->state;
      if (u >= net::owned_units::size()) return;
      st.owned.set(u);
      st.since[u] = 0;
      st.checkpoint_wanted[u] = false;
      ++st.epoch[u];
      schedule_apply(self);
    },
    [=](protocol::revoke_atom, group::unit_id u, bool) {
      // Moving on purpose or not, the filter stops passing the unit; its flows here go stale.
      auto& st = self->state;
      if (u >= net::owned_units::size()) return;
      st.owned.reset(u);
      ++st.epoch[u];
      st.pending_drops.push_back(u);
      schedule_apply(self);
    },
    // Take-over: the unit's replicated log, a lone checkpoint as bytes or the checkpoint and the
    // deltas after it as portions, replaces what this member held of the unit.
    [=](protocol::takeover_atom, group::unit_id u, group::state_bytes& state) {
      std::vector<group::state_bytes> blobs;
      if (!state.empty()) blobs.push_back(std::move(state));
      take_over(self, u, std::move(blobs));
    },
    [=](protocol::takeover_atom, group::unit_id u, std::vector<group::state_portion>& portions) {
      std::vector<group::state_bytes> blobs;
      for (auto& p : portions) blobs.push_back(std::move(p.data));
      take_over(self, u, std::move(blobs));
    },
    [=](group::checkpoint_atom, group::unit_id u) {
      // Compaction, or the log of a take-over to replace: sent at the next replication round.
      if (u < net::owned_units::size() && self->state.owned.test(u)) {
        self->state.checkpoint_wanted[u] = true;
        wake(self);
      }
    },
    [=](protocol::apply_atom) { apply_pending(self); },
    [=](tick_atom) {
      // Each tick is either the interval's (one in flight while awake) or the one that ends a
      // sleep (the stage's wake, or wake()): never both, so one chain of ticks runs.
      auto& st = self->state;
      st.sleeping = false;
      if (replicate(self)) {
        // Armed before the last look at the count, so a datagram in between is not missed: it
        // either shows in the count or fires the wake.
        st.stage->arm_owned_wake();
        const bool came = st.stage->gateway().counters().owned != st.owned_seen;
        if (!came || !st.stage->disarm_owned_wake()) {
          st.sleeping = true;
          return;
        }
      }
      self->delayed_send(self, st.interval, tick_atom::value);
    },
    [=](protocol::units_atom) {
      // Flows carried per owned unit; units without flows are left out.
      auto rp = self->make_response_promise<node::unit_flows>();
      auto* stage = self->state.stage;
      node::on_loop(
        self, *self->state.io,
        [stage, owned = self->state.owned] {
          node::unit_flows out;
          for (group::unit_id u = 0; u < net::owned_units::size(); ++u)
            if (owned.test(u))
              if (auto n = stage->gateway().flow_count(u)) out.counts.emplace_back(u, n);
          return out;
        },
        [rp](node::unit_flows out) mutable { rp.deliver(std::move(out)); });
      return rp;
    },
    [=](node::flows_atom, std::uint32_t limit) {
      // At most `limit` flows, copied on the loop (bounded by the limit), named here.
      auto rp = self->make_response_promise<node::flow_list>();
      auto* stage = self->state.stage;
      struct listed {
        std::vector<net::gateway_flow_info> flows;
        std::size_t total = 0;
      };
      node::on_loop(
        self, *self->state.io,
        [stage, limit] {
          listed l;
          l.flows.reserve(std::min<std::size_t>(limit, stage->gateway().flows()));
          stage->gateway().list_flows(limit, l.flows);
          l.total = stage->gateway().flows();
          return l;
        },
        [rp](listed l) mutable { rp.deliver(flow_list_of(l.flows, l.total)); });
      return rp;
    },
    [=](protocol::reload_atom, const node::policy_ptr&) -> std::string {
      return "cluster section: takes effect when batond restarts";
    },
    [=](protocol::get_atom) { return status(self->state); },
  };
}

}  // namespace

cluster_actor spawn_cluster_actor(caf::actor_system& sys, std::shared_ptr<node::io_runtime> io,
                                  node::event_log& events,
                                  std::chrono::milliseconds replication_interval) {
  return sys.spawn(cluster_impl, std::move(io), &events, replication_interval);
}

}  // namespace baton::cluster
