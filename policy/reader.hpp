#pragma once
// Internal to policy/: a JSON value together with its JSON pointer, and the typed reads every
// section parser uses. Every failed read throws policy_error(pointer, reason), so parsers read
// straight-line and the error always names the exact value.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "policy/policy_error.hpp"

namespace baton::policy::detail {

using json = nlohmann::json;

/// RFC 6901 escaping of one reference token ("~" -> "~0", "/" -> "~1").
std::string escape_pointer_token(std::string_view token);

/// A short description of a value for reasons: strings and numbers as JSON text
/// ("\"10.1.1.0/33\"", 70000), containers as "an object" / "an array".
std::string describe(const json& v);

/// Parses dotted-quad IPv4 ("10.0.0.1"; no leading zeros, exactly four parts).
std::optional<std::uint32_t> parse_ipv4(std::string_view s) noexcept;

/// Parses "a.b.c.d/len" or a bare address (= /32) into address and mask.
/// Sets host_bits when the address has bits outside the mask (the caller decides).
struct prefix {
  std::uint32_t address = 0;
  std::uint32_t mask = 0;
  bool host_bits = false;
};
std::optional<prefix> parse_prefix(std::string_view s) noexcept;

/// A value inside the document being loaded. Holds a reference: the document must outlive it.
class value_ref {
 public:
  value_ref(const json& v, std::string pointer) : v_(&v), pointer_(std::move(pointer)) {}

  const json& value() const noexcept { return *v_; }
  const std::string& pointer() const noexcept { return pointer_; }

  /// Throws policy_error(pointer(), reason).
  [[noreturn]] void fail(const std::string& reason) const;

  /// Checks this is an object whose keys are all in `allowed`; an unknown key fails at that
  /// key's own pointer.
  void expect_object(std::initializer_list<std::string_view> allowed) const;
  /// Checks this is an array; returns its size.
  std::size_t expect_array() const;

  bool has(std::string_view key) const;
  /// The member `key`; fails at this pointer with `missing required key "key"` when absent.
  value_ref get(std::string_view key) const;
  /// The member `key`, or nothing when absent.
  std::optional<value_ref> find(std::string_view key) const;
  /// Element i of an array (the caller checked the size).
  value_ref at(std::size_t i) const;

  std::string as_string() const;
  bool as_bool() const;
  /// An integer in [lo, hi]; floats, booleans and strings are type errors.
  std::uint64_t as_uint(std::uint64_t lo, std::uint64_t hi) const;
  std::uint32_t as_ipv4() const;
  /// A name: 1..64 characters of letters, digits, '_', '-', '.'.
  std::string as_name() const;

 private:
  const json* v_;
  std::string pointer_;
};

/// Reads a string that must be one of `names` and returns its index; otherwise fails with the
/// value's pointer and the list of accepted names.
template <std::size_t N>
std::size_t one_of(const value_ref& v, const char* const (&names)[N], const char* what) {
  std::string s = v.as_string();
  for (std::size_t i = 0; i < N; ++i)
    if (s == names[i]) return i;
  std::string list;
  for (std::size_t i = 0; i < N; ++i) list += (i ? ", " : "") + std::string(names[i]);
  v.fail(describe(v.value()) + " is not " + what + " (" + list + ")");
}

}  // namespace baton::policy::detail
