#include "actors/console/table.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

#include <nlohmann/json.hpp>

namespace baton::console {

namespace {

using json = nlohmann::ordered_json;

// Display width as UTF-8 code points: good enough for names and addresses, which is what the
// console shows; wide CJK glyphs would be off by their extra cell.
std::size_t width(const std::string& s) {
  std::size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

// The first `points` code points of `s`.
std::string prefix_points(const std::string& s, std::size_t points) {
  std::size_t n = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (n == points) break;
      ++n;
    }
  }
  return s.substr(0, i);
}

std::string printable(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\r')
      out += "\\r";
    else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::string cell_text(const json& v, std::size_t max_width) {
  std::string s;
  if (v.is_null())
    s = "-";
  else if (v.is_string())
    s = printable(v.get_ref<const std::string&>());
  else if (v.is_boolean())
    s = v.get<bool>() ? "true" : "false";
  // Invalid UTF-8 inside the server's strings must not make the console throw.
  else
    s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (max_width >= 4 && width(s) > max_width) s = prefix_points(s, max_width - 3) + "...";
  return s;
}

std::string render_grid(const std::vector<std::string>& headers,
                        const std::vector<std::vector<const json*>>& rows,
                        const table_options& opt) {
  std::size_t columns = headers.size();
  std::vector<std::vector<std::string>> cells(rows.size(), std::vector<std::string>(columns));
  std::vector<std::size_t> widths(columns);
  std::vector<bool> numeric(columns, true), any_value(columns, false);
  for (std::size_t c = 0; c < columns; ++c) widths[c] = width(headers[c]);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (std::size_t c = 0; c < columns; ++c) {
      const json* v = rows[r][c];
      if (v && !v->is_null()) {
        any_value[c] = true;
        if (!v->is_number()) numeric[c] = false;
      }
      cells[r][c] = v ? cell_text(*v, opt.max_cell_width) : "-";
      widths[c] = std::max(widths[c], width(cells[r][c]));
    }
  }
  auto line = [&](const std::vector<std::string>& row, bool header) {
    std::string out;
    for (std::size_t c = 0; c < columns; ++c) {
      if (c) out += "  ";
      std::string pad(widths[c] - width(row[c]), ' ');
      bool right = !header && numeric[c] && any_value[c];
      out += right ? pad + row[c] : row[c] + pad;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(headers, true);
  std::vector<std::string> rule(columns);
  for (std::size_t c = 0; c < columns; ++c) rule[c] = std::string(widths[c], '-');
  out += line(rule, true);
  for (const auto& row : cells) out += line(row, false);
  return out;
}

bool all_objects(const json& v) {
  if (v.empty()) return false;
  for (const auto& e : v)
    if (!e.is_object()) return false;
  return true;
}

bool is_row_set(const json& v) { return (v.is_array() || v.is_object()) && all_objects(v); }

void add_column(std::vector<std::string>& headers, const std::string& key) {
  if (std::find(headers.begin(), headers.end(), key) == headers.end()) headers.push_back(key);
}

std::string render_rows(const json& v, const table_options& opt) {
  std::vector<std::string> headers;
  if (v.is_object()) headers.push_back(opt.key_header);
  for (const auto& e : v)
    for (const auto& item : e.items()) add_column(headers, item.key());
  std::vector<std::vector<const json*>> rows;
  std::vector<json> keys;  // kept alive for the pointers below
  keys.reserve(v.size());
  for (auto it = v.begin(); it != v.end(); ++it) {
    std::vector<const json*> row(headers.size(), nullptr);
    std::size_t first = 0;
    if (v.is_object()) {
      keys.emplace_back(it.key());
      row[0] = &keys.back();
      first = 1;
    }
    for (std::size_t c = first; c < headers.size(); ++c) {
      auto found = it->find(headers[c]);
      if (found != it->end()) row[c] = &*found;
    }
    rows.push_back(std::move(row));
  }
  return render_grid(headers, rows, opt);
}

}  // namespace

std::string render_table(const json& value, const table_options& opt) {
  if (value.is_array() || value.is_object()) {
    if (value.empty()) return "(none)\n";
    if (is_row_set(value)) return render_rows(value, opt);
  }
  if (value.is_array()) {
    std::vector<std::vector<const json*>> rows;
    for (const auto& e : value) rows.push_back({&e});
    return render_grid({"value"}, rows, opt);
  }
  if (!value.is_object()) return cell_text(value, static_cast<std::size_t>(-1)) + "\n";

  // A record: its plain members as "key  value" lines, its tabular members as titled tables.
  std::size_t key_width = 0;
  for (const auto& item : value.items())
    if (!is_row_set(item.value())) key_width = std::max(key_width, width(item.key()));
  std::string out, tables;
  for (const auto& item : value.items()) {
    if (is_row_set(item.value())) {
      tables += "\n" + printable(item.key()) + ":\n" + render_rows(item.value(), opt);
    } else {
      std::string key = printable(item.key());
      std::string text = key + std::string(key_width - std::min(key_width, width(key)), ' ') +
                         "  " + cell_text(item.value(), opt.max_cell_width);
      while (!text.empty() && text.back() == ' ') text.pop_back();
      out += text + "\n";
    }
  }
  if (out.empty()) tables.erase(0, 1);  // no leading blank line before the first table
  return out + tables;
}

}  // namespace baton::console
