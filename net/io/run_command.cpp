#include "net/io/run_command.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

extern char** environ;

namespace baton::net {

int run_command(const std::vector<std::string>& argv, std::string& output, const std::string& input) {
  int out[2], in[2];
  if (::pipe(out) != 0) return -1;
  if (::pipe(in) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return -1;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, out[1], 2);
  posix_spawn_file_actions_addclose(&fa, in[1]);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(out[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    output = std::string(args[0]) + ": " + std::strerror(rc);
    return -1;
  }
  if (!input.empty()) {
    std::size_t done = 0;
    while (done < input.size()) {
      const ssize_t w = ::write(in[1], input.data() + done, input.size() - done);
      if (w <= 0) break;
      done += static_cast<std::size_t>(w);
    }
  }
  ::close(in[1]);
  output.clear();
  char buf[512];
  for (;;) {
    const ssize_t r = ::read(out[0], buf, sizeof buf);
    if (r > 0) output.append(buf, static_cast<std::size_t>(r));
    else if (r < 0 && errno == EINTR) continue;
    else break;
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void run_or_throw(const std::vector<std::string>& argv, const std::string& who, const std::string& input) {
  std::string out;
  const int rc = run_command(argv, out, input);
  if (rc == 0) return;
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == ' ')) out.pop_back();
  throw std::runtime_error(who + ": `" + cmd + "` failed (" + std::to_string(rc) + "): " + out);
}

}  // namespace baton::net
