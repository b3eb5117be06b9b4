#include "net/slr/slr_stage.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>

#include "net/io/packet_port.hpp"
#include "net/packet/flow_advert.hpp"
#include "net/packet/icmp.hpp"
#include "net/packet/ipip.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/ttl.hpp"

namespace baton::net {

// The routing table as the loop reads it: one level per prefix length in use, longest first,
// each a sorted array of prefixes searched by bisection. Candidates of all subnets sit in one
// array; a subnet is a range of it.
struct slr_stage::compiled_routes {
  struct subnet {
    std::uint32_t prefix = 0;
    std::uint32_t first = 0;  // into candidates
    std::uint32_t count = 0;
  };
  struct level {
    std::uint32_t mask = 0;
    std::vector<subnet> sorted;  // by prefix
  };
  std::vector<level> levels;     // longest prefix first
  std::vector<slr_candidate> candidates;

  const subnet* lookup(std::uint32_t dst) const noexcept {
    for (const level& l : levels) {
      const std::uint32_t p = dst & l.mask;
      auto it = std::lower_bound(l.sorted.begin(), l.sorted.end(), p,
                                 [](const subnet& s, std::uint32_t v) { return s.prefix < v; });
      if (it != l.sorted.end() && it->prefix == p) return &*it;
    }
    return nullptr;
  }
};

struct slr_stage::live_counters {
  BATON_SLR_COUNTERS(BATON_COUNTER_ATOMIC, BATON_COUNTER_ATOMIC)
};

namespace {

constexpr std::uint32_t mask_of(std::uint8_t length) noexcept {
  return length == 0 ? 0 : 0xffffffffU << (32 - length);
}

std::string subnet_text(std::uint32_t prefix, unsigned length) {
  char buf[16];
  return std::string(ipv4_to_text(prefix, buf)) + "/" + std::to_string(length);
}

/// The low 16 bits of a TCP segment's sequence number (0 when the header is not all there). An
/// SLR entry keeps those of the SYN that opened the flow in flow_value::work_unit (SLR flows have
/// no work unit): a SYN with other bits is a new connection on a reused 4-tuple, one with the same
/// bits a retransmission.
std::uint16_t isn_bits(bytes_span datagram, const packet_fields& f) noexcept {
  const std::size_t at = f.ip_header_len + 4u;
  if (datagram.size < at + 4u) return 0;
  return static_cast<std::uint16_t>((datagram.data[at + 2] << 8) | datagram.data[at + 3]);
}

}  // namespace

const char* to_string(flow_origin o) noexcept {
  switch (o) {
    case flow_origin::chosen: return "chosen";
    case flow_origin::shortcut: return "shortcut";
    case flow_origin::recovered: return "recovered";
    case flow_origin::advertised: return "advertised";
    case flow_origin::replicated: return "replicated";
  }
  return "unknown";
}

const char* to_string(slr_event_kind k) noexcept {
  switch (k) {
    case slr_event_kind::new_flow: return "new_flow";
    case slr_event_kind::unknown_flow: return "unknown_flow";
    case slr_event_kind::advertised_flow: return "advertised_flow";
  }
  return "unknown";
}

double hash_to_unit_interval(const flow_key& key, std::uint32_t next_hop) noexcept {
  // A fixed seed, never drawn at run time: every SLR must compute the same values.
  constexpr std::uint64_t seed = 0x4261746f6e534c52ULL;  // "BatonSLR"
  const std::uint64_t h =
      mix64(hash(key, seed) ^ mix64(std::uint64_t{next_hop} * 0x9e3779b97f4a7c15ULL + 1));
  // The top 53 bits, plus one, over 2^53: uniform on (0, 1], never 0 (whose log is -infinity).
  return static_cast<double>((h >> 11) + 1) * 0x1.0p-53;
}

double candidate_score(const flow_key& key, std::uint32_t next_hop, std::uint32_t weight) noexcept {
  if (weight == 0) return std::numeric_limits<double>::infinity();
  // -ln(u) of a uniform u is exponential with rate 1; divided by the weight it has rate w, and the
  // minimum of independent exponentials is candidate i with probability w_i / sum(w).
  return -std::log(hash_to_unit_interval(key, next_hop)) / static_cast<double>(weight);
}

long select_candidate(const slr_candidate* candidates, std::size_t count,
                      const flow_key& key) noexcept {
  long best = -1;
  double best_score = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < count; ++i) {
    const slr_candidate& c = candidates[i];
    if (c.weight == 0) continue;
    const double s = candidate_score(key, c.next_hop, c.weight);
    if (best < 0 || s < best_score ||
        (s == best_score && c.next_hop < candidates[static_cast<std::size_t>(best)].next_hop)) {
      best = static_cast<long>(i);
      best_score = s;
    }
  }
  return best;
}

slr_stage::slr_stage(const reader_epoch& epoch, slr_stage_config config)
    : config_(config),
      table_(config.flow_capacity, config.timeouts),
      routes_(epoch, std::make_unique<const compiled_routes>()),
      events_(config.event_capacity),
      active_(config.active),
      counters_(std::make_unique<live_counters>()) {
  if (config_.self == 0) throw std::invalid_argument("slr_stage: self address 0");
  event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) throw std::system_error(errno, std::system_category(), "slr_stage eventfd");
}

slr_stage::~slr_stage() { ::close(event_fd_); }

void slr_stage::publish(const slr_routes& routes) {
  auto c = std::make_unique<compiled_routes>();
  std::vector<std::uint8_t> lengths;
  for (const slr_subnet& s : routes.subnets) {
    if (s.length > 32)
      throw std::invalid_argument("slr routes: " + subnet_text(s.prefix, s.length) +
                                  ": length above 32");
    if ((s.prefix & ~mask_of(s.length)) != 0)
      throw std::invalid_argument("slr routes: " + subnet_text(s.prefix, s.length) +
                                  ": bits set past the prefix length");
    for (const slr_candidate& k : s.candidates)
      if (k.next_hop == 0 || k.next_hop == config_.self)
        throw std::invalid_argument("slr routes: " + subnet_text(s.prefix, s.length) +
                                    ": a candidate next hop is 0 or this SLR");
    lengths.push_back(s.length);
  }
  std::sort(lengths.begin(), lengths.end(), std::greater<>());
  lengths.erase(std::unique(lengths.begin(), lengths.end()), lengths.end());
  for (std::uint8_t len : lengths) {
    compiled_routes::level l;
    l.mask = mask_of(len);
    for (const slr_subnet& s : routes.subnets) {
      if (s.length != len) continue;
      compiled_routes::subnet n;
      n.prefix = s.prefix;
      n.first = static_cast<std::uint32_t>(c->candidates.size());
      n.count = static_cast<std::uint32_t>(s.candidates.size());
      c->candidates.insert(c->candidates.end(), s.candidates.begin(), s.candidates.end());
      l.sorted.push_back(n);
    }
    std::sort(l.sorted.begin(), l.sorted.end(),
              [](const auto& a, const auto& b) { return a.prefix < b.prefix; });
    for (std::size_t i = 1; i < l.sorted.size(); ++i)
      if (l.sorted[i].prefix == l.sorted[i - 1].prefix)
        throw std::invalid_argument("slr routes: " + subnet_text(l.sorted[i].prefix, len) +
                                    " appears twice");
    c->levels.push_back(std::move(l));
  }
  routes_.publish(std::move(c));
}

std::chrono::milliseconds slr_stage::now() const noexcept {
  return config_.clock ? config_.clock() : coarse_now();
}

void slr_stage::queue(slr_event_kind kind, const flow_key& key, std::uint32_t next_hop,
                      std::uint32_t prev_hop) noexcept {
  slr_event* e = events_.write_slot();
  if (e == nullptr) {
    bump(counters_->events_lost);
    return;
  }
  e->kind = kind;
  e->key = key;
  e->next_hop = next_hop;
  e->prev_hop = prev_hop;
  // Only the event into an empty ring wakes the consumer: it drains until empty anyway.
  if (events_.publish()) signal_eventfd(event_fd_);
}

void slr_stage::clear_event_fd() noexcept { drain_eventfd(event_fd_); }

verdict slr_stage::tunnel(packet_context& ctx, std::uint32_t next_hop) noexcept {
  if (!active()) {
    bump(counters_->standby_drops);
    return verdict::drop(drop_reason::not_owned);
  }
  packet_buffer& b = *ctx.buffer;
  if (ctx.in_port == config_.tunnel_in && decrement_ttl(b.data()) == ttl_result::expired) {
    bump(counters_->ttl_expired);
    bytes_span icmp;
    const auto ns = static_cast<std::uint64_t>(now().count()) * 1'000'000;
    if (make_time_exceeded(b.storage(), b.offset(), b.size(), config_.self, icmp) != edit_status::ok ||
        !icmp_budget_.try_consume(1, ns) || !b.set_data(icmp))
      return verdict::drop(drop_reason::ttl_expired);
    bump(counters_->icmp_time_exceeded);
    return verdict::forward(config_.out);
  }
  ipip_tunnel t;
  t.src = config_.self;
  t.dst = next_hop;
  t.ttl = ipip_default_ttl;
  t.identification = ipip_id_++;
  bytes_span outer;
  const edit_status s = ipip_encapsulate(b.storage(), b.offset(), t, outer);
  if (s == edit_status::malformed) {
    ctx.status = parse_status::bad_total_length;  // parse passed, so only a length can disagree
    return verdict::drop(drop_reason::malformed);
  }
  if (s != edit_status::ok) {
    bump(counters_->oversize);
    return verdict::drop(drop_reason::oversize);
  }
  b.set_data(outer);
  bump(counters_->tunneled);
  return verdict::forward(config_.out);
}

bool slr_stage::advertisement(packet_context& ctx, const compiled_routes& routes,
                              std::uint32_t prev_hop, verdict& v) noexcept {
  const ipv4_view ip(ctx.buffer->data());
  const bytes_view message = ip.payload();
  flow_advert a;
  const parse_status s = parse_flow_advert(message, a);
  if (s == parse_status::unsupported) return false;  // an ordinary ping (or another ICMP type)
  if (s != parse_status::ok) {  // an advertisement, but damaged
    ctx.status = s;
    v = verdict::drop(drop_reason::malformed);
    return true;
  }
  if (routes.lookup(a.virtual_address) == nullptr) return false;  // not for our virtual hosts

  // The addresses must be the advertisement's own: the client's echo reply goes client ->
  // virtual host, the server's request virtual host -> client.
  const std::uint8_t type = message.data[0];
  const bool consistent = type == icmp_echo_reply
                              ? ip.src() == a.client_address && ip.dst() == a.virtual_address
                              : ip.src() == a.virtual_address && ip.dst() == a.client_address;
  v = verdict::drop(drop_reason::policy);  // it was meant for the SLR, not for anyone behind it
  if (!consistent || a.server_address == 0 || a.server_address == config_.self) {
    bump(counters_->adverts_refused);
    return true;
  }
  flow_key key;
  key.src_addr = a.client_address;
  key.dst_addr = a.virtual_address;
  key.src_port = a.client_port;
  key.dst_port = a.virtual_port;
  key.protocol = a.protocol;
  if (install(key, a.server_address, flow_origin::advertised, now())) {
    bump(counters_->advert_installs);
    queue(slr_event_kind::advertised_flow, key, a.server_address, prev_hop);
  }
  return true;
}

void slr_stage::prefetch(const packet_context& ctx, unsigned round) const noexcept {
  if (round != 0 || ctx.in_port == config_.tunnel_in || ctx.fields.fragment) return;
  table_.prefetch(from_fields(ctx.fields));
}

verdict slr_stage::process(packet_context& ctx) noexcept {
  const compiled_routes& routes = *routes_.read();
  std::uint32_t prev_hop = 0;

  // (a) Tunnel exit: unwrap in place; the inner datagram is what the rest classifies.
  if (ctx.in_port == config_.tunnel_in) {
    if (ctx.fields.protocol != ip_protocol_ipip) {
      bump(counters_->decap_errors);
      return verdict::drop(drop_reason::not_owned);
    }
    packet_buffer& b = *ctx.buffer;
    bytes_span inner;
    const std::uint32_t outer_src = ipv4_view(b.data()).src();
    const parse_status s = ipip_decapsulate_checked(b.data(), inner, &ctx.fields);
    if (s != parse_status::ok) {
      bump(counters_->decap_errors);
      ctx.status = s;
      return verdict::drop(drop_reason::malformed);
    }
    b.set_data(inner);
    prev_hop = outer_src;
    bump(counters_->decapsulated);
  }
  const packet_fields& f = ctx.fields;

  // (b) Figure 10: a flow advertisement is addressed to whichever SLR receives the flow.
  if (f.protocol == ip_protocol_icmp && !f.fragment && config_.accept_flow_adverts) {
    verdict v;
    if (advertisement(ctx, routes, prev_hop, v)) return v;
  }

  // (c) Only the virtual subnets are routed here.
  const compiled_routes::subnet* net = routes.lookup(f.dst);
  if (net == nullptr) {
    bump(counters_->no_route);
    return verdict::drop(drop_reason::no_route);
  }
  const slr_candidate* candidates = routes.candidates.data() + net->first;
  flow_key key = from_fields(f);

  if (f.fragment) {
    // Later fragments carry no ports: choose over the addresses alone so every piece goes along.
    key.src_port = 0;
    key.dst_port = 0;
    const long i = select_candidate(candidates, net->count, key);
    if (i < 0) {
      bump(counters_->no_route);
      return verdict::drop(drop_reason::no_route);
    }
    bump(counters_->fragments);
    return tunnel(ctx, candidates[i].next_hop);
  }

  // (d) The flow classifier: a pinned-down path?
  const auto t = now();
  if (flow_value* v = table_.find(key)) {
    // A SYN on a flow that has closed: the client reuses the 4-tuple for a new connection, which
    // gets a choice of its own (the old next hop may be gone, and the new flow must follow the
    // table as it is now).
    const bool syn = f.protocol == ip_protocol_tcp && opens_flow(f.protocol, f.tcp_flags);
    if (syn && (v->state == flow_state::tcp_closing || v->state == flow_state::tcp_closed ||
                v->work_unit != isn_bits(ctx.buffer->data(), f))) {
      const long i = select_candidate(candidates, net->count, key);
      if (i < 0) {
        bump(counters_->no_route);
        return verdict::drop(drop_reason::no_route);
      }
      *v = make_flow_value(f.protocol, f.tcp_flags, 0, t, candidates[i].next_hop);
      v->work_unit = isn_bits(ctx.buffer->data(), f);
      v->flags = static_cast<std::uint8_t>(flow_origin::chosen);
      bump(counters_->new_flows);
      bump(counters_->reused_tuples);
      queue(slr_event_kind::new_flow, key, v->user, prev_hop);
      return tunnel(ctx, v->user);
    }
    touch(*v, t, f.tcp_flags);
    bump(counters_->pinned_hits);
    if (v->flags == static_cast<std::uint8_t>(flow_origin::shortcut))
      bump(counters_->shortcut_hits);
    return tunnel(ctx, v->user);
  }

  // (e) No entry. Mid-flow TCP: the state was lost; control code recovers it.
  if (!opens_flow(f.protocol, f.tcp_flags)) {
    bump(counters_->unknown_flow_drops);
    if ((f.tcp_flags & tcp_flag_rst) == 0) queue(slr_event_kind::unknown_flow, key, 0, prev_hop);
    return verdict::drop(drop_reason::not_owned);
  }
  // A new flow: a flow label (the entry) and a next hop by the routing policy.
  const long i = select_candidate(candidates, net->count, key);
  if (i < 0) {
    bump(counters_->no_route);
    return verdict::drop(drop_reason::no_route);
  }
  const std::uint32_t hop = candidates[i].next_hop;
  flow_value value = make_flow_value(f.protocol, f.tcp_flags, 0, t, hop);
  value.flags = static_cast<std::uint8_t>(flow_origin::chosen);
  if (f.protocol == ip_protocol_tcp) value.work_unit = isn_bits(ctx.buffer->data(), f);
  if (table_.insert(key, value).status != insert_status::inserted) {
    bump(counters_->table_full);  // a miss just now, so the only other outcome is full
    return verdict::drop(drop_reason::policy);
  }
  bump(counters_->new_flows);
  queue(slr_event_kind::new_flow, key, hop, prev_hop);
  return tunnel(ctx, hop);
}

bool slr_stage::install(const flow_key& key, std::uint32_t next_hop, flow_origin origin,
                        std::chrono::milliseconds now) noexcept {
  if (next_hop == 0 || next_hop == config_.self) return false;
  // Installed flows are live connections: established, not a half-open SYN.
  flow_value v = make_flow_value(key.protocol, tcp_flag_ack, 0, now, next_hop);
  v.flags = static_cast<std::uint8_t>(origin);
  const insert_result r = table_.insert(key, v);
  if (r.status == insert_status::full) {
    bump(counters_->table_full);
    return false;
  }
  if (r.status == insert_status::exists) {
    r.value->user = next_hop;
    r.value->flags = v.flags;
    r.value->last_seen = v.last_seen;
  }
  return true;
}

bool slr_stage::erase(const flow_key& key) noexcept { return table_.erase(key); }

bool slr_stage::find(const flow_key& key, std::uint32_t& next_hop,
                     flow_origin& origin) const noexcept {
  const flow_value* v = table_.find(key);
  if (v == nullptr) return false;
  next_hop = v->user;
  origin = static_cast<flow_origin>(v->flags);
  return true;
}

std::size_t slr_stage::flush() noexcept {
  const std::size_t n = table_.size();
  table_.clear();
  return n;
}

std::size_t slr_stage::expire(std::chrono::milliseconds now, std::size_t max_slots) noexcept {
  return table_.sweep(now, max_slots).expired;
}

slr_counters slr_stage::counters() const noexcept {
  auto r = [](const std::atomic<std::uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  const live_counters& c = *counters_;
  slr_counters s;
#define BATON_SLR_COPY(name, help) s.name = r(c.name);
  BATON_SLR_COUNTERS(BATON_SLR_COPY, BATON_SLR_COPY)
#undef BATON_SLR_COPY
  return s;
}

}  // namespace baton::net
