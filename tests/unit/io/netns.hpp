#pragma once
// Throwaway network namespaces for the root-only I/O tests and the I/O benchmark. A netns is
// deleted when the object goes, also when a test fails or throws. Work that must happen inside the
// namespace (opening sockets, TUN devices) runs on a thread that entered it with setns(); the
// descriptors it makes stay in that namespace when used from any thread afterwards.

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <type_traits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

namespace baton::net::test {

/// Runs `cmd` with /bin/sh; throws std::runtime_error naming it when it fails.
inline void sh(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("command failed: " + cmd);
}

/// The first line `cmd` prints (without the newline). Throws std::runtime_error on failure.
inline std::string sh_out(const std::string& cmd) {
  FILE* f = ::popen(cmd.c_str(), "r");
  if (f == nullptr) throw std::runtime_error("popen failed: " + cmd);
  char line[512] = {0};
  const bool got = std::fgets(line, sizeof line, f) != nullptr;
  const int rc = ::pclose(f);
  if (!got || rc != 0) throw std::runtime_error("command failed: " + cmd);
  std::string s(line);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

class netns {
 public:
  /// Creates namespace `name` (removing a leftover of that name first) with lo up.
  explicit netns(std::string name) : name_(std::move(name)) {
    std::system(("ip netns del " + name_ + " 2>/dev/null").c_str());
    sh("ip netns add " + name_);
    exec("ip link set lo up");
  }
  ~netns() { std::system(("ip netns del " + name_ + " 2>/dev/null").c_str()); }
  netns(const netns&) = delete;
  netns& operator=(const netns&) = delete;

  const std::string& name() const { return name_; }

  /// Runs a shell command inside the namespace; throws on failure.
  void exec(const std::string& cmd) const { sh("ip netns exec " + name_ + " " + cmd); }
  std::string exec_out(const std::string& cmd) const {
    return sh_out("ip netns exec " + name_ + " " + cmd);
  }

  /// Calls f() on a thread inside the namespace and returns its result; rethrows its exception.
  template <class F>
  auto run(F f) const -> decltype(f()) {
    using R = decltype(f());
    std::exception_ptr error;
    std::conditional_t<std::is_void_v<R>, int, std::optional<R>> result{};
    std::thread t([&] {
      try {
        enter();
        if constexpr (std::is_void_v<R>) f();
        else result.emplace(f());
      } catch (...) {
        error = std::current_exception();
      }
    });
    t.join();
    if (error) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<R>) return std::move(*result);
  }

  /// Moves the calling thread into the namespace (for threads that live long, e.g. a blaster).
  void enter() const {
    const std::string path = "/var/run/netns/" + name_;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::system_category(), "open " + path);
    const int r = ::setns(fd, CLONE_NEWNET);
    const int e = errno;
    ::close(fd);
    if (r < 0) throw std::system_error(e, std::system_category(), "setns " + name_);
  }

 private:
  std::string name_;
};

}  // namespace baton::net::test
