#pragma once
// The host agent's load index per virtual subnet (document 001: "the host site may advertise
// the virtual subnet 192.200.*.* with load index of 0.30"). The policy's slr.load picks the
// source:
//   connections  established TCP sockets whose local address is in the subnet (sock_diag);
//   cpu          the busy fraction of all CPUs between two calls, from /proc/stat (same value
//                for every subnet; the first call measures since boot);
//   command      a shell command's first printed number (same value for every subnet);
//   static       the configured constant (labs and tests).
// A failed measurement keeps the last good value and says why; until a first good value there
// is nothing to report (loads empty), so a host whose load cannot be measured is not advertised.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/slr/routing.hpp"
#include "policy/policy.hpp"

namespace baton::slr {

/// Jiffies from the first "cpu" line of /proc/stat.
struct cpu_times {
  std::uint64_t busy = 0;  // user + nice + system + irq + softirq + steal
  std::uint64_t idle = 0;  // idle + iowait
};

/// Parses /proc/stat text; nothing when its first line is not an aggregate "cpu" line with at
/// least the four classic fields.
std::optional<cpu_times> parse_proc_stat(std::string_view text) noexcept;

/// busy / (busy + idle) of the jiffies between `before` and `after`, in [0, 1]; nothing when no
/// time passed or the counters went backwards.
std::optional<double> busy_fraction(const cpu_times& before, const cpu_times& after) noexcept;

/// The first number in `text` (an optional sign, digits, an optional fraction and exponent),
/// e.g. 7 in "load: 7 of 8"; nothing when there is none or it is not finite.
std::optional<double> first_number(std::string_view text) noexcept;

/// What running a command gave.
struct command_result {
  bool ok = false;
  double value = 0;
  std::string error;  // when !ok: "timed out after N ms", "exit status 3", "printed no number: ..."
};

/// Runs `command` with /bin/sh -c (stdin /dev/null, stdout captured, stderr inherited) in its own
/// process group; kills the group when it has not finished after `timeout`. Blocks up to about
/// `timeout`: call it off the data path. Reads at most 4 KiB of output.
command_result run_load_command(const std::string& command, std::chrono::milliseconds timeout);

class load_index {
 public:
  /// Uses config.load and config.virtual_subnets. `proc_stat` is the file the cpu source reads
  /// (tests give a file of their own).
  explicit load_index(const policy::slr_section& config, std::string proc_stat = "/proc/stat");

  struct reading {
    std::vector<std::pair<subnet, double>> loads;  // per virtual subnet; empty before any good value
    std::string error;                             // why this measurement failed; empty when it did not
  };

  /// Measures now. Never throws except std::bad_alloc.
  reading measure();

 private:
  policy::slr_load load_;
  std::vector<subnet> subnets_;
  std::string proc_stat_;
  std::optional<cpu_times> last_cpu_;
  std::optional<std::vector<double>> last_good_;  // per subnet
};

}  // namespace baton::slr
