#include "policy/diff.hpp"

#include "policy/sections.hpp"

namespace baton::policy {

namespace {

// Generic over a list of T with a .name, compared with `same(old_i, new_j)`.
template <class Names, class Same>
name_changes compare_names(const Names& old_names, const Names& new_names, Same same) {
  name_changes out;
  std::vector<std::string> shared_old, shared_new;
  for (std::size_t j = 0; j < new_names.size(); ++j) {
    std::size_t i = 0;
    while (i < old_names.size() && old_names[i] != new_names[j]) ++i;
    if (i == old_names.size()) {
      out.added.push_back(new_names[j]);
      continue;
    }
    shared_new.push_back(new_names[j]);
    if (!same(i, j)) out.changed.push_back(new_names[j]);
  }
  for (std::size_t i = 0; i < old_names.size(); ++i) {
    bool kept = false;
    for (const auto& n : new_names) kept = kept || n == old_names[i];
    if (kept) shared_old.push_back(old_names[i]);
    else out.removed.push_back(old_names[i]);
  }
  out.reordered = shared_old != shared_new;
  return out;
}

template <class T>
std::vector<std::string> names_of(const std::vector<T>& items) {
  std::vector<std::string> out;
  for (const auto& x : items) out.push_back(x.name);
  return out;
}

name_changes compare_rules(const rule_set& x, const rule_set& y) {
  return compare_names(names_of(x.rules()), names_of(y.rules()),
                       [&](std::size_t i, std::size_t j) { return x.same_rule(i, y, j); });
}

void describe(std::string& out, const name_changes& c) {
  auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    out += std::string(out.back() == ':' ? " " : "; ") + what;
    for (std::size_t i = 0; i < names.size(); ++i) out += (i ? ", " : " ") + names[i];
  };
  list("added", c.added);
  list("removed", c.removed);
  list("changed", c.changed);
  if (c.reordered) out += std::string(out.back() == ':' ? " " : "; ") + "reordered";
}

}  // namespace

bool policy_diff::changed(std::string_view section) const noexcept {
  for (const auto& s : sections)
    if (s == section) return true;
  return false;
}

policy_diff diff_policies(const policy& x, const policy& y) {
  policy_diff d;
  for (const auto& s : detail::sections())
    if (!s.equal(x, y)) d.sections.emplace_back(s.name);
  d.peers = compare_names(names_of(x.peers), names_of(y.peers), [&](std::size_t i, std::size_t j) {
    return x.peers[i] == y.peers[j];
  });
  d.profiles = compare_names(names_of(x.profiles), names_of(y.profiles),
                             [&](std::size_t i, std::size_t j) { return x.profiles[i] == y.profiles[j]; });
  d.rules = compare_rules(x.rules, y.rules);
  static const rule_set none;
  d.pep_rules = compare_rules(x.pep ? x.pep->rules : none, y.pep ? y.pep->rules : none);
  return d;
}

std::string to_string(const policy_diff& d) {
  if (d.empty()) return "no change";
  std::string out;
  for (const auto& s : d.sections) {
    if (!out.empty()) out += '\n';
    out += s + ':';
    const name_changes* detail = s == "peers"      ? &d.peers
                                 : s == "profiles" ? &d.profiles
                                 : s == "rules"    ? &d.rules
                                 : s == "pep"      ? &d.pep_rules
                                                   : nullptr;
    std::size_t before = out.size();
    if (detail) describe(out, *detail);
    if (out.size() == before) out += " changed";
  }
  return out;
}

}  // namespace baton::policy
