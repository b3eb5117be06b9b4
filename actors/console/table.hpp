#pragma once
// Renders the console's JSON answers as aligned text tables for the terminal (batonctl).
// Only the forward declaration of nlohmann::json is included here.

#include <cstddef>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace baton::console {

struct table_options {
  std::string key_header = "name";  // first column's header for an object of objects
  std::size_t max_cell_width = 60;  // longer cells are cut and end in "..."
};

/// Renders `value` for a terminal. Returns text whose every line ends in '\n', with no trailing
/// spaces. Shapes:
/// - array of objects: one row per element, columns the union of keys in first-seen order;
/// - object whose values are all objects: one row per member, its key in the first column;
/// - array of scalars: one column "value";
/// - other objects: "key  value" lines for the scalar members (nested values as compact JSON), then
///   each member that is an array of objects or an object of objects as a titled sub-table;
/// - a scalar: its text on one line.
/// Cells: strings without quotes, numbers and booleans as JSON, null and missing as "-", arrays
/// and objects as compact JSON; control characters are shown escaped (\n, \t) so a row stays one
/// line. Columns whose cells are all numbers are right-aligned. Width is counted in UTF-8 code
/// points. Empty arrays and objects render as "(none)\n". Never throws for any JSON value.
std::string render_table(const nlohmann::ordered_json& value, const table_options& options = {});

}  // namespace baton::console
