#pragma once
// Which bytes of an origin object a rim host asks for, and whether the origin's answer is the
// bytes asked for: chunk planning, the Range header, Content-Range, and the verdict on a 206.
// No I/O, so the unit tests drive it with plain values (tests/unit/rim_origin).
//
// An object is cut into chunks of `chunk_bytes`: chunk i is bytes [i*chunk, (i+1)*chunk) (the last
// one shorter). A rim host fetches the chunks from its connections' write positions on, and the
// next few ahead: the host serving a connection is responsible for the rest of that response,
// so a host that takes a connection over fetches from the taken position, not from 0.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace baton::rim {

/// Bytes first..last of an object, both included (HTTP's notation).
struct byte_range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t size() const { return last - first + 1; }
  bool operator==(const byte_range& o) const { return first == o.first && last == o.last; }
};

/// The chunk holding object offset `offset`. `chunk_bytes` > 0.
std::uint64_t chunk_of(std::uint64_t offset, std::uint32_t chunk_bytes);

/// The bytes of chunk `index`. With the object's `size` known, the last chunk ends at size - 1
/// (the caller asks only for chunks below chunk_count(size)); unknown, the whole chunk is asked for
/// and the origin's Content-Range says where the object ends.
byte_range chunk_range(std::uint64_t index, std::uint32_t chunk_bytes, std::optional<std::uint64_t> size);

/// How many chunks an object of `size` bytes has (0 for an empty one).
std::uint64_t chunk_count(std::uint64_t size, std::uint32_t chunk_bytes);

/// The chunks a reader at object offset `offset` needs now: its own and up to `ahead` after it,
/// none past the end of an object of `size` bytes. Empty when offset >= size.
std::vector<std::uint64_t> chunks_wanted(std::uint64_t offset, std::uint64_t size, std::uint32_t chunk_bytes,
                                         std::uint32_t ahead);

/// Which of `members` rim hosts is responsible for fetching chunk `index` of `object` from the
/// origin: FNV-1a of the name and the index (little-endian), MurmurHash3's finaliser, modulo the count. Every host computes the same owner
/// from the same (sorted) member list; the others ask the owner for the chunk. `members` > 0.
std::size_t chunk_owner(std::string_view object, std::uint64_t index, std::size_t members);

/// A client's "Range: bytes=FIRST-[LAST]" (one range; suffix ranges "-N" and lists are not
/// served: the whole object is, as RFC 9110 allows). nullopt when the value is not that.
struct range_request {
  std::uint64_t first = 0;
  std::optional<std::uint64_t> last;
};
std::optional<range_request> parse_range_request(std::string_view value);

/// The bytes `r` asks for of an object of `size` bytes (LAST clipped to its end); nullopt when
/// not satisfiable (FIRST at or past the end: a 416).
std::optional<byte_range> resolve(const range_request& r, std::uint64_t size);

/// The Range header's value: "bytes=FIRST-LAST".
std::string range_value(const byte_range& r);

/// A Content-Range value (RFC 9110 14.4): "bytes FIRST-LAST/TOTAL", or "bytes */TOTAL" in a 416.
struct content_range {
  bool satisfied = true;  // false: "*/TOTAL"
  byte_range range;       // when satisfied
  std::uint64_t total = 0;
};

/// Parses `value` into `out`; "" on success, otherwise why not. Refuses another unit, an unknown
/// total ("/*": the rim must know an object's size before its header goes out), last < first,
/// last >= total, missing or non-digit numbers, numbers beyond 2^63, trailing bytes.
std::string parse_content_range(std::string_view value, content_range& out);

/// What an origin's answer to one Range request means for the clients waiting on it.
enum class origin_verdict {
  ok,         // the body is exactly the bytes asked for (or the object is empty)
  not_found,  // 404 (or 410): the client gets 404
  failed,     // anything else: 502 before a response header, a close after it
};

struct range_check {
  origin_verdict verdict = origin_verdict::failed;
  std::uint64_t total = 0;  // the object's size, when ok
  bool changed = false;     // failed because the object's size is not the one known
  std::string why;          // when not ok
};

/// Judges an origin's answer to "Range: bytes=asked": its status, its Content-Range header ("" if
/// none) and how many body bytes came. `known`: the object's size as this host already serves it
/// (a different total is "the object changed": failed). A 206 must carry exactly the range asked,
/// clipped to the object's end; a 416 "*/0" to a request from 0 is an empty object; a 200 means the
/// origin ignores Range (failed: the rim fetches by parts only).
range_check check_range_answer(const byte_range& asked, std::optional<std::uint64_t> known, int status,
                               std::string_view content_range_value, std::uint64_t body_bytes);

}  // namespace baton::rim
