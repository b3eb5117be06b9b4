// Hub PEP groups: a branch's work unit (actors/pep/branch_unit.hpp) is the same on every member,
// in range, and spreads names over the units.

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "actors/pep/branch_unit.hpp"

using baton::pep::branch_unit;

TEST_CASE("a branch's unit is FNV-1a of its name modulo the units") {
  struct row {
    const char* name;
    std::uint32_t units;
    std::uint32_t unit;
  };
  // FNV-1a 32's published vectors: "" = 0x811c9dc5, "a" = 0xe40c292c. They pin the function:
  // changing it moves every branch of a hub group.
  const row rows[] = {
    {"", 1024, 0x811c9dc5u % 1024},
    {"a", 1024, 0xe40c292cu % 1024},
    {"a", 1, 0},
    {"a", 0, 0},  // 0 units is taken as 1
    {"a", 7, 0xe40c292cu % 7},
  };
  for (const auto& x : rows) {
    CAPTURE(x.name);
    CAPTURE(x.units);
    CHECK(branch_unit(x.name, x.units) == x.unit);
  }
}

TEST_CASE("branch units are in range and spread") {
  std::set<std::uint32_t> seen;
  for (int i = 0; i < 200; ++i) {
    const auto u = branch_unit("branch-" + std::to_string(i), 1024);
    CHECK(u < 1024);
    seen.insert(u);
  }
  CHECK(seen.size() > 150);  // 200 names over 1024 units: few collisions
}
