#include "net/packet/rewrite.hpp"

#include <arpa/inet.h>

#include <cstring>

#include "net/packet/checksum.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/tcp.hpp"
#include "net/packet/udp.hpp"

namespace baton::net {

const char* to_string(edit_status s) noexcept {
  switch (s) {
    case edit_status::ok: return "ok";
    case edit_status::malformed: return "malformed";
    case edit_status::unsupported: return "unsupported";
    case edit_status::no_room: return "no_room";
    case edit_status::not_found: return "not_found";
    case edit_status::bad_argument: return "bad_argument";
  }
  return "unknown";
}

namespace {

// Where the pieces of a datagram are, found once per edit.
struct located {
  ipv4_mutable_view ip;
  std::uint8_t* l4 = nullptr;        // transport header, or nullptr when not in this datagram
  std::size_t l4_checksum_at = 0;    // offset of the checksum field inside the transport header
  bool udp = false;
};

// Validates the datagram and finds a TCP/UDP header in it. A malformed transport header in a
// first fragment makes the whole datagram malformed: rewriting around it would be guesswork.
edit_status locate(bytes_span packet, located& out) noexcept {
  out.ip = ipv4_mutable_view(packet);
  if (out.ip.validate() != parse_status::ok) return edit_status::malformed;
  if (!out.ip.is_first_fragment()) return edit_status::ok;
  const bytes_view payload = out.ip.payload();
  const auto proto = out.ip.protocol();
  if (proto == ip_protocol_tcp) {
    // A first fragment may end inside the options; the fixed header is what we touch.
    tcp_view tcp(payload);
    const parse_status s = out.ip.is_fragment()
                               ? (payload.size < tcp_min_header_length ? parse_status::truncated
                                                                       : parse_status::ok)
                               : tcp.validate();
    if (s != parse_status::ok) return edit_status::malformed;
    out.l4_checksum_at = tcp_checksum_offset;
  } else if (proto == ip_protocol_udp) {
    udp_view udp(payload);
    const parse_status s = out.ip.is_fragment() ? udp.validate_header() : udp.validate();
    if (s != parse_status::ok) return edit_status::malformed;
    out.l4_checksum_at = udp_checksum_offset;
    out.udp = true;
  } else {
    return edit_status::ok;
  }
  out.l4 = packet.data + out.ip.header_length();
  return edit_status::ok;
}

// Applies an RFC 1624 change to the transport checksum; UDP's "no checksum" stays 0, and a UDP
// result of 0 is sent as 0xffff (RFC 768), the same one's-complement value.
void update_l4_checksum(const located& at, std::uint32_t old_sum, std::uint32_t new_sum) noexcept {
  std::uint8_t* field = at.l4 + at.l4_checksum_at;
  const std::uint16_t old = load_be16(field);
  if (at.udp && old == 0) return;
  std::uint16_t c = checksum_replace(old, old_sum, new_sum);
  if (at.udp && c == 0) c = 0xffff;
  store_be16(field, c);
}

std::uint32_t words32(std::uint32_t v) noexcept { return (v >> 16) + (v & 0xffff); }

void set_address(located& at, std::size_t offset, std::uint32_t addr) noexcept {
  const std::uint32_t old = load_be32(at.ip.span().data + offset);
  if (offset == 12)
    at.ip.set_src(addr);
  else
    at.ip.set_dst(addr);
  if (at.l4) update_l4_checksum(at, words32(old), words32(addr));
}

void set_port(located& at, std::size_t offset, std::uint16_t port) noexcept {
  const std::uint16_t old = load_be16(at.l4 + offset);
  store_be16(at.l4 + offset, port);
  update_l4_checksum(at, old, port);
}

edit_status rewrite_address(bytes_span packet, std::size_t offset, std::uint32_t addr) noexcept {
  located at;
  if (auto s = locate(packet, at); s != edit_status::ok) return s;
  set_address(at, offset, addr);
  return edit_status::ok;
}

edit_status rewrite_port(bytes_span packet, std::size_t offset, std::uint16_t port) noexcept {
  located at;
  if (auto s = locate(packet, at); s != edit_status::ok) return s;
  if (!at.l4) return edit_status::unsupported;
  set_port(at, offset, port);
  return edit_status::ok;
}

edit_status rewrite_both(bytes_span packet, std::size_t addr_offset, std::uint32_t addr,
                         std::size_t port_offset, std::uint16_t port) noexcept {
  located at;
  if (auto s = locate(packet, at); s != edit_status::ok) return s;
  if (!at.l4) return edit_status::unsupported;
  set_address(at, addr_offset, addr);
  set_port(at, port_offset, port);
  return edit_status::ok;
}

// An unfragmented TCP datagram with well-formed options, for the option edits.
struct tcp_located {
  ipv4_mutable_view ip;
  std::uint8_t* tcp = nullptr;
  std::size_t tcp_header = 0;  // bytes, options included
  std::size_t total = 0;       // IP total length
};

edit_status locate_tcp(bytes_span buffer, std::size_t packet_len, tcp_located& out) noexcept {
  if (packet_len > buffer.size) return edit_status::bad_argument;
  const bytes_span packet = buffer.sub(0, packet_len);
  out.ip = ipv4_mutable_view(packet);
  if (out.ip.validate() != parse_status::ok) return edit_status::malformed;
  if (out.ip.protocol() != ip_protocol_tcp || out.ip.is_fragment())
    return edit_status::unsupported;
  tcp_view tcp(out.ip.payload());
  if (tcp.validate() != parse_status::ok) return edit_status::malformed;
  tcp_option_walker walker(tcp.options());
  tcp_option opt;
  while (walker.next(opt)) {
  }
  if (walker.status() != parse_status::ok) return edit_status::malformed;
  out.tcp = packet.data + out.ip.header_length();
  out.tcp_header = tcp.header_length();
  out.total = out.ip.total_length();
  return edit_status::ok;
}

// Sum of the TCP header words except the checksum field itself.
std::uint32_t header_sum(const std::uint8_t* tcp, std::size_t len) noexcept {
  return checksum_add(bytes_view(tcp + 18, len - 18), checksum_add(bytes_view(tcp, 16)));
}

// Replaces option-area bytes [from, to) with `insert` (n bytes), moving the payload, and fixes
// data offset, total length and both checksums. The caller has checked that the new header is
// a multiple of 4 within 60 bytes and that the datagram fits the buffer.
void splice_options(tcp_located& at, std::size_t from, std::size_t to, const std::uint8_t* insert,
                    std::size_t n, std::size_t& packet_len) noexcept {
  const std::size_t ip_hl = at.ip.header_length();
  const std::size_t old_tcp_len = at.total - ip_hl;
  const std::uint32_t old_sum = header_sum(at.tcp, at.tcp_header) + old_tcp_len;

  std::uint8_t* opts = at.tcp + tcp_min_header_length;
  const std::size_t tail = at.total - ip_hl - tcp_min_header_length - to;  // bytes after `to`
  std::memmove(opts + from + n, opts + to, tail);
  if (n) std::memcpy(opts + from, insert, n);

  const std::size_t new_header = at.tcp_header + n - (to - from);
  const std::size_t new_total = at.total + n - (to - from);
  at.tcp[12] = static_cast<std::uint8_t>(((new_header / 4) << 4) | (at.tcp[12] & 0x0f));
  // The payload moved by a multiple of 4 bytes, so its sum is unchanged: only the header and
  // the pseudo-header length differ.
  const std::uint32_t new_sum = header_sum(at.tcp, new_header) + (new_total - ip_hl);
  store_be16(at.tcp + tcp_checksum_offset,
             checksum_replace(load_be16(at.tcp + tcp_checksum_offset), old_sum, new_sum));
  at.ip.set_total_length(static_cast<std::uint16_t>(new_total));
  packet_len = new_total;
}

}  // namespace

edit_status rewrite_ipv4_src(bytes_span packet, std::uint32_t addr) noexcept {
  return rewrite_address(packet, 12, addr);
}
edit_status rewrite_ipv4_dst(bytes_span packet, std::uint32_t addr) noexcept {
  return rewrite_address(packet, 16, addr);
}
edit_status rewrite_src_port(bytes_span packet, std::uint16_t port) noexcept {
  return rewrite_port(packet, 0, port);
}
edit_status rewrite_dst_port(bytes_span packet, std::uint16_t port) noexcept {
  return rewrite_port(packet, 2, port);
}
edit_status rewrite_source(bytes_span packet, std::uint32_t addr, std::uint16_t port) noexcept {
  return rewrite_both(packet, 12, addr, 0, port);
}
edit_status rewrite_destination(bytes_span packet, std::uint32_t addr,
                                std::uint16_t port) noexcept {
  return rewrite_both(packet, 16, addr, 2, port);
}

namespace {
// nat_hop works on the words as they sit in memory (network order): the one's-complement sum
// does not depend on byte order (RFC 1071 §2(B)), so only the new values are swapped, once.
std::uint32_t raw16(const std::uint8_t* p) noexcept {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
std::uint32_t raw32(const std::uint8_t* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
void put16(std::uint8_t* p, std::uint32_t v) noexcept {
  const auto w = static_cast<std::uint16_t>(v);
  std::memcpy(p, &w, 2);
}
void put32(std::uint8_t* p, std::uint32_t v) noexcept { std::memcpy(p, &v, 4); }
std::uint32_t halves(std::uint32_t v) noexcept { return (v >> 16) + (v & 0xffff); }
}  // namespace

edit_status nat_hop(bytes_span packet, const packet_fields& f, const nat_endpoints& to,
                    bool decrement_ttl) noexcept {
  if (f.fragment || (f.protocol != ip_protocol_tcp && f.protocol != ip_protocol_udp))
    return edit_status::unsupported;
  std::uint8_t* p = packet.data;
  const std::size_t ihl = f.ip_header_len;
  // The parse step validated these bytes; check they still say what it found (a stage before
  // may have edited them) with a few compares instead of a second parse.
  if (ihl < ipv4_min_header_length || f.total_len > packet.size || f.total_len < ihl + 8 ||
      p[0] != (0x40 | ihl / 4) || load_be16(p + 2) != f.total_len || p[9] != f.protocol)
    return edit_status::malformed;
  std::uint8_t* l4 = p + ihl;
  const bool udp = f.protocol == ip_protocol_udp;
  if (!udp && (f.l4_header_len < tcp_min_header_length || ihl + f.l4_header_len > f.total_len ||
               (l4[12] >> 4) * 4u != f.l4_header_len))
    return edit_status::malformed;
  if (decrement_ttl && p[8] <= 1) return edit_status::bad_argument;

  // Old and new addresses and ports, in network order.
  const std::uint32_t old_src = raw32(p + 12), old_dst = raw32(p + 16);
  const std::uint32_t old_sport = raw16(l4), old_dport = raw16(l4 + 2);
  const std::uint32_t new_src = to.source ? htonl(to.src_addr) : old_src;
  const std::uint32_t new_dst = to.destination ? htonl(to.dst_addr) : old_dst;
  const std::uint32_t new_sport = to.source ? htons(to.src_port) : old_sport;
  const std::uint32_t new_dport = to.destination ? htons(to.dst_port) : old_dport;
  const std::uint32_t addr_old = halves(old_src) + halves(old_dst);
  const std::uint32_t addr_new = halves(new_src) + halves(new_dst);
  // Header: the addresses, and the TTL's word (TTL, protocol) when it goes down.
  std::uint32_t ip_old = addr_old, ip_new = addr_new;
  if (decrement_ttl) {
    // The word is built from its bytes, not read back after the TTL's store: a 2-byte load of a
    // byte just stored cannot be forwarded from the store buffer and stalls (perf: a third of
    // this function's time).
    const std::uint8_t before[2] = {p[8], p[9]};
    const std::uint8_t after[2] = {static_cast<std::uint8_t>(p[8] - 1), p[9]};
    ip_old += raw16(before);
    ip_new += raw16(after);
    p[8] = after[0];
  }
  put32(p + 12, new_src);
  put32(p + 16, new_dst);
  put16(p + 10, checksum_replace(static_cast<std::uint16_t>(raw16(p + 10)), ip_old, ip_new));
  // Transport: the pseudo-header's addresses and the ports.
  put16(l4, new_sport);
  put16(l4 + 2, new_dport);
  const std::uint32_t l4_old = addr_old + old_sport + old_dport;
  const std::uint32_t l4_new = addr_new + new_sport + new_dport;
  std::uint8_t* field = l4 + (udp ? udp_checksum_offset : tcp_checksum_offset);
  const std::uint32_t old = raw16(field);
  if (udp && old == 0) return edit_status::ok;  // "no checksum" stays so
  std::uint32_t c = checksum_replace(static_cast<std::uint16_t>(old), l4_old, l4_new);
  if (udp && c == 0) c = 0xffff;  // the same in either byte order
  put16(field, c);
  return edit_status::ok;
}

edit_status tcp_add_option(bytes_span buffer, std::size_t& packet_len, bytes_view option) noexcept {
  if (option.size < 2 || option.data[1] != option.size ||
      option.data[0] == tcp_option_end_of_list || option.data[0] == tcp_option_no_operation)
    return edit_status::bad_argument;
  tcp_located at;
  if (auto s = locate_tcp(buffer, packet_len, at); s != edit_status::ok) return s;

  // Insert where the options end: at End of Option List if there is one (padding follows).
  const bytes_view opts(at.tcp + tcp_min_header_length, at.tcp_header - tcp_min_header_length);
  std::size_t at_pos = 0;
  while (at_pos < opts.size && opts.data[at_pos] != tcp_option_end_of_list)
    at_pos += opts.data[at_pos] == tcp_option_no_operation ? 1 : opts.data[at_pos + 1];
  if (at_pos > opts.size) at_pos = opts.size;  // cannot happen after a clean walk

  const std::size_t pad = (4 - option.size % 4) % 4;
  const std::size_t added = pad + option.size;
  if (at.tcp_header + added > tcp_max_header_length || at.total + added > 0xffff ||
      at.total + added > buffer.size)
    return edit_status::no_room;

  std::uint8_t insert[tcp_max_header_length];
  std::memset(insert, tcp_option_no_operation, pad);
  std::memcpy(insert + pad, option.data, option.size);
  splice_options(at, at_pos, at_pos, insert, added, packet_len);
  return edit_status::ok;
}

edit_status tcp_strip_option(bytes_span buffer, std::size_t& packet_len,
                             std::uint8_t kind) noexcept {
  if (kind == tcp_option_end_of_list || kind == tcp_option_no_operation)
    return edit_status::bad_argument;
  tcp_located at;
  if (auto s = locate_tcp(buffer, packet_len, at); s != edit_status::ok) return s;

  const bytes_view opts(at.tcp + tcp_min_header_length, at.tcp_header - tcp_min_header_length);
  tcp_option_walker walker(opts);
  tcp_option opt;
  while (walker.next(opt)) {
    if (opt.kind != kind) continue;
    const std::size_t begin = static_cast<std::size_t>(opt.value.data - opts.data) - 2;
    const std::size_t end = begin + opt.length;
    const std::size_t rest = opt.length % 4;
    const std::size_t pad = (4 - rest) % 4;
    bool nops_before = pad != 0 && begin >= pad;
    for (std::size_t i = 0; nops_before && i < pad; ++i)
      nops_before = opts.data[begin - pad + i] == tcp_option_no_operation;
    if (nops_before) {
      splice_options(at, begin - pad, end, nullptr, 0, packet_len);
    } else {
      const std::uint8_t nops[4] = {tcp_option_no_operation, tcp_option_no_operation,
                                    tcp_option_no_operation, tcp_option_no_operation};
      splice_options(at, begin, end, nops, rest, packet_len);
    }
    return edit_status::ok;
  }
  return edit_status::not_found;
}

}  // namespace baton::net
