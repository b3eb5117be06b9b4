#include "net/packet/tcp_reset.hpp"

#include <cstring>

#include "net/packet/checksum.hpp"
#include "net/packet/ipv4.hpp"
#include "net/packet/tcp.hpp"

namespace baton::net {

bool write_tcp_reset(bytes_span out, const tcp_reset_fields& f) noexcept {
  if (out.size < tcp_reset_size) return false;
  std::uint8_t* ip = out.data;
  std::memset(ip, 0, tcp_reset_size);
  ip[0] = static_cast<std::uint8_t>((ipv4_version << 4) | 5);
  store_be16(ip + 2, static_cast<std::uint16_t>(tcp_reset_size));
  store_be16(ip + 6, ipv4_flag_df);
  ip[8] = 64;
  ip[9] = ip_protocol_tcp;
  store_be32(ip + 12, f.src);
  store_be32(ip + 16, f.dst);
  ipv4_mutable_view(bytes_span(ip, tcp_reset_size)).recompute_checksum();
  std::uint8_t* tcp = ip + 20;
  store_be16(tcp, f.src_port);
  store_be16(tcp + 2, f.dst_port);
  store_be32(tcp + 4, f.seq);
  tcp[12] = 5 << 4;
  tcp[13] = f.with_ack ? tcp_flag_rst | tcp_flag_ack : tcp_flag_rst;
  if (f.with_ack) store_be32(tcp + 8, f.ack);
  store_be16(tcp + tcp_checksum_offset,
             transport_checksum(f.src, f.dst, ip_protocol_tcp, bytes_view(tcp, 20)));
  return true;
}

}  // namespace baton::net
