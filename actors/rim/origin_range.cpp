// Chunk planning and the check of an origin's range answers. See origin_range.hpp.

#include "actors/rim/origin_range.hpp"

#include <algorithm>

namespace baton::rim {
namespace {

/// Reads a decimal number at the front of `s` (advancing it); nullopt when there is none or it
/// exceeds 2^63 (no object is that large; it keeps last + 1 from overflowing).
std::optional<std::uint64_t> take_number(std::string_view& s) {
  std::size_t i = 0;
  std::uint64_t v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (v > ((1ull << 63) - 9) / 10) return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(s[i] - '0');
    ++i;
  }
  if (i == 0) return std::nullopt;
  s.remove_prefix(i);
  return v;
}

bool take_char(std::string_view& s, char c) {
  if (s.empty() || s[0] != c) return false;
  s.remove_prefix(1);
  return true;
}

std::string text(const byte_range& r) { return std::to_string(r.first) + "-" + std::to_string(r.last); }

}  // namespace

std::uint64_t chunk_of(std::uint64_t offset, std::uint32_t chunk_bytes) { return offset / chunk_bytes; }

std::uint64_t chunk_count(std::uint64_t size, std::uint32_t chunk_bytes) {
  return size / chunk_bytes + (size % chunk_bytes != 0 ? 1 : 0);
}

byte_range chunk_range(std::uint64_t index, std::uint32_t chunk_bytes, std::optional<std::uint64_t> size) {
  byte_range r{index * chunk_bytes, index * chunk_bytes + chunk_bytes - 1};
  if (size && *size > 0) r.last = std::min(r.last, *size - 1);
  return r;
}

std::vector<std::uint64_t> chunks_wanted(std::uint64_t offset, std::uint64_t size, std::uint32_t chunk_bytes,
                                         std::uint32_t ahead) {
  std::vector<std::uint64_t> out;
  if (offset >= size) return out;
  const std::uint64_t first = chunk_of(offset, chunk_bytes);
  const std::uint64_t end = std::min<std::uint64_t>(first + 1 + ahead, chunk_count(size, chunk_bytes));
  for (std::uint64_t i = first; i < end; ++i) out.push_back(i);
  return out;
}

std::size_t chunk_owner(std::string_view object, std::uint64_t index, std::size_t members) {
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&h](unsigned char b) {
    h ^= b;
    h *= 1099511628211ull;
  };
  for (char c : object) mix(static_cast<unsigned char>(c));
  for (int i = 0; i < 8; ++i) mix(static_cast<unsigned char>(index >> (8 * i)));
  // FNV's low bits are weak (the lowest is the bytes' parity): MurmurHash3's finaliser mixes them.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return static_cast<std::size_t>(h % members);
}

std::optional<range_request> parse_range_request(std::string_view value) {
  std::string_view s = value;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  constexpr std::string_view unit = "bytes=";
  if (s.substr(0, unit.size()) != unit) return std::nullopt;
  s.remove_prefix(unit.size());
  range_request r;
  auto first = take_number(s);
  if (!first || !take_char(s, '-')) return std::nullopt;
  r.first = *first;
  if (!s.empty()) {
    auto last = take_number(s);
    if (!last || !s.empty() || *last < *first) return std::nullopt;
    r.last = *last;
  }
  return r;
}

std::optional<byte_range> resolve(const range_request& r, std::uint64_t size) {
  if (r.first >= size) return std::nullopt;
  return byte_range{r.first, std::min(r.last.value_or(size - 1), size - 1)};
}

std::string range_value(const byte_range& r) { return "bytes=" + text(r); }

std::string parse_content_range(std::string_view value, content_range& out) {
  std::string_view s = value;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  constexpr std::string_view unit = "bytes ";
  if (s.substr(0, unit.size()) != unit) return "is not in bytes (\"bytes FIRST-LAST/TOTAL\")";
  s.remove_prefix(unit.size());
  content_range r;
  if (take_char(s, '*')) {
    r.satisfied = false;
  } else {
    auto first = take_number(s);
    if (!first || !take_char(s, '-')) return "has no FIRST- at its start";
    auto last = take_number(s);
    if (!last) return "has no LAST after FIRST-";
    if (*last < *first) return "ends before it starts";
    r.range = {*first, *last};
  }
  if (!take_char(s, '/')) return "has no /TOTAL";
  if (!s.empty() && s.front() == '*') return "does not say the object's size (/*)";
  auto total = take_number(s);
  if (!total) return "has no number after '/'";
  if (!s.empty()) return "has bytes after TOTAL";
  if (r.satisfied && r.range.last >= *total) return "reaches past the object's size";
  r.total = *total;
  out = r;
  return {};
}

range_check check_range_answer(const byte_range& asked, std::optional<std::uint64_t> known, int status,
                               std::string_view content_range_value, std::uint64_t body_bytes) {
  range_check out;
  auto fail = [&](std::string why) {
    out.verdict = origin_verdict::failed;
    out.why = std::move(why);
    return out;
  };
  if (status == 404 || status == 410) {
    out.verdict = origin_verdict::not_found;
    out.why = "the origin has no such object (" + std::to_string(status) + ")";
    return out;
  }
  if (status == 200) return fail("the origin ignored the Range header (200, not 206)");
  if (status != 206 && status != 416) return fail("the origin answered " + std::to_string(status));
  if (content_range_value.empty()) return fail("the origin's " + std::to_string(status) + " has no Content-Range");
  content_range cr;
  const std::string why = parse_content_range(content_range_value, cr);
  if (!why.empty()) return fail("the origin's Content-Range \"" + std::string(content_range_value) + "\" " + why);
  if (known && cr.total != *known) {
    out.changed = true;
    return fail("the object changed at the origin: " + std::to_string(cr.total) + " bytes, served as " +
                std::to_string(*known));
  }
  if (status == 416) {
    // Only an empty object legitimately has no byte at offset 0.
    if (cr.satisfied) return fail("the origin's 416 names a range");
    if (cr.total == 0 && asked.first == 0) {
      out.verdict = origin_verdict::ok;
      out.total = 0;
      return out;
    }
    return fail("the origin's object has " + std::to_string(cr.total) + " bytes: " + text(asked) + " not satisfiable");
  }
  if (!cr.satisfied) return fail("the origin's 206 has no range (*)");
  const byte_range expected{asked.first, std::min(asked.last, cr.total - 1)};
  if (!(cr.range == expected))
    return fail("the origin sent bytes " + text(cr.range) + " for " + text(expected));
  if (body_bytes != cr.range.size())
    return fail("the origin's body has " + std::to_string(body_bytes) + " bytes, its Content-Range " +
                std::to_string(cr.range.size()));
  out.verdict = origin_verdict::ok;
  out.total = cr.total;
  return out;
}

}  // namespace baton::rim
