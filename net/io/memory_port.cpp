#include "net/io/memory_port.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace baton::net {

bool wait_readable(int fd, std::chrono::milliseconds timeout) noexcept {
  if (fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (r < 0 && errno == EINTR);
  return r > 0 && (p.revents & POLLIN);
}

void drain_eventfd(int fd) noexcept {
  std::uint64_t v;
  [[maybe_unused]] ssize_t n = ::read(fd, &v, sizeof v);
}

void signal_eventfd(int fd) noexcept {
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
}

namespace {

int make_eventfd() {
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::system_category(), "eventfd");
  return fd;
}

}  // namespace

memory_port::memory_port(buffer_pool& pool, memory_port_config config)
    : packet_port(std::move(config.name), config.mtu),
      pool_(pool),
      // Slots reserve room for any datagram a buffer can hold, so inject() never allocates.
      rx_(config.queue_depth, [&](std::vector<std::uint8_t>& v) { v.reserve(pool.data_size()); }),
      tx_(config.queue_depth, [&](std::vector<std::uint8_t>& v) {
        v.reserve(pool.data_size() + pool.headroom());
      }) {
  rx_event_ = make_eventfd();
  try {
    tx_event_ = make_eventfd();
  } catch (...) {
    ::close(rx_event_);
    throw;
  }
}

memory_port::~memory_port() {
  ::close(rx_event_);
  ::close(tx_event_);
}

bool memory_port::inject(bytes_view packet) noexcept {
  auto* slot = rx_.write_slot();
  if (slot == nullptr || packet.size > slot->capacity()) return false;
  slot->assign(packet.begin(), packet.end());
  if (rx_.publish()) signal_eventfd(rx_event_);
  return true;
}

bool memory_port::collect(std::vector<std::uint8_t>& out) {
  auto* slot = tx_.read_slot();
  if (slot == nullptr) return false;
  out.assign(slot->begin(), slot->end());
  tx_.consume();
  return true;
}

bool memory_port::wait_sent(std::chrono::milliseconds timeout) noexcept {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (!tx_.empty()) return true;
    // Re-arm, then look again: a datagram published between the two looks signalled after it.
    drain_eventfd(tx_event_);
    if (!tx_.empty()) return true;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    wait_readable(tx_event_, left);
  }
}

bool memory_port::prepare_wait() noexcept {
  // Re-arm, then look again: a datagram injected between the two looks has signalled after it.
  drain_eventfd(rx_event_);
  return !rx_.empty();
}

std::size_t memory_port::receive_batch(packet_batch& batch,
                                       std::chrono::milliseconds timeout) noexcept {
  std::size_t added = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    while (!batch.full()) {
      auto* slot = rx_.read_slot();
      if (slot == nullptr) break;
      if (slot->size() > mtu()) {
        bump(counters_.rx_oversize);
        rx_.consume();
        continue;
      }
      packet_buffer* b = pool_.acquire();
      if (b == nullptr) {
        // Left queued: it is received once buffers come back, as a kernel ring would keep it.
        bump(counters_.rx_no_buffer);
        return added;
      }
      const bool fits = b->assign(bytes_view{slot->data(), slot->size()});
      rx_.consume();
      if (!fits) {  // an MTU set above the pool's buffer size
        pool_.release(b);
        bump(counters_.rx_oversize);
        continue;
      }
      if (link_source_) {
        b->link_source = *link_source_;
        b->has_link_source = true;
      }
      hand_over(batch, b);
      ++added;
    }
    // Wait only when asked to and nothing came (the loop passes zero and waits on its own).
    if (added != 0 || batch.full() || timeout.count() <= 0) break;
    if (prepare_wait()) continue;
    if (!wait_readable(rx_event_, timeout)) break;
  }
  return added;
}

std::size_t memory_port::send_batch(const packet_batch& batch) noexcept {
  std::size_t sent = 0;
  for (packet_buffer* b : batch) {
    auto* slot = tx_.write_slot();
    if (slot == nullptr || b->size() > mtu() || b->size() > slot->capacity()) {
      bump(counters_.tx_errors);
      continue;
    }
    bytes_view d = b->data();
    slot->assign(d.begin(), d.end());
    if (b->has_next_hop) last_next_hop_ = b->next_hop;
    if (tx_.publish()) signal_eventfd(tx_event_);
    ++sent;
    bump(counters_.tx_packets);
    bump(counters_.tx_bytes, d.size);
  }
  return sent;
}

}  // namespace baton::net
