#include "net/pep/syn_queue.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <sys/socket.h>
#include <cerrno>
#include <cstring>
#include <stdexcept>

extern "C" {
#include <libnetfilter_queue/libnetfilter_queue.h>
}

#include "net/packet/ipv4.hpp"
#include "net/packet/tcp.hpp"

namespace baton::net {

namespace {
// IPv4 header (up to 60) and TCP header with options (up to 60): all a verdict needs.
constexpr std::uint32_t copy_bytes = 120;
constexpr std::uint32_t queue_length = 4096;
}  // namespace

syn_queue::syn_queue(std::uint16_t number, handler on_syn) : on_syn_(std::move(on_syn)) {
  const std::string what = "NFQUEUE " + std::to_string(number) + ": ";
  h_ = nfq_open();
  if (!h_) throw std::runtime_error(what + "cannot open netlink (" + std::strerror(errno) + ")");
  q_ = nfq_create_queue(h_, number, reinterpret_cast<nfq_callback*>(&syn_queue::on_packet), this);
  if (!q_) {
    nfq_close(h_);
    throw std::runtime_error(what + "cannot bind (another process holds it, or no CAP_NET_ADMIN)");
  }
  nfq_set_mode(q_, NFQNL_COPY_PACKET, copy_bytes);
  nfq_set_queue_maxlen(q_, queue_length);
  // When the queue is full the kernel lets SYNs through unspoofed rather than dropping them.
  nfq_set_queue_flags(q_, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN);
  fd_ = nfq_fd(h_);
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  // A burst of SYNs must not overflow the netlink socket.
  int size = 4 << 20;
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
}

syn_queue::~syn_queue() {
  if (q_) nfq_destroy_queue(q_);
  if (h_) nfq_close(h_);
}

std::size_t syn_queue::drain() {
  alignas(8) char buf[4096];
  std::size_t n = 0;
  for (;;) {
    const ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      ++c_.read_errors;  // ENOBUFS: the socket overflowed; those SYNs are retransmitted
      break;
    }
    nfq_handle_packet(h_, buf, static_cast<int>(r));
    ++n;
  }
  return n;
}

void syn_queue::parse(const std::uint8_t* data, std::size_t size, queued_syn& out) noexcept {
  out.mss = 0;
  out.seq = 0;
  out.fields = packet_fields{};
  out.status = parse_fields(bytes_view(data, size), out.fields);
  if (out.status != parse_status::ok) return;
  if (out.fields.protocol != ip_protocol_tcp || out.fields.fragment ||
      (out.fields.tcp_flags & (tcp_flag_syn | tcp_flag_ack)) != tcp_flag_syn) {
    out.status = parse_status::unsupported;
    return;
  }
  tcp_view tcp(bytes_view(data + out.fields.ip_header_len, size - out.fields.ip_header_len));
  out.seq = tcp.seq();
  tcp_options_summary opts;
  if (summarize_tcp_options(tcp.options(), opts) == parse_status::ok) out.mss = opts.mss;
}

int syn_queue::on_packet(nfq_q_handle*, void*, void* nfa_, void* self_) {
  auto* self = static_cast<syn_queue*>(self_);
  auto* nfa = static_cast<nfq_data*>(nfa_);
  auto* ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  ++self->c_.syns_queued;
  auto& s = self->current_;
  s.id = ntohl(ph->packet_id);
  unsigned char* payload = nullptr;
  const int len = nfq_get_payload(nfa, &payload);
  if (len <= 0) {
    s.status = parse_status::truncated;
  } else {
    parse(payload, static_cast<std::size_t>(len), s);
  }
  if (s.status != parse_status::ok) {
    // Not ours to judge: let it through unchanged (mark 0), counted.
    ++self->c_.syns_malformed;
    self->accept(s.id, 0);
    return 0;
  }
  self->on_syn_(s);
  return 0;
}

void syn_queue::accept(std::uint32_t id, std::uint32_t mark) {
  ++c_.verdicts_accept;
  if (nfq_set_verdict2(q_, id, NF_ACCEPT, mark, 0, nullptr) < 0) ++c_.verdict_errors;
}

void syn_queue::drop(std::uint32_t id) {
  ++c_.verdicts_drop;
  if (nfq_set_verdict(q_, id, NF_DROP, 0, nullptr) < 0) ++c_.verdict_errors;
}

}  // namespace baton::net
