#include "net/rim/rim_stage.hpp"

#include <algorithm>

#include "net/packet/ipip.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/packet_fields.hpp"
#include "net/packet/tcp.hpp"

namespace baton::net {

BATON_LIVE_COUNTER_STRUCT(rim_live_counters, rim_counters, BATON_RIM_COUNTERS)
struct rim_stage::live_counters : rim_live_counters {};

namespace {

rim_flow_key key_of(const packet_fields& f) noexcept {
  return {f.src, f.src_port, f.dst, f.dst_port};
}

constexpr std::size_t mark_slots = 4096;

std::size_t slot_of(const rim_flow_key& k) noexcept {
  std::uint64_t h = (std::uint64_t{k.client_address} << 16 | k.client_port) * 0x9e3779b97f4a7c15ull;
  h ^= (std::uint64_t{k.service_address} << 16 | k.service_port) * 0xc2b2ae3d27d4eb4full;
  return static_cast<std::size_t>(h >> 52) & (mark_slots - 1);
}

}  // namespace

rim_stage::rim_stage(const reader_epoch& epoch, const rim_stage_config& config)
    : config_(config),
      tables_(epoch, std::make_unique<const rim_tables>()),
      counters_(std::make_unique<live_counters>()),
      marks_(mark_slots) {}

rim_stage::~rim_stage() = default;

void rim_stage::publish(rim_tables t) {
  std::sort(t.forwarded.begin(), t.forwarded.end(),
            [](const rim_forward& a, const rim_forward& b) { return a.flow < b.flow; });
  std::sort(t.held.begin(), t.held.end());
  std::sort(t.members.begin(), t.members.end());
  for (auto* table : {&t.exits, &t.relays})
    std::sort(table->begin(), table->end(), [](const rim_forward& a, const rim_forward& b) { return a.flow < b.flow; });
  counters_->forwarded_flows.store(t.forwarded.size(), std::memory_order_relaxed);
  counters_->held_flows.store(t.held.size(), std::memory_order_relaxed);
  tables_.publish(std::make_unique<const rim_tables>(std::move(t)));
}

rim_counters rim_stage::counters() const noexcept {
  return counters_->snapshot();
}

/// The entry of `key` in a sorted table, or nullptr.
const rim_forward* find(const std::vector<rim_forward>& table, const rim_flow_key& key) noexcept {
  auto it = std::lower_bound(table.begin(), table.end(), key,
                             [](const rim_forward& f, const rim_flow_key& k) { return f.flow < k; });
  return it != table.end() && it->flow == key ? &*it : nullptr;
}

/// A segment the service side sends (service -> client) as a flow key (client -> service).
rim_flow_key reverse_key_of(const packet_fields& f) noexcept { return {f.dst, f.dst_port, f.src, f.src_port}; }

verdict rim_stage::from_uplink(packet_context& ctx, const rim_tables& t) noexcept {
  // A copy of what the kernel receives: only the flows handed away are this stage's.
  if (ctx.fields.protocol != ip_protocol_tcp || t.forwarded.empty()) return verdict::drop(drop_reason::not_owned);
  const rim_forward* f = find(t.forwarded, key_of(ctx.fields));
  if (f == nullptr) return verdict::drop(drop_reason::not_owned);
  remember_client(ctx);
  const verdict v = tunnel_to(ctx, f->holder);
  if (v.what == verdict::kind::forward) bump(counters_->forwarded);
  return v;
}

void rim_stage::remember_client(const packet_context& ctx) noexcept {
  const packet_buffer& b = *ctx.buffer;
  const bytes_view packet = b.data();
  const std::size_t end = std::min<std::size_t>(ctx.fields.total_len, packet.size);
  if (ctx.fields.fragment || ctx.fields.ip_header_len >= end) return;
  const tcp_view tcp(packet.sub(ctx.fields.ip_header_len, end - ctx.fields.ip_header_len));
  if (tcp.validate() != parse_status::ok || !tcp.ack_flag() || tcp.rst()) return;
  rim_client_mark& m = marks_[slot_of(key_of(ctx.fields))];
  m.flow = key_of(ctx.fields);
  m.valid = true;
  m.ack = tcp.ack();
  m.seq_end = tcp.seq() + static_cast<std::uint32_t>(tcp.payload().size) + (tcp.fin() ? 1u : 0u);
  m.window = tcp.window();
  tcp_options_summary o;
  m.timestamps = summarize_tcp_options(tcp.options(), o) == parse_status::ok && o.has(8);
  m.ts_val = o.ts_val;
  m.ts_ecr = o.ts_ecr;
}

bool rim_stage::client_mark(const rim_flow_key& flow, rim_client_mark& out) const noexcept {
  const rim_client_mark& m = marks_[slot_of(flow)];
  if (!m.valid || !(m.flow == flow)) return false;
  out = m;
  return true;
}

verdict rim_stage::from_tun(packet_context& ctx, const rim_tables& t) noexcept {
  // What this host's stack routed into the TUN: segments of its masqueraded flows.
  const rim_forward* f = ctx.fields.protocol == ip_protocol_tcp ? find(t.exits, reverse_key_of(ctx.fields)) : nullptr;
  if (f == nullptr) {
    bump(counters_->tun_unrouted);
    return verdict::drop(drop_reason::no_route);
  }
  const verdict v = tunnel_to(ctx, f->holder);
  if (v.what == verdict::kind::forward) bump(counters_->masqueraded);
  return v;
}

verdict rim_stage::tunnel_to(packet_context& ctx, std::uint32_t to) noexcept {
  packet_buffer& b = *ctx.buffer;
  ipip_tunnel tunnel;
  tunnel.src = config_.self;
  tunnel.dst = to;
  tunnel.identification = ipip_id_++;
  bytes_span outer;
  const edit_status s = ipip_encapsulate(b.storage(), b.offset(), tunnel, outer);
  if (s == edit_status::malformed) {
    ctx.status = parse_status::bad_total_length;
    return verdict::drop(drop_reason::malformed);
  }
  if (s != edit_status::ok) {
    bump(counters_->oversize);
    return verdict::drop(drop_reason::oversize);
  }
  b.set_data(outer);
  return verdict::forward(config_.tunnel);
}

verdict rim_stage::from_tunnel(packet_context& ctx, const rim_tables& t) noexcept {
  if (ctx.fields.protocol != ip_protocol_ipip) {
    bump(counters_->decap_errors);
    return verdict::drop(drop_reason::not_owned);
  }
  packet_buffer& b = *ctx.buffer;
  const std::uint32_t outer_src = ipv4_view(b.data()).src();
  // Only a rim member may put packets into this host's stack.
  if (!std::binary_search(t.members.begin(), t.members.end(), outer_src)) {
    bump(counters_->refused_tunnels);
    return verdict::drop(drop_reason::policy);
  }
  bytes_span inner;
  const parse_status s = ipip_decapsulate_checked(b.data(), inner, &ctx.fields);
  if (s != parse_status::ok) {
    bump(counters_->decap_errors);
    ctx.status = s;
    return verdict::drop(drop_reason::malformed);
  }
  if (ctx.fields.protocol == ip_protocol_tcp && !t.relays.empty()) {
    // A masqueraded segment (service -> client): on to the next masquerader, or out to the
    // client from here with its source unchanged (the tunnel port sends it as it is).
    if (const rim_forward* r = find(t.relays, reverse_key_of(ctx.fields))) {
      b.set_data(inner);
      if (r->holder != 0) {
        const verdict v = tunnel_to(ctx, r->holder);
        if (v.what == verdict::kind::forward) bump(counters_->relayed);
        return v;
      }
      bump(counters_->sent_for_others);
      return verdict::forward(config_.tunnel);
    }
  }
  // Only the flows held here: the kernel would answer any other with a reset in the owner's name.
  if (ctx.fields.protocol != ip_protocol_tcp ||
      !std::binary_search(t.held.begin(), t.held.end(), key_of(ctx.fields))) {
    bump(counters_->not_held);
    return verdict::drop(drop_reason::not_owned);
  }
  b.set_data(inner);
  bump(counters_->injected);
  return verdict::forward(config_.tun);
}

verdict rim_stage::process(packet_context& ctx) noexcept {
  const rim_tables& t = *tables_.read();
  if (ctx.in_port == config_.uplink) return from_uplink(ctx, t);
  if (ctx.in_port == config_.tunnel) return from_tunnel(ctx, t);
  if (ctx.in_port == config_.tun) return from_tun(ctx, t);
  return verdict::drop(drop_reason::no_route);
}

}  // namespace baton::net
