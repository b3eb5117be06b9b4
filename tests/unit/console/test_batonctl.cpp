// batonctl run as an operator runs it: against a test server on 127.0.0.1, and on policy files.

#include <doctest/doctest.h>

#ifdef BATONCTL_PATH

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "actors/console/http_server.hpp"

using namespace baton::console;
namespace fs = std::filesystem;

namespace {

struct run_result {
  int status = -1;
  std::string out, err;
};

// A scratch directory per test binary run, removed at the end.
struct scratch {
  fs::path dir;
  scratch() {
    dir = fs::temp_directory_path() / ("baton-console-test-" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  ~scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    auto p = dir / name;
    std::ofstream(p) << text;
    return p;
  }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `env batonctl args` through the shell; arguments are the caller's, already quoted.
run_result run_ctl(const scratch& s, const std::string& args,
                   const std::string& env = "BATON_NODE=") {
  auto out = s.dir / "out", err = s.dir / "err";
  std::string cmd = "env " + env + " '" + std::string(BATONCTL_PATH) + "' " + args + " >'" +
                    out.string() + "' 2>'" + err.string() + "'";
  int rc = std::system(cmd.c_str());
  run_result r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// The routes a batond would serve, with answers fixed by the test; the last request is kept.
struct fake_node {
  http_server server{"127.0.0.1:0"};
  std::mutex m;
  std::string last_method, last_target, last_body;

  fake_node() {
    auto keep = [this](const http_request& req) {
      std::lock_guard<std::mutex> lock(m);
      last_method = req.method;
      last_target = req.target;
      last_body = req.body;
    };
    server.route("GET", "/group", [keep](const http_request& req) {
      keep(req);
      return http_response::json(
          R"({"master":"n1","members":[{"name":"n1","state":"master","units":512},)"
          R"({"name":"n2","state":"client","units":512}]})");
    });
    server.route("GET", "/events", [keep](const http_request& req) {
      keep(req);
      return http_response::json(R"([{"seq":4,"name":"peer_refused"}])");
    });
    server.route("GET", "/flows", [](const http_request&) -> http_response {
      throw std::runtime_error("flow table is being swapped");
    });
    server.route("GET", "/metrics", [](const http_request&) {
      return http_response::text("# TYPE up gauge\nup 1\n", 200, "text/plain; version=0.0.4");
    });
    server.route("POST", "/drain", [keep](const http_request& req) {
      keep(req);
      return http_response::json(R"({"draining":true})");
    });
    server.route("POST", "/reload", [keep](const http_request& req) {
      keep(req);
      return http_response::json(R"({"sections":["rules"]})");
    });
    server.start();
  }
  std::string node() const { return server.address(); }
};

}  // namespace

TEST_CASE("batonctl asks the node and prints tables, raw JSON or the node's error") {
  scratch s;
  fake_node n;
  const std::string node = "--node " + n.node() + " ";
  struct row {
    std::string name;
    std::string args;
    int status;
    std::string out_part, err_part;
    std::string method, target, body;  // what the node must have received ("" = not checked)
  };
  const std::vector<row> rows{
      {"group as a record with a member table", node + "group", 0,
       "master  n1\n\nmembers:\nname  state   units\n----  ------  -----\nn1    master    512\n",
       "", "GET", "/group", ""},
      {"--json prints the answer as sent", node + "group --json", 0,
       R"({"master":"n1","members":[{"name":"n1",)", "", "GET", "/group", ""},
      {"query parameters are encoded", node + "events -p after=3 -p 'who=n1 n2'", 0, "peer_refused",
       "", "GET", "/events?after=3&who=n1%20n2", ""},
      {"text answers are printed as they are", node + "metrics", 0, "# TYPE up gauge\nup 1\n", "",
       "", "", ""},
      {"handler error: the node's message, exit 1", node + "flows", 1, "",
       "answered 500 Internal Server Error: flow table is being swapped\n", "", "", ""},
      {"unknown path: 404 and exit 1", node + "units", 1, "",
       "answered 404 Not Found: no such path: /units", "", "", ""},
      {"drain without options posts an empty object", node + "drain", 0, "draining  true", "",
       "POST", "/drain", "{}"},
      {"drain a member", node + "drain --member n2", 0, "draining", "", "POST", "/drain",
       R"({"member":"n2"})"},
      {"drain a unit", node + "drain --unit 17", 0, "draining", "", "POST", "/drain",
       R"({"unit":17})"},
      {"member and unit exclude each other", node + "drain --unit 1 --member n2", 64, "",
       "excludes", "", "", ""},
      {"reload posts", node + "reload", 0, "sections  [\"rules\"]", "", "POST", "/reload", "{}"},
      {"no subcommand is a usage error", node, 64, "", "subcommand", "", "", ""},
      {"help explains the exit status", "--help", 0, "Exit status", "", "", "", ""},
      {"bad --node", "--node nowhere actors", 64, "", "not HOST:PORT", "", "", ""},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    {
      std::lock_guard<std::mutex> lock(n.m);
      n.last_method = n.last_target = n.last_body = "";
    }
    auto result = run_ctl(s, r.args);
    CHECK(result.status == r.status);
    CHECK(result.out.find(r.out_part) != std::string::npos);
    CHECK(result.err.find(r.err_part) != std::string::npos);
    if (r.out_part.empty()) CHECK(result.out.empty());
    if (r.err_part.empty()) CHECK(result.err.empty());
    std::lock_guard<std::mutex> lock(n.m);
    CHECK(n.last_method == r.method);
    CHECK(n.last_target == r.target);
    CHECK(n.last_body == r.body);
  }
}

TEST_CASE("batonctl finds the node in BATON_NODE and says so when nobody answers") {
  scratch s;
  std::string closed;
  {
    http_server gone("127.0.0.1:0");
    gone.start();
    closed = gone.address();
  }
  auto refused = run_ctl(s, "--node " + closed + " actors");
  CHECK(refused.status == 1);
  CHECK(refused.err == "batonctl: cannot connect to " + closed + ": Connection refused\n");
  CHECK(refused.out.empty());

  fake_node n;
  auto from_env = run_ctl(s, "group", "BATON_NODE=" + n.node());
  CHECK(from_env.status == 0);
  CHECK(from_env.out.find("master  n1") != std::string::npos);
  auto flag_wins = run_ctl(s, "--node " + n.node() + " group", "BATON_NODE=" + closed);
  CHECK(flag_wins.status == 0);
}

TEST_CASE("batonctl policy check and diff work offline") {
  scratch s;
  const std::string base =
      R"({"identity": {"name": "n1", "address": "10.0.0.1"}, "roles": ["passthrough"])";
  auto good = s.write("good.json", base + "}");
  auto more = s.write(
      "more.json", base + R"(, "peers": [{"name": "n2", "address": "10.0.0.2", "port": 4242}]})");
  auto bad = s.write(
      "bad.json",
      R"({"identity": {"name": "n1", "address": "10.0.0.1/33"}, "roles": ["passthrough"]})");
  auto broken = s.write("broken.json", "{\"identity\": ");
  struct row {
    std::string name;
    std::string args;
    int status;
    std::string out_part, err_part;
  };
  const std::vector<row> rows{
      {"valid file prints the parsed policy", "policy check " + good.string(), 0, "identity", ""},
      {"the parsed policy has the defaults written out", "policy check " + good.string(), 0,
       "127.0.0.1:9000", ""},
      {"--json prints normalized JSON", "policy check --json " + good.string(), 0, "\"identity\"",
       ""},
      {"invalid value: pointer and reason, exit 2", "policy check " + bad.string(), 2, "",
       "/identity/address: \"10.0.0.1/33\""},
      {"JSON syntax error: exit 2", "policy check " + broken.string(), 2, "", "broken.json"},
      {"missing file is a usage error", "policy check " + (s.dir / "nope.json").string(), 64, "",
       "nope.json"},
      {"diff names the changed section", "policy diff " + good.string() + " " + more.string(), 0,
       "peers: added n2", ""},
      {"diff of equal files", "policy diff " + good.string() + " " + good.string(), 0, "no change",
       ""},
      {"diff with an invalid file names it", "policy diff " + good.string() + " " + bad.string(), 2,
       "", "bad.json: /identity/address"},
      {"diff --json", "policy diff --json " + good.string() + " " + more.string(), 0,
       R"("sections": [)", ""},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    auto result = run_ctl(s, r.args);
    CHECK(result.status == r.status);
    CHECK(result.out.find(r.out_part) != std::string::npos);
    CHECK(result.err.find(r.err_part) != std::string::npos);
    if (r.status == 0) CHECK(result.err.empty());
  }
}

#endif  // BATONCTL_PATH

TEST_CASE("every batonctl subcommand answers --help with usage and an example") {
  scratch s;
  const std::vector<std::string> subcommands{
      "actors", "group",  "units",  "flows",        "counters",    "events", "peers", "tunnels",
      "metrics", "replicas", "pep", "rim", "handoff", "masquerade", "policy", "policy check", "policy diff",
      "reload", "drain"};
  for (const auto& sub : subcommands) {
    CAPTURE(sub);
    auto r = run_ctl(s, sub + " --help");
    CHECK(r.status == 0);
    CHECK(r.out.find("Usage:") != std::string::npos);
    CHECK(r.out.find("Example:\n  batonctl ") != std::string::npos);
    CHECK(r.err.empty());
  }
}
