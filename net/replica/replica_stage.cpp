#include "net/replica/replica_stage.hpp"

#include <algorithm>
#include <stdexcept>

#include "net/io/clock.hpp"
#include "net/packet/ipip.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/rewrite.hpp"
#include "net/packet/tcp.hpp"

namespace baton::net {

struct replica_stage::live_counters {
  BATON_REPLICA_COUNTERS(BATON_COUNTER_ATOMIC, BATON_COUNTER_ATOMIC)
};

replica_stage::replica_stage(replica_stage_config config)
    : config_(std::move(config)), table_(config_.capacity), live_(std::make_unique<live_counters>()) {
  if (config_.self == 0) throw std::invalid_argument("replica: self address 0");
  if (config_.servers.empty()) throw std::invalid_argument("replica: no servers to stand in for");
  if (config_.tunnel == config_.local) throw std::invalid_argument("replica: tunnel and local are one port");
}

replica_stage::~replica_stage() = default;

std::uint32_t replica_stage::now_ms() const noexcept {
  return static_cast<std::uint32_t>((config_.clock ? config_.clock() : coarse_now()).count());
}

bool replica_stage::serves(std::uint32_t server) const noexcept {
  return std::find(config_.servers.begin(), config_.servers.end(), server) != config_.servers.end();
}

verdict replica_stage::process(packet_context& ctx) noexcept {
  if (ctx.in_port == config_.tunnel) return from_tunnel(ctx);
  if (ctx.in_port == config_.local) return from_local(ctx);
  return verdict::drop(drop_reason::not_owned);
}

verdict replica_stage::from_tunnel(packet_context& ctx) noexcept {
  packet_buffer& b = *ctx.buffer;
  bytes_span inner;
  if (ctx.fields.protocol != ip_protocol_ipip) {
    bump(live_->decap_errors);
    return verdict::drop(drop_reason::malformed);
  }
  // The inner segment goes to the local stack: its checksums are checked as the outer's were.
  if (const parse_status s = ipip_decapsulate_checked(b.data(), inner); s != parse_status::ok) {
    bump(live_->decap_errors);
    ctx.status = s;
    return verdict::drop(drop_reason::malformed);
  }
  const ipv4_view in(inner);
  if (in.protocol() != ip_protocol_tcp || in.is_fragment()) {
    bump(live_->decap_errors);
    return verdict::drop(drop_reason::not_owned);
  }
  const tcp_view tcp(in.payload());
  if (tcp.validate() != parse_status::ok) {
    bump(live_->decap_errors);
    return verdict::drop(drop_reason::malformed);
  }
  const std::uint32_t server = in.dst();
  if (!serves(server)) {
    bump(live_->not_served);
    return verdict::drop(drop_reason::not_owned);
  }
  const translation_key key{in.src(), tcp.src_port(), tcp.dst_port()};
  const std::uint32_t now = now_ms();
  if ((tcp.flags() & (tcp_flag_syn | tcp_flag_ack)) == tcp_flag_syn) {
    const replica_health h = health();
    if (h != replica_health::active) {
      bump(h == replica_health::busy ? live_->busy_drops : live_->dead_drops);
      return verdict::drop(drop_reason::policy);
    }
    bump(live_->start_packets);
    bool created = false;
    if (translation_entry* e = table_.insert(key, created)) {
      if (created || e->server != server || e->syn_seq != tcp.seq()) {
        *e = translation_entry{};
        e->key = key;
        e->server = server;
        e->syn_seq = tcp.seq();
        e->created_ms = now;
        e->state = translation_state::replica;
        e->winner = config_.self;
      }
      e->last_seen_ms = now;
    }
  } else if (translation_entry* e = table_.find(key)) {
    e->last_seen_ms = now;
    if (tcp.flags() & (tcp_flag_fin | tcp_flag_rst)) e->closing = true;
  }
  rewrite_ipv4_dst(inner, config_.self);
  b.set_data(inner);
  bump(live_->cracked);
  return verdict::forward(config_.local);
}

verdict replica_stage::from_local(packet_context& ctx) noexcept {
  const packet_fields& f = ctx.fields;
  if (f.protocol != ip_protocol_tcp || f.src != config_.self || f.fragment)
    return verdict::drop(drop_reason::not_owned);
  packet_buffer& b = *ctx.buffer;
  translation_entry* e = table_.find({f.dst, f.dst_port, f.src_port});
  std::uint32_t server = 0;
  if (e) {
    server = e->server;
    e->last_seen_ms = now_ms();
    if (f.tcp_flags & (tcp_flag_fin | tcp_flag_rst)) e->closing = true;
  } else {
    // Not a connection that came through a tunnel (a client talking to the replica's own
    // address, say): it leaves as the stack made it.
    bump(live_->direct);
    return verdict::forward(config_.tunnel);
  }
  const bool syn_ack = (f.tcp_flags & (tcp_flag_syn | tcp_flag_ack)) == (tcp_flag_syn | tcp_flag_ack);
  ipip_tunnel tunnel{config_.self, f.dst, ipip_default_ttl, 0};
  switch (config_.configuration) {
    case replica_configuration::a:
      return verdict::forward(config_.tunnel);
    case replica_configuration::b:
      if (!syn_ack) {
        rewrite_ipv4_src(b.data(), server);
        bump(live_->answers_spoofed);
        return verdict::forward(config_.tunnel);
      }
      tunnel.src = server;  // outer server -> client, inner replica -> client
      break;
    case replica_configuration::c:
      rewrite_ipv4_src(b.data(), server);  // inner server -> client, outer replica -> client
      break;
  }
  tunnel.identification = ipip_id_++;
  bytes_span outer;
  if (ipip_encapsulate(b.storage(), b.offset(), tunnel, outer) != edit_status::ok) {
    bump(live_->oversize);
    return verdict::drop(drop_reason::oversize);
  }
  b.set_data(outer);
  bump(live_->answers_encapsulated);
  return verdict::forward(config_.tunnel);
}

std::size_t replica_stage::pump(std::uint64_t) noexcept {
  table_.expire(now_ms(), config_.timeouts, 256);
  return 0;
}

replica_counters replica_stage::counters() const noexcept {
  replica_counters c;
#define BATON_RS_COPY(name, help) c.name = live_->name.load(std::memory_order_relaxed);
  BATON_REPLICA_COUNTERS(BATON_RS_COPY, BATON_RS_COPY)
#undef BATON_RS_COPY
  return c;
}

}  // namespace baton::net
