#pragma once
// Guards for the message fields CAF 0.17's binary format does not keep safe by itself; every
// inspect overload in actors/protocol/ wraps such fields in them. The bytes on the wire are the
// same as without the guards (peers need not change).
//
//  - bytes_field / strings_field (std::string, std::vector<std::uint8_t>, std::vector<std::string>):
//    CAF reads a byte sequence's declared length (up to 2^32 - 1) and resizes the field to it
//    before it checks that the bytes are there, so a few bytes from a peer made a node allocate
//    (and zero) up to 4 GiB per field (found by fuzz_group_messages). Loaded through these, a
//    length that cannot fit in what is left of the payload is refused (sec::end_of_stream) before
//    anything is allocated. The bound applies when the deserializer is a binary_deserializer (what
//    the middleman decodes payloads with); other deserializers load as CAF does.
//  - finite_field (double): CAF's pack754 loops forever on an infinite value, so sending one hung
//    the sender's middleman (found by fuzz_slr_messages: a load a peer sent can unpack to an
//    infinite double, and finite loads can overflow once summed into an aggregate). A non-finite value is sent as the largest finite
//    one of its sign (NaN as +max: "fully loaded"); receiving is unchanged.

#include <caf/binary_deserializer.hpp>
#include <caf/error.hpp>
#include <caf/sec.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace baton::protocol {

template <class Bytes>
struct wire_bytes {
  Bytes& x;
};
struct wire_strings {
  std::vector<std::string>& x;
};
struct wire_double {
  double& x;
};

inline wire_bytes<std::string> bytes_field(std::string& x) noexcept { return {x}; }
inline wire_bytes<std::vector<std::uint8_t>> bytes_field(std::vector<std::uint8_t>& x) noexcept { return {x}; }
inline wire_strings strings_field(std::vector<std::string>& x) noexcept { return {x}; }
inline wire_double finite_field(double& x) noexcept { return {x}; }

/// What finite_field sends for `x`: x itself when finite, else the largest finite double of its
/// sign (NaN: the largest positive).
inline double finite_for_wire(double x) noexcept {
  if (std::isfinite(x)) return x;
  constexpr double max = std::numeric_limits<double>::max();
  return x < 0 ? -max : max;
}

namespace wire_detail {

/// Begins loading a sequence of `n` items of at least one byte each; refuses a count the rest
/// of a binary payload cannot hold.
template <class Deserializer>
caf::error begin_bounded(Deserializer& f, std::size_t& n) {
  if (auto err = f.begin_sequence(n)) return err;
  if (auto* bin = dynamic_cast<caf::binary_deserializer*>(&f); bin != nullptr && n > bin->remaining())
    return caf::make_error(caf::sec::end_of_stream);
  return caf::none;
}

template <class Deserializer, class Bytes>
caf::error load_bytes(Deserializer& f, Bytes& x) {
  std::size_t n = 0;
  if (auto err = begin_bounded(f, n)) return err;
  x.resize(n);
  if (n > 0)
    if (auto err = f.apply_raw(n, &x[0])) return err;
  return f.end_sequence();
}

}  // namespace wire_detail

template <class Inspector, class Bytes>
typename Inspector::result_type inspect(Inspector& f, wire_bytes<Bytes>& w) {
  if constexpr (Inspector::reads_state)
    return f(w.x);
  else
    return wire_detail::load_bytes(f, w.x);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_strings& w) {
  if constexpr (Inspector::reads_state) {
    return f(w.x);
  } else {
    std::size_t n = 0;
    if (auto err = wire_detail::begin_bounded(f, n)) return err;
    w.x.clear();
    for (std::size_t i = 0; i < n; ++i) {
      std::string s;
      if (auto err = wire_detail::load_bytes(f, s)) return err;
      w.x.push_back(std::move(s));
    }
    return f.end_sequence();
  }
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_double& w) {
  if constexpr (Inspector::reads_state) {
    double v = finite_for_wire(w.x);
    return f(v);
  } else {
    return f(w.x);
  }
}

}  // namespace baton::protocol
