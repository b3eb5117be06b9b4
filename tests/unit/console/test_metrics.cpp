// Prometheus text exposition format (0.0.4): each row's expected text is written out by hand from
// the format's rules (HELP/TYPE lines, label braces, escaping, value spelling).

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "actors/console/metrics.hpp"

using namespace baton::console;

TEST_CASE("render_prometheus writes HELP, TYPE and one line per sample") {
  struct row {
    std::string name;
    std::vector<metric_family> families;
    std::string expected;
  };
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<row> rows{
      {"counter without labels",
       {metric_family{
           "baton_packets_total", "Packets seen by the packet loop.", metric_type::counter, {}}
            .add({}, 42)},
       "# HELP baton_packets_total Packets seen by the packet loop.\n"
       "# TYPE baton_packets_total counter\n"
       "baton_packets_total 42\n"},
      {"gauge with a label set per sample",
       {metric_family{"baton_work_units", "Work units owned.", metric_type::gauge, {}}
            .add({{"member", "n1"}}, 512)
            .add({{"member", "n2"}}, 512)},
       "# HELP baton_work_units Work units owned.\n"
       "# TYPE baton_work_units gauge\n"
       "baton_work_units{member=\"n1\"} 512\n"
       "baton_work_units{member=\"n2\"} 512\n"},
      {"several labels keep their order",
       {metric_family{"http_requests_total", "Console requests.", metric_type::counter, {}}.add(
           {{"status", "200"}, {"method", "GET"}}, 7)},
       "# HELP http_requests_total Console requests.\n"
       "# TYPE http_requests_total counter\n"
       "http_requests_total{status=\"200\",method=\"GET\"} 7\n"},
      {"label values escape backslash, quote and newline only",
       {metric_family{"m", "h", metric_type::gauge, {}}.add({{"path", "C:\\dir \"x\"\nnext\tTab"}},
                                                            1)},
       "# HELP m h\n# TYPE m gauge\n"
       "m{path=\"C:\\\\dir \\\"x\\\"\\nnext\tTab\"} 1\n"},
      {"help escapes backslash and newline, not quotes",
       {metric_family{"m", "a \"quoted\" \\ word\nsecond line", metric_type::counter, {}}},
       "# HELP m a \"quoted\" \\\\ word\\nsecond line\n# TYPE m counter\n"},
      {"empty help leaves the HELP line out",
       {metric_family{"m", "", metric_type::untyped, {}}.add({}, 3)},
       "# TYPE m untyped\nm 3\n"},
      {"empty label value is kept",
       {metric_family{"m", "h", metric_type::gauge, {}}.add({{"role", ""}}, 0)},
       "# HELP m h\n# TYPE m gauge\nm{role=\"\"} 0\n"},
      {"value spellings",
       {metric_family{"v", "values", metric_type::gauge, {}}
            .add({{"k", "fraction"}}, 0.25)
            .add({{"k", "tenth"}}, 0.1)
            .add({{"k", "negative"}}, -3.5)
            .add({{"k", "big"}}, 1e21)
            .add({{"k", "small"}}, 1.5e-7)
            .add({{"k", "counter_max"}}, 9007199254740992.0)
            .add({{"k", "nan"}}, std::nan(""))
            .add({{"k", "pinf"}}, inf)
            .add({{"k", "ninf"}}, -inf)},
       "# HELP v values\n# TYPE v gauge\n"
       "v{k=\"fraction\"} 0.25\n"
       "v{k=\"tenth\"} 0.1\n"
       "v{k=\"negative\"} -3.5\n"
       "v{k=\"big\"} 1e+21\n"
       "v{k=\"small\"} 1.5e-07\n"
       "v{k=\"counter_max\"} 9007199254740992\n"
       "v{k=\"nan\"} NaN\n"
       "v{k=\"pinf\"} +Inf\n"
       "v{k=\"ninf\"} -Inf\n"},
      {"families in the order given, colons allowed in names",
       {metric_family{"b:rule", "second", metric_type::gauge, {}}.add({}, 2),
        metric_family{"a_total", "first", metric_type::counter, {}}.add({}, 1)},
       "# HELP b:rule second\n# TYPE b:rule gauge\nb:rule 2\n"
       "# HELP a_total first\n# TYPE a_total counter\na_total 1\n"},
      {"nothing", {}, ""},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK(render_prometheus(r.families) == r.expected);
  }
}

TEST_CASE("render_prometheus refuses names the format cannot carry") {
  struct row {
    std::string name;
    std::vector<metric_family> families;
    const char* message_part;
  };
  const std::vector<row> rows{
      {"metric name starts with a digit",
       {metric_family{"9lives", "h", metric_type::gauge, {}}},
       "9lives"},
      {"metric name with a dash", {metric_family{"a-b", "h", metric_type::gauge, {}}}, "a-b"},
      {"empty metric name",
       {metric_family{"", "h", metric_type::gauge, {}}},
       "invalid metric name"},
      {"label with a colon",
       {metric_family{"m", "h", metric_type::gauge, {}}.add({{"a:b", "x"}}, 1)},
       "a:b"},
      {"reserved label",
       {metric_family{"m", "h", metric_type::gauge, {}}.add({{"__name__", "x"}}, 1)},
       "__name__"},
      {"repeated label",
       {metric_family{"m", "h", metric_type::gauge, {}}.add({{"a", "1"}, {"a", "2"}}, 1)},
       "repeated"},
      {"family twice",
       {metric_family{"m", "h", metric_type::gauge, {}},
        metric_family{"m", "h", metric_type::counter, {}}},
       "twice"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    try {
      render_prometheus(r.families);
      FAIL("accepted");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).find(r.message_part) != std::string::npos);
    }
  }
}

TEST_CASE("name validity") {
  struct row {
    std::string name;
    bool metric, label;
  };
  const std::vector<row> rows{
      {"abc", true, true},  {"_x9", true, true}, {"a:b", true, false},  {":a", true, false},
      {"9a", false, false}, {"", false, false},  {"a b", false, false}, {"é", false, false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK(valid_metric_name(r.name) == r.metric);
    CHECK(valid_label_name(r.name) == r.label);
  }
}
