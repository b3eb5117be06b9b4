#include "net/sched/shaper_stage.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace baton::net {

namespace {

std::size_t capacity_for(const shaping_config& config, std::size_t asked) {
  if (asked != 0) return asked;
  return std::max<std::size_t>(64, config.classes.size() + 1);
}

// Prefix length of a contiguous mask, or -1.
int mask_length(std::uint32_t mask) noexcept {
  int len = 0;
  while (len < 32 && (mask & (0x80000000u >> len))) ++len;
  const std::uint32_t canonical = len == 0 ? 0 : ~std::uint32_t{0} << (32 - len);
  return canonical == mask ? len : -1;
}

std::uint32_t mask_of(int len) noexcept {
  return len == 0 ? 0 : ~std::uint32_t{0} << (32 - len);
}

}  // namespace

link_budget link_budget_of(const shaping_config& config, std::size_t mtu) {
  if (!(config.rate_mbit > 0) || !std::isfinite(config.rate_mbit))
    throw std::invalid_argument("shaping: rate_mbit must be positive");
  const double rate = std::round(config.rate_mbit * 125000.0);
  if (rate < 1 || rate > double(token_bucket::max_rate))
    throw std::invalid_argument("shaping: rate_mbit out of range");
  if (!(config.burst_kbyte >= 0) || !std::isfinite(config.burst_kbyte))
    throw std::invalid_argument("shaping: burst_kbyte must not be negative");
  const double burst = std::round(config.burst_kbyte * 1000.0);
  if (burst > double(token_bucket::max_burst))
    throw std::invalid_argument("shaping: burst_kbyte out of range");
  link_budget b;
  b.rate_bytes_per_s = static_cast<std::uint64_t>(rate);
  // A burst below one MTU would hold a full-size datagram back for ever.
  b.burst_bytes = std::max<std::uint64_t>(static_cast<std::uint64_t>(burst), std::max<std::size_t>(mtu, 1));
  return b;
}

std::uint32_t shaper_table::classify(std::uint32_t src) const noexcept {
  for (const std::uint8_t len : lengths) {
    const std::uint32_t key = src & mask_of(len);
    const auto& v = by_length[len];
    auto it = std::lower_bound(v.begin(), v.end(), key,
                               [](const entry& e, std::uint32_t k) { return e.network < k; });
    if (it != v.end() && it->network == key) return it->slot;
  }
  return 0;
}

shaper_stage::shaper_stage(const reader_epoch& epoch, buffer_pool& pool, packet_port& out,
                           const shaping_config& config, std::uint64_t now_ns,
                           std::unique_ptr<stage> route, std::size_t class_capacity)
    : pool_(pool),
      out_(out),
      route_(std::move(route)),
      queue_(capacity_for(config, class_capacity), std::max<std::size_t>(config.queue_packets, 1),
             std::max<std::size_t>(pool.capacity() / 2, 1)),
      bucket_(link_budget_of(config, out.mtu()).rate_bytes_per_s,
              link_budget_of(config, out.mtu()).burst_bytes, now_ns),
      slot_names_(queue_.classes()),
      shares_(queue_.classes(), 0),
      table_(epoch, build(config)) {
  apply(*table_.read());  // nothing runs yet: the loop thread is not reading
  budget_pending_ = false;
}

shaper_stage::~shaper_stage() {
  queue_.drain([this](packet_buffer* b) { pool_.release(b); });
}

std::unique_ptr<const shaper_table> shaper_stage::build(const shaping_config& config) {
  // Validate and lay out into copies; members change only when nothing can throw any more.
  const link_budget budget = link_budget_of(config, out_.mtu());
  if (config.default_share == 0) throw std::invalid_argument("shaping: default_share must be >= 1");
  std::vector<std::string> names = slot_names_;
  names[0] = "default";
  auto table = std::make_unique<shaper_table>();
  table->budget = budget;
  table->weights.assign(names.size(), 1);
  table->weights[0] = config.default_share;
  table->by_length.resize(33);
  std::vector<std::uint32_t> live{0};
  std::vector<std::uint32_t> shares(names.size(), 0);
  shares[0] = config.default_share;
  for (const auto& c : config.classes) {
    const std::string where = "shaping class \"" + c.name + "\": ";
    if (c.name.empty() || c.name == "default")
      throw std::invalid_argument(where + "needs a name other than \"default\"");
    if (c.share == 0) throw std::invalid_argument(where + "share must be >= 1");
    const int len = mask_length(c.source.mask);
    if (len < 0) throw std::invalid_argument(where + "source mask is not a prefix");
    const std::uint32_t network = c.source.address & c.source.mask;
    // Slot by name: a class keeps its queue and counters across reloads.
    std::uint32_t slot = 0;
    for (std::uint32_t i = 1; i < names.size() && slot == 0; ++i)
      if (names[i] == c.name) slot = i;
    for (std::uint32_t i = 1; i < names.size() && slot == 0; ++i)
      if (names[i].empty()) {
        names[i] = c.name;
        slot = i;
      }
    if (slot == 0)
      throw std::length_error(where + "more classes than the shaper was built for (" +
                              std::to_string(names.size() - 1) + "); restart to add it");
    if (std::find(live.begin(), live.end(), slot) != live.end())
      throw std::invalid_argument(where + "named twice");
    auto& row = table->by_length[static_cast<std::size_t>(len)];
    for (const auto& e : row)
      if (e.network == network) throw std::invalid_argument(where + "source prefix used twice");
    row.push_back({network, slot});
    live.push_back(slot);
    table->weights[slot] = std::min(c.share, sfq::max_weight);
    shares[slot] = c.share;
  }
  for (int len = 32; len >= 0; --len) {
    auto& row = table->by_length[static_cast<std::size_t>(len)];
    if (row.empty()) continue;
    std::sort(row.begin(), row.end(),
              [](const shaper_table::entry& a, const shaper_table::entry& b) {
                return a.network < b.network;
              });
    table->lengths.push_back(static_cast<std::uint8_t>(len));
  }
  table->generation = ++generation_;
  // Commit.
  interface_ = config.interface;
  slot_names_ = std::move(names);
  live_slots_ = std::move(live);
  shares_ = std::move(shares);
  budget_ = budget;
  return table;
}

void shaper_stage::publish(const shaping_config& config) {
  std::lock_guard<std::mutex> guard(control_);
  table_.publish(build(config));
}

void shaper_stage::apply(const shaper_table& t) noexcept {
  for (std::size_t i = 0; i < t.weights.size(); ++i) queue_.set_weight(i, t.weights[i]);
  pending_budget_ = t.budget;
  budget_pending_ = true;
  applied_generation_ = t.generation;
}

verdict shaper_stage::process(packet_context& ctx) noexcept {
  if (route_) {
    const verdict v = route_->process(ctx);
    if (v.what != verdict::kind::forward || v.port != out_.id()) return v;
  }
  const shaper_table* t = table_.read();
  if (t->generation != applied_generation_) apply(*t);
  const std::size_t len = ctx.buffer->size();
  if (len > out_.mtu()) {
    bump(oversize_);
    return verdict::drop(drop_reason::oversize);
  }
  const std::uint32_t cls = t->classify(ctx.fields.src);
  // Tail drop: the queue counted it; the loop gives the buffer back.
  if (!queue_.enqueue(cls, ctx.buffer, static_cast<std::uint32_t>(len)))
    return verdict::drop(drop_reason::policy);
  return verdict::consume();
}

std::size_t shaper_stage::send(packet_batch& batch) noexcept {
  const std::size_t taken = out_.send_batch(batch);
  if (taken < batch.size()) bump(tx_errors_, batch.size() - taken);
  for (packet_buffer* b : batch) pool_.release(b);
  batch.clear();
  return taken;
}

std::size_t shaper_stage::pump(std::uint64_t now_ns) noexcept {
  if (budget_pending_) {
    budget_pending_ = false;
    try {
      bucket_.configure(pending_budget_.rate_bytes_per_s, pending_budget_.burst_bytes, now_ns);
    } catch (const std::invalid_argument&) {
      // Not reached: build() checked the same bounds. Keep the old rate.
    }
  }
  packet_batch batch;
  std::size_t sent = 0;
  sfq::item it;
  while (queue_.peek(it) && bucket_.try_consume(it.len, now_ns)) {
    queue_.dequeue(it);
    batch.push(it.buffer);
    if (batch.full()) sent += send(batch);
  }
  if (!batch.empty()) sent += send(batch);
  return sent;
}

std::uint64_t shaper_stage::next_pump_ns(std::uint64_t now_ns) noexcept {
  sfq::item it;
  if (!queue_.peek(it)) return std::numeric_limits<std::uint64_t>::max();
  return bucket_.wait_ns(it.len, now_ns);
}

shaper_stats shaper_stage::stats() const {
  std::lock_guard<std::mutex> guard(control_);
  shaper_stats s;
  s.interface = interface_;
  s.rate_bytes_per_s = budget_.rate_bytes_per_s;
  s.burst_bytes = budget_.burst_bytes;
  s.oversize = oversize_.load(std::memory_order_relaxed);
  s.tx_errors = tx_errors_.load(std::memory_order_relaxed);
  for (const std::uint32_t slot : live_slots_)
    s.classes.push_back({slot_names_[slot], shares_[slot], queue_.counters(slot)});
  return s;
}

}  // namespace baton::net
