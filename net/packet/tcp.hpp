#pragma once
// TCP header view (RFC 9293, formerly RFC 793) and option walker (RFC 9293 §3.2, RFC 7323
// window scale and timestamps, RFC 2018 SACK) over a byte span: no copies, no allocation.

#include <cstdint>

#include "net/packet/bytes.hpp"
#include "net/packet/parse_status.hpp"

namespace baton::net {

inline constexpr std::size_t tcp_min_header_length = 20;
inline constexpr std::size_t tcp_max_header_length = 60;  // data offset is 4 bits of words
inline constexpr std::size_t tcp_checksum_offset = 16;

// Control bits (the flags byte, octet 13). ECE and CWR are from RFC 3168.
inline constexpr std::uint8_t tcp_flag_fin = 0x01;
inline constexpr std::uint8_t tcp_flag_syn = 0x02;
inline constexpr std::uint8_t tcp_flag_rst = 0x04;
inline constexpr std::uint8_t tcp_flag_psh = 0x08;
inline constexpr std::uint8_t tcp_flag_ack = 0x10;
inline constexpr std::uint8_t tcp_flag_urg = 0x20;
inline constexpr std::uint8_t tcp_flag_ece = 0x40;
inline constexpr std::uint8_t tcp_flag_cwr = 0x80;

// Option kinds and their fixed lengths.
inline constexpr std::uint8_t tcp_option_end_of_list = 0;            // RFC 9293
inline constexpr std::uint8_t tcp_option_no_operation = 1;           // RFC 9293
inline constexpr std::uint8_t tcp_option_maximum_segment_size = 2;   // RFC 9293, length 4
inline constexpr std::uint8_t tcp_option_window_scale = 3;           // RFC 7323, length 3
inline constexpr std::uint8_t tcp_option_sack_permitted = 4;         // RFC 2018, length 2
inline constexpr std::uint8_t tcp_option_sack = 5;                   // RFC 2018, 2 + 8n, n 1..4
inline constexpr std::uint8_t tcp_option_timestamps = 8;             // RFC 7323, length 10
inline constexpr std::uint8_t tcp_option_experimental_1 = 253;       // RFC 4727 / RFC 6994
inline constexpr std::uint8_t tcp_option_experimental_2 = 254;
inline constexpr std::size_t tcp_max_sack_blocks = 4;

/// Read-only view of a TCP segment (header, options, payload). Accessors do not check bounds:
/// use them only after validate() returned ok. The view does not own the bytes.
class tcp_view {
 public:
  tcp_view() = default;
  explicit tcp_view(bytes_view segment) noexcept : b_(segment) {}

  /// truncated (< 20 bytes), or bad_data_offset (data offset < 5 words or past the span).
  /// Options are not walked here; see tcp_option_walker / summarize_tcp_options.
  /// Inline: the gateway's state tracking (observe_segment) validates every segment it carries.
  parse_status validate() const noexcept {
    if (b_.size < tcp_min_header_length) return parse_status::truncated;
    if (data_offset() < 5 || header_length() > b_.size) return parse_status::bad_data_offset;
    return parse_status::ok;
  }

  std::uint16_t src_port() const noexcept { return load_be16(b_.data); }
  std::uint16_t dst_port() const noexcept { return load_be16(b_.data + 2); }
  std::uint32_t seq() const noexcept { return load_be32(b_.data + 4); }
  std::uint32_t ack() const noexcept { return load_be32(b_.data + 8); }
  std::uint8_t data_offset() const noexcept { return b_.data[12] >> 4; }  // in 32-bit words
  std::size_t header_length() const noexcept { return std::size_t{data_offset()} * 4; }
  std::uint8_t flags() const noexcept { return b_.data[13]; }
  bool fin() const noexcept { return flags() & tcp_flag_fin; }
  bool syn() const noexcept { return flags() & tcp_flag_syn; }
  bool rst() const noexcept { return flags() & tcp_flag_rst; }
  bool psh() const noexcept { return flags() & tcp_flag_psh; }
  bool ack_flag() const noexcept { return flags() & tcp_flag_ack; }
  bool urg() const noexcept { return flags() & tcp_flag_urg; }
  bool ece() const noexcept { return flags() & tcp_flag_ece; }
  bool cwr() const noexcept { return flags() & tcp_flag_cwr; }
  std::uint16_t window() const noexcept { return load_be16(b_.data + 14); }
  std::uint16_t checksum() const noexcept { return load_be16(b_.data + 16); }
  std::uint16_t urgent_pointer() const noexcept { return load_be16(b_.data + 18); }

  bytes_view options() const noexcept { return b_.sub(20, header_length() - 20); }
  bytes_view payload() const noexcept { return b_.sub(header_length()); }
  bytes_view bytes() const noexcept { return b_; }

 private:
  bytes_view b_;
};

/// One option as found on the wire. `value` is the bytes after kind and length.
struct tcp_option {
  std::uint8_t kind = 0;
  std::uint8_t length = 0;  // whole option length including kind and length octets
  bytes_view value;
};

/// Walks TCP options in order. No-Operation is skipped; End of Option List ends the walk
/// (what follows is padding). Every other option is yielded, unknown kinds included.
/// Malformed input stops the walk with bad_option_length: a length octet missing, < 2, running
/// past the option area, or the wrong length for a known kind (MSS 4, WS 3, SACK-permitted 2,
/// timestamps 10, SACK 10/18/26/34).
class tcp_option_walker {
 public:
  explicit tcp_option_walker(bytes_view options) noexcept : opts_(options) {}

  /// Fills `out` with the next option and returns true; returns false at the end or on a
  /// malformed option (then status() says which).
  bool next(tcp_option& out) noexcept;
  /// ok while walking and at a clean end; bad_option_length after a malformed option.
  parse_status status() const noexcept { return status_; }
  /// Offset of the next unread byte in the option area.
  std::size_t offset() const noexcept { return pos_; }

 private:
  bytes_view opts_;
  std::size_t pos_ = 0;
  parse_status status_ = parse_status::ok;
};

struct tcp_sack_block {
  std::uint32_t left = 0;   // left edge, first sequence number of the block
  std::uint32_t right = 0;  // right edge, sequence number following the block
};

/// The decoded options of one segment, filled without allocation. `present` has
/// tcp_option_bit(kind) (packet_fields.hpp) for each option kind seen (not NOP/EOL).
struct tcp_options_summary {
  std::uint16_t mss = 0;
  std::uint8_t window_scale = 0;
  bool sack_permitted = false;
  std::uint8_t sack_block_count = 0;
  tcp_sack_block sack_blocks[tcp_max_sack_blocks];
  std::uint32_t ts_val = 0;
  std::uint32_t ts_ecr = 0;
  std::uint64_t present = 0;

  bool has(std::uint8_t kind) const noexcept;
};

/// Resets `out` and fills it from the option area `options`. Returns ok, or bad_option_length
/// (see tcp_option_walker); on error `out` holds what was decoded before the bad option.
parse_status summarize_tcp_options(bytes_view options, tcp_options_summary& out) noexcept;

}  // namespace baton::net
