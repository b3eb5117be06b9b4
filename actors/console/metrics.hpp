#pragma once
// /metrics in the Prometheus text exposition format (version 0.0.4). batond fills a list of metric
// families from its counters; render_prometheus() writes the text. No state is kept here.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace baton::console {

/// The content type a /metrics answer carries.
inline constexpr const char* prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

enum class metric_type { counter, gauge, untyped };

/// "counter", "gauge", "untyped": the word a # TYPE line uses.
const char* to_string(metric_type t) noexcept;

/// One sample: its label set (name, value) in the order given, and its value.
struct metric_sample {
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

/// A metric family: one # HELP and # TYPE line, then its samples, all under `name`.
struct metric_family {
  std::string name;  // [a-zA-Z_:][a-zA-Z0-9_:]*; counters by convention end in _total
  std::string help;  // free text; backslash and newline are escaped on output
  metric_type type = metric_type::untyped;
  std::vector<metric_sample> samples;

  /// Appends a sample and returns *this, so families read like their rows:
  /// `fam.add({{"status", "200"}}, 12).add({{"status", "404"}}, 1);`
  metric_family& add(std::vector<std::pair<std::string, std::string>> labels, double value);
};

/// Writes the families in order: for each, "# HELP name help" (left out when help is empty),
/// "# TYPE name type" and one line per sample `name{label="value",...} value`, every line ending
/// in '\n'. A family without samples still gets its HELP and TYPE lines; a sample without labels
/// has no braces. Label values escape backslash, double quote and newline (\\ \" \n); HELP text
/// escapes backslash and newline. Values: the shortest text that reads back as the same double;
/// NaN, +Inf, -Inf spelled so. Throws std::invalid_argument naming the offender if a metric or
/// label name is not valid, a label name starts with "__" (reserved), a sample repeats a label
/// name, or two families share a name.
std::string render_prometheus(const std::vector<metric_family>& families);

/// The value spelling used by render_prometheus ("1", "0.25", "1e+21", "NaN", "+Inf").
std::string format_metric_value(double value);

/// Label-value escaping as render_prometheus does it (without the surrounding quotes).
std::string escape_label_value(std::string_view value);

/// True if `name` is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*).
bool valid_metric_name(std::string_view name) noexcept;
/// True if `name` is a valid label name ([a-zA-Z_][a-zA-Z0-9_]*).
bool valid_label_name(std::string_view name) noexcept;

}  // namespace baton::console
