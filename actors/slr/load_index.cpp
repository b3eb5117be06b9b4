// The host agent's load index. See load_index.hpp.

#include "actors/slr/load_index.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>
#include <thread>

#include "actors/slr/sock_diag.hpp"

extern char** environ;

namespace baton::slr {

std::optional<cpu_times> parse_proc_stat(std::string_view text) noexcept {
  std::size_t end = text.find('\n');
  std::string_view first = text.substr(0, end);
  if (first.substr(0, 4) != "cpu ") return std::nullopt;
  first.remove_prefix(4);
  // user nice system idle iowait irq softirq steal (guest and guest_nice are inside user / nice)
  std::uint64_t f[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int n = 0;
  while (n < 8) {
    while (!first.empty() && first.front() == ' ') first.remove_prefix(1);
    if (first.empty()) break;
    std::uint64_t v = 0;
    std::size_t digits = 0;
    while (digits < first.size() && first[digits] >= '0' && first[digits] <= '9') {
      v = v * 10 + static_cast<std::uint64_t>(first[digits] - '0');
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    first.remove_prefix(digits);
    f[n++] = v;
  }
  if (n < 4) return std::nullopt;
  cpu_times t;
  t.busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
  t.idle = f[3] + f[4];
  return t;
}

std::optional<double> busy_fraction(const cpu_times& before, const cpu_times& after) noexcept {
  if (after.busy < before.busy || after.idle < before.idle) return std::nullopt;
  std::uint64_t busy = after.busy - before.busy;
  std::uint64_t total = busy + (after.idle - before.idle);
  if (total == 0) return std::nullopt;
  return static_cast<double>(busy) / static_cast<double>(total);
}

std::optional<double> first_number(std::string_view text) noexcept {
  auto digit = [&](std::size_t i) { return i < text.size() && text[i] >= '0' && text[i] <= '9'; };
  for (std::size_t i = 0; i < text.size(); ++i) {
    std::size_t j = i;
    // A sign counts only where it starts a word ("cpu-3" is not -3).
    if ((text[j] == '-' || text[j] == '+') && (i == 0 || std::isspace(static_cast<unsigned char>(text[i - 1]))))
      ++j;
    std::size_t mantissa = j;
    while (digit(j)) ++j;
    bool int_digits = j > mantissa;
    bool frac_digits = false;
    if (j < text.size() && text[j] == '.') {
      std::size_t k = j + 1;
      while (digit(k)) ++k;
      frac_digits = k > j + 1;
      if (int_digits || frac_digits) j = k;
    }
    if (!int_digits && !frac_digits) continue;
    if (j < text.size() && (text[j] == 'e' || text[j] == 'E')) {
      std::size_t k = j + 1;
      if (k < text.size() && (text[k] == '+' || text[k] == '-')) ++k;
      if (digit(k)) {
        while (digit(k)) ++k;
        j = k;
      }
    }
    std::string number(text.substr(i, j - i));
    double v = std::strtod(number.c_str(), nullptr);
    if (!std::isfinite(v)) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

command_result run_load_command(const std::string& command, std::chrono::milliseconds timeout) {
  command_result result;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    result.error = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  // Its own process group, so a timeout kills whatever the shell started too.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    result.error = std::string("cannot run /bin/sh: ") + std::strerror(rc);
    return result;
  }

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left_ms = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return left.count() > 0 ? static_cast<int>(left.count()) : 0;
  };
  std::string output;
  bool timed_out = false;
  for (;;) {  // read stdout until EOF or the deadline
    struct pollfd p{pipe_fds[0], POLLIN, 0};
    int ready = ::poll(&p, 1, left_ms());
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      timed_out = true;
      break;
    }
    char buf[512];
    ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output.size() < 4096) output.append(buf, static_cast<std::size_t>(std::min<ssize_t>(n, 4096 - output.size())));
  }
  ::close(pipe_fds[0]);

  int status = 0;
  for (;;) {  // the shell closed stdout; give it until the deadline to exit
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0) {
      if (errno == EINTR) continue;
      break;  // not ours to wait for any more (ECHILD)
    }
    if (timed_out || left_ms() == 0) {
      timed_out = true;
      ::kill(-pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling a child's exit
  }
  if (timed_out) {
    result.error = "timed out after " + std::to_string(timeout.count()) + " ms";
    return result;
  }
  if (WIFSIGNALED(status)) {
    result.error = "killed by signal " + std::to_string(WTERMSIG(status));
    return result;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    result.error = "exit status " + std::to_string(WEXITSTATUS(status));
    return result;
  }
  auto v = first_number(output);
  if (!v) {
    std::string shown = output.substr(0, 60);
    for (char& c : shown)
      if (c == '\n' || c == '\r') c = ' ';
    result.error = "printed no number: \"" + shown + "\"";
    return result;
  }
  result.ok = true;
  result.value = *v;
  return result;
}

load_index::load_index(const policy::slr_section& config, std::string proc_stat)
    : load_(config.load), subnets_(config.virtual_subnets), proc_stat_(std::move(proc_stat)) {}

load_index::reading load_index::measure() {
  reading r;
  std::optional<std::vector<double>> now;
  switch (load_.source) {
    case policy::load_source::fixed: now = std::vector<double>(subnets_.size(), load_.value); break;
    case policy::load_source::connections:
      try {
        auto counts = count_established(subnets_);
        now = std::vector<double>(counts.begin(), counts.end());
      } catch (const std::exception& e) {
        r.error = std::string("connections: ") + e.what();
      }
      break;
    case policy::load_source::cpu: {
      std::ifstream in(proc_stat_);
      std::ostringstream text;
      text << in.rdbuf();
      auto t = in ? parse_proc_stat(text.str()) : std::nullopt;
      if (!t) {
        r.error = "cpu: cannot read a cpu line from " + proc_stat_;
        break;
      }
      auto f = busy_fraction(last_cpu_.value_or(cpu_times{}), *t);
      last_cpu_ = t;
      if (!f) r.error = "cpu: no time passed since the last measurement in " + proc_stat_;
      else now = std::vector<double>(subnets_.size(), *f);
      break;
    }
    case policy::load_source::command: {
      auto c = run_load_command(load_.command, std::chrono::milliseconds(load_.command_timeout_ms));
      if (c.ok) now = std::vector<double>(subnets_.size(), c.value);
      else r.error = "command \"" + load_.command + "\": " + c.error;
      break;
    }
  }
  if (now) last_good_ = std::move(now);
  if (last_good_)
    for (std::size_t i = 0; i < subnets_.size(); ++i) r.loads.emplace_back(subnets_[i], (*last_good_)[i]);
  return r;
}

}  // namespace baton::slr
