#pragma once
// Byte spans and big-endian field access for header views (STYLE habit 3).
// Views never own memory; fields are read with memcpy + ntoh, so any alignment is fine.

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace baton::net {

struct bytes_span;

/// A read-only run of bytes: the view does not own them.
struct bytes_view {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;

  constexpr bytes_view() = default;
  constexpr bytes_view(const std::uint8_t* d, std::size_t n) : data(d), size(n) {}
  template <class Container>
  bytes_view(const Container& c) : data(c.data()), size(c.size()) {}
  // Added: exact non-template matches, so bytes_view(span) does not pick the Container template
  // (a const bytes_span still converts through bytes_span::operator bytes_view).
  bytes_view(bytes_span& s);
  bytes_view(bytes_span&& s);

  /// Bytes [offset, offset + n) clipped to the end; empty when offset is past the end.
  bytes_view sub(std::size_t offset, std::size_t n = static_cast<std::size_t>(-1)) const {
    if (offset >= size) return {};
    std::size_t rest = size - offset;
    return {data + offset, n < rest ? n : rest};
  }
  const std::uint8_t* begin() const { return data; }
  const std::uint8_t* end() const { return data + size; }
  bool empty() const { return size == 0; }
};

/// A writable run of bytes: the view does not own them.
struct bytes_span {
  std::uint8_t* data = nullptr;
  std::size_t size = 0;

  constexpr bytes_span() = default;
  constexpr bytes_span(std::uint8_t* d, std::size_t n) : data(d), size(n) {}
  template <class Container>
  bytes_span(Container& c) : data(c.data()), size(c.size()) {}
  // Added: copying from a non-const bytes_span must not pick the Container template.
  bytes_span(const bytes_span&) = default;
  bytes_span(bytes_span&) = default;
  bytes_span& operator=(const bytes_span&) = default;

  operator bytes_view() const { return {data, size}; }
  bytes_span sub(std::size_t offset, std::size_t n = static_cast<std::size_t>(-1)) const {
    if (offset >= size) return {};
    std::size_t rest = size - offset;
    return {data + offset, n < rest ? n : rest};
  }
  std::uint8_t* begin() const { return data; }
  std::uint8_t* end() const { return data + size; }
  bool empty() const { return size == 0; }
};

inline bytes_view::bytes_view(bytes_span& s) : data(s.data), size(s.size) {}
inline bytes_view::bytes_view(bytes_span&& s) : data(s.data), size(s.size) {}

// Network-order loads and stores. Callers check bounds first; these do not.
inline std::uint16_t load_be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t load_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
inline void store_be16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void store_be32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

}  // namespace baton::net
