#pragma once
// Internal to policy/: every policy struct names its members once, in a field list, and both its
// equality and its normalized JSON are generated from that list. A member cannot be compared but
// not written (or the reverse), and a member missing from its list fails to compile.
//
// A struct's list is a function `fields(const S&)` in namespace baton::policy (found by ADL),
// written next to the struct's parser:
//
//   auto fields(const identity_section& x) {
//     return std::make_tuple(field("name", x.name), field("address", x.address, ipv4),
//                            field("certificate", x.certificate).when(!x.certificate.empty()), ...);
//   }
//
// field(key, value[, writer]): `value` is one member, or std::tie of the members that make one
// JSON value (an hour range). `writer` turns it into JSON; by default write_json picks by type:
// a struct with a field list is an object, a vector an array, an enumeration its to_string name,
// an absent optional is left out. `.when(false)` leaves the key out of the JSON (a value the
// normalized form omits); a null key merges the value's object into the enclosing one.
// Equality compares every value, written or not.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "policy/policy.hpp"
#include "policy/reader.hpp"
#include "policy/rule_list.hpp"

namespace baton::policy::detail {

template <class V, class W>
struct field_t {
  using value_type = V;
  const char* key;  // nullptr: merge the value's JSON object into the enclosing one
  V value;          // const T& for one member, std::tuple<const T&...> for several
  W write;
  bool written = true;

  field_t when(bool condition) const { return {key, value, write, written && condition}; }
};

/// The default writer: write_json(value).
struct by_type {
  template <class T>
  json operator()(const T& v) const;
};

template <class T, class W = by_type>
field_t<const T&, W> field(const char* key, const T& value, W write = {}) {
  return {key, value, write};
}
template <class... T, class W = by_type>
field_t<std::tuple<T&...>, W> field(const char* key, std::tuple<T&...> members, W write = {}) {
  return {key, members, write};
}

/// Writes an address in host byte order as "a.b.c.d".
inline json ipv4(std::uint32_t address) { return format_ipv4(address); }

// --- JSON ----------------------------------------------------------------------------------------

inline json write_json(const virtual_subnet& s) { return to_string(s); }
inline json write_json(const rule_set& rules) { return rule_list_to_json(rules); }

template <class S>
auto write_json(const S& x) -> decltype(fields(x), json());

template <class T, std::enable_if_t<std::is_enum_v<T>, int> = 0>
json write_json(T x) {
  return to_string(x);
}
template <class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
json write_json(T x) {
  return x;
}
inline json write_json(const std::string& s) { return s; }

template <class T>
json write_json(const std::vector<T>& items) {
  json out = json::array();
  for (const auto& x : items) out.push_back(write_json(x));
  return out;
}

template <class T>
json by_type::operator()(const T& v) const {
  return write_json(v);
}

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class V, class W>
void write_field(const field_t<V, W>& f, json& out) {
  if (!f.written) return;
  json value;
  if constexpr (is_optional<std::remove_cv_t<std::remove_reference_t<V>>>::value) {
    if (!f.value) return;
    value = f.write(*f.value);
  } else {
    value = f.write(f.value);
  }
  if (f.key) out[f.key] = std::move(value);
  else out.update(value);
}

template <class S>
auto write_json(const S& x) -> decltype(fields(x), json()) {
  json out = json::object();
  std::apply([&](const auto&... f) { (write_field(f, out), ...); }, fields(x));
  return out;
}

// --- equality ------------------------------------------------------------------------------------

// How many members an aggregate has: the most initializers S{...} accepts.
struct any_member {
  template <class T>
  operator T&() const;
  template <class T>
  operator T&&() const;
};
template <std::size_t>
using any_member_at = any_member;
template <class S, class Seq, class = void>
struct braces_accept : std::false_type {};
template <class S, std::size_t... I>
struct braces_accept<S, std::index_sequence<I...>, std::void_t<decltype(S{any_member_at<I>{}...})>>
    : std::true_type {};
template <class S, std::size_t N = 0>
constexpr std::size_t member_count() {
  if constexpr (braces_accept<S, std::make_index_sequence<N + 1>>::value) return member_count<S, N + 1>();
  else return N;
}

template <class V>
constexpr std::size_t members_in = 1;
template <class... T>
constexpr std::size_t members_in<std::tuple<T&...>> = sizeof...(T);
template <class... F>
constexpr std::size_t listed_members(const std::tuple<F...>*) {
  return (members_in<typename F::value_type> + ... + 0);
}

/// Whether every listed value of x equals y's; fails to compile when S has a member its list
/// does not name.
template <class S>
bool equal_fields(const S& x, const S& y) {
  using list = decltype(fields(x));
  static_assert(listed_members(static_cast<const list*>(nullptr)) == member_count<S>(),
                "the field list must name every member of the struct");
  auto fx = fields(x);
  auto fy = fields(y);
  return std::apply(
      [&](const auto&... a) {
        return std::apply([&](const auto&... b) { return ((a.value == b.value) && ...); }, fy);
      },
      fx);
}

}  // namespace baton::policy::detail
