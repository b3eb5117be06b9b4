#include "net/io/pass_through.hpp"

#include "net/packet/ipv4.hpp"

namespace baton::net {

pass_through_stage::pass_through_stage(const reader_epoch& epoch, const pass_through_table& initial)
    : routes_(epoch, std::make_unique<const pass_through_table>(initial)) {}

void pass_through_stage::publish(const pass_through_table& table) {
  routes_.publish(std::make_unique<const pass_through_table>(table));
}

verdict pass_through_stage::process(packet_context& ctx) noexcept {
  const pass_through_table* table = routes_.read();
  if (table == nullptr || ctx.in_port >= table->by_in_port.size())
    return verdict::drop(drop_reason::no_route);
  const pass_through_route& route = table->by_in_port[ctx.in_port];
  if (!route.enabled) return verdict::drop(drop_reason::no_route);

  packet_buffer& b = *ctx.buffer;
  switch (route.action) {
    case tunnel_action::none: break;
    case tunnel_action::encapsulate: {
      ipip_tunnel t = route.tunnel;
      t.identification = next_id_++;
      bytes_span outer;
      const edit_status s = ipip_encapsulate(b.storage(), b.offset(), t, outer);
      if (s == edit_status::malformed) {
        ctx.status = parse_status::bad_total_length;  // parse passed, so only a length can disagree
        return verdict::drop(drop_reason::malformed);
      }
      if (s != edit_status::ok) return verdict::drop(drop_reason::oversize);
      b.set_data(outer);
      break;
    }
    case tunnel_action::decapsulate: {
      if (ctx.fields.protocol != ip_protocol_ipip) return verdict::drop(drop_reason::not_owned);
      bytes_span inner;
      // The inner datagram is forwarded: its checksums must be right, as the outer's were.
      const parse_status s = ipip_decapsulate_checked(b.data(), inner);
      if (s != parse_status::ok) {
        ctx.status = s;
        return verdict::drop(drop_reason::malformed);
      }
      b.set_data(inner);
      break;
    }
  }
  return verdict::forward(route.out);
}

}  // namespace baton::net
