#include "net/cluster/cluster_stage.hpp"

#include <stdexcept>

#include "net/flow/flow_key.hpp"
#include "net/io/clock.hpp"
#include "net/io/interface.hpp"
#include "net/packet/ipv4.hpp"
#include "policy/policy.hpp"

namespace baton::net {

BATON_LIVE_COUNTER_STRUCT(cluster_stage::live_counters, forwarding_counters,
                          BATON_FORWARDING_COUNTERS)

segment_settings segment_settings_from(const policy::policy& p, net::port_id client_port,
                                       net::port_id backend_port) {
  if (!p.cluster) throw std::invalid_argument("the policy has no cluster section");
  const auto& c = *p.cluster;
  segment_settings s;
  s.mode = c.traffic == policy::traffic_mode::forwarding ? traffic::forwarding : traffic::cluster_mac;
  s.cluster_ip = c.ip;
  s.inside_ip = c.inside_ip;
  if (!c.mac.empty()) s.cluster_mac = net::parse_mac(c.mac);
  s.outside = c.outside;
  s.inside = c.inside;
  s.client_port = client_port;
  s.backend_port = backend_port;
  s.self = p.identity.address;
  for (const auto& peer : p.peers) {
    bool member = p.group.peers.empty();
    for (const auto& name : p.group.peers) member = member || name == peer.name;
    if (member && peer.at.address != s.self) s.peers.push_back(peer.at.address);
  }
  for (const auto& svc : c.services)
    for (const auto& b : svc.backends)
      s.backends.push_back({policy::ip_protocol(svc.protocol), b.address, b.port, svc.port});
  return s;
}

cluster_stage::cluster_stage(std::unique_ptr<net::gateway_stage> gateway,
                             std::vector<backend_neighbor> backends, net::port_id backend_port)
    : cluster_stage(std::move(gateway), std::move(backends), backend_port, [&] {
        segment_settings s;
        s.backend_port = backend_port;
        return s;
      }()) {}

cluster_stage::cluster_stage(std::unique_ptr<net::gateway_stage> gateway,
                             std::vector<backend_neighbor> backends, net::port_id backend_port,
                             segment_settings settings)
    : gateway_(std::move(gateway)),
      backends_(std::move(backends)),
      backend_port_(backend_port),
      settings_(std::move(settings)),
      counters_(std::make_unique<live_counters>()) {
  if (settings_.hold_per_unit == 0 || settings_.hold_total == 0 || settings_.hold_total >= no_slot ||
      settings_.hold_ticks == 0)
    throw std::invalid_argument("cluster_stage: hold sizes must be 1..65534");
  const std::uint32_t units = gateway_->settings().hasher.units();
  routes_.assign(units, unit_route{});
  queues_.assign(units, unit_queue{});
  if (settings_.mode == traffic::forwarding) {
    slots_.assign(settings_.hold_total, hold_slot{});
    free_slots_.reserve(settings_.hold_total);
    for (std::uint32_t i = settings_.hold_total; i-- > 0;)
      free_slots_.push_back(static_cast<std::uint16_t>(i));
  }
}

cluster_stage::~cluster_stage() {
  // Held buffers belong to the loop's pool, which outlives the loop and so this stage.
  for (auto& s : slots_)
    if (s.buffer != nullptr && pool_ != nullptr) pool_->release(s.buffer);
}

bool cluster_stage::unit_of(const net::packet_fields& f, std::uint32_t& unit) const noexcept {
  if (f.fragment && !f.first_fragment) return false;
  const auto& hasher = gateway_->settings().hasher;
  if (f.dst == settings_.cluster_ip) {
    unit = hasher(net::from_fields(f), net::filter::work_set);
    return true;
  }
  for (const auto& b : settings_.backends) {
    if (b.address != f.src || b.port != f.src_port || b.protocol != f.protocol) continue;
    // A reply: the client-side key, as the gateway rebuilds it.
    net::flow_key client;
    client.src_addr = f.dst;
    client.src_port = f.dst_port;
    client.dst_addr = settings_.cluster_ip;
    client.dst_port = b.service_port;
    client.protocol = f.protocol;
    unit = hasher(client, net::filter::work_set);
    return true;
  }
  return false;
}

void cluster_stage::set_backend_next_hop(net::packet_context& ctx, const net::verdict& v) noexcept {
  if (v.what != net::verdict::kind::forward || v.port != backend_port_) return;
  // NAT rewrote the destination to the backend; DSR wrapped it with the backend as outer
  // destination: either way the IPv4 destination now names the backend.
  auto packet = ctx.buffer->data();
  if (packet.size < 20) return;
  std::uint32_t dst = net::load_be32(packet.data + 16);
  for (const auto& b : backends_)
    if (b.address == dst) {
      ctx.buffer->next_hop = b.mac;
      ctx.buffer->has_next_hop = true;
      break;
    }
}

net::verdict cluster_stage::process(net::packet_context& ctx) noexcept {
  if (settings_.mode == traffic::forwarding) return forwarding_process(ctx);
  // Frames to this member's own MAC are the kernel's (links to peers, its own connections to
  // backends); the cluster's traffic is addressed to the cluster MAC.
  if (ctx.buffer->addressed_to_host) return net::verdict::drop(net::drop_reason::not_owned);
  auto v = gateway_->process(ctx);
  if (v.what == net::verdict::kind::next) return net::verdict::drop(net::drop_reason::not_owned);
  if (v.what != net::verdict::kind::drop || v.reason != net::drop_reason::not_owned) note_owned();
  set_backend_next_hop(ctx, v);
  return v;
}

net::verdict cluster_stage::forwarding_process(net::packet_context& ctx) noexcept {
  // Only frames to our own MAC are ours: the rest is other members' traffic that a flooding
  // segment showed us (the ports are promiscuous for the cluster MAC modes).
  if (!ctx.buffer->addressed_to_host) {
    net::bump(counters_->foreign);
    return net::verdict::drop(net::drop_reason::not_owned);
  }
  const net::packet_fields& f = ctx.fields;
  auto v = gateway_->process(ctx);
  const bool later_fragment = f.fragment && !f.first_fragment;
  if (v.what == net::verdict::kind::next) {
    if (!later_fragment) return net::verdict::drop(net::drop_reason::not_owned);
    v = net::verdict::drop(net::drop_reason::not_owned);  // placed below by its first fragment
  }
  if (v.what != net::verdict::kind::drop || v.reason != net::drop_reason::not_owned) {
    note_owned();
    set_backend_next_hop(ctx, v);
    return v;
  }
  // Another member's unit (the gateway has not touched the datagram). Fragments only: the key
  // and time the fragment table needs.
  net::fragment_key key;
  std::chrono::milliseconds now{0};
  if (f.fragment) {
    const auto& clock = gateway_->settings().clock;
    now = clock ? clock() : net::coarse_now();
    key = net::fragment_key_of(ctx.buffer->data());
  }
  std::uint32_t unit = 0;
  if (later_fragment) {
    // No ports to hash: the piece goes where its first fragment went.
    const net::fragment_decision* d = fragments_.find(key, now);
    if (d == nullptr || d->what != net::fragment_decision::action::to_owner) {
      net::bump(counters_->unplaced);
      return v;
    }
    unit = d->unit;
  } else if (!unit_of(f, unit)) {
    net::bump(counters_->unplaced);
    return v;
  }
  if (unit >= routes_.size()) {
    net::bump(counters_->unplaced);
    return v;
  }
  const net::verdict out = relay(unit, ctx, v);
  if (out.what != net::verdict::kind::drop) {
    if (later_fragment) net::bump(counters_->fragments_relayed);
    else if (f.fragment) {
      net::fragment_decision d;
      d.what = net::fragment_decision::action::to_owner;
      d.unit = unit;
      fragments_.remember(key, d, now);
    }
  }
  return out;
}

net::verdict cluster_stage::relay(std::uint32_t unit, net::packet_context& ctx, const net::verdict& v) noexcept {
  const unit_route& r = routes_[unit];
  switch (r.kind) {
    case route_kind::forward:
      if (queues_[unit].count != 0) {
        // Keep the order: earlier datagrams of the unit are still held (a release port failed).
        if (hold(unit, ctx)) return net::verdict::consume();
        return v;
      }
      ctx.buffer->next_hop = r.mac;
      ctx.buffer->has_next_hop = true;
      net::bump(counters_->forwarded);
      return net::verdict::forward(r.port);
    case route_kind::hold:
      if (hold(unit, ctx)) return net::verdict::consume();
      return v;
    case route_kind::local:  // ours by the table; the owned set catches up in a moment
    case route_kind::none:
      break;
  }
  return v;
}

bool cluster_stage::hold(std::uint32_t unit, net::packet_context& ctx) noexcept {
  unit_queue& q = queues_[unit];
  if (free_slots_.empty() || q.count >= settings_.hold_per_unit || ctx.pool == nullptr) {
    net::bump(counters_->hold_full);
    return false;
  }
  pool_ = ctx.pool;
  const std::uint16_t s = free_slots_.back();
  free_slots_.pop_back();
  slots_[s] = hold_slot{ctx.buffer, tick_, no_slot};
  if (q.tail == no_slot) q.head = s;
  else slots_[q.tail].next = s;
  q.tail = s;
  ++q.count;
  ++held_count_;
  net::bump(counters_->held);
  return true;
}

void cluster_stage::free_slot(std::uint16_t s) noexcept {
  if (slots_[s].buffer != nullptr && pool_ != nullptr) pool_->release(slots_[s].buffer);
  slots_[s] = hold_slot{};
  free_slots_.push_back(s);
  --held_count_;
}

void cluster_stage::flush_unit(std::uint32_t unit, const unit_route& r) noexcept {
  unit_queue& q = queues_[unit];
  net::packet_port* out = r.kind == route_kind::forward && r.port < max_release_ports
                            ? release_[r.port].get()
                            : nullptr;
  while (q.head != no_slot) {
    net::packet_batch batch;
    std::uint16_t s = q.head;
    while (s != no_slot && !batch.full()) {
      slots_[s].buffer->next_hop = r.mac;
      slots_[s].buffer->has_next_hop = true;
      batch.push(slots_[s].buffer);
      s = slots_[s].next;
    }
    std::size_t sent = 0;
    if (out != nullptr) sent = out->send_batch(batch);
    if (r.kind == route_kind::forward) {
      net::bump(counters_->released, sent);
      net::bump(counters_->release_errors, batch.size() - sent);
    } else {
      net::bump(counters_->hold_discarded, batch.size());
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const std::uint16_t head = q.head;
      q.head = slots_[head].next;
      free_slot(head);
    }
  }
  q = unit_queue{};
}

void cluster_stage::expire_unit(std::uint32_t unit) noexcept {
  unit_queue& q = queues_[unit];
  while (q.head != no_slot && tick_ - slots_[q.head].since > settings_.hold_ticks) {
    const std::uint16_t head = q.head;
    q.head = slots_[head].next;
    free_slot(head);
    --q.count;
    net::bump(counters_->hold_expired);
  }
  if (q.head == no_slot) q = unit_queue{};
}

bool cluster_stage::install_routes(std::vector<unit_route>& routes) noexcept {
  if (routes.size() != routes_.size()) return false;
  routes_.swap(routes);
  ++tick_;
  if (held_count_ == 0) return true;
  for (std::uint32_t u = 0; u < queues_.size(); ++u) {
    if (queues_[u].count == 0) continue;
    if (routes_[u].kind == route_kind::hold) expire_unit(u);
    else flush_unit(u, routes_[u]);
  }
  return true;
}

void cluster_stage::set_release_port(net::port_id id, std::unique_ptr<net::packet_port> port) {
  if (id < max_release_ports) release_[id] = std::move(port);
}

forwarding_counters cluster_stage::counters() const noexcept { return counters_->snapshot(); }

}  // namespace baton::net
