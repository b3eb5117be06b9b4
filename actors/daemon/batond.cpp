// batond: the baton node daemon. Parses its arguments, validates the policy (exit status 2 with the
// JSON pointer and reason when it is bad), runs the daemon and turns signals into its commands:
// SIGHUP reloads, SIGTERM and SIGINT stop cleanly.

#include <csignal>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "actors/daemon/daemon.hpp"
#include "actors/daemon/roles.hpp"
#include "actors/runtime/cpu_affinity.hpp"
#include "policy/policy.hpp"
#include "policy/render.hpp"

namespace {

constexpr int exit_bad_policy = 2;
constexpr int exit_start_failed = 1;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
    "batond - the baton node daemon.\n"
    "Runs the roles its JSON policy names as CAF actor groups linked to the peers over mutually\n"
    "authenticated TLS, with one packet-I/O actor running the data path, and serves the\n"
    "introspection API (see batonctl). A policy naming a role this batond does not run is\n"
    "refused (exit status 2).\n\n"
    "Signals: SIGHUP re-reads the policy (a bad file keeps the running one and says why);\n"
    "SIGTERM or SIGINT stops cleanly.\n"
    "Exit status: 0 stopped cleanly, 1 could not start, 2 the policy is invalid.",
    "batond"};
  std::string policy_path;
  bool check_only = false;
  bool quiet = false;
  std::string control_cpu = "auto";
  app.footer(baton::node::describe_roles());
  app.add_option("-p,--policy", policy_path, "the node's JSON policy file")->required();
  app.add_flag("--check", check_only, "validate the policy, print it and exit");
  app.add_flag("-q,--quiet", quiet, "log warnings and errors only (events are still kept for /events)");
  app.add_option("--control-cpu", control_cpu,
                 "CPU for the control plane's threads (CAF, the group, the console): auto (the first "
                 "one batond may use), off (any), or a number. The packet loop and the PEP and rim "
                 "relays may always use every CPU. One CPU makes an idle node's wake-ups cheaper")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  baton::node::control_cpu_choice cpu_choice;
  try {
    cpu_choice = baton::node::parse_control_cpu(control_cpu);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "batond: %s\n", e.what());
    return exit_start_failed;
  }

  baton::policy::policy initial;
  try {
    initial = baton::policy::load_policy_file(policy_path);
    baton::node::check_roles_runnable(initial);
  } catch (const baton::policy::policy_error& e) {
    std::fprintf(stderr, "batond: invalid policy %s: %s\n", policy_path.c_str(), e.what());
    return exit_bad_policy;
  }
  if (check_only) {
    std::cout << baton::policy::to_text(initial);
    return 0;
  }

  // Signals are taken synchronously by this thread only: block them before any thread starts so
  // every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  try {
    // Before any thread starts too: CAF's threads and the actors' own inherit the pin.
    const int cpu = baton::node::pin_control_plane(cpu_choice);
    baton::node::daemon node{policy_path, std::move(initial)};
    if (quiet) node.events().set_echo_level(baton::node::severity::warning);
    node.events().add(baton::node::severity::info, "control_plane_cpu",
                      {{"cpu", cpu < 0 ? std::string("any") : std::to_string(cpu)}});
    for (;;) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (sig == SIGHUP) {
        node.events().add(baton::node::severity::info, "sighup", {});
        node.reload();
        continue;
      }
      node.events().add(baton::node::severity::info, "stopping",
                        {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      break;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "batond: cannot start: %s\n", e.what());
    return exit_start_failed;
  }
  return 0;
}
