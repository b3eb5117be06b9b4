#include "net/gateway/gateway_stage.hpp"

#include <algorithm>
#include <cstring>
#include <cstddef>
#include <stdexcept>
#include <string>

#include "net/packet/ipip.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/rewrite.hpp"
#include "net/packet/tcp.hpp"
#include "net/packet/ttl.hpp"

namespace baton::net {

// Every datagram of a flow reads or writes only the first cache line of its record (the key
// check, the NAT binding, the essential TCP state and its version); the rest is for creation,
// expiry, export and the console. At 10,000 flows that keeps a datagram to one record line
// instead of two (bench_gateway).
struct alignas(64) gateway_stage::flow_record {
  // First line: per datagram.
  flow_key client;           // client:port -> cluster:service
  ipv4_host backend_addr = 0;
  port_host backend_port = 0;
  port_host snat_port = 0;   // 0: no source NAT
  std::uint64_t changed_at = 0;  // version_ of the last essential change
  tcp_essential_state essential;
  // Second line: the rest.
  flow_key reverse;          // source NAT only: backend -> member_addr:snat_port
  std::uint32_t unit = 0;
  std::uint32_t prev = npos;  // the unit's list (export, drop_unit)
  std::uint32_t next = npos;
  std::uint32_t created = 0;     // flow_stamp() when created here (console: the flow's age)
  std::uint64_t created_at = 0;  // version_ when created here (initial portion)
  tcp_initial_state initial;     // written by a SYN only
  bool in_use = false;
  bool dying = false;  // collected by expire()'s sweep, decided after it
};

struct gateway_stage::live_counters {
  BATON_GATEWAY_COUNTERS(BATON_COUNTER_ATOMIC, BATON_COUNTER_ATOMIC)
  std::array<std::array<std::atomic<std::uint64_t>, max_backends_per_service>, max_services>
    backend_chosen{};
};

namespace {

/// A flow key written by one 16-byte store. Built field by field, the compiler stores a key in
/// pieces and then copies it with a 16-byte load, which the store buffer cannot forward from
/// pieces: that stall took a fifth of from_client's time (perf, 100 flows).
flow_key key_from(ipv4_host src, ipv4_host dst, port_host sport, port_host dport,
                  std::uint8_t protocol) noexcept {
  flow_key k;
  if constexpr (detail::host_is_big_endian()) {
    k.src_addr = src;
    k.dst_addr = dst;
    k.src_port = sport;
    k.dst_port = dport;
    k.protocol = protocol;
  } else {
    using u64x2 = std::uint64_t __attribute__((vector_size(16)));
    // flow_key's bytes: src, dst | src port, dst port, protocol, three zero bytes.
    const u64x2 whole = {std::uint64_t{src} | std::uint64_t{dst} << 32,
                         std::uint64_t{sport} | std::uint64_t{dport} << 16 |
                           std::uint64_t{protocol} << 32};
    std::memcpy(static_cast<void*>(&k), &whole, sizeof k);
  }
  return k;
}

/// from_fields(), as key_from() writes it.
flow_key key_of(const packet_fields& f) noexcept {
  return key_from(f.src, f.dst, f.src_port, f.dst_port, f.protocol);
}

/// A verdict as one integer while from_client / from_backend choose among many: a verdict
/// merged through the stack is stored in pieces and read back whole, which stalls the store
/// buffer (perf: a fifth of those functions' time); an integer merges in a register.
std::uint64_t pack(verdict v) noexcept {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof v);
  return bits;
}
verdict unpack(std::uint64_t bits) noexcept {
  verdict v;
  std::memcpy(static_cast<void*>(&v), &bits, sizeof v);
  asm("" : "+m"(v));  // stored as copied, not split into fields again
  return v;
}

/// A plain NAT reply (backend to client) is keyed by its client side: client:port -> cluster
/// IP:service port.
flow_key client_key_of_reply(const packet_fields& f, ipv4_host cluster_ip, port_host service_port) noexcept {
  return key_from(f.dst, cluster_ip, f.dst_port, service_port, f.protocol);
}

std::unique_ptr<const gateway_config> checked(const gateway_config& c) {
  const char* why = c.validate();
  if (*why != '\0') throw std::invalid_argument(std::string("gateway config: ") + why);
  return std::make_unique<const gateway_config>(c);
}

std::size_t table_capacity(std::size_t flows) {
  if (flows == 0 || flows > (std::size_t{1} << 30))
    throw std::invalid_argument("gateway: flow_capacity must be in [1, 2^30]");
  return flows * 2;  // a source-NAT flow has a second key for its replies
}

constexpr std::uint8_t kind_initial = 'I';
constexpr std::uint8_t kind_essential = 'E';
constexpr std::uint8_t kind_removal = 'R';

void put_header(std::vector<std::uint8_t>& out, std::uint8_t kind, std::uint32_t unit,
                ipv4_host cluster_ip, std::size_t& count_at) {
  const std::size_t at = out.size();
  out.resize(at + gateway_state_header_size);
  out[at] = gateway_state_format;
  out[at + 1] = kind;
  store_be16(&out[at + 2], static_cast<std::uint16_t>(unit));
  store_be32(&out[at + 4], cluster_ip);
  store_be32(&out[at + 8], 0);
  count_at = at + 8;
}

// The 9-byte flow id both record kinds start with: client endpoint, service port, protocol.
void put_id(std::uint8_t* p, const flow_key& k) {
  store_be32(p, k.src_addr);
  store_be16(p + 4, k.src_port);
  store_be16(p + 6, k.dst_port);
  p[8] = k.protocol;
}
flow_key get_id(const std::uint8_t* p, ipv4_host cluster_ip) {
  flow_key k;
  k.src_addr = load_be32(p);
  k.src_port = load_be16(p + 4);
  k.dst_addr = cluster_ip;
  k.dst_port = load_be16(p + 6);
  k.protocol = p[8];
  return k;
}

struct blob_header {
  std::uint32_t unit = 0;
  ipv4_host cluster_ip = 0;
  std::uint32_t count = 0;
};

// Checks a blob's header and that exactly `count` records of `record_size` follow.
parse_status read_header(bytes_view b, std::uint8_t kind, std::size_t record_size,
                         blob_header& h) {
  if (b.size < gateway_state_header_size) return parse_status::truncated;
  if (b.data[0] != gateway_state_format || b.data[1] != kind) return parse_status::unsupported;
  h.unit = load_be16(b.data + 2);
  h.cluster_ip = load_be32(b.data + 4);
  h.count = load_be32(b.data + 8);
  const std::size_t body = b.size - gateway_state_header_size;
  if (body / record_size < h.count) return parse_status::truncated;
  if (body != std::size_t{h.count} * record_size) return parse_status::bad_length;
  return parse_status::ok;
}

}  // namespace

gateway_stage::gateway_stage(const reader_epoch& epoch, gateway_settings settings,
                             const gateway_config& config, const owned_units& owned)
    : settings_(settings),
      table_(table_capacity(settings.flow_capacity), settings.timeouts),
      // 100 a second, bursts of 20, as the packet loop's own ICMP: every sender hears, and the
      // member is no reflector.
      icmp_budget_(100, 20, 0),
      config_(epoch, checked(config)),
      owned_(epoch, std::make_unique<const owned_units>(owned)),
      counters_(std::make_unique<live_counters>()) {
  static_assert(offsetof(flow_record, reverse) == 64,
                "the per-datagram fields fill the record's first cache line");
  cluster_ip_.store(config.cluster_ip);
  member_addr_.store(config.member_addr);
  if (settings_.hasher.units() > owned_units::size())
    throw std::invalid_argument("gateway: at most 1024 work units");
  records_.resize(settings_.flow_capacity);
  free_.reserve(settings_.flow_capacity);
  for (std::size_t i = settings_.flow_capacity; i-- > 0;)
    free_.push_back(static_cast<std::uint32_t>(i));
  unit_head_.assign(settings_.hasher.units(), npos);
  unit_flows_.assign(settings_.hasher.units(), 0);
  removed_.resize(settings_.hasher.units());
  removed_floor_.assign(settings_.hasher.units(), 0);
}

gateway_stage::~gateway_stage() = default;

void gateway_stage::publish_config(const gateway_config& config) {
  config_.publish(checked(config));
  cluster_ip_.store(config.cluster_ip);
  member_addr_.store(config.member_addr);
}

void gateway_stage::publish_owned(const owned_units& owned) {
  owned_.publish(std::make_unique<const owned_units>(owned));
}

std::chrono::milliseconds gateway_stage::now() const noexcept {
  return settings_.clock ? settings_.clock() : coarse_now();
}

verdict gateway_stage::process(packet_context& ctx) noexcept {
  const gateway_config* cfg = config_.read();
  const owned_units* owned = owned_.read();
  const packet_fields& f = ctx.fields;
  // Tail calls, each: a function whose locals' addresses escape cannot make one, and then it
  // stores the verdict returned in a register to its stack in pieces and reads it back whole,
  // which stalls the store buffer (perf); so the fragment and reply paths have their own.
  if (!f.fragment) return decide(ctx, *cfg, *owned);
  return fragment(ctx, *cfg, *owned);
}

verdict gateway_stage::fragment(packet_context& ctx, const gateway_config& cfg,
                                const owned_units& owned) noexcept {
  if (!ctx.fields.first_fragment) return follow_fragment(ctx, cfg);
  // A first fragment has the ports: decided as a whole datagram, and the rest will follow it.
  const fragment_key key = fragment_key_of(ctx.buffer->data());
  const verdict v = decide(ctx, cfg, owned);
  if (v.what == verdict::kind::forward) remember_fragment(key, ctx, v);
  return v;
}

void gateway_stage::remember_fragment(const fragment_key& key, const packet_context& ctx,
                                      const verdict& v) noexcept {
  const bytes_view p = ctx.buffer->data();
  fragment_decision d;
  // What the first fragment became says what to do: wrapped for direct server return, or its
  // addresses rewritten (NAT either way, source NAT or not).
  d.what = p.data[9] == ip_protocol_ipip && key.protocol != ip_protocol_ipip
             ? fragment_decision::action::tunnel
             : fragment_decision::action::rewrite;
  d.new_src = load_be32(p.data + 12);
  d.new_dst = load_be32(p.data + 16);
  d.port = v.port;
  fragments_.remember(key, d, now());
  bump(counters_->fragments_first);
}

verdict gateway_stage::follow_fragment(packet_context& ctx, const gateway_config& cfg) noexcept {
  packet_buffer& buf = *ctx.buffer;
  const fragment_key key = fragment_key_of(buf.data());
  const fragment_decision* d = fragments_.find(key, now());
  if (d == nullptr) {
    if (key.dst == cfg.cluster_ip) {
      bump(counters_->fragments_unmatched);
      return verdict::drop(drop_reason::not_owned);  // another member carried its first piece
    }
    bump(counters_->not_cluster);
    return verdict::next();
  }
  // A later fragment that expires is dropped unanswered (only a first fragment is quoted).
  if (verdict expired; !hop(ctx, 0, 0, expired)) return expired;
  if (d->what == fragment_decision::action::rewrite) {
    if ((d->new_src != key.src && rewrite_ipv4_src(buf.data(), d->new_src) != edit_status::ok) ||
        (d->new_dst != key.dst && rewrite_ipv4_dst(buf.data(), d->new_dst) != edit_status::ok))
      return verdict::drop(drop_reason::malformed);
  } else {
    bytes_span outer;
    const ipip_tunnel tunnel{d->new_src, d->new_dst, ipip_default_ttl, ipip_id_++};
    const edit_status s = ipip_encapsulate(buf.storage(), buf.offset(), tunnel, outer);
    if (s != edit_status::ok || !buf.set_data(outer))
      return verdict::drop(s == edit_status::malformed ? drop_reason::malformed
                                                       : drop_reason::oversize);
    bump(counters_->dsr_encapsulated);
  }
  bump(counters_->fragments_followed);
  return verdict::forward(d->port);
}

void gateway_stage::prefetch(const packet_context& ctx, unsigned round) const noexcept {
  const packet_fields& f = ctx.fields;
  // A small table sits in the caches, where the loads ahead only repeat the lookup's work
  // (bench_gateway: none at 10,000 flows, 1.3-2.1x from 100,000).
  if (f.fragment || records_in_use_ < prefetch_min_flows) return;
  // The key decide() will look up: the datagram's own for the cluster IP and for source-NAT
  // replies, the client side rebuilt for a plain NAT reply (from_backend).
  const gateway_config& cfg = *config_.read();
  flow_key key;
  if (f.dst == cfg.cluster_ip) {
    key = key_of(f);
  } else if (cfg.mode == gateway_mode::nat) {
    std::size_t s = 0, b = 0;
    if (!cfg.find_backend(f.protocol, f.src, f.src_port, s, b)) return;
    if (cfg.source_nat) {
      if (f.dst != cfg.member_addr) return;
      key = key_of(f);
    } else {
      key = client_key_of_reply(f, cfg.cluster_ip, cfg.services[s].port);
    }
  } else {
    return;
  }
  if (round == 0) {
    table_.prefetch(key);
    return;
  }
  // The slot arrived during round 0: the record it names is the second miss.
  if (const flow_value* v = table_.find(key); v != nullptr && v->user < records_.size()) {
    __builtin_prefetch(&records_[v->user]);  // its first line: all a datagram reads
  }
}

bool gateway_stage::lower_ttl(packet_context& ctx, ipv4_host from, port_id back, verdict& v,
                              bool lower_later) noexcept {
  packet_buffer& buf = *ctx.buffer;
  if (!lower_later && decrement_ttl(buf.data()) == ttl_result::decremented) return true;
  bump(counters_->ttl_expired);
  v = verdict::drop(drop_reason::ttl_expired);
  bytes_span icmp;
  if (make_time_exceeded(buf.storage(), buf.offset(), buf.size(), from, icmp) != edit_status::ok ||
      !icmp_budget_.try_consume(1, static_cast<std::uint64_t>(now().count()) * 1'000'000) ||
      !buf.set_data(icmp))
    return false;
  bump(counters_->icmp_time_exceeded);
  v = verdict::forward(back);
  return false;
}

verdict gateway_stage::decide(packet_context& ctx, const gateway_config& cfg,
                              const owned_units& owned) noexcept {
  // The whole-datagram path (also a first fragment's).
  const packet_fields& f = ctx.fields;
  if (f.dst == cfg.cluster_ip) return unpack(from_client(ctx, cfg, owned));
  if (cfg.mode == gateway_mode::nat) return decide_reply(ctx, cfg, owned);
  bump(counters_->not_cluster);
  return verdict::next();
}

verdict gateway_stage::decide_reply(packet_context& ctx, const gateway_config& cfg,
                                    const owned_units& owned) noexcept {
  // Replies come from a backend endpoint; with source NAT they are addressed to this member.
  const packet_fields& f = ctx.fields;
  std::size_t s = 0, b = 0;
  if (cfg.find_backend(f.protocol, f.src, f.src_port, s, b)) {
    if (cfg.source_nat) {
      if (f.dst == cfg.member_addr) return unpack(from_backend_snat(ctx, cfg, owned));
    } else {
      return unpack(from_backend(ctx, cfg, owned, s, b));
    }
  }
  bump(counters_->not_cluster);
  return verdict::next();
}

std::uint64_t gateway_stage::from_client(packet_context& ctx, const gateway_config& cfg,
                                   const owned_units& owned) noexcept {
  const packet_fields& f = ctx.fields;
  const flow_key key = key_of(f);
  const std::uint32_t unit = settings_.hasher(key, filter::work_set);
  if (!owned.test(unit)) {
    bump(counters_->not_owned);
    return pack(verdict::drop(drop_reason::not_owned));  // silently: nothing is sent back
  }
  bump(counters_->owned);
  if (f.protocol != ip_protocol_tcp && f.protocol != ip_protocol_udp) return pack(verdict::next());
  const gateway_service* svc = cfg.find_service(f.protocol, f.dst_port);
  if (svc == nullptr) {
    bump(counters_->no_service);
    return pack(verdict::drop(drop_reason::no_route));
  }
  // A whole datagram to NAT gets its TTL lowered by nat_hop, with the rewrite.
  const bool one_pass = !f.fragment && cfg.mode == gateway_mode::nat;
  // hop() out of line only when it has work (a TTL to lower now, or one that expires).
  if (verdict expired; !hop(ctx, cfg.cluster_ip, cfg.client_port, expired, one_pass))
    return pack(expired);

  const auto t = now();
  std::uint32_t idx = npos;
  bool state_changed = false;
  if (flow_value* v = table_.find(key)) {
    idx = v->user;
    const flow_state before = v->state;
    touch(*v, t, f.tcp_flags);
    state_changed = v->state != before;
    bump(counters_->nat_hit);
  } else {
    const backend_choice choice = select_backend(*svc, key);
    if (!choice.found) {
      bump(counters_->no_backend);
      return pack(verdict::drop(drop_reason::no_route));
    }
    const gateway_backend& be = svc->backends[choice.index];
    drop_reason why = drop_reason::policy;
    bool collision = false;
    idx = create_flow(key, unit, be.addr, be.port,
                      cfg.mode == gateway_mode::nat && cfg.source_nat, cfg.member_addr,
                      f.tcp_flags, t, why, collision);
    if (idx == npos) {
      bump(collision ? counters_->snat_collision : counters_->table_full);
      return pack(verdict::drop(why));
    }
    if (choice.skipped_unhealthy) bump(counters_->unhealthy_skipped);
    bump(opens_flow(f.protocol, f.tcp_flags) ? counters_->nat_new : counters_->recovered);
    bump(counters_->backend_chosen[static_cast<std::size_t>(svc - cfg.services.data())]
                                  [choice.index]);
  }
  packet_buffer& buf = *ctx.buffer;
  track(idx, buf.data(), f, segment_direction::from_client, state_changed);
  const flow_record& rec = records_[idx];

  if (one_pass) {
    nat_endpoints to;
    to.destination = true;
    to.dst_addr = rec.backend_addr;
    to.dst_port = rec.backend_port;
    to.source = rec.snat_port != 0;
    to.src_addr = cfg.member_addr;
    to.src_port = rec.snat_port;
    if (nat_hop(buf.data(), f, to, true) != edit_status::ok)
      return pack(verdict::drop(drop_reason::malformed));
    return pack(verdict::forward(cfg.backend_port));
  }
  if (cfg.mode == gateway_mode::nat) {
    if (rewrite_destination(buf.data(), rec.backend_addr, rec.backend_port) != edit_status::ok)
      return pack(verdict::drop(drop_reason::malformed));
    if (rec.snat_port != 0 &&
        rewrite_source(buf.data(), cfg.member_addr, rec.snat_port) != edit_status::ok)
      return pack(verdict::drop(drop_reason::malformed));
    return pack(verdict::forward(cfg.backend_port));
  }
  // Direct server return: the datagram keeps the cluster IP as destination, so the backend's
  // host-side decapsulation delivers it locally and the reply leaves with the cluster IP.
  bytes_span outer;
  const ipip_tunnel tunnel{cfg.member_addr, rec.backend_addr, ipip_default_ttl, ipip_id_++};
  const edit_status s = ipip_encapsulate(buf.storage(), buf.offset(), tunnel, outer);
  if (s != edit_status::ok || !buf.set_data(outer))
    return pack(verdict::drop(s == edit_status::malformed ? drop_reason::malformed
                                                     : drop_reason::oversize));
  bump(counters_->dsr_encapsulated);
  return pack(verdict::forward(cfg.backend_port));
}

std::uint64_t gateway_stage::from_backend(packet_context& ctx, const gateway_config& cfg,
                                    const owned_units& owned, std::size_t service,
                                    std::size_t backend) noexcept {
  const packet_fields& f = ctx.fields;
  const gateway_service& svc = cfg.services[service];
  // The client-side key, rebuilt from the reply (see the header): both directions, one unit.
  const flow_key client = client_key_of_reply(f, cfg.cluster_ip, svc.port);
  const std::uint32_t unit = settings_.hasher(client, filter::work_set);
  if (!owned.test(unit)) {
    bump(counters_->not_owned);
    return pack(verdict::drop(drop_reason::not_owned));
  }
  bump(counters_->owned);
  const bool one_pass = !f.fragment;  // nat_hop lowers the TTL with the rewrite
  if (verdict expired; !hop(ctx, cfg.member_addr, cfg.backend_port, expired, one_pass))
    return pack(expired);

  const auto t = now();
  std::uint32_t idx = npos;
  bool state_changed = false;
  if (flow_value* v = table_.find(client)) {
    idx = v->user;
    const flow_state before = v->state;
    touch(*v, t, f.tcp_flags);
    state_changed = v->state != before;
  } else {
    // State lost (failover before replication, or expired): the reply itself names the backend.
    drop_reason why = drop_reason::policy;
    bool collision = false;
    idx = create_flow(client, unit, f.src, f.src_port, false, 0, f.tcp_flags, t, why, collision);
    if (idx == npos) {
      bump(counters_->table_full);
      return pack(verdict::drop(why));
    }
    bump(counters_->recovered);
    bump(counters_->backend_chosen[service][backend]);
  }
  packet_buffer& buf = *ctx.buffer;
  track(idx, buf.data(), f, segment_direction::from_backend, state_changed);
  nat_endpoints to;
  to.source = true;
  to.src_addr = cfg.cluster_ip;
  to.src_port = svc.port;
  if ((one_pass ? nat_hop(buf.data(), f, to, true)
                : rewrite_source(buf.data(), cfg.cluster_ip, svc.port)) != edit_status::ok)
    return pack(verdict::drop(drop_reason::malformed));
  bump(counters_->returned);
  return pack(verdict::forward(cfg.client_port));
}

std::uint64_t gateway_stage::from_backend_snat(packet_context& ctx, const gateway_config& cfg,
                                         const owned_units& owned) noexcept {
  const packet_fields& f = ctx.fields;
  flow_value* v = table_.find(key_of(f));
  if (v == nullptr) {
    // Addressed to this member, not the client: without state there is no telling whose it is.
    bump(counters_->return_unknown);
    return pack(verdict::drop(drop_reason::not_owned));
  }
  const std::uint32_t idx = v->user;
  const flow_record& rec = records_[idx];
  // The record's unit is its client key's (create_flow is always given that): hashed again here
  // rather than read from the record's second line.
  if (!owned.test(settings_.hasher(rec.client, filter::work_set))) {
    bump(counters_->not_owned);
    return pack(verdict::drop(drop_reason::not_owned));
  }
  bump(counters_->owned);
  const bool one_pass = !f.fragment;  // nat_hop lowers the TTL with the rewrite
  if (verdict expired; !hop(ctx, cfg.member_addr, cfg.backend_port, expired, one_pass))
    return pack(expired);
  const flow_state before = v->state;
  touch(*v, now(), f.tcp_flags);
  packet_buffer& buf = *ctx.buffer;
  track(idx, buf.data(), f, segment_direction::from_backend, v->state != before);
  if (one_pass) {
    nat_endpoints to;
    to.source = true;
    to.src_addr = cfg.cluster_ip;
    to.src_port = rec.client.dst_port;
    to.destination = true;
    to.dst_addr = rec.client.src_addr;
    to.dst_port = rec.client.src_port;
    if (nat_hop(buf.data(), f, to, true) != edit_status::ok)
      return pack(verdict::drop(drop_reason::malformed));
  } else if (rewrite_source(buf.data(), cfg.cluster_ip, rec.client.dst_port) != edit_status::ok ||
             rewrite_destination(buf.data(), rec.client.src_addr, rec.client.src_port) !=
               edit_status::ok) {
    return pack(verdict::drop(drop_reason::malformed));
  }
  bump(counters_->returned);
  return pack(verdict::forward(cfg.client_port));
}

std::uint32_t gateway_stage::create_flow(const flow_key& client, std::uint32_t unit,
                                         ipv4_host backend_addr, port_host backend_port,
                                         bool source_nat, ipv4_host snat_addr,
                                         std::uint8_t tcp_flags, std::chrono::milliseconds now,
                                         drop_reason& why, bool& collision) noexcept {
  why = drop_reason::policy;
  collision = false;
  if (free_.empty()) return npos;
  const std::uint32_t idx = free_.back();
  const flow_value value = make_flow_value(client.protocol, tcp_flags, unit, now, idx);
  if (table_.insert(client, value).status != insert_status::inserted) return npos;
  flow_key reverse;
  if (source_nat) {
    // Port preserving: the reply comes to member_addr:client port from the backend endpoint.
    reverse.src_addr = backend_addr;
    reverse.src_port = backend_port;
    reverse.dst_addr = snat_addr;
    reverse.dst_port = client.src_port;
    reverse.protocol = client.protocol;
    const insert_status s = table_.insert(reverse, value).status;
    if (s != insert_status::inserted) {
      table_.erase(client);
      collision = s == insert_status::exists;
      return npos;
    }
  }
  free_.pop_back();
  flow_record& r = records_[idx];
  r = flow_record{};
  r.client = client;
  r.reverse = reverse;
  r.backend_addr = backend_addr;
  r.backend_port = backend_port;
  r.snat_port = source_nat ? client.src_port : 0;
  r.unit = unit;
  r.in_use = true;
  r.created_at = r.changed_at = ++version_;
  r.created = flow_stamp(now);
  // Link at the head of the unit's list.
  r.next = unit_head_[unit];
  if (r.next != npos) records_[r.next].prev = idx;
  unit_head_[unit] = idx;
  ++unit_flows_[unit];
  ++records_in_use_;
  return idx;
}

void gateway_stage::free_record(std::uint32_t idx, bool remember) noexcept {
  flow_record& r = records_[idx];
  if (!r.in_use) return;
  if (remember) {
    auto& list = removed_[r.unit];
    if (list.size() >= gateway_removals_per_unit) {
      removed_floor_[r.unit] = list.front().version;
      list.erase(list.begin());
    }
    list.push_back(removal{r.client, ++version_});
  }
  table_.erase(r.client);
  if (r.snat_port != 0) table_.erase(r.reverse);
  if (r.prev != npos) records_[r.prev].next = r.next;
  else unit_head_[r.unit] = r.next;
  if (r.next != npos) records_[r.next].prev = r.prev;
  --unit_flows_[r.unit];
  --records_in_use_;
  r.in_use = false;
  r.dying = false;
  free_.push_back(idx);
}

void gateway_stage::track(std::uint32_t idx, bytes_view packet, const packet_fields& f,
                          segment_direction dir, bool state_changed) noexcept {
  if (f.protocol != ip_protocol_tcp) return;
  flow_record& r = records_[idx];
  const bool changed = observe_segment(packet, f, dir, r.initial, r.essential);
  if (changed || state_changed) {
    r.changed_at = ++version_;
    bump(counters_->essential_changes);
  }
}

sweep_result gateway_stage::expire(std::size_t max_slots) noexcept {
  // The table is swept in slices of `slice` slots: each removes at most `slice` keys, so the
  // records they name fit in a fixed array on the stack, and are decided (freed, or a source-NAT
  // key put back) before the next slice. All of max_slots is swept, however large.
  constexpr std::size_t slice = 256;
  std::array<std::uint32_t, slice> dead;
  const auto t = now();
  sweep_result total;
  while (total.visited < max_slots) {
    const std::size_t n_slots = std::min(max_slots - total.visited, slice);
    std::size_t n = 0;
    const sweep_result r = table_.sweep(t, n_slots, [&](const flow_key&, const flow_value& v) {
      flow_record& rec = records_[v.user];
      if (!rec.dying) {  // n <= removals <= n_slots <= slice
        rec.dying = true;
        dead[n++] = v.user;
      }
    });
    total.visited += r.visited;
    total.expired += r.expired;
    settle_expired(dead.data(), n, t);
  }
  return total;
}

void gateway_stage::settle_expired(const std::uint32_t* dead, std::size_t n,
                                   std::chrono::milliseconds t) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    flow_record& rec = records_[dead[i]];
    if (rec.snat_port != 0) {
      // A source-NAT flow has a key per direction, each touched by its own direction only: the
      // flow is idle only when both are. Put back the key that expired if the other is live.
      const flow_value* c = table_.find(rec.client);
      const flow_value* rv = table_.find(rec.reverse);
      const flow_value* live = c && !table_.expired(*c, t) ? c : (rv && !table_.expired(*rv, t) ? rv : nullptr);
      if (live != nullptr) {
        const flow_value copy = *live;
        table_.insert(c ? rec.reverse : rec.client, copy);
        rec.dying = false;
        continue;
      }
    }
    free_record(dead[i], true);
  }
}

std::size_t gateway_stage::drop_unit(std::uint32_t unit) noexcept {
  if (unit >= unit_head_.size()) return 0;
  std::size_t n = 0;
  while (unit_head_[unit] != npos) {
    free_record(unit_head_[unit]);
    ++n;
  }
  removed_[unit].clear();
  removed_floor_[unit] = 0;
  return n;
}

std::size_t gateway_stage::flow_count(std::uint32_t unit) const noexcept {
  return unit < unit_flows_.size() ? unit_flows_[unit] : 0;
}

std::size_t gateway_stage::list_flows(std::size_t limit, std::vector<gateway_flow_info>& out) const {
  const std::uint32_t t = flow_stamp(now());
  std::size_t n = 0;
  for (std::size_t u = 0; u < unit_head_.size() && n < limit; ++u) {
    for (std::uint32_t i = unit_head_[u]; i != npos && n < limit; i = records_[i].next) {
      const flow_record& r = records_[i];
      gateway_flow_info f;
      f.client = r.client;
      f.backend_addr = r.backend_addr;
      f.backend_port = r.backend_port;
      f.snat_port = r.snat_port;
      f.unit = r.unit;
      f.initial = r.initial;
      f.essential = r.essential;
      f.age_ms = t - r.created;
      if (const flow_value* v = table_.find(r.client)) {
        f.state = v->state;
        f.idle_ms = t - v->last_seen;
      }
      out.push_back(f);
      ++n;
    }
  }
  return n;
}

bool gateway_stage::find_flow(const flow_key& client, gateway_flow_info& out) const noexcept {
  const flow_value* v = table_.find(client);
  if (v == nullptr) return false;
  const flow_record& r = records_[v->user];
  if (!r.in_use || r.client != client) return false;
  out.client = r.client;
  out.backend_addr = r.backend_addr;
  out.backend_port = r.backend_port;
  out.snat_port = r.snat_port;
  out.unit = r.unit;
  out.state = v->state;
  out.initial = r.initial;
  out.essential = r.essential;
  return true;
}

unit_export gateway_stage::export_unit(std::uint32_t unit, std::uint64_t since,
                                       std::vector<std::uint8_t>& initial,
                                       std::vector<std::uint8_t>& essential) const {
  unit_export e;
  e.version = version_;
  const ipv4_host cluster_ip = cluster_ip_.load();
  std::size_t icount_at = 0, ecount_at = 0;
  put_header(initial, kind_initial, unit, cluster_ip, icount_at);
  put_header(essential, kind_essential, unit, cluster_ip, ecount_at);
  if (unit >= unit_head_.size()) return e;
  for (std::uint32_t i = unit_head_[unit]; i != npos; i = records_[i].next) {
    const flow_record& r = records_[i];
    if (r.created_at > since) {
      const std::size_t at = initial.size();
      initial.resize(at + gateway_initial_record_size);
      std::uint8_t* p = &initial[at];
      put_id(p, r.client);
      store_be32(p + 9, r.backend_addr);
      store_be16(p + 13, r.backend_port);
      store_be16(p + 15, r.snat_port);
      store_be16(p + 17, r.initial.client_mss);
      store_be16(p + 19, r.initial.backend_mss);
      p[21] = r.initial.options_size;
      ++e.initial_flows;
    }
    if (r.client.protocol == ip_protocol_tcp && r.changed_at > since) {
      const flow_value* v = table_.find(r.client);
      const std::size_t at = essential.size();
      essential.resize(at + gateway_essential_record_size);
      std::uint8_t* p = &essential[at];
      const tcp_essential_state& s = r.essential;
      put_id(p, r.client);
      p[9] = static_cast<std::uint8_t>(v ? v->state : flow_state::tcp_established);
      p[10] = s.flags;
      p[11] = s.valid;
      p[12] = static_cast<std::uint8_t>(s.snd_scale << 4 | (s.rcv_scale & 0x0f));
      store_be32(p + 13, s.snd_nxt);
      store_be32(p + 17, s.snd_wl1);
      store_be32(p + 21, s.snd_wl2);
      store_be32(p + 25, s.snd_wnd);
      store_be32(p + 29, s.rcv_nxt);
      store_be32(p + 33, s.rcv_adv);
      store_be32(p + 37, s.ts_recent);
      ++e.essential_flows;
    }
  }
  store_be32(&initial[icount_at], static_cast<std::uint32_t>(e.initial_flows));
  store_be32(&essential[ecount_at], static_cast<std::uint32_t>(e.essential_flows));
  return e;
}

unit_import gateway_stage::import_unit(bytes_view initial, bytes_view essential) noexcept {
  unit_import result;
  const ipv4_host member_addr = member_addr_.load();
  const auto t = now();
  if (!initial.empty()) {
    blob_header h;
    result.status = read_header(initial, kind_initial, gateway_initial_record_size, h);
    if (result.status != parse_status::ok) return result;
    for (std::uint32_t i = 0; i < h.count; ++i) {
      const std::uint8_t* p =
        initial.data + gateway_state_header_size + std::size_t{i} * gateway_initial_record_size;
      const flow_key key = get_id(p, h.cluster_ip);
      const std::uint32_t unit = settings_.hasher(key, filter::work_set);
      if (unit != h.unit) {
        ++result.rejected;
        continue;
      }
      if (table_.find(key) != nullptr) continue;  // already here (an earlier import)
      const port_host snat_port = load_be16(p + 15);
      drop_reason why{};
      bool collision = false;
      // A flow taken over mid-stream: state "established" until the essential record says more.
      const std::uint32_t idx =
        create_flow(key, unit, load_be32(p + 9), load_be16(p + 13), snat_port != 0,
                    member_addr, key.protocol == ip_protocol_tcp ? tcp_flag_ack : 0, t, why,
                    collision);
      if (idx == npos) {
        ++result.rejected;
        continue;
      }
      flow_record& r = records_[idx];
      r.initial.client_mss = load_be16(p + 17);
      r.initial.backend_mss = load_be16(p + 19);
      r.initial.options_size = p[21];
      ++result.created;
    }
  }
  if (!essential.empty()) {
    blob_header h;
    result.status = read_header(essential, kind_essential, gateway_essential_record_size, h);
    if (result.status != parse_status::ok) return result;
    for (std::uint32_t i = 0; i < h.count; ++i) {
      const std::uint8_t* p = essential.data + gateway_state_header_size +
                              std::size_t{i} * gateway_essential_record_size;
      const flow_key key = get_id(p, h.cluster_ip);
      if (p[9] >= flow_state_count) {
        result.status = parse_status::unsupported;
        return result;
      }
      if (settings_.hasher(key, filter::work_set) != h.unit) {
        ++result.rejected;
        continue;
      }
      flow_value* v = table_.find(key);
      if (v == nullptr) {
        ++result.orphans;
        continue;
      }
      flow_record& r = records_[v->user];
      v->state = static_cast<flow_state>(p[9]);
      v->last_seen = flow_stamp(t);
      tcp_essential_state& s = r.essential;
      s.flags = p[10];
      s.valid = p[11];
      s.snd_scale = static_cast<std::uint8_t>(p[12] >> 4);
      s.rcv_scale = static_cast<std::uint8_t>(p[12] & 0x0f);
      s.snd_nxt = load_be32(p + 13);
      s.snd_wl1 = load_be32(p + 17);
      s.snd_wl2 = load_be32(p + 21);
      s.snd_wnd = load_be32(p + 25);
      s.rcv_nxt = load_be32(p + 29);
      s.rcv_adv = load_be32(p + 33);
      s.ts_recent = load_be32(p + 37);
      r.changed_at = ++version_;
      ++result.updated;
    }
  }
  return result;
}

unit_export gateway_stage::export_delta(std::uint32_t unit, std::uint64_t since,
                                        std::vector<std::uint8_t>& out) {
  unit_export e;
  e.version = version_;
  if (unit >= unit_head_.size()) return e;
  const ipv4_host cluster_ip = cluster_ip_.load();
  auto& removed = removed_[unit];
  if (since > 0) {
    e.complete = since >= removed_floor_[unit];
    std::size_t count_at = 0;
    const std::size_t start = out.size();
    put_header(out, kind_removal, unit, cluster_ip, count_at);
    for (const auto& rm : removed) {
      if (rm.version <= since) continue;
      const std::size_t at = out.size();
      out.resize(at + gateway_removal_record_size);
      put_id(&out[at], rm.client);
      ++e.removed_flows;
    }
    if (e.removed_flows == 0) {
      out.resize(start);
    } else {
      store_be32(&out[count_at], static_cast<std::uint32_t>(e.removed_flows));
    }
    // The consumer holds everything up to `since` now.
    std::size_t keep = 0;
    while (keep < removed.size() && removed[keep].version <= since) ++keep;
    removed.erase(removed.begin(), removed.begin() + static_cast<std::ptrdiff_t>(keep));
  }
  // The initial and essential blobs as export_unit makes them, each left out when empty.
  const std::size_t start = out.size();
  std::vector<std::uint8_t> essential;
  const unit_export ie = export_unit(unit, since, out, essential);
  e.initial_flows = ie.initial_flows;
  e.essential_flows = ie.essential_flows;
  if (ie.initial_flows == 0) out.resize(start);
  if (ie.essential_flows) out.insert(out.end(), essential.begin(), essential.end());
  return e;
}

unit_import gateway_stage::import_blobs(bytes_view blobs) noexcept {
  unit_import total;
  std::size_t at = 0;
  while (at < blobs.size) {
    const bytes_view rest{blobs.data + at, blobs.size - at};
    if (rest.size < gateway_state_header_size) {
      total.status = parse_status::truncated;
      return total;
    }
    const std::uint8_t kind = rest.data[1];
    const std::size_t record = kind == kind_initial     ? gateway_initial_record_size
                               : kind == kind_essential ? gateway_essential_record_size
                               : kind == kind_removal   ? gateway_removal_record_size
                                                        : 0;
    if (rest.data[0] != gateway_state_format || record == 0) {
      total.status = parse_status::unsupported;
      return total;
    }
    const std::uint64_t count = load_be32(rest.data + 8);
    const std::uint64_t size = gateway_state_header_size + count * record;
    if (size > rest.size) {
      total.status = parse_status::truncated;
      return total;
    }
    const bytes_view blob{rest.data, static_cast<std::size_t>(size)};
    at += static_cast<std::size_t>(size);
    if (kind == kind_removal) {
      blob_header h;
      total.status = read_header(blob, kind_removal, gateway_removal_record_size, h);
      if (total.status != parse_status::ok) return total;
      for (std::uint32_t i = 0; i < h.count; ++i) {
        const std::uint8_t* p =
          blob.data + gateway_state_header_size + std::size_t{i} * gateway_removal_record_size;
        const flow_key key = get_id(p, h.cluster_ip);
        if (settings_.hasher(key, filter::work_set) != h.unit) {
          ++total.rejected;
          continue;
        }
        const flow_value* v = table_.find(key);
        if (v == nullptr) continue;  // never here, or gone already
        const std::uint32_t idx = v->user;
        if (!records_[idx].in_use || records_[idx].client != key) continue;
        free_record(idx);
        ++total.removed;
      }
      continue;
    }
    const unit_import r = kind == kind_initial ? import_unit(blob, bytes_view{})
                                               : import_unit(bytes_view{}, blob);
    total.created += r.created;
    total.updated += r.updated;
    total.orphans += r.orphans;
    total.rejected += r.rejected;
    if (r.status != parse_status::ok) {
      total.status = r.status;
      return total;
    }
  }
  return total;
}

gateway_counters gateway_stage::counters() const noexcept {
  auto r = [](const std::atomic<std::uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  const live_counters& c = *counters_;
  gateway_counters s;
#define BATON_GATEWAY_COPY(name, help) s.name = r(c.name);
  BATON_GATEWAY_COUNTERS(BATON_GATEWAY_COPY, BATON_GATEWAY_COPY)
#undef BATON_GATEWAY_COPY
  for (std::size_t i = 0; i < max_services; ++i)
    for (std::size_t j = 0; j < max_backends_per_service; ++j)
      s.backend_chosen[i][j] = r(c.backend_chosen[i][j]);
  return s;
}

}  // namespace baton::net
