#include "net/packet/udp.hpp"

namespace baton::net {

parse_status udp_view::validate_header() const noexcept {
  return b_.size < udp_header_length ? parse_status::truncated : parse_status::ok;
}

parse_status udp_view::validate() const noexcept {
  if (b_.size < udp_header_length) return parse_status::truncated;
  if (length() < udp_header_length || length() > b_.size) return parse_status::bad_length;
  return parse_status::ok;
}

}  // namespace baton::net
