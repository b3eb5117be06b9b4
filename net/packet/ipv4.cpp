#include "net/packet/ipv4.hpp"

#include <cstdio>

#include "net/packet/checksum.hpp"

namespace baton::net {

parse_status walk_ipv4_options(bytes_view options) noexcept {
  std::size_t i = 0;
  while (i < options.size) {
    const std::uint8_t type = options.data[i];
    if (type == ipv4_option_end_of_list) return parse_status::ok;  // the rest is padding
    if (type == ipv4_option_no_operation) {
      ++i;
      continue;
    }
    if (i + 1 >= options.size) return parse_status::bad_option_length;  // no length octet
    const std::size_t len = options.data[i + 1];
    if (len < 2 || len > options.size - i) return parse_status::bad_option_length;
    i += len;
  }
  return parse_status::ok;
}

parse_status ipv4_view::validate_header() const noexcept {
  if (b_.size < ipv4_min_header_length) return parse_status::truncated;
  if (version() != ipv4_version) return parse_status::bad_version;
  if (ihl() < 5 || header_length() > b_.size) return parse_status::bad_ihl;
  return walk_ipv4_options(options());
}

parse_status ipv4_view::validate() const noexcept {
  if (b_.size < ipv4_min_header_length) return parse_status::truncated;
  if (version() != ipv4_version) return parse_status::bad_version;
  if (ihl() < 5 || header_length() > b_.size) return parse_status::bad_ihl;
  if (total_length() < header_length() || total_length() > b_.size)
    return parse_status::bad_total_length;
  return walk_ipv4_options(options());
}

bool ipv4_view::checksum_ok() const noexcept { return internet_checksum(header()) == 0; }

void ipv4_mutable_view::set_word(std::size_t offset, std::uint16_t value) noexcept {
  const std::uint16_t old = load_be16(w_.data + offset);
  store_be16(w_.data + offset, value);
  store_be16(w_.data + 10, checksum_update16(load_be16(w_.data + 10), old, value));
}

void ipv4_mutable_view::set_ttl(std::uint8_t ttl) noexcept {
  // TTL shares its 16-bit word with the protocol field.
  set_word(8, static_cast<std::uint16_t>((ttl << 8) | w_.data[9]));
}

void ipv4_mutable_view::set_tos(std::uint8_t tos) noexcept {
  set_word(0, static_cast<std::uint16_t>((w_.data[0] << 8) | tos));
}

void ipv4_mutable_view::set_total_length(std::uint16_t len) noexcept { set_word(2, len); }

void ipv4_mutable_view::set_src(std::uint32_t addr) noexcept {
  const std::uint32_t old = load_be32(w_.data + 12);
  store_be32(w_.data + 12, addr);
  store_be16(w_.data + 10, checksum_update32(load_be16(w_.data + 10), old, addr));
}

void ipv4_mutable_view::set_dst(std::uint32_t addr) noexcept {
  const std::uint32_t old = load_be32(w_.data + 16);
  store_be32(w_.data + 16, addr);
  store_be16(w_.data + 10, checksum_update32(load_be16(w_.data + 10), old, addr));
}

void ipv4_mutable_view::recompute_checksum() noexcept {
  store_be16(w_.data + 10, 0);
  store_be16(w_.data + 10, internet_checksum(header()));
}

const char* ipv4_to_text(std::uint32_t addr, char* out) noexcept {
  std::snprintf(out, 16, "%u.%u.%u.%u", (addr >> 24) & 0xff, (addr >> 16) & 0xff,
                (addr >> 8) & 0xff, addr & 0xff);
  return out;
}

}  // namespace baton::net
