#include "net/io/af_packet_port.hpp"
#include "net/io/send_messages.hpp"

#include <linux/filter.h>
#include <linux/if_ether.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <system_error>

#include "net/packet/checksum.hpp"

namespace baton::net {

namespace {

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::system_category(), what);
}

template <class T>
void set_option(int fd, int level, int name, const T& value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) < 0) fail(what);
}

}  // namespace

af_packet_port::af_packet_port(buffer_pool& pool, af_packet_config config)
    : packet_port(config.interface,
                  config.mtu != 0 ? config.mtu : baton::net::interface_mtu(config.interface)),
      pool_(pool),
      config_(std::move(config)) {
  const long page = ::sysconf(_SC_PAGESIZE);
  if (config_.receive &&
      (config_.block_size < static_cast<std::size_t>(page) || config_.block_size % page != 0 ||
       (config_.block_size & (config_.block_size - 1)) != 0 || config_.block_count == 0))
    throw std::invalid_argument("af_packet_port: block size must be a power-of-two page multiple");
  if (mtu() > pool.data_size())
    throw std::invalid_argument("af_packet_port: MTU larger than the pool's buffers");
  ifindex_ = baton::net::interface_index(config_.interface);

  // Protocol 0 at creation: nothing is queued before the ring exists and the bind says what we want.
  fd_ = ::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) fail("socket(AF_PACKET)");
  try {
    if (config_.receive) {
      set_option(fd_, SOL_PACKET, PACKET_VERSION, int{TPACKET_V3}, "PACKET_VERSION");
      if (config_.ignore_outgoing) {
#ifdef PACKET_IGNORE_OUTGOING
        set_option(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, int{1}, "PACKET_IGNORE_OUTGOING");
#endif
      }
      tpacket_req3 req{};
      req.tp_block_size = static_cast<unsigned>(config_.block_size);
      req.tp_block_nr = static_cast<unsigned>(config_.block_count);
      // Frames are variable-length in V3; the frame size only has to divide the block.
      req.tp_frame_size = 2048;
      req.tp_frame_nr = static_cast<unsigned>(config_.block_size / 2048 * config_.block_count);
      req.tp_retire_blk_tov = static_cast<unsigned>(config_.block_timeout.count());
      req.tp_sizeof_priv = 0;
      req.tp_feature_req_word = 0;
      set_option(fd_, SOL_PACKET, PACKET_RX_RING, req, "PACKET_RX_RING");
      ring_size_ = config_.block_size * config_.block_count;
      void* m = ::mmap(nullptr, ring_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
      if (m == MAP_FAILED) fail("mmap(PACKET_RX_RING)");
      ring_ = static_cast<std::uint8_t*>(m);
    }
    if (config_.receive) attach_filter(false);
    if (config_.qdisc_bypass)
      set_option(fd_, SOL_PACKET, PACKET_QDISC_BYPASS, int{1}, "PACKET_QDISC_BYPASS");

    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    // ETH_P_ALL makes the socket a tap, served before tc/nftables ingress: the host may drop the
    // stolen frames at ingress so its own stack never handles them, and the ring still has them.
    // A send-only port binds with protocol 0 so the kernel queues nothing for it.
    addr.sll_protocol = config_.receive ? htons(ETH_P_ALL) : 0;
    addr.sll_ifindex = ifindex_;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) fail("bind(AF_PACKET)");

    if (config_.promiscuous) {
      packet_mreq mr{};
      mr.mr_ifindex = ifindex_;
      mr.mr_type = PACKET_MR_PROMISC;
      set_option(fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, mr, "PACKET_ADD_MEMBERSHIP");
    }
  } catch (...) {
    if (ring_ != nullptr) ::munmap(ring_, ring_size_);
    ::close(fd_);
    throw;
  }

  to_.sll_family = AF_PACKET;
  to_.sll_protocol = htons(ETH_P_IP);
  to_.sll_ifindex = ifindex_;
  to_.sll_halen = 6;
  std::memcpy(to_.sll_addr, config_.next_hop.data(), 6);
  for (std::size_t i = 0; i < max_batch_size; ++i) {
    msgs_[i].msg_hdr.msg_name = &to_;
    msgs_[i].msg_hdr.msg_namelen = sizeof to_;
    msgs_[i].msg_hdr.msg_iov = &iov_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
  }
}

void af_packet_port::attach_filter(bool drop_to_host) {
  // Only IPv4 reaches the ring: skb->protocol == ETH_P_IP, decided in the kernel; with
  // drop_to_host, only such frames not addressed to this host's MAC (pkttype != PACKET_HOST).
  sock_filter ipv4[] = {
      {BPF_LD | BPF_H | BPF_ABS, 0, 0, static_cast<__u32>(SKF_AD_OFF + SKF_AD_PROTOCOL)},
      {BPF_JMP | BPF_JEQ | BPF_K, 0, 1, ETH_P_IP},
      {BPF_RET | BPF_K, 0, 0, 0xffffffffu},
      {BPF_RET | BPF_K, 0, 0, 0},
  };
  sock_filter ipv4_not_to_host[] = {
      {BPF_LD | BPF_H | BPF_ABS, 0, 0, static_cast<__u32>(SKF_AD_OFF + SKF_AD_PROTOCOL)},
      {BPF_JMP | BPF_JEQ | BPF_K, 0, 3, ETH_P_IP},
      {BPF_LD | BPF_W | BPF_ABS, 0, 0, static_cast<__u32>(SKF_AD_OFF + SKF_AD_PKTTYPE)},
      {BPF_JMP | BPF_JEQ | BPF_K, 1, 0, PACKET_HOST},
      {BPF_RET | BPF_K, 0, 0, 0xffffffffu},
      {BPF_RET | BPF_K, 0, 0, 0},
  };
  sock_fprog prog = drop_to_host
                      ? sock_fprog{static_cast<unsigned short>(std::size(ipv4_not_to_host)), ipv4_not_to_host}
                      : sock_fprog{static_cast<unsigned short>(std::size(ipv4)), ipv4};
  set_option(fd_, SOL_SOCKET, SO_ATTACH_FILTER, prog, "SO_ATTACH_FILTER");
}

void af_packet_port::drop_frames_to_host() {
  if (config_.receive) attach_filter(true);
}

af_packet_port::~af_packet_port() {
  if (ring_ != nullptr) ::munmap(ring_, ring_size_);
  ::close(fd_);
}

void af_packet_port::release_block() noexcept {
  auto* desc = reinterpret_cast<tpacket_block_desc*>(ring_ + block_ * config_.block_size);
  // Everything we read from the block happens before the kernel may refill it.
  __atomic_store_n(&desc->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
  block_ = (block_ + 1) % config_.block_count;
  next_frame_ = nullptr;
  left_in_block_ = 0;
}

void af_packet_port::read_kernel_drops() noexcept {
  tpacket_stats_v3 st{};
  socklen_t len = sizeof st;
  // Reading the statistics resets them, so each drop is counted once.
  if (::getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
    bump(counters_.rx_kernel_drops, st.tp_drops);
}

std::size_t af_packet_port::receive_batch(packet_batch& batch,
                                          std::chrono::milliseconds timeout) noexcept {
  if (!config_.receive) return 0;
  std::size_t added = 0;
  bool waited = timeout.count() <= 0;
  while (!batch.full()) {
    if (next_frame_ == nullptr) {
      auto* desc = reinterpret_cast<tpacket_block_desc*>(ring_ + block_ * config_.block_size);
      const std::uint32_t status = __atomic_load_n(&desc->hdr.bh1.block_status, __ATOMIC_ACQUIRE);
      if ((status & TP_STATUS_USER) == 0) {
        if (added != 0 || waited || !wait_readable(fd_, timeout)) break;
        waited = true;
        continue;
      }
      if (status & TP_STATUS_LOSING) read_kernel_drops();
      left_in_block_ = desc->hdr.bh1.num_pkts;
      next_frame_ = reinterpret_cast<const std::uint8_t*>(desc) + desc->hdr.bh1.offset_to_first_pkt;
      if (left_in_block_ == 0) {
        release_block();
        continue;
      }
    }

    const auto* h = reinterpret_cast<const tpacket3_hdr*>(next_frame_);
    packet_buffer* b = nullptr;
    const auto* from = reinterpret_cast<const sockaddr_ll*>(
        next_frame_ + TPACKET_ALIGN(sizeof(tpacket3_hdr)));
    if (from->sll_protocol != htons(ETH_P_IP)) {
      bump(counters_.rx_not_ipv4);  // the filter keeps these out; a frame before it was attached
    } else if (h->tp_snaplen < h->tp_len || h->tp_len > mtu()) {
      bump(counters_.rx_oversize);  // cut by the ring or a GRO super-frame: refused
    } else {
      b = pool_.acquire();
      if (b == nullptr) {
        // The frame stays in the ring (the cursor does not move) until buffers come back.
        bump(counters_.rx_no_buffer);
        break;
      }
      b->assign(bytes_view(next_frame_ + h->tp_net, h->tp_snaplen));
      b->addressed_to_host = from->sll_pkttype == PACKET_HOST;
      if (from->sll_halen == b->link_source.size()) {
        std::memcpy(b->link_source.data(), from->sll_addr, b->link_source.size());
        b->has_link_source = true;
      }
      if (h->tp_status & TP_STATUS_CSUMNOTREADY) {
        if (finish_l4_checksum(b->data()) == parse_status::ok) {
          bump(counters_.csum_finished);
          b->l4_checksum_known_good = true;
        }
      } else if (h->tp_status & TP_STATUS_CSUM_VALID) {
        b->l4_checksum_known_good = true;  // the driver checked it (RX checksum offload)
      }
    }
    // Next frame, or give the block back when this was its last.
    if (--left_in_block_ == 0) {
      release_block();
    } else {
      next_frame_ += h->tp_next_offset;
    }
    if (b == nullptr) continue;
    hand_over(batch, b);
    ++added;
  }
  return added;
}

std::size_t af_packet_port::send_batch(const packet_batch& batch) noexcept {
  const std::size_t n = batch.size();
  for (std::size_t i = 0; i < n; ++i) {
    const bytes_view d = batch[i]->data();
    iov_[i].iov_base = const_cast<std::uint8_t*>(d.data);
    iov_[i].iov_len = d.size;
    if (batch[i]->has_next_hop) {
      to_each_[i] = to_;
      std::memcpy(to_each_[i].sll_addr, batch[i]->next_hop.data(), 6);
      msgs_[i].msg_hdr.msg_name = &to_each_[i];
    } else {
      msgs_[i].msg_hdr.msg_name = &to_;
    }
  }
  return send_messages(fd_, msgs_.data(), n, counters_);
}

}  // namespace baton::net
