#include "policy/reader.hpp"

namespace baton::policy::detail {

std::string escape_pointer_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::string describe(const json& v) {
  switch (v.type()) {
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: {
      std::string s = v.dump();
      // Keep reasons one line and readable even for a pasted blob.
      if (s.size() > 60) s = s.substr(0, 56) + "...\"";
      return s;
    }
    default: return v.dump();
  }
}

namespace {

// Decimal 0..max with no sign, no leading zeros, at least one digit.
std::optional<std::uint32_t> parse_decimal(std::string_view s, std::uint32_t max) noexcept {
  if (s.empty() || s.size() > 10) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > max) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

}  // namespace

std::optional<std::uint32_t> parse_ipv4(std::string_view s) noexcept {
  std::uint32_t out = 0;
  for (int part = 0; part < 4; ++part) {
    std::size_t end = part < 3 ? s.find('.') : s.size();
    if (end == std::string_view::npos) return std::nullopt;
    auto octet = parse_decimal(s.substr(0, end), 255);
    if (!octet) return std::nullopt;
    out = (out << 8) | *octet;
    s = part < 3 ? s.substr(end + 1) : std::string_view{};
  }
  return out;
}

std::optional<prefix> parse_prefix(std::string_view s) noexcept {
  std::size_t slash = s.find('/');
  auto address = parse_ipv4(s.substr(0, slash));
  if (!address) return std::nullopt;
  std::uint32_t len = 32;
  if (slash != std::string_view::npos) {
    auto l = parse_decimal(s.substr(slash + 1), 32);
    if (!l) return std::nullopt;
    len = *l;
  }
  prefix p;
  p.mask = len == 0 ? 0 : ~std::uint32_t{0} << (32 - len);
  p.address = *address & p.mask;
  p.host_bits = p.address != *address;
  return p;
}

void value_ref::fail(const std::string& reason) const { throw policy_error(pointer_, reason); }

void value_ref::expect_object(std::initializer_list<std::string_view> allowed) const {
  if (!v_->is_object()) fail(std::string("expected an object, got ") + describe(*v_));
  for (auto it = v_->begin(); it != v_->end(); ++it) {
    bool known = false;
    for (auto a : allowed) known = known || it.key() == a;
    if (known) continue;
    std::string list;
    for (auto a : allowed) {
      if (!list.empty()) list += ", ";
      list += a;
    }
    throw policy_error(pointer_ + '/' + escape_pointer_token(it.key()),
                       "unknown key (expected one of: " + list + ")");
  }
}

std::size_t value_ref::expect_array() const {
  if (!v_->is_array()) fail(std::string("expected an array, got ") + describe(*v_));
  return v_->size();
}

bool value_ref::has(std::string_view key) const {
  return v_->is_object() && v_->find(key) != v_->end();
}

value_ref value_ref::get(std::string_view key) const {
  auto v = find(key);
  if (!v) fail("missing required key \"" + std::string(key) + "\"");
  return *v;
}

std::optional<value_ref> value_ref::find(std::string_view key) const {
  if (!v_->is_object()) return std::nullopt;
  auto it = v_->find(key);
  if (it == v_->end()) return std::nullopt;
  return value_ref(*it, pointer_ + '/' + escape_pointer_token(key));
}

value_ref value_ref::at(std::size_t i) const {
  return value_ref((*v_)[i], pointer_ + '/' + std::to_string(i));
}

std::string value_ref::as_string() const {
  if (!v_->is_string()) fail(std::string("expected a string, got ") + describe(*v_));
  return v_->get<std::string>();
}

bool value_ref::as_bool() const {
  if (!v_->is_boolean()) fail(std::string("expected true or false, got ") + describe(*v_));
  return v_->get<bool>();
}

std::uint64_t value_ref::as_uint(std::uint64_t lo, std::uint64_t hi) const {
  auto range = [&] { return " is out of range " + std::to_string(lo) + ".." + std::to_string(hi); };
  if (v_->is_number_unsigned()) {
    std::uint64_t v = v_->get<std::uint64_t>();
    if (v < lo || v > hi) fail(describe(*v_) + range());
    return v;
  }
  if (v_->is_number_integer()) fail(describe(*v_) + range());  // only negatives land here
  fail("expected an integer, got " + describe(*v_));
}

std::uint32_t value_ref::as_ipv4() const {
  std::string s = as_string();
  auto a = parse_ipv4(s);
  if (!a) fail(describe(*v_) + " is not an IPv4 address");
  return *a;
}

std::string value_ref::as_name() const {
  std::string s = as_string();
  bool ok = !s.empty() && s.size() <= 64;
  for (char c : s) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-' || c == '.');
  }
  if (!ok) fail(describe(*v_) + " is not a name (1..64 of letters, digits, _ - .)");
  return s;
}

}  // namespace baton::policy::detail
