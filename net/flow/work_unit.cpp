#include "net/flow/work_unit.hpp"

#include <stdexcept>
#include <string>

namespace baton::net {

const char* to_string(work_unit_hash h) noexcept {
  switch (h) {
    case work_unit_hash::document: return "document";
    case work_unit_hash::mixed: return "mixed";
  }
  return "unknown";
}

std::optional<work_unit_hash> parse_work_unit_hash(std::string_view name) noexcept {
  if (name == "document") return work_unit_hash::document;
  if (name == "mixed") return work_unit_hash::mixed;
  return std::nullopt;
}

work_unit_hasher::work_unit_hasher(work_unit_hash kind, std::uint32_t units)
    : kind_(kind), units_(units) {
  if (units == 0 || units > max_work_units) {
    throw std::invalid_argument("work unit count must be 1.." + std::to_string(max_work_units) +
                                ", got " + std::to_string(units));
  }
}

}  // namespace baton::net
