#include "net/io/af_xdp_port.hpp"

#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "net/packet/arp.hpp"
#include "net/packet/checksum.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/ethernet.hpp"

namespace baton::net {

namespace {

// The kernel puts this much headroom before each received frame in copy mode (XDP_PACKET_HEADROOM).
constexpr std::size_t kernel_headroom = 256;

[[noreturn]] void fail(int error, const char* what) {
  throw std::system_error(error, std::system_category(), what);
}

/// The interface's IPv4 address (network order), 0 when it has none.
std::uint32_t interface_ipv4(const std::string& name) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  std::uint32_t address = 0;
  if (::ioctl(fd, SIOCGIFADDR, &ifr) == 0)
    address = reinterpret_cast<const sockaddr_in*>(&ifr.ifr_addr)->sin_addr.s_addr;
  ::close(fd);
  return address;
}

bool set_promiscuous(const std::string& name, bool on) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  bool ok = ::ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
  if (ok) {
    ifr.ifr_flags = static_cast<short>(on ? (ifr.ifr_flags | IFF_PROMISC) : (ifr.ifr_flags & ~IFF_PROMISC));
    ok = ::ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
  }
  ::close(fd);
  return ok;
}

// libxdp and libbpf print their diagnostics to stderr. While a port is being made they are kept
// instead: on success they are dropped (the port's status says what runs), on failure libxdp's
// warnings join the reason ("Existing program is not using a dispatcher, can't replace").
std::mutex library_messages_mutex;
std::string* library_messages = nullptr;  // where the messages go while a port is being made

int keep_libxdp_message(enum libxdp_print_level level, const char* format, va_list args) {
  if (level != LIBXDP_WARN || library_messages == nullptr) return 0;
  char line[256];
  const int n = std::vsnprintf(line, sizeof line, format, args);
  if (n <= 0) return 0;
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.rfind("libxdp: ", 0) == 0) text.erase(0, 8);
  if (!text.empty() && library_messages->find(text) == std::string::npos)
    *library_messages += (library_messages->empty() ? "" : "; ") + text;
  return 0;
}

int drop_libbpf_message(enum libbpf_print_level, const char*, va_list) { return 0; }

/// Collects libxdp's warnings and silences libbpf for one port's construction.
class library_messages_scope {
 public:
  library_messages_scope() : lock_(library_messages_mutex) {
    library_messages = &text_;
    old_xdp_ = libxdp_set_print(keep_libxdp_message);
    old_bpf_ = libbpf_set_print(drop_libbpf_message);
  }
  ~library_messages_scope() {
    libxdp_set_print(old_xdp_);
    libbpf_set_print(old_bpf_);
    library_messages = nullptr;
  }
  const std::string& text() const { return text_; }

 private:
  std::lock_guard<std::mutex> lock_;
  std::string text_;
  libxdp_print_fn_t old_xdp_ = nullptr;
  libbpf_print_fn_t old_bpf_ = nullptr;
};

bool is_power_of_two(std::size_t n) { return n != 0 && (n & (n - 1)) == 0; }

/// Whether the TCP or UDP checksum field of the unfragmented IPv4 datagram `ip` holds exactly the
/// folded pseudo-header sum: what a sender with TX checksum offload leaves for the device
/// (CHECKSUM_PARTIAL) when the frame comes over a veth. AF_PACKET is told so by the kernel
/// (TP_STATUS_CSUMNOTREADY); an XDP frame carries no such flag, so the port recognises the value.
bool checksum_left_to_device(bytes_view ip) noexcept {
  if (ip.size < 20) return false;
  const std::size_t ihl = static_cast<std::size_t>(ip.data[0] & 0x0f) * 4;
  const std::size_t total = load_be16(ip.data + 2);
  if (ihl < 20 || total > ip.size || total < ihl) return false;
  if ((load_be16(ip.data + 6) & 0x3fff) != 0) return false;  // a fragment
  const std::uint8_t protocol = ip.data[9];
  const std::size_t field = protocol == ip_protocol_tcp ? 16 : protocol == ip_protocol_udp ? 6 : 0;
  if (field == 0 || total - ihl < field + 2) return false;
  const std::uint16_t pseudo = checksum_fold(pseudo_header_sum(
      load_be32(ip.data + 12), load_be32(ip.data + 16), protocol, static_cast<std::uint16_t>(total - ihl)));
  return load_be16(ip.data + ihl + field) == pseudo;
}

}  // namespace

/// libxdp's objects and rings (kept out of the header: xsk.h stays inside this file).
struct af_xdp_port::rings {
  void* area = nullptr;
  std::size_t area_size = 0;
  xsk_umem* umem = nullptr;
  xsk_socket* xsk = nullptr;
  xsk_ring_prod fill{};
  xsk_ring_cons completion{};
  xsk_ring_cons rx{};
  xsk_ring_prod tx{};
  std::vector<std::uint64_t> tx_free;  // UMEM addresses of TX frames not in flight (a stack)
  xdp_statistics last{};               // the kernel's totals at the last read

  ~rings();
};

af_xdp_port::rings::~rings() {
  {
    library_messages_scope quiet;  // libxdp's notes while it detaches its program are dropped
    if (xsk != nullptr) xsk_socket__delete(xsk);
  }
  if (umem != nullptr) xsk_umem__delete(umem);
  if (area != nullptr) ::munmap(area, area_size);
}

af_xdp_port::af_xdp_port(buffer_pool& pool, af_xdp_config config)
    : packet_port(config.interface,
                  config.mtu != 0 ? config.mtu : baton::net::interface_mtu(config.interface)),
      pool_(pool),
      config_(std::move(config)),
      r_(std::make_unique<rings>()) {
  if (!is_power_of_two(config_.frame_size) || config_.frame_size < 2048 ||
      !is_power_of_two(config_.ring_size) || config_.frame_count < 2 ||
      config_.frame_count / 2 > config_.ring_size)
    throw std::invalid_argument("af_xdp_port: frame size and ring size must be powers of two "
                                "(frames >= 2048, half the frames fitting a ring)");
  if (mtu() + ethernet_header_length + kernel_headroom > config_.frame_size)
    throw std::invalid_argument("af_xdp_port: MTU " + std::to_string(mtu()) + " does not fit a " +
                                std::to_string(config_.frame_size) + "-byte UMEM frame");
  if (mtu() > pool.data_size())
    throw std::invalid_argument("af_xdp_port: MTU larger than the pool's buffers");
  ifindex_ = baton::net::interface_index(config_.interface);
  own_mac_ = baton::net::interface_mac(config_.interface);
  if (config_.answer_arp) own_address_ = interface_ipv4(config_.interface);

  auto& r = *r_;
  r.area_size = config_.frame_count * config_.frame_size;
  void* m = ::mmap(nullptr, r.area_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) fail(errno, "mmap(UMEM)");
  r.area = m;

  xsk_umem_config ucfg{};
  ucfg.fill_size = static_cast<__u32>(config_.ring_size);
  ucfg.comp_size = static_cast<__u32>(config_.ring_size);
  ucfg.frame_size = static_cast<__u32>(config_.frame_size);
  ucfg.frame_headroom = 0;  // received frames are copied into pool buffers, which have headroom
  ucfg.flags = 0;
  if (int e = xsk_umem__create(&r.umem, r.area, r.area_size, &r.fill, &r.completion, &ucfg); e != 0)
    fail(-e, "xsk_umem__create");

  library_messages_scope messages;
  xsk_socket_config scfg{};
  scfg.rx_size = static_cast<__u32>(config_.ring_size);
  scfg.tx_size = static_cast<__u32>(config_.ring_size);
  scfg.libxdp_flags = 0;  // load libxdp's default redirect program
  scfg.xdp_flags = config_.native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
  scfg.bind_flags = XDP_COPY;
  if (int e = xsk_socket__create(&r.xsk, config_.interface.c_str(), config_.queue, r.umem, &r.rx,
                                 &r.tx, &scfg);
      e != 0) {
    r.xsk = nullptr;
    std::string what = config_.native ? "xsk_socket__create (native XDP, copy mode)"
                                      : "xsk_socket__create (generic XDP, copy mode)";
    if (!messages.text().empty()) what += " [libxdp: " + messages.text() + "]";
    throw std::system_error(-e, std::system_category(), what);
  }
  fd_ = xsk_socket__fd(r.xsk);

  // The first half of the frames receive; the second half send.
  const std::size_t rx_frames = config_.frame_count / 2;
  std::uint32_t idx = 0;
  if (xsk_ring_prod__reserve(&r.fill, static_cast<__u32>(rx_frames), &idx) != rx_frames)
    fail(ENOSPC, "fill ring");
  for (std::size_t i = 0; i < rx_frames; ++i)
    *xsk_ring_prod__fill_addr(&r.fill, idx++) = i * config_.frame_size;
  xsk_ring_prod__submit(&r.fill, static_cast<__u32>(rx_frames));
  r.tx_free.reserve(config_.frame_count - rx_frames);
  for (std::size_t i = rx_frames; i < config_.frame_count; ++i)
    r.tx_free.push_back(i * config_.frame_size);

  if (config_.promiscuous) promisc_set_ = set_promiscuous(config_.interface, true);
}

af_xdp_port::~af_xdp_port() {
  if (promisc_set_) set_promiscuous(config_.interface, false);
}

void af_xdp_port::read_kernel_stats() noexcept {
  xdp_statistics st{};
  socklen_t len = sizeof st;
  if (::getsockopt(fd_, SOL_XDP, XDP_STATISTICS, &st, &len) != 0) return;
  auto& last = r_->last;
  // The kernel's figures are totals since the socket was made: count what is new.
  bump(counters_.rx_kernel_drops, (st.rx_dropped - last.rx_dropped) + (st.rx_ring_full - last.rx_ring_full));
  bump(counters_.xdp_rx_ring_full, st.rx_ring_full - last.rx_ring_full);
  bump(counters_.xdp_fill_ring_empty, st.rx_fill_ring_empty_descs - last.rx_fill_ring_empty_descs);
  bump(counters_.xdp_tx_ring_empty, st.tx_ring_empty_descs - last.tx_ring_empty_descs);
  bump(counters_.xdp_invalid_descs, (st.rx_invalid_descs - last.rx_invalid_descs) +
                                        (st.tx_invalid_descs - last.tx_invalid_descs));
  last = st;
}

bool af_xdp_port::answer_arp(const std::uint8_t* frame, std::size_t length) noexcept {
  if (own_address_ == 0) return false;
  ethernet_view eth;
  arp_view arp;
  if (parse_arp_frame(bytes_view(frame, length), eth, arp) != parse_status::ok) return false;
  if (arp.operation() != arp_op_request || arp.target_ip() != ntohl(own_address_) || arp.probe())
    return false;
  auto& r = *r_;
  reap_completions();
  std::uint32_t idx = 0;
  if (r.tx_free.empty() || xsk_ring_prod__reserve(&r.tx, 1, &idx) != 1) return false;
  const std::uint64_t addr = r.tx_free.back();
  r.tx_free.pop_back();
  auto* out = static_cast<std::uint8_t*>(xsk_umem__get_data(r.area, addr));
  const std::size_t n = write_arp_frame(bytes_span(out, config_.frame_size), arp.sender_mac(),
                                        own_mac_, arp_reply(arp, own_mac_));
  auto* d = xsk_ring_prod__tx_desc(&r.tx, idx);
  d->addr = addr;
  d->len = static_cast<__u32>(n);
  d->options = 0;
  xsk_ring_prod__submit(&r.tx, 1);
  kick_tx();
  bump(counters_.xdp_arp_answered);
  return true;
}

std::size_t af_xdp_port::receive_batch(packet_batch& batch, std::chrono::milliseconds timeout) noexcept {
  auto& r = *r_;
  if (++calls_since_stats_ >= 256) {
    calls_since_stats_ = 0;
    read_kernel_stats();
  }
  std::uint32_t idx = 0;
  std::uint32_t n = xsk_ring_cons__peek(&r.rx, static_cast<__u32>(batch.room()), &idx);
  if (n == 0) {
    // Idle: catch up on the kernel's figures, but not at every wake-up (a system call each).
    if (calls_since_stats_ >= 32) {
      read_kernel_stats();
      calls_since_stats_ = 0;
    }
    if (timeout.count() <= 0 || !wait_readable(fd_, timeout)) return 0;
    n = xsk_ring_cons__peek(&r.rx, static_cast<__u32>(batch.room()), &idx);
    if (n == 0) return 0;
  }
  std::uint32_t fill_idx = 0;
  // Every frame taken from the RX ring goes back to the fill ring, which therefore has room.
  std::uint32_t taken = 0;
  std::size_t added = 0;
  const std::size_t frame_mask = ~(config_.frame_size - 1);
  for (; taken < n; ++taken) {
    const xdp_desc* d = xsk_ring_cons__rx_desc(&r.rx, idx + taken);
    const auto* frame = static_cast<const std::uint8_t*>(xsk_umem__get_data(r.area, d->addr));
    const std::size_t len = d->len;
    packet_buffer* b = nullptr;
    const std::uint16_t type =
        len >= ethernet_header_length ? static_cast<std::uint16_t>(frame[12] << 8 | frame[13]) : 0;
    if (type != ethertype_ipv4) {
      if (type != ethertype_arp || !answer_arp(frame, len)) bump(counters_.rx_not_ipv4);
    } else if (len - ethernet_header_length > mtu()) {
      bump(counters_.rx_oversize);
    } else {
      b = pool_.acquire();
      if (b == nullptr) {
        bump(counters_.rx_no_buffer);
        break;  // this frame stays on the RX ring until buffers come back
      }
      std::size_t size = len - ethernet_header_length;
      const std::uint8_t* ip = frame + ethernet_header_length;
      // Trim Ethernet padding: a short datagram arrives padded to the 60-byte minimum frame.
      if (size >= 20) {
        const std::size_t total = static_cast<std::size_t>(ip[2] << 8 | ip[3]);
        if (total >= 20 && total < size) size = total;
      }
      b->assign(bytes_view(ip, size));
      b->addressed_to_host = std::memcmp(frame, own_mac_.data(), 6) == 0;
      std::memcpy(b->link_source.data(), frame + 6, b->link_source.size());  // for answers (ICMP)
      b->has_link_source = true;
      // The checksum is checked here (once: the loop then trusts it) so that one left to the
      // device by the sender is finished rather than dropped as bad.
      const parse_status c = verify_l4_checksum(b->data());
      if (c == parse_status::ok) {
        b->l4_checksum_known_good = true;
      } else if (c == parse_status::bad_checksum && checksum_left_to_device(b->data()) &&
                 finish_l4_checksum(b->data()) == parse_status::ok) {
        b->l4_checksum_known_good = true;
        bump(counters_.csum_finished);
      }
    }
    if (b != nullptr) {
      hand_over(batch, b);
      ++added;
    }
  }
  if (taken != 0) {
    // Give the frames back before releasing the descriptors (they are ours until released).
    if (xsk_ring_prod__reserve(&r.fill, taken, &fill_idx) == taken) {
      for (std::uint32_t i = 0; i < taken; ++i)
        *xsk_ring_prod__fill_addr(&r.fill, fill_idx + i) =
            xsk_ring_cons__rx_desc(&r.rx, idx + i)->addr & frame_mask;
      xsk_ring_prod__submit(&r.fill, taken);
    }
    xsk_ring_cons__release(&r.rx, taken);
  }
  return added;
}

void af_xdp_port::reap_completions() noexcept {
  auto& r = *r_;
  std::uint32_t idx = 0;
  const std::uint32_t n = xsk_ring_cons__peek(&r.completion, static_cast<__u32>(config_.ring_size), &idx);
  for (std::uint32_t i = 0; i < n; ++i) r.tx_free.push_back(*xsk_ring_cons__comp_addr(&r.completion, idx + i));
  if (n != 0) xsk_ring_cons__release(&r.completion, n);
}

void af_xdp_port::kick_tx() noexcept {
  // Copy mode sends in the system call, at most 32 frames per call (the kernel's TX batch): call
  // again while it says there is more.
  for (int i = 0; i < 64; ++i) {
    if (::sendto(fd_, nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) return;
    if (errno != EAGAIN) return;  // EBUSY, ENOBUFS, ENETDOWN: the frames stay queued for the next kick
  }
}

std::size_t af_xdp_port::send_batch(const packet_batch& batch) noexcept {
  auto& r = *r_;
  reap_completions();
  std::size_t want = batch.size();
  if (want > r.tx_free.size()) want = r.tx_free.size();
  std::uint32_t idx = 0;
  const std::uint32_t slots = want == 0 ? 0 : xsk_ring_prod__reserve(&r.tx, static_cast<__u32>(want), &idx);
  std::size_t sent = 0;
  for (std::size_t i = 0; i < slots; ++i) {
    const packet_buffer* b = batch[i];
    const bytes_view d = b->data();
    const std::uint64_t addr = r.tx_free.back();
    r.tx_free.pop_back();
    auto* out = static_cast<std::uint8_t*>(xsk_umem__get_data(r.area, addr));
    std::memcpy(out, b->has_next_hop ? b->next_hop.data() : config_.next_hop.data(), 6);
    std::memcpy(out + 6, own_mac_.data(), 6);
    out[12] = 0x08;
    out[13] = 0x00;
    std::size_t len = d.size;
    if (len > config_.frame_size - ethernet_header_length) len = 0;  // the loop never sends these
    std::memcpy(out + ethernet_header_length, d.data, len);
    auto* desc = xsk_ring_prod__tx_desc(&r.tx, idx + static_cast<std::uint32_t>(i));
    desc->addr = addr;
    desc->len = static_cast<__u32>(ethernet_header_length + len);
    desc->options = 0;
    bump(counters_.tx_bytes, len);
    ++sent;
  }
  if (slots != 0) {
    xsk_ring_prod__submit(&r.tx, slots);
    kick_tx();
  }
  bump(counters_.tx_packets, sent);
  if (sent < batch.size()) bump(counters_.tx_errors, batch.size() - sent);
  return sent;
}

opened_port open_af_xdp_or_packet(buffer_pool& pool, const af_xdp_config& xdp,
                                  const af_packet_config& packet) {
  opened_port out;
  try {
    out.port = std::make_unique<af_xdp_port>(pool, xdp);
    return out;
  } catch (const std::exception& e) {
    out.fallback_reason = "af_xdp refused on " + xdp.interface + ": " + e.what();
  }
  out.port = std::make_unique<af_packet_port>(pool, packet);
  out.port->set_fallback_reason(out.fallback_reason);
  return out;
}

}  // namespace baton::net
