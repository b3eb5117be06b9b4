// The host agent's load index: static, cpu (from a /proc/stat of the test's own), command
// (numbers, failures, timeouts, last good value kept). The connections source is tested with
// real sockets in test_sock_diag.cpp.

#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "actors/slr/load_index.hpp"

using namespace baton;
using namespace baton::slr;

namespace {

struct temp_file {
  std::string path;
  explicit temp_file(const std::string& tag)
      : path("/tmp/baton-slr-" + tag + "-" + std::to_string(::getpid())) {}
  ~temp_file() { std::remove(path.c_str()); }
  void write(const std::string& text) const {
    std::ofstream out(path, std::ios::trunc);
    out << text;
  }
};

policy::slr_section host_config(policy::load_source source) {
  policy::slr_section cfg;
  cfg.level = policy::slr_level::host;
  cfg.virtual_subnets = {{0x0ac80000u, 24}, {0x0ac90000u, 16}};
  cfg.load.source = source;
  return cfg;
}

}  // namespace

TEST_CASE("first_number finds the first number printed") {
  struct row {
    const char* text;
    std::optional<double> want;
  };
  const std::vector<row> rows = {
      {"0.42\n", 0.42},          {"  17", 17.0},         {"load: 7 of 8", 7.0},  {"-3.5 degrees", -3.5},
      {"x -2", -2.0},            {"cpu-3 busy", 3.0},    {".5", 0.5},            {"5.", 5.0},
      {"1e3 req/s", 1000.0},     {"2E-2", 0.02},         {"3e", 3.0},            {"+4", 4.0},
      {"abc", std::nullopt},     {"", std::nullopt},     {"- . e", std::nullopt}, {"1e999", std::nullopt},
  };
  for (const auto& r : rows) {
    CAPTURE(r.text);
    auto got = first_number(r.text);
    REQUIRE(got.has_value() == r.want.has_value());
    if (got) CHECK(*got == doctest::Approx(*r.want));
  }
}

TEST_CASE("/proc/stat parsing and the busy fraction") {
  auto t = parse_proc_stat("cpu  100 20 30 800 50 5 5 0 0 0\ncpu0 1 2 3 4\n");
  REQUIRE(t.has_value());
  CHECK(t->busy == 100 + 20 + 30 + 5 + 5);
  CHECK(t->idle == 850);
  CHECK(parse_proc_stat("cpu  1 2 3 4\n").has_value());  // old kernels: four fields
  CHECK_FALSE(parse_proc_stat("cpu  1 2 3\n").has_value());
  CHECK_FALSE(parse_proc_stat("cpu0 1 2 3 4\n").has_value());
  CHECK_FALSE(parse_proc_stat("intr 1 2 3 4\n").has_value());
  CHECK_FALSE(parse_proc_stat("").has_value());
  CHECK_FALSE(parse_proc_stat("cpu  1 x 3 4").has_value());
  CHECK(*busy_fraction({100, 300}, {400, 600}) == doctest::Approx(0.5));
  CHECK(*busy_fraction({0, 0}, {0, 10}) == 0.0);
  CHECK_FALSE(busy_fraction({100, 300}, {100, 300}).has_value());  // no time passed
  CHECK_FALSE(busy_fraction({100, 300}, {50, 400}).has_value());   // counters went backwards
}

TEST_CASE("static and cpu load indices") {
  auto cfg = host_config(policy::load_source::fixed);
  cfg.load.value = 0.3;
  auto reading = load_index(cfg).measure();
  CHECK(reading.error.empty());
  REQUIRE(reading.loads.size() == 2);
  CHECK(reading.loads[1].first == cfg.virtual_subnets[1]);
  CHECK(reading.loads[0].second == 0.3);
  CHECK(reading.loads[1].second == 0.3);

  temp_file stat("stat");
  load_index cpu(host_config(policy::load_source::cpu), stat.path);
  struct step {
    const char* name;
    const char* file;  // nullptr: remove the file
    bool error;
    std::optional<double> load;  // what is reported (last good value on error)
  };
  const std::vector<step> steps = {
      {"since boot", "cpu  100 0 100 800 0 0 0 0 0 0\n", false, 0.2},
      {"busy half of the interval", "cpu  400 0 100 1100 0 0 0 0 0 0\n", false, 0.5},
      {"no time passed: keeps 0.5", "cpu  400 0 100 1100 0 0 0 0 0 0\n", true, 0.5},
      {"garbage: keeps 0.5", "hello\n", true, 0.5},
      {"fully busy", "cpu  500 0 100 1100 0 0 0 0 0 0\n", false, 1.0},
      {"unreadable: keeps 1.0", nullptr, true, 1.0},
  };
  for (const auto& s : steps) {
    CAPTURE(s.name);
    if (s.file) stat.write(s.file);
    else std::remove(stat.path.c_str());
    auto r = cpu.measure();
    CHECK(r.error.empty() == !s.error);
    REQUIRE(r.loads.size() == 2);
    CHECK(r.loads[0].second == doctest::Approx(*s.load));
  }
  // Real /proc/stat: a fraction in [0, 1].
  load_index real(host_config(policy::load_source::cpu));
  auto r = real.measure();
  REQUIRE(r.loads.size() == 2);
  CHECK(r.loads[0].second >= 0.0);
  CHECK(r.loads[0].second <= 1.0);
}

TEST_CASE("run_load_command: numbers, failures and timeouts") {
  struct row {
    const char* name;
    const char* command;
    int timeout_ms;
    bool ok;
    double value;
    const char* error;  // substring
  };
  const std::vector<row> rows = {
      {"a plain number", "echo 0.42", 2000, true, 0.42, ""},
      {"first number of a sentence", "echo 'load: 7 of 8'; echo 9", 2000, true, 7, ""},
      {"exponent", "printf '1e3'", 2000, true, 1000, ""},
      {"no number", "echo busy", 2000, false, 0, "printed no number: \"busy \""},
      {"no output", "true", 2000, false, 0, "printed no number"},
      {"exit status", "echo 5; exit 3", 2000, false, 0, "exit status 3"},
      {"not found", "/nonexistent/load-probe", 2000, false, 0, "exit status 127"},
      {"killed by a signal", "kill -9 $$", 2000, false, 0, "killed by signal 9"},
      {"timeout", "sleep 5; echo 1", 150, false, 0, "timed out after 150 ms"},
      {"timeout with a background child holding stdout", "sleep 5 & echo 1; wait", 150, false, 0, "timed out"},
      {"stdin is /dev/null", "cat; echo 4", 2000, true, 4, ""},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    auto start = std::chrono::steady_clock::now();
    auto got = run_load_command(r.command, std::chrono::milliseconds(r.timeout_ms));
    auto took = std::chrono::steady_clock::now() - start;
    CHECK(got.ok == r.ok);
    if (r.ok) CHECK(got.value == doctest::Approx(r.value));
    CHECK_MESSAGE(got.error.find(r.error) != std::string::npos, got.error);
    CHECK(took < std::chrono::milliseconds(r.timeout_ms) + std::chrono::seconds(1));
  }
}

TEST_CASE("the command load index keeps the last good value when the command fails") {
  temp_file value("value");
  auto cfg = host_config(policy::load_source::command);
  cfg.load.command = "cat " + value.path;
  cfg.load.command_timeout_ms = 2000;
  load_index index(cfg);
  struct step {
    const char* name;
    const char* file;
    bool error;
    std::optional<double> load;  // nothing: no loads at all yet
  };
  const std::vector<step> steps = {
      {"fails before any good value: nothing to report", nullptr, true, std::nullopt},
      {"first good value", "0.25\n", false, 0.25},
      {"prints no number: keeps 0.25", "n/a\n", true, 0.25},
      {"file gone (cat fails): keeps 0.25", nullptr, true, 0.25},
      {"new value", "0.75", false, 0.75},
  };
  for (const auto& s : steps) {
    CAPTURE(s.name);
    if (s.file) value.write(s.file);
    else std::remove(value.path.c_str());
    auto r = index.measure();
    CHECK(r.error.empty() == !s.error);
    if (s.error) CHECK(r.error.find("command \"cat ") == 0);
    if (!s.load) {
      CHECK(r.loads.empty());
      continue;
    }
    REQUIRE(r.loads.size() == 2);
    CHECK(r.loads[0].second == doctest::Approx(*s.load));
    CHECK(r.loads[1].second == doctest::Approx(*s.load));
  }
}
