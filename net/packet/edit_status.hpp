#pragma once
// The outcome of changing a packet in place (rewrite.hpp, ipip.hpp). Kept apart from
// parse_status: "no room" or "no such option" are about the edit, not the bytes.

#include <cstddef>
#include <cstdint>

namespace baton::net {

enum class edit_status : std::uint8_t {
  ok = 0,
  malformed,     // the packet does not parse (validate it to learn why); nothing changed
  unsupported,   // not a packet this edit applies to (other protocol, a fragment); nothing changed
  no_room,       // the result would not fit: buffer capacity, headroom, 60-byte TCP header, 64 KiB
  not_found,     // the option to strip is not there
  bad_argument,  // the caller's input is not well-formed (e.g. an option whose length octet lies)
};

/// A short stable name for logs and test output ("ok", "no_room", ...).
const char* to_string(edit_status s) noexcept;

inline constexpr std::size_t edit_status_count = 6;

}  // namespace baton::net
