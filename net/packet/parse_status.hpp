#pragma once
// The explicit outcome of parsing untrusted bytes (STYLE habit 5): ok, or the reason it is not.

#include <cstddef>
#include <cstdint>

namespace baton::net {

enum class parse_status : std::uint8_t {
  ok = 0,
  truncated,           // fewer bytes than the header (or its declared length) needs
  bad_version,         // IPv4 version field is not 4
  bad_ihl,             // IPv4 header length < 20 bytes or past the end
  bad_total_length,    // IPv4 total length < header length or > bytes present
  bad_data_offset,     // TCP data offset < 20 bytes or past the end of the segment
  bad_option_length,   // an IPv4 or TCP option's length is < 2 or runs past the header
  bad_length,          // UDP length field disagrees with the bytes present
  bad_checksum,        // the IPv4 header checksum (or another checksum a caller asked to verify)
  unsupported,         // well-formed but not something this parser handles (e.g. IPv6 ethertype)
  fragment,            // a non-first IPv4 fragment: no transport header to read
  bad_l4_checksum,     // the TCP or UDP checksum of a whole (unfragmented) datagram is wrong
};

/// A short stable name for logs, counters and test output ("truncated", "bad_ihl", ...).
const char* to_string(parse_status s) noexcept;

/// Number of distinct statuses, for counter arrays indexed by status.
inline constexpr std::size_t parse_status_count = 12;

}  // namespace baton::net
