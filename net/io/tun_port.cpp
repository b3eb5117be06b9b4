#include "net/io/tun_port.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "net/io/clock.hpp"
#include "net/io/interface.hpp"

namespace baton::net {

tun_port::opened tun_port::open_device(const tun_port_config& config) {
  if (config.name.size() >= IFNAMSIZ) throw std::invalid_argument("tun_port: name too long");
  const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::system_category(), "open /dev/net/tun");
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, config.name.data(), config.name.size());
  if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
    const int e = errno;
    ::close(fd);
    throw std::system_error(e, std::system_category(), "TUNSETIFF " + config.name);
  }
  return {fd, std::string(ifr.ifr_name, ::strnlen(ifr.ifr_name, IFNAMSIZ))};
}

tun_port::tun_port(buffer_pool& pool, tun_port_config config)
    : tun_port(pool, config, open_device(config)) {}

tun_port::tun_port(buffer_pool& pool, const tun_port_config& config, opened device)
    : packet_port(std::move(device.name), config.mtu), pool_(pool), fd_(device.fd) {
  try {
    if (config.mtu > pool.data_size())
      throw std::invalid_argument("tun_port: MTU larger than the pool's buffers");
    set_interface_mtu(name(), config.mtu);
    if (config.queue_length > 0) set_interface_tx_queue_length(name(), config.queue_length);
    if (config.bring_up) set_interface_up(name());
  } catch (...) {
    ::close(fd_);
    throw;
  }
  try {
    kernel_ = std::make_unique<link_counters>(name());
    // A device that outlived an earlier reader keeps its count: only new drops are ours.
    kernel_drops_seen_ = kernel_->tx_dropped().value_or(0);
  } catch (const std::exception&) {
    kernel_.reset();  // drops go uncounted rather than the port unopened
  }
}

void tun_port::read_kernel_drops() noexcept {
  drops_read_ns_ = static_cast<std::int64_t>(steady_clock_ns());
  if (!kernel_) return;
  const auto dropped = kernel_->tx_dropped();
  if (!dropped || *dropped <= kernel_drops_seen_) return;
  bump(counters_.rx_kernel_drops, *dropped - kernel_drops_seen_);
  kernel_drops_seen_ = *dropped;
}

tun_port::~tun_port() { ::close(fd_); }

std::size_t tun_port::receive_batch(packet_batch& batch, std::chrono::milliseconds timeout) noexcept {
  std::size_t added = 0;
  bool waited = timeout.count() <= 0;
  while (!batch.full()) {
    packet_buffer* b = pool_.acquire();
    if (b == nullptr) {
      bump(counters_.rx_no_buffer);  // the device keeps it queued until buffers come back
      break;
    }
    const bytes_span room = b->reset();
    const ssize_t n = ::read(fd_, room.data, room.size);
    if (n <= 0) {
      pool_.release(b);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        bump(counters_.rx_errors);
        break;
      }
      // Drained: a good moment to ask what the kernel could not queue (one netlink round trip).
      if (static_cast<std::int64_t>(steady_clock_ns()) - drops_read_ns_ > 100'000'000) read_kernel_drops();
      if (added != 0 || waited || !wait_readable(fd_, timeout)) break;
      waited = true;
      continue;
    }
    const auto len = static_cast<std::size_t>(n);
    if (len > mtu()) {  // a read as big as the buffer may have been cut: refuse it either way
      bump(counters_.rx_oversize);
      pool_.release(b);
      continue;
    }
    if ((room.data[0] >> 4) != 4) {
      bump(counters_.rx_not_ipv4);
      pool_.release(b);
      continue;
    }
    b->set_size(len);
    hand_over(batch, b);
    ++added;
  }
  return added;
}

std::size_t tun_port::send_batch(const packet_batch& batch) noexcept {
  std::size_t sent = 0;
  for (packet_buffer* b : batch) {
    const bytes_view d = b->data();
    ssize_t n;
    do {
      n = ::write(fd_, d.data, d.size);
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(d.size)) {
      bump(counters_.tx_errors);
      continue;
    }
    ++sent;
    bump(counters_.tx_packets);
    bump(counters_.tx_bytes, d.size);
  }
  return sent;
}

}  // namespace baton::net
