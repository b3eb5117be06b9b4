#include "net/packet/tcp.hpp"

#include "net/packet/packet_fields.hpp"

namespace baton::net {

namespace {

// The one length a known kind may have; 0 when the kind has no fixed length.
std::size_t fixed_length(std::uint8_t kind) noexcept {
  switch (kind) {
    case tcp_option_maximum_segment_size: return 4;
    case tcp_option_window_scale: return 3;
    case tcp_option_sack_permitted: return 2;
    case tcp_option_timestamps: return 10;
    default: return 0;
  }
}

}  // namespace

bool tcp_option_walker::next(tcp_option& out) noexcept {
  if (status_ != parse_status::ok) return false;
  while (pos_ < opts_.size) {
    const std::uint8_t kind = opts_.data[pos_];
    if (kind == tcp_option_end_of_list) {
      pos_ = opts_.size;  // the rest is padding
      return false;
    }
    if (kind == tcp_option_no_operation) {
      ++pos_;
      continue;
    }
    if (pos_ + 1 >= opts_.size) break;  // no length octet
    const std::size_t len = opts_.data[pos_ + 1];
    if (len < 2 || len > opts_.size - pos_) break;
    if (const std::size_t fixed = fixed_length(kind); fixed != 0 && len != fixed) break;
    if (kind == tcp_option_sack &&
        (len < 10 || (len - 2) % 8 != 0 || (len - 2) / 8 > tcp_max_sack_blocks))
      break;
    out.kind = kind;
    out.length = static_cast<std::uint8_t>(len);
    // Not sub(): an empty value at the very end must still point into the area.
    out.value = bytes_view(opts_.data + pos_ + 2, len - 2);
    pos_ += len;
    return true;
  }
  if (pos_ < opts_.size) status_ = parse_status::bad_option_length;
  return false;
}

bool tcp_options_summary::has(std::uint8_t kind) const noexcept {
  return (present & tcp_option_bit(kind)) != 0;
}

parse_status summarize_tcp_options(bytes_view options, tcp_options_summary& out) noexcept {
  out = tcp_options_summary{};
  tcp_option_walker walker(options);
  tcp_option opt;
  while (walker.next(opt)) {
    out.present |= tcp_option_bit(opt.kind);
    const std::uint8_t* v = opt.value.data;
    switch (opt.kind) {
      case tcp_option_maximum_segment_size: out.mss = load_be16(v); break;
      case tcp_option_window_scale: out.window_scale = v[0]; break;
      case tcp_option_sack_permitted: out.sack_permitted = true; break;
      case tcp_option_timestamps:
        out.ts_val = load_be32(v);
        out.ts_ecr = load_be32(v + 4);
        break;
      case tcp_option_sack:
        out.sack_block_count = static_cast<std::uint8_t>(opt.value.size / 8);
        for (std::size_t i = 0; i < out.sack_block_count; ++i) {
          out.sack_blocks[i].left = load_be32(v + 8 * i);
          out.sack_blocks[i].right = load_be32(v + 8 * i + 4);
        }
        break;
      default: break;
    }
  }
  return walker.status();
}

}  // namespace baton::net
