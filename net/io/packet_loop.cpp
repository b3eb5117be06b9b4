#include "net/io/packet_loop.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "net/io/clock.hpp"
#include "net/packet/checksum.hpp"
#include "net/packet/fragment.hpp"
#include "net/packet/frag_needed.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/mss_clamp.hpp"
#include "net/packet/packet_fields.hpp"

namespace baton::net {

const char* to_string(drop_reason r) noexcept {
  switch (r) {
    case drop_reason::malformed: return "malformed";
    case drop_reason::no_route: return "no_route";
    case drop_reason::not_owned: return "not_owned";
    case drop_reason::policy: return "policy";
    case drop_reason::oversize: return "oversize";
    case drop_reason::tx_error: return "tx_error";
    case drop_reason::ttl_expired: return "ttl_expired";
  }
  return "unknown";
}

std::uint64_t loop_snapshot::total_drops() const noexcept {
  std::uint64_t n = 0;
  for (auto d : drops) n += d;
  return n;
}

packet_loop::packet_loop(buffer_pool& pool, packet_loop_config config)
    : pool_(pool), config_(config) {
  if (config_.batch_size == 0 || config_.batch_size > max_batch_size)
    config_.batch_size = max_batch_size;
  // 0: wait until woken (stop() and commands signal the eventfd); otherwise at most 50 ms.
  if (config_.idle_wait.count() < 0 || config_.idle_wait.count() > 50)
    config_.idle_wait = std::chrono::milliseconds{0};
  stop_event_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (stop_event_ < 0) throw std::system_error(errno, std::system_category(), "eventfd");
  ports_.reserve(max_ports);
  tx_.reserve(max_ports);
}

packet_loop::~packet_loop() {
  stop();
  ::close(stop_event_);
}

port_id packet_loop::add_port(std::unique_ptr<packet_port> port) {
  if (running()) throw std::logic_error("packet_loop::add_port while running");
  if (ports_.size() == max_ports) throw std::logic_error("packet_loop::add_port: too many ports");
  if (!port) throw std::logic_error("packet_loop::add_port: null port");
  const auto id = static_cast<port_id>(ports_.size());
  port->set_id(id);
  ports_.push_back(std::move(port));
  tx_.emplace_back(config_.batch_size);
  return id;
}

void packet_loop::add_stage(std::unique_ptr<stage> s) {
  if (running()) throw std::logic_error("packet_loop::add_stage while running");
  if (stages_.size() == max_stages) throw std::logic_error("packet_loop::add_stage: too many stages");
  if (!s) throw std::logic_error("packet_loop::add_stage: null stage");
  stages_.push_back(std::move(s));
}

void packet_loop::start() {
  if (running()) throw std::logic_error("packet_loop::start: already running");
  stop_requested_.store(false, std::memory_order_relaxed);
  drain_eventfd(stop_event_);
  // Running before the thread exists: a command queued from now on waits for the thread.
  running_.store(true, std::memory_order_release);
  try {
    thread_ = std::thread([this] { run_thread(); });
  } catch (...) {
    running_.store(false, std::memory_order_release);
    throw;
  }
}

void packet_loop::stop() noexcept {
  if (!running()) return;
  stop_requested_.store(true, std::memory_order_release);
  signal_eventfd(stop_event_);
  thread_.join();
  running_.store(false, std::memory_order_release);
  run_commands();  // what was queued after the thread's last look runs here, not never
}

std::size_t packet_loop::run_once(std::chrono::milliseconds wait) {
  if (running()) throw std::logic_error("packet_loop::run_once while the loop thread runs");
  const std::size_t n = turn();
  if (n == 0 && wait.count() > 0) wait_for_work(wait);
  return n;
}

namespace {
std::uint64_t thread_cpu_now() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::uint64_t(ts.tv_sec) * 1000000000u + std::uint64_t(ts.tv_nsec);
}
}  // namespace

void packet_loop::run_thread() noexcept {
  const std::uint64_t cpu0 = thread_cpu_now();
  while (!stop_requested_.load(std::memory_order_acquire)) {
    if (commands_pending_.load(std::memory_order_acquire)) run_commands();
    if (turn() == 0) {
      // Read only when idle: the clock is a system call, too dear for every busy turn.
      live_.thread_cpu_ns.store(thread_cpu_now() - cpu0, std::memory_order_relaxed);
      wait_for_work(config_.idle_wait.count() == 0 ? std::chrono::milliseconds::max()
                                                    : config_.idle_wait);
    }
  }
  // Commands queued before the stop still run here, on the loop thread, as their posters expect.
  run_commands();
  live_.thread_cpu_ns.store(thread_cpu_now() - cpu0, std::memory_order_relaxed);
}

void packet_loop::run_on_loop(std::function<void()> command) {
  if (!running()) {
    command();
    return;
  }
  auto task = std::make_shared<std::packaged_task<void()>>(std::move(command));
  auto done = task->get_future();
  enqueue([task] { (*task)(); });
  done.get();  // rethrows what the command threw
}

void packet_loop::post(std::function<void()> command) {
  if (!running()) {
    try {
      command();
    } catch (...) {
      live_.command_errors.fetch_add(1, std::memory_order_relaxed);
    }
    return;
  }
  enqueue(std::move(command));
}

void packet_loop::enqueue(std::function<void()> command) {
  {
    std::lock_guard<std::mutex> guard{commands_mutex_};
    commands_.push_back(std::move(command));
    commands_pending_.store(true, std::memory_order_release);
  }
  signal_eventfd(stop_event_);  // wakes an idle loop; it checks the stop flag and the commands
}

void packet_loop::run_commands() noexcept {
  std::deque<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> guard{commands_mutex_};
    batch.swap(commands_);
    commands_pending_.store(false, std::memory_order_relaxed);
  }
  for (auto& command : batch) {
    try {
      command();  // run_on_loop's commands hand their exception to the caller's future
    } catch (...) {
      live_.command_errors.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

void packet_loop::wait_for_work(std::chrono::milliseconds wait) noexcept {
  // A stage holding datagrams back (a shaper) must be pumped when its next one is due: sleep no
  // longer than that, and not at all when it is due now. turn() measured it after its pumps.
  // milliseconds::max(): no bound but the stages' pumps (the loop thread, idle_wait 0).
  const std::uint64_t wait_ns =
    wait == std::chrono::milliseconds::max()
      ? UINT64_MAX
      : static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count());
  const std::uint64_t sleep_ns = std::min(wait_ns, next_pump_ns_);
  if (sleep_ns == 0) return;
  // At most max_ports + 1 descriptors; on the stack, so waiting does not allocate either.
  std::array<pollfd, max_ports + 1> fds{};
  std::size_t n = 0;
  fds[n++] = pollfd{stop_event_, POLLIN, 0};
  for (auto& p : ports_) {
    if (p->prepare_wait()) return;  // work arrived since the turn looked
    if (p->wait_fd() >= 0) fds[n++] = pollfd{p->wait_fd(), POLLIN, 0};
  }
  bump(live_.idle_waits);
  // ppoll: a timespec, so the sub-millisecond waits between two of a shaper's releases work.
  const timespec timeout{static_cast<time_t>(sleep_ns / 1000000000u),
                         static_cast<long>(sleep_ns % 1000000000u)};
  ::ppoll(fds.data(), n, sleep_ns == UINT64_MAX ? nullptr : &timeout, nullptr);
  // Woken for a stop or a command: re-arm. The flags themselves are checked at the top of the loop.
  if (fds[0].revents & POLLIN) drain_eventfd(stop_event_);
}

std::size_t packet_loop::turn() noexcept {
  bump(live_.turns);
  std::size_t total = 0;
  packet_batch rx(config_.batch_size);
  for (auto& port : ports_) {
    rx.clear();
    const std::size_t n = port->receive_batch(rx, std::chrono::milliseconds{0});
    if (n == 0) continue;
    total += n;
    bump(live_.rx_packets, n);
    // Tables read by the stages stay valid until leave(): control code waits for it, not us.
    epoch_.enter();
    process(rx);
    epoch_.leave();
    for (port_id out = 0; out < ports_.size(); ++out) flush(out);
  }
  // Every turn, arrivals or not: stages holding datagrams back send what is due now. One clock
  // reading per turn (vDSO, no system call); the same instant says how long the loop may sleep.
  const std::uint64_t now = steady_clock_ns();  // the pump() time base (clock.hpp)
  std::size_t sent = 0;
  std::uint64_t next = UINT64_MAX;
  epoch_.enter();
  for (auto& s : stages_) sent += s->pump(now);
  for (auto& s : stages_) next = std::min(next, s->next_pump_ns(now));
  epoch_.leave();
  if (sent != 0) bump(live_.tx_packets, sent);
  next_pump_ns_ = next;
  return total;
}

void packet_loop::process(packet_batch& rx) noexcept {
  // Three passes over the batch: parse, let the stages start their table loads for all of it
  // (a flow-table miss costs ~50-100 ns; overlapped, a batch pays about one), then decide each
  // datagram in arrival order.
  packet_context* batch = batch_.data();
  std::size_t n = 0;
  for (packet_buffer* b : rx) {
    packet_context& ctx = batch[n];
    ctx = packet_context{};
    ctx.buffer = b;
    ctx.in_port = b->in_port;
    ctx.pool = &pool_;

    // parse: everything after this may trust the header lengths.
    stage_counters& pc = stage_counters_[0];
    bump(pc.seen);
    ctx.status = parse_fields(b->data(), ctx.fields);
    // A TCP segment whose options do not walk goes on only for a stage that takes it.
    const bool let_in = ctx.fields.tcp_options_bad && bad_tcp_options_taken();
    if ((ctx.status == parse_status::ok || let_in) && config_.verify_ipv4_checksum &&
        !ipv4_header_checksum_ok(b->data()))
      ctx.status = parse_status::bad_checksum;
    // Every role's stages see only segments whose checksum is right (stage.hpp). Fragments are
    // not checked: their checksum covers the reassembled datagram.
    if ((ctx.status == parse_status::ok || let_in) && config_.verify_l4_checksum &&
        !b->l4_checksum_known_good && !ctx.fields.fragment &&
        (ctx.fields.protocol == ip_protocol_tcp || ctx.fields.protocol == ip_protocol_udp) &&
        verify_l4_checksum(b->data()) == parse_status::bad_checksum)
      ctx.status = parse_status::bad_l4_checksum;
    if (ctx.status != parse_status::ok && !(let_in && ctx.status == parse_status::bad_option_length)) {
      bump(pc.dropped);
      drop(b, drop_reason::malformed, ctx.status);
      continue;
    }
    ++n;
  }
  if (n > 1)
    for (unsigned round = 0; round < prefetch_rounds; ++round)
      for (const auto& s : stages_)
        for (std::size_t i = 0; i < n; ++i) s->prefetch(batch[i], round);
  for (std::size_t k = 0; k < n; ++k) decide(batch[k]);
}

void packet_loop::decide(packet_context& ctx) noexcept {
  packet_buffer* b = ctx.buffer;
  stage_counters& pc = stage_counters_[0];
  verdict v = verdict::drop(drop_reason::no_route);  // nobody decided: nowhere to go
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    if (ctx.status != parse_status::ok && stages_[i]->on_bad_tcp_options() == bad_tcp_options::refuse) {
      bump(pc.dropped);  // counted as the parse step's drop, as when no stage takes it
      v = verdict::drop(drop_reason::malformed);
      break;
    }
    stage_counters& sc = stage_counters_[i + 1];
    bump(sc.seen);
    const verdict sv = stages_[i]->process(ctx);
    if (sv.what == verdict::kind::next) continue;
    v = sv;
    if (v.what == verdict::kind::forward) bump(sc.forwarded);
    else if (v.what == verdict::kind::drop) bump(sc.dropped);
    else bump(sc.consumed);
    break;
  }
  switch (v.what) {
    case verdict::kind::forward: emit(b, v); break;
    case verdict::kind::consume: break;  // the stage owns the buffer now
    case verdict::kind::next:            // not produced: v starts as a drop
    case verdict::kind::drop: drop(b, v.reason, ctx.status); break;
  }
}

bool packet_loop::bad_tcp_options_taken() const noexcept {
  for (const auto& s : stages_) {
    const bad_tcp_options how = s->on_bad_tcp_options();
    if (how != bad_tcp_options::follow) return how == bad_tcp_options::take;
  }
  return false;
}

bool packet_loop::icmp_allowed() noexcept {
  // 100 a second, bursts of 20: enough for every sender behind a tunnel to learn its MTU, too few
  // to make the node a reflector.
  constexpr double rate = 100, burst = 20;
  const auto now = static_cast<std::int64_t>(steady_clock_ns());
  if (icmp_refilled_ns_ == 0) icmp_tokens_ = burst;
  else icmp_tokens_ = std::min(burst, icmp_tokens_ + rate * static_cast<double>(now - icmp_refilled_ns_) / 1e9);
  icmp_refilled_ns_ = now;
  if (icmp_tokens_ < 1) return false;
  icmp_tokens_ -= 1;
  return true;
}

void packet_loop::emit(packet_buffer* b, const verdict& v) noexcept {
  if (v.port >= ports_.size()) return drop(b, drop_reason::no_route, parse_status::ok);
  const auto queue = [this, b](port_id port) {
    packet_batch& out = tx_[port];
    if (out.full()) flush(port);
    out.push(b);
  };
  // A tunnelled SYN: its receiver's segments must fit the tunnel (checked by its first bytes:
  // IPv4, IHL 5, protocol 4, so other datagrams cost one compare).
  if (config_.clamp_tunnelled_mss && b->size() >= 60 && b->data().data[0] == 0x45 &&
      b->data().data[9] == ip_protocol_ipip &&
      clamp_tunnelled_syn_mss(b->data(), tunnelled_mss(ports_[v.port]->mtu())) == mss_clamp_result::clamped)
    bump(live_.mss_clamped);
  if (b->size() > ports_[v.port]->mtu()) {
    // A datagram without DF (a tunnel copies the inner datagram's DF): sent in fragments, which
    // the receiving node's kernel reassembles.
    if (const std::size_t count = ipv4_fragment_count(b->data(), ports_[v.port]->mtu()); count > 1)
      return emit_fragments(b, v.port, count);
    // A tunnel datagram too long for its port: the inner datagram's sender is told the tunnel's
    // MTU (its TCP then sends shorter segments) instead of losing every long one unheard. A port
    // that routes by address (a raw socket) sends the ICMP itself; from a link-layer port (the
    // cluster's DSR over AF_PACKET) it goes back out the port the datagram came in by, to the
    // neighbour that sent it (the client or its router), whose address the frame carried.
    std::size_t length = 0;
    const bool by_address = ports_[v.port]->routes_by_address();
    if (!by_address && !(b->has_link_source && b->in_port < ports_.size()))
      return drop(b, drop_reason::oversize, parse_status::ok);
    if (make_frag_needed(b->data(), ports_[v.port]->mtu(), length) != frag_needed_result::made)
      return drop(b, drop_reason::oversize, parse_status::ok);
    if (!icmp_allowed()) {
      bump(live_.icmp_rate_limited);
      return drop(b, drop_reason::oversize, parse_status::ok);
    }
    bump(drops_[static_cast<std::size_t>(drop_reason::oversize)]);  // the datagram itself is dropped
    bump(live_.icmp_frag_needed);
    b->set_data(b->data().sub(0, length));
    if (!by_address) {
      b->next_hop = b->link_source;
      b->has_next_hop = true;
      return queue(b->in_port);
    }
  }
  queue(v.port);
}

void packet_loop::emit_fragments(packet_buffer* b, port_id out, std::size_t count) noexcept {
  const std::size_t mtu = ports_[out]->mtu();
  // 64 KiB over 68-byte fragments would be ~1400; a buffer pool this side of that is the bound.
  constexpr std::size_t most = 64;
  packet_buffer* rest[most];
  if (count > most + 1) return drop(b, drop_reason::oversize, parse_status::ok);
  for (std::size_t i = 1; i < count; ++i) {
    rest[i - 1] = pool_.acquire();
    if (rest[i - 1] == nullptr || rest[i - 1]->reset().size < mtu) {
      for (std::size_t j = 0; j < i; ++j)
        if (rest[j] != nullptr) pool_.release(rest[j]);
      return drop(b, drop_reason::oversize, parse_status::ok);
    }
    rest[i - 1]->set_size(write_ipv4_fragment(b->data(), mtu, i, rest[i - 1]->reset()));
  }
  b->set_size(cut_to_first_ipv4_fragment(b->data(), mtu));
  bump(live_.fragmented);
  bump(live_.fragments_sent, count);
  packet_batch& batch = tx_[out];
  if (batch.full()) flush(out);
  batch.push(b);
  for (std::size_t i = 0; i + 1 < count; ++i) {
    if (batch.full()) flush(out);
    batch.push(rest[i]);
  }
}

void packet_loop::drop(packet_buffer* b, drop_reason why, parse_status status) noexcept {
  bump(drops_[static_cast<std::size_t>(why)]);
  if (why == drop_reason::malformed) bump(malformed_[static_cast<std::size_t>(status)]);
  pool_.release(b);
}

void packet_loop::flush(port_id out) noexcept {
  packet_batch& batch = tx_[out];
  if (batch.empty()) return;
  const std::size_t sent = ports_[out]->send_batch(batch);
  bump(live_.tx_packets, sent);
  if (sent < batch.size()) bump(drops_[static_cast<std::size_t>(drop_reason::tx_error)], batch.size() - sent);
  for (packet_buffer* b : batch) pool_.release(b);
  batch.clear();
}

loop_snapshot packet_loop::snapshot() const {
  auto r = [](const std::atomic<std::uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  loop_snapshot s;
#define BATON_LOOP_COPY(name, help) s.name = r(live_.name);
  BATON_LOOP_COUNTERS(BATON_LOOP_COPY, BATON_LOOP_COPY)
#undef BATON_LOOP_COPY
  for (std::size_t i = 0; i < drop_reason_count; ++i) s.drops[i] = r(drops_[i]);
  for (std::size_t i = 0; i < parse_status_count; ++i) s.malformed[i] = r(malformed_[i]);
  auto stage_row = [&](std::string name, const stage_counters& c) {
    stage_stats row;
    row.name = std::move(name);
#define BATON_STAGE_COPY(counter, help) row.counter = r(c.counter);
    BATON_STAGE_COUNTERS(BATON_STAGE_COPY, BATON_STAGE_COPY)
#undef BATON_STAGE_COPY
    s.stages.push_back(std::move(row));
  };
  stage_row("parse", stage_counters_[0]);
  for (std::size_t i = 0; i < stages_.size(); ++i) stage_row(stages_[i]->name(), stage_counters_[i + 1]);
  for (auto& p : ports_) s.ports.push_back({p->name(), p->mtu(), p->stats(), p->backend(), p->fallback_reason()});
  s.pool_capacity = pool_.capacity();
  s.pool_available = pool_.available();
  s.pool_exhausted = pool_.exhausted();
  return s;
}

}  // namespace baton::net
