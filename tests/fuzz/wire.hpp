#pragma once
// For the message fuzzers: a node decodes what a peer sent with CAF 0.17's binary_deserializer
// driving our inspect() overloads (actors/protocol/), the same code path the middleman runs on a
// received payload. Helpers to decode typed messages from fuzz bytes and to check that what
// decoded encodes and decodes again to the same bytes.
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace baton::fuzz {

/// Reads one T from `src`; false on any deserializer error (end of input, bad size).
template <class T>
bool decode(caf::binary_deserializer& src, T& out) {
  return !src(out);
}

/// Encodes `x` (a decoded message), decodes the bytes again and encodes the result: both
/// encodings must be equal and the decoder must use every byte. Traps otherwise.
template <class T>
void check_round_trip(T& x) {
  std::vector<char> first;
  caf::binary_serializer sink{nullptr, first};
  if (sink(x)) __builtin_trap();
  T again{};
  caf::binary_deserializer src{nullptr, first.data(), first.size()};
  if (src(again) || src.remaining() != 0) __builtin_trap();
  std::vector<char> second;
  caf::binary_serializer sink2{nullptr, second};
  if (sink2(again)) __builtin_trap();
  if (first != second) __builtin_trap();
}

}  // namespace baton::fuzz
