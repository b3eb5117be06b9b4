#include "net/replica/client_gateway_stage.hpp"

#include <algorithm>
#include <stdexcept>

#include "net/io/clock.hpp"
#include "net/packet/ipip.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/replica_tag.hpp"
#include "net/packet/rewrite.hpp"
#include "net/packet/tcp.hpp"
#include "net/packet/tcp_reset.hpp"

namespace baton::net {

struct client_gateway_stage::live_counters {
  BATON_CLIENT_GATEWAY_COUNTERS(BATON_COUNTER_ATOMIC, BATON_COUNTER_ATOMIC)
};

namespace {

constexpr std::uint8_t syn_ack_mask = tcp_flag_syn | tcp_flag_ack;

bool is_syn(std::uint8_t flags) { return (flags & syn_ack_mask) == tcp_flag_syn; }
bool is_syn_ack(std::uint8_t flags) { return (flags & syn_ack_mask) == syn_ack_mask; }

std::uint32_t rtt_us(std::uint64_t since_ns) {
  const std::uint64_t now = steady_clock_ns();
  const std::uint64_t us = now > since_ns ? (now - since_ns) / 1000 : 0;
  return us > 0xffffffffu ? 0xffffffffu : static_cast<std::uint32_t>(us);
}

}  // namespace

client_gateway_stage::client_gateway_stage(client_gateway_config config)
    : config_(std::move(config)),
      table_(config_.capacity),
      live_(std::make_unique<live_counters>()),
      pass_bad_options_(config_.pass_bad_options) {
  if (config_.self == 0) throw std::invalid_argument("client gateway: self address 0");
  if (config_.client_side == config_.wan_side)
    throw std::invalid_argument("client gateway: the client side and the WAN are the same port");
}

client_gateway_stage::~client_gateway_stage() = default;

std::uint32_t client_gateway_stage::now_ms() const noexcept {
  return static_cast<std::uint32_t>((config_.clock ? config_.clock() : coarse_now()).count());
}

bool client_gateway_stage::tags_port(std::uint16_t port) const noexcept {
  return std::find(config_.ports.begin(), config_.ports.end(), port) != config_.ports.end();
}

verdict client_gateway_stage::process(packet_context& ctx) noexcept {
  const verdict v = decide(ctx);
  if (!ctx.fields.tcp_options_bad) return v;
  // Only here when the policy passes such segments: pass-through would drop what is left to it.
  bump(live_->bad_options);
  if (v.what != verdict::kind::next) return v;
  if (ctx.in_port == config_.client_side) return verdict::forward(config_.wan_side);
  if (ctx.in_port == config_.wan_side) return verdict::forward(config_.client_side);
  return v;
}

verdict client_gateway_stage::decide(packet_context& ctx) noexcept {
  if (ctx.fields.fragment) return verdict::next();
  if (ctx.in_port == config_.client_side) return from_client(ctx);
  if (ctx.in_port == config_.wan_side) return from_wan(ctx);
  return verdict::next();
}

verdict client_gateway_stage::from_client(packet_context& ctx) noexcept {
  const packet_fields& f = ctx.fields;
  if (f.protocol != ip_protocol_tcp) return verdict::next();
  packet_buffer& b = *ctx.buffer;
  bytes_span pkt = b.data();
  const tcp_view tcp(pkt.sub(f.ip_header_len, f.total_len - f.ip_header_len));
  const translation_key key{f.src, f.src_port, f.dst_port};

  if (is_syn(f.tcp_flags)) {
    if (!tags_port(f.dst_port)) return verdict::next();
    replica_tag seen;
    switch (find_replica_tag(tcp.options(), seen)) {
      case replica_tag_status::bad_options: return verdict::next();  // counted in process()
      case replica_tag_status::ok:
      case replica_tag_status::malformed:
        bump(live_->already_tagged);
        return verdict::next();
      case replica_tag_status::absent: break;
    }
    bool created = false;
    translation_entry* e = table_.insert(key, created);
    if (!e) {
      bump(live_->table_full);
      return verdict::next();
    }
    const std::uint32_t now = now_ms();
    if (!created && e->server == f.dst && e->syn_seq == tcp.seq() &&
        e->state == translation_state::pending) {
      bump(live_->syn_retransmits);  // keep the first SYN's time: the RTT counts from it
    } else {
      *e = translation_entry{};
      e->key = key;
      e->server = f.dst;
      e->syn_seq = tcp.seq();
      e->syn_ns = steady_clock_ns();
      e->created_ms = now;
    }
    e->last_seen_ms = now;
    std::uint8_t option[replica_tag_length];
    write_replica_tag(bytes_span(option, sizeof option), replica_tag{true, config_.self});
    std::size_t len = pkt.size;
    const edit_status s =
        tcp_add_option(b.storage().sub(b.offset()), len, bytes_view(option, sizeof option));
    if (s != edit_status::ok) {
      bump(live_->tag_no_room);
      table_.erase(key);
      return verdict::next();
    }
    b.set_size(len);
    bump(live_->tagged);
    return verdict::forward(config_.wan_side);
  }

  translation_entry* e = table_.find(key);
  if (!e || e->server != f.dst) return verdict::next();
  e->last_seen_ms = now_ms();
  if (f.tcp_flags & (tcp_flag_fin | tcp_flag_rst)) e->closing = true;
  if (e->state != translation_state::replica) return verdict::next();
  if (config_.configuration != replica_configuration::c) {
    rewrite_ipv4_dst(pkt, e->winner);
    bump(live_->translated_to_replica);
    return verdict::forward(config_.wan_side);
  }
  bytes_span outer;
  if (ipip_encapsulate(b.storage(), b.offset(), ipip_tunnel{config_.self, e->winner, ipip_default_ttl, ipip_id_++},
                       outer) != edit_status::ok) {
    bump(live_->oversize);
    return verdict::drop(drop_reason::oversize);
  }
  b.set_data(outer);
  bump(live_->encapsulated);
  return verdict::forward(config_.wan_side);
}

verdict client_gateway_stage::from_wan(packet_context& ctx) noexcept {
  const packet_fields& f = ctx.fields;
  packet_buffer& b = *ctx.buffer;
  bytes_span pkt = b.data();

  if (f.protocol == ip_protocol_ipip) {
    if (config_.configuration == replica_configuration::a) return verdict::next();
    bytes_span inner;
    // The inner segment goes on to the client: its checksums are checked as the outer's were.
    if (const parse_status s = ipip_decapsulate_checked(pkt, inner); s != parse_status::ok) {
      bump(live_->unknown_tunnel);
      ctx.status = s;
      return verdict::drop(drop_reason::malformed);
    }
    const ipv4_view in(inner);
    if (in.protocol() != ip_protocol_tcp || in.is_fragment()) {
      bump(live_->unknown_tunnel);
      return verdict::drop(drop_reason::not_owned);
    }
    const tcp_view tcp(in.payload());
    if (tcp.validate() != parse_status::ok) {
      bump(live_->unknown_tunnel);
      return verdict::drop(drop_reason::malformed);
    }
    translation_entry* e = table_.find({in.dst(), tcp.dst_port(), tcp.src_port()});
    if (!e) {
      bump(live_->unknown_tunnel);
      return verdict::drop(drop_reason::not_owned);
    }
    const std::uint32_t answerer =
        config_.configuration == replica_configuration::b ? in.src() : ipv4_view(pkt).src();
    if (is_syn_ack(tcp.flags())) return answer(ctx, *e, answerer, inner);
    if (config_.configuration == replica_configuration::c && e->state == translation_state::replica &&
        answerer == e->winner) {
      e->last_seen_ms = now_ms();
      if (tcp.flags() & (tcp_flag_fin | tcp_flag_rst)) e->closing = true;
      b.set_data(inner);
      bump(live_->decapsulated);
      return verdict::forward(config_.client_side);
    }
    bump(live_->unknown_tunnel);
    return verdict::drop(drop_reason::not_owned);
  }

  if (f.protocol != ip_protocol_tcp) return verdict::next();
  translation_entry* e = table_.find({f.dst, f.dst_port, f.src_port});
  if (!e) return verdict::next();
  if (is_syn_ack(f.tcp_flags)) return answer(ctx, *e, f.src, pkt);
  // Before the first SYN-ACK the client expects nothing but one (or the server's RST): whatever
  // else comes (a replica's ACK from an old connection's TIME-WAIT, say) is not for it.
  if (e->state == translation_state::pending && !(f.tcp_flags & tcp_flag_rst)) {
    bump(live_->stray_answers);
    return verdict::drop(drop_reason::not_owned);
  }
  // A: a segment from neither the winner nor the server is a late answerer's, not the client's.
  if (config_.configuration == replica_configuration::a && f.src != e->winner && f.src != e->server) {
    bump(live_->stray_answers);
    return verdict::drop(drop_reason::not_owned);
  }
  e->last_seen_ms = now_ms();
  if (f.tcp_flags & (tcp_flag_fin | tcp_flag_rst)) e->closing = true;
  if (config_.configuration == replica_configuration::a && e->state == translation_state::replica &&
      f.src == e->winner) {
    rewrite_ipv4_src(pkt, e->server);
    bump(live_->translated_from_replica);
    return verdict::forward(config_.client_side);
  }
  return verdict::next();
}

verdict client_gateway_stage::answer(packet_context& ctx, translation_entry& e, std::uint32_t answerer,
                                     bytes_span inner) noexcept {
  packet_buffer& b = *ctx.buffer;
  e.last_seen_ms = now_ms();
  if (e.answers < 0xffff) ++e.answers;
  const std::uint32_t rtt = rtt_us(e.syn_ns);

  if (e.state == translation_state::pending) {
    e.winner = answerer;
    e.rtt_us = rtt;
    e.state = answerer == e.server ? translation_state::origin : translation_state::replica;
    bump(e.state == translation_state::origin ? live_->origin_wins : live_->replica_wins);
    scoreboard_.record(e.server, answerer, true, rtt);
  } else if (answerer == e.winner) {
    bump(live_->winner_retransmits);
  } else {
    // A late answer: reset the answerer's half-open connection as the client would, and never
    // let the client see it.
    scoreboard_.record(e.server, answerer, false, rtt);
    const tcp_view tcp(ipv4_view(inner).payload());
    const tcp_reset_fields rst{e.key.client, answerer, e.key.client_port, tcp.src_port(), tcp.ack(), false, 0};
    if (e.resets < 0xffff) ++e.resets;
    write_tcp_reset(b.reset(), rst);
    b.set_size(tcp_reset_size);
    bump(live_->resets_sent);
    return verdict::forward(config_.wan_side);
  }

  // Deliver the (first or retransmitted) answer to the client as if from the server.
  if (inner.data != b.data().data) {
    b.set_data(inner);
    bump(live_->decapsulated);
  }
  if (e.state == translation_state::replica && ipv4_view(inner).src() != e.server) {
    rewrite_ipv4_src(b.data(), e.server);
    bump(live_->translated_from_replica);
  }
  return verdict::forward(config_.client_side);
}

std::size_t client_gateway_stage::pump(std::uint64_t) noexcept {
  table_.expire(now_ms(), config_.timeouts, 256);
  return 0;
}

client_gateway_counters client_gateway_stage::counters() const noexcept {
  client_gateway_counters c;
#define BATON_CG_COPY(name, help) c.name = live_->name.load(std::memory_order_relaxed);
  BATON_CLIENT_GATEWAY_COUNTERS(BATON_CG_COPY, BATON_CG_COPY)
#undef BATON_CG_COPY
  return c;
}

}  // namespace baton::net
