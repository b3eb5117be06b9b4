#include "net/replica/server_gateway_stage.hpp"

#include <stdexcept>

#include "net/packet/ipip.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/replica_tag.hpp"
#include "net/packet/tcp.hpp"

namespace baton::net {

struct server_gateway_stage::live_counters {
  BATON_SERVER_GATEWAY_COUNTERS(BATON_COUNTER_ATOMIC, BATON_COUNTER_ATOMIC)
};

server_gateway_stage::server_gateway_stage(const reader_epoch& epoch, server_gateway_config config,
                                           std::unique_ptr<const server_gateway_table> initial)
    : config_(config),
      table_(epoch, std::move(initial)),
      live_(std::make_unique<live_counters>()),
      pass_bad_options_(config.pass_bad_options) {
  if (!config_.tunnel) throw std::invalid_argument("server gateway: no tunnel port");
  if (config_.self == 0) throw std::invalid_argument("server gateway: self address 0");
}

server_gateway_stage::~server_gateway_stage() = default;

verdict server_gateway_stage::process(packet_context& ctx) noexcept {
  if (ctx.in_port != config_.from_clients) return verdict::drop(drop_reason::not_owned);
  const verdict onward = verdict::forward(config_.to_origin);
  const packet_fields& f = ctx.fields;
  if (f.tcp_options_bad) {  // only here when the policy passes them: untouched, to the origin
    bump(live_->bad_options);
    bump(live_->to_origin);
    return onward;
  }
  if (f.protocol != ip_protocol_tcp || f.fragment ||
      (f.tcp_flags & (tcp_flag_syn | tcp_flag_ack)) != tcp_flag_syn) {
    bump(live_->to_origin);
    return onward;
  }
  bump(live_->start_packets);
  const server_gateway_table* t = table_.read();
  bytes_span pkt = ctx.buffer->data();
  const tcp_view tcp(pkt.sub(f.ip_header_len, f.total_len - f.ip_header_len));
  replica_tag tag;
  switch (find_replica_tag(tcp.options(), tag)) {
    case replica_tag_status::bad_options:
      bump(live_->bad_options);
      bump(live_->to_origin);
      return onward;
    case replica_tag_status::malformed:
      bump(live_->bad_tags);
      bump(live_->to_origin);
      return onward;
    case replica_tag_status::absent:
      bump(live_->to_origin);
      return onward;
    case replica_tag_status::ok: break;
  }
  bump(live_->tagged);
  bump(live_->to_origin);
  if (!t) return onward;
  if (!tag.redirect_permitted) {
    bump(live_->not_permitted);
    return onward;
  }
  bool trusted = false;
  for (const auto& g : t->gateways)
    trusted = trusted || (g.address == tag.gateway && (f.src & g.mask) == g.prefix);
  if (!trusted) {
    bump(live_->untrusted_tags);
    return onward;
  }
  const server_gateway_server* server = nullptr;
  for (const auto& s : t->servers)
    if (s.address == f.dst) server = &s;
  if (!server || server->replicas.empty()) {
    bump(live_->not_replicated);
    return onward;
  }
  if (!t->rules.empty()) {
    const std::size_t profile = t->rules.match_profile(f);
    if (profile >= t->replicatable.size() || !t->replicatable[profile]) {
      bump(live_->not_replicatable);
      return onward;
    }
  }
  packet_batch copies;
  for (const auto& r : server->replicas) {
    if (r.health != replica_health::active) {
      bump(live_->skipped_unhealthy);
      continue;
    }
    if (copies.size() >= t->max_fanout || copies.full()) {
      bump(live_->fanout_capped);
      break;
    }
    packet_buffer* c = ctx.pool->acquire();
    if (!c) {
      bump(live_->no_buffer);
      break;
    }
    bytes_span outer;
    if (!c->assign(pkt) ||
        ipip_encapsulate(c->storage(), c->offset(),
                         ipip_tunnel{config_.self, r.address, ipip_default_ttl, ipip_id_++},
                         outer) != edit_status::ok ||
        !c->set_data(outer)) {
      ctx.pool->release(c);
      bump(live_->no_buffer);
      continue;
    }
    copies.push(c);
  }
  if (!copies.empty()) {
    const std::size_t sent = config_.tunnel->send_batch(copies);
    bump(live_->fanned_out);
    bump(live_->copies, sent);
    bump(live_->copies_failed, copies.size() - sent);
    for (packet_buffer* c : copies) ctx.pool->release(c);
  }
  return onward;
}

server_gateway_counters server_gateway_stage::counters() const noexcept {
  server_gateway_counters c;
#define BATON_SG_COPY(name, help) c.name = live_->name.load(std::memory_order_relaxed);
  BATON_SERVER_GATEWAY_COUNTERS(BATON_SG_COPY, BATON_SG_COPY)
#undef BATON_SG_COPY
  return c;
}

}  // namespace baton::net
