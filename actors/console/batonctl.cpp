// batonctl: the terminal face of a batond's introspection API (DESIGN §7), and an offline check of
// policy files. Exit status: 0 done; 1 the node could not be reached or answered with an error;
// 2 a policy file is invalid; 64 the command line is wrong.

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "actors/console/console_auth.hpp"
#include "actors/console/http_client.hpp"
#include "actors/console/table.hpp"
#include "policy/diff.hpp"
#include "policy/policy.hpp"
#include "policy/render.hpp"

namespace {

using baton::console::http_client_error;
using baton::console::http_reply;
using ordered_json = nlohmann::ordered_json;

constexpr int exit_ok = 0;
constexpr int exit_node = 1;
constexpr int exit_policy = 2;
constexpr int exit_usage = 64;

struct global_options {
  std::string node = "127.0.0.1:9000";
  bool json = false;
  double timeout_s = 5;
  std::vector<std::string> params;  // KEY=VALUE
  baton::console::client_options client;  // TLS files and token (a protected console)
};

// %-encodes everything but RFC 3986 unreserved characters.
std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

std::string with_query(std::string path, const std::vector<std::string>& params) {
  char sep = '?';
  for (const auto& p : params) {
    auto eq = p.find('=');
    path += sep;
    sep = '&';
    if (eq == std::string::npos) {
      path += url_encode(p);
    } else {
      path += url_encode(p.substr(0, eq)) + "=" + url_encode(p.substr(eq + 1));
    }
  }
  return path;
}

// The server's explanation of an error answer: its {"error": ...} field, else the body, else the
// reason phrase.
std::string error_message(const http_reply& reply) {
  auto parsed = ordered_json::parse(reply.body, nullptr, false);
  if (!parsed.is_discarded() && parsed.is_object() && parsed.contains("error") &&
      parsed["error"].is_string())
    return parsed["error"].get<std::string>();
  std::string body = reply.body;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  return body.empty() ? reply.reason : body;
}

// Counters nest (packet_io.drops.malformed, packet_io.ports[eth0].rx_packets): one row per leaf,
// named by its path, reads better than a table whose columns are every section's keys.
void flatten(const ordered_json& j, const std::string& path, ordered_json& rows) {
  if (j.is_object()) {
    for (auto& [k, v] : j.items()) flatten(v, path.empty() ? k : path + "." + k, rows);
  } else if (j.is_array()) {
    std::size_t i = 0;
    for (auto& v : j) {
      std::string key = v.is_object() && v.contains("name") && v["name"].is_string()
                          ? v["name"].get<std::string>()
                          : std::to_string(i);
      ordered_json rest = v;
      if (rest.is_object()) rest.erase("name");
      flatten(rest, path + "[" + key + "]", rows);
      ++i;
    }
  } else {
    rows.push_back(ordered_json{{"counter", path}, {"value", j}});
  }
}

void print_answer(const http_reply& reply, bool raw, bool flat = false) {
  std::string body = reply.body;
  auto type = reply.header("content-type").value_or("");
  if (!raw && type.find("json") != std::string::npos) {
    auto parsed = ordered_json::parse(body, nullptr, false);
    if (!parsed.is_discarded()) {
      if (flat) {
        ordered_json rows = ordered_json::array();
        flatten(parsed, "", rows);
        parsed = rows;
      }
      std::cout << baton::console::render_table(parsed);
      return;
    }
  }
  if (body.empty() && !raw) body = std::to_string(reply.status) + " " + reply.reason;
  std::cout << body;
  if (!body.empty() && body.back() != '\n') std::cout << '\n';
}

// One request to the node; prints the answer (or the error) and returns the exit status.
int ask_node(const global_options& g, const std::string& method, const std::string& path,
             const std::string& body = {}) {
  std::string target = with_query(path, g.params);
  auto timeout =
      std::chrono::milliseconds(static_cast<long long>(std::llround(g.timeout_s * 1000)));
  http_reply reply;
  try {
    reply = baton::console::http_fetch(g.client, g.node, method, target, body, timeout);
  } catch (const http_client_error& e) {
    std::cerr << "batonctl: " << e.what() << "\n";
    return exit_node;
  } catch (const std::invalid_argument& e) {
    std::cerr << "batonctl: --node: " << e.what() << "\n";
    return exit_usage;
  }
  if (reply.status >= 400) {
    std::cerr << "batonctl: " << g.node << " answered " << reply.status << " " << reply.reason
              << ": " << error_message(reply) << "\n";
    return exit_node;
  }
  print_answer(reply, g.json, path == "/counters");
  return exit_ok;
}

int policy_check(const std::string& file, bool json) {
  try {
    auto p = baton::policy::load_policy_file(file);
    std::cout << (json ? baton::policy::to_json_string(p) + "\n" : baton::policy::to_text(p));
    return exit_ok;
  } catch (const baton::policy::policy_error& e) {
    std::cerr << e.what() << "\n";  // "pointer: reason", the daemon's own start-up message
    return exit_policy;
  }
}

ordered_json changes_json(const baton::policy::name_changes& c) {
  return ordered_json{{"added", c.added},
                      {"removed", c.removed},
                      {"changed", c.changed},
                      {"reordered", c.reordered}};
}

// Which sections a reload from OLD to NEW would touch. Both files must be valid policies.
int diff_files(const std::string& old_file, const std::string& new_file, bool json) {
  std::optional<baton::policy::policy> old_policy, new_policy;
  for (auto [file, slot] : {std::pair{&old_file, &old_policy}, std::pair{&new_file, &new_policy}}) {
    try {
      slot->emplace(baton::policy::load_policy_file(*file));
    } catch (const baton::policy::policy_error& e) {
      std::cerr << *file << ": " << e.what() << "\n";
      return exit_policy;
    }
  }
  auto d = baton::policy::diff_policies(*old_policy, *new_policy);
  if (json) {
    ordered_json j{{"sections", d.sections},
                   {"peers", changes_json(d.peers)},
                   {"profiles", changes_json(d.profiles)},
                   {"rules", changes_json(d.rules)},
                   {"pep_rules", changes_json(d.pep_rules)}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::string text = baton::policy::to_string(d);
    std::cout << text;
    if (!text.empty() && text.back() != '\n') std::cout << '\n';
  }
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "batonctl: ask a running batond about its actors, group, work units, flows and counters,\n"
      "send it commands (reload, drain), and check policy files before deploying them.",
      "batonctl"};
  app.footer(
      "Examples:\n"
      "  batonctl --node 10.0.0.2:9000 group       membership and master of the node's group\n"
      "  batonctl units --json                     the work-unit map as the node's raw JSON\n"
      "  batonctl events -p after=120              events after sequence number 120\n"
      "  batonctl --node 10.0.0.3:9000 drain       the node at 10.0.0.3 gives up its work units\n"
      "  batonctl policy check /etc/baton/n1.json  validate a policy file offline\n"
      "  batonctl policy diff old.json new.json    what a reload would change\n"
      "  batonctl --node 10.0.0.2:9000 --ca ca.pem --cert me.pem --key me.key group\n"
      "                                            a console off loopback (TLS, client certificate)\n"
      "  BATON_TOKEN_FILE=/etc/baton/console.token batonctl --node 10.0.0.2:9000 --ca ca.pem units\n"
      "                                            the same with the console's bearer token\n"
      "  batonctl SUBCOMMAND --help                 its options and an example\n"
      "\n"
      "Exit status: 0 done; 1 the node is unreachable or answered an error; 2 the policy file is\n"
      "invalid; 64 bad command line.");
  app.require_subcommand(1, 1);
  app.fallthrough();  // global options may follow the subcommand: `batonctl flows --json`

  global_options g;
  if (const char* env = std::getenv("BATON_NODE"); env && *env) g.node = env;
  app.add_option(
         "-n,--node", g.node,
         "the batond to ask, HOST:PORT of its console (env BATON_NODE, default " + g.node + ")")
      ->type_name("HOST:PORT");
  app.add_flag("--json", g.json, "print the node's raw JSON answer instead of a table");
  // A console off loopback speaks TLS and wants a client certificate or its token
  // (/console_auth in the node's policy).
  if (const char* env = std::getenv("BATON_CA"); env && *env) g.client.ca = env;
  std::string token_file;
  if (const char* env = std::getenv("BATON_TOKEN_FILE"); env && *env) token_file = env;
  if (const char* env = std::getenv("BATON_TOKEN"); env && *env) g.client.token = env;
  app.add_option("--ca", g.client.ca,
                 "talk TLS to the console and check its certificate against this CA (PEM; the "
                 "group's CA, /identity/ca; env BATON_CA)")
      ->type_name("FILE");
  auto* cert_opt = app.add_option("--cert", g.client.certificate,
                                  "client certificate (PEM) signed by that CA, sent when asked")
                       ->type_name("FILE");
  auto* key_opt = app.add_option("--key", g.client.key, "the client certificate's key (PEM)")
                      ->type_name("FILE");
  cert_opt->needs(key_opt);
  key_opt->needs(cert_opt);
  auto* token_file_opt =
      app.add_option("--token-file", token_file,
                     "send the bearer token in this file's first line (env BATON_TOKEN_FILE)")
          ->type_name("FILE");
  app.add_option("--token", g.client.token,
                 "send this bearer token (env BATON_TOKEN; prefer --token-file: arguments are "
                 "visible to other users in ps)")
      ->type_name("TOKEN")
      ->excludes(token_file_opt);
  app.add_option("--timeout", g.timeout_s, "seconds to wait for the whole answer (default 5)")
      ->check(CLI::PositiveNumber)
      ->type_name("SECONDS");
  app.add_option("-p,--param", g.params,
                 "query parameter to pass along (repeatable), e.g. -p limit=50")
      ->type_name("KEY=VALUE");

  // Every subcommand's --help ends with an example (issue 16): what an operator types, and what
  // it answers.
  struct read_command {
    const char* name;
    const char* help;
    const char* example;
  };
  const std::vector<read_command> reads{
      {"actors", "the node's actors and the roles they serve",
       "batonctl --node 10.0.0.2:9000 actors      the actors of the node at 10.0.0.2"},
      {"group", "group membership, the master and each member's state",
       "batonctl group --json | jq .master        the master's address"},
      {"units", "the work units (1024 by default) and which member owns each",
       "batonctl units --json | jq '[.[] | select(.mine)] | length'   units this node works on"},
      {"flows", "flows in the flow table (use -p limit=N to bound the list)",
       "batonctl flows -p limit=50                at most 50 flows"},
      {"counters", "message and packet counters",
       "batonctl counters | grep drops            every drop counter, one per line"},
      {"events", "recent events, oldest first (-p after=SEQ for newer ones only)",
       "batonctl events -p after=120              events after sequence number 120"},
      {"peers", "peers and the state of the links to them",
       "batonctl peers --node 127.0.0.1:9001      the peers of the node whose console is on 9001"},
      {"tunnels", "IP-in-IP tunnels and their counters",
       "batonctl tunnels --json                   the node's raw JSON"},
      {"metrics", "the Prometheus text the node exports at /metrics",
       "batonctl metrics | grep '^baton_group'    the group's metrics"},
      {"replicas", "document 002: per server its replicas and their state, or the answers seen (wins, resets, RTT)",
       "batonctl replicas                         replicas, their state and RTT"},
      {"pep", "document 003: backbones (peer, state, TLS version and cipher, RTT, delivery rate, retransmissions, "
              "bytes), spoofed connections (with their compression ratio), the overall compression ratio, CT and "
              "NR by reason",
       "batonctl pep --node 10.0.0.1:9000         the PEP hub's backbones and connections"},
      {"rim", "document 000: rim members, flows with their sender and path, recent hand-offs, counters",
       "batonctl rim --node 10.41.1.2:9000        the rim host's flows and hand-offs"},
  };
  auto example = [](CLI::App* sub, const std::string& text) {
    sub->footer("Example:\n  " + text);
  };
  std::vector<std::pair<CLI::App*, std::string>> read_commands;
  for (const auto& r : reads) {
    auto* sub = app.add_subcommand(r.name, r.help);
    sub->require_subcommand(0, 0);
    example(sub, r.example);
    read_commands.emplace_back(sub, std::string("/") + r.name);
  }

  auto* policy =
      app.add_subcommand("policy", "the node's running policy; or check/diff policy files");
  policy->require_subcommand(0, 1);
  example(policy, "batonctl policy --json > running.json     the running policy, normalized\n"
                  "  batonctl policy check FILE --help         and policy diff --help: offline checks");
  std::string check_file;
  auto* check = policy->add_subcommand(
      "check",
      "validate FILE offline: print the parsed policy (exit 0) or `pointer: reason` (exit 2)");
  check->add_option("FILE", check_file, "policy file")->required()->check(CLI::ExistingFile);
  example(check, "batonctl policy check /etc/baton/n1.json && systemctl reload batond@n1");
  std::string old_file, new_file;
  auto* diff =
      policy->add_subcommand("diff", "what changes between two policy files, section by section");
  diff->add_option("OLD", old_file, "the running policy file")
      ->required()
      ->check(CLI::ExistingFile);
  diff->add_option("NEW", new_file, "the policy file to reload")
      ->required()
      ->check(CLI::ExistingFile);
  example(diff, "batonctl policy diff /etc/baton/n1.json n1-new.json   sections a reload would touch");

  auto* reload =
      app.add_subcommand("reload", "make the node re-read its policy file (POST /reload)");
  reload->require_subcommand(0, 0);
  example(reload, "batonctl --node 10.0.0.2:9000 reload      prints what was applied and what needs a "
                  "restart");

  auto* drain = app.add_subcommand(
      "drain", "move work away before maintenance (POST /drain); without options, this node");
  drain->require_subcommand(0, 0);
  std::string drain_member;
  long drain_unit = -1;
  auto* member_opt = drain->add_option("--member", drain_member,
                                       "drain this group member instead (refused today unless it "
                                       "is the node asked: drain each member through its own console)")
                         ->type_name("NAME");
  drain->add_option("--unit", drain_unit, "drain only this work unit (not supported by batond yet)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber)
      ->excludes(member_opt);
  example(drain, "batonctl drain                            this node gives up its work units");

  std::string handoff_flow, handoff_to;
  auto* handoff = app.add_subcommand(
      "handoff", "document 000: hand a live connection this rim host serves to another rim host "
                 "(POST /rim/handoff)");
  handoff->require_subcommand(0, 0);
  handoff->add_option("--flow", handoff_flow, "the client's ADDRESS:PORT")->required();
  handoff->add_option("--to", handoff_to, "the rim member that takes it (name or address)")->required();
  example(handoff, "batonctl handoff --flow 10.40.0.2:51130 --to c   c sends the rest of the download");
  std::string masq_flow, masq_via, masq_mode = "masquerade";
  auto* masquerade = app.add_subcommand(
      "masquerade", "document 000: send a connection's segments through other rim hosts, in this "
                    "host's name (POST /rim/masquerade)");
  masquerade->require_subcommand(0, 0);
  masquerade->add_option("--flow", masq_flow, "the client's ADDRESS:PORT")->required();
  masquerade->add_option("--via", masq_via, "the masqueraders, comma-separated (a reflector chain)");
  masquerade->add_option("--mode", masq_mode, "masquerade, funnel (a copy each way) or off")
      ->check(CLI::IsMember({"masquerade", "funnel", "off"}));
  example(masquerade, "batonctl masquerade --flow 10.40.0.2:51130 --via c,e   segments leave from e, via c");

  long move_unit = -1;
  std::string move_to;
  auto* move = app.add_subcommand(
      "move-unit", "ask the group's master to move work unit N to MEMBER, with its flows' state "
                   "(POST /group/move); a node that is not the master answers 409 naming it");
  move->require_subcommand(0, 0);
  move->add_option("N", move_unit, "the work unit")->required()->check(CLI::NonNegativeNumber);
  move->add_option("MEMBER", move_to, "the member that takes it: name or address")->required();
  example(move, "batonctl --node 10.0.0.1:9000 move-unit 17 m2   unit 17 goes to m2 (ask the master)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);  // prints help or the error
    return code == 0 ? exit_ok : exit_usage;
  }

  if (!token_file.empty()) {
    try {
      g.client.token = baton::console::read_token_file(token_file, 1);
    } catch (const std::exception& e) {
      std::cerr << "batonctl: --token-file: " << e.what() << "\n";
      return exit_usage;
    }
  }
  if (!g.client.certificate.empty() && g.client.ca.empty()) {
    std::cerr << "batonctl: --cert needs --ca: a client certificate is sent over TLS only\n";
    return exit_usage;
  }

  for (const auto& [sub, path] : read_commands)
    if (sub->parsed()) return ask_node(g, "GET", path);
  if (check->parsed()) return policy_check(check_file, g.json);
  if (diff->parsed()) return diff_files(old_file, new_file, g.json);
  if (policy->parsed()) return ask_node(g, "GET", "/policy");
  if (reload->parsed()) return ask_node(g, "POST", "/reload", "{}");
  if (handoff->parsed())
    return ask_node(g, "POST", "/rim/handoff?flow=" + handoff_flow + "&to=" + handoff_to, "{}");
  if (masquerade->parsed())
    return ask_node(g, "POST", "/rim/masquerade?flow=" + masq_flow + "&via=" + masq_via + "&mode=" + masq_mode, "{}");
  if (move->parsed())
    return ask_node(g, "POST",
                    "/group/move?unit=" + std::to_string(move_unit) + "&to=" + url_encode(move_to), "{}");
  if (drain->parsed()) {
    ordered_json body = ordered_json::object();
    if (!drain_member.empty()) body["member"] = drain_member;
    if (drain_unit >= 0) body["unit"] = drain_unit;
    return ask_node(g, "POST", "/drain", body.dump());
  }
  std::cerr << app.help();
  return exit_usage;
}
