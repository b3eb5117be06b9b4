#include "net/packet/replica_tag.hpp"

#include "net/packet/tcp.hpp"

namespace baton::net {

const char* to_string(replica_tag_status s) noexcept {
  switch (s) {
    case replica_tag_status::absent: return "absent";
    case replica_tag_status::ok: return "ok";
    case replica_tag_status::malformed: return "malformed";
    case replica_tag_status::bad_options: return "bad_options";
  }
  return "?";
}

replica_tag_status find_replica_tag(bytes_view options, replica_tag& out) noexcept {
  tcp_option_walker walker(options);
  tcp_option opt;
  while (walker.next(opt)) {
    if (opt.kind != tcp_option_experimental_1 && opt.kind != tcp_option_experimental_2) continue;
    if (opt.value.size < 2 || load_be16(opt.value.data) != replica_tag_exid) continue;
    if (opt.length != replica_tag_length) return replica_tag_status::malformed;
    out.redirect_permitted = (opt.value.data[2] & replica_tag_redirect_permitted) != 0;
    out.gateway = load_be32(opt.value.data + 4);
    return replica_tag_status::ok;
  }
  return walker.status() == parse_status::ok ? replica_tag_status::absent
                                             : replica_tag_status::bad_options;
}

bool write_replica_tag(bytes_span out, const replica_tag& tag) noexcept {
  if (out.size < replica_tag_length) return false;
  std::uint8_t* p = out.data;
  p[0] = tcp_option_experimental_1;
  p[1] = replica_tag_length;
  store_be16(p + 2, replica_tag_exid);
  p[4] = tag.redirect_permitted ? replica_tag_redirect_permitted : 0;
  p[5] = 0;
  store_be32(p + 6, tag.gateway);
  return true;
}

}  // namespace baton::net
