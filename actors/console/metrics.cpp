#include "actors/console/metrics.hpp"

#include <charconv>
#include <cmath>
#include <set>
#include <stdexcept>

namespace baton::console {

namespace {

bool is_alpha_(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string escape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace

const char* to_string(metric_type t) noexcept {
  switch (t) {
    case metric_type::counter: return "counter";
    case metric_type::gauge: return "gauge";
    case metric_type::untyped: return "untyped";
  }
  return "untyped";
}

metric_family& metric_family::add(std::vector<std::pair<std::string, std::string>> labels,
                                  double value) {
  samples.push_back(metric_sample{std::move(labels), value});
  return *this;
}

bool valid_metric_name(std::string_view name) noexcept {
  if (name.empty() || !(is_alpha_(name[0]) || name[0] == ':')) return false;
  for (char c : name)
    if (!(is_alpha_(c) || is_digit(c) || c == ':')) return false;
  return true;
}

bool valid_label_name(std::string_view name) noexcept {
  if (name.empty() || !is_alpha_(name[0])) return false;
  for (char c : name)
    if (!(is_alpha_(c) || is_digit(c))) return false;
  return true;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_metric_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Shortest round-trip form: 3 not 3.000000, 0.1 not 0.10000000000000001.
  auto result = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, result.ptr);
}

std::string render_prometheus(const std::vector<metric_family>& families) {
  std::string out;
  std::set<std::string_view> seen;
  for (const auto& family : families) {
    if (!valid_metric_name(family.name))
      throw std::invalid_argument("invalid metric name '" + family.name + "'");
    if (!seen.insert(family.name).second)
      throw std::invalid_argument("metric family '" + family.name + "' appears twice");
    if (!family.help.empty())
      out += "# HELP " + family.name + " " + escape_help(family.help) + "\n";
    out += "# TYPE " + family.name + " " + to_string(family.type) + "\n";
    for (const auto& sample : family.samples) {
      out += family.name;
      if (!sample.labels.empty()) {
        out += '{';
        std::set<std::string_view> label_names;
        bool first = true;
        for (const auto& [name, value] : sample.labels) {
          if (!valid_label_name(name) || name.compare(0, 2, "__") == 0)
            throw std::invalid_argument("metric '" + family.name + "': invalid label name '" +
                                        name + "'");
          if (!label_names.insert(name).second)
            throw std::invalid_argument("metric '" + family.name + "': label '" + name +
                                        "' repeated");
          if (!first) out += ',';
          first = false;
          out += name + "=\"" + escape_label_value(value) + "\"";
        }
        out += '}';
      }
      out += ' ';
      out += format_metric_value(sample.value);
      out += '\n';
    }
  }
  return out;
}

}  // namespace baton::console
