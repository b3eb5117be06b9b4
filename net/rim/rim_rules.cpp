#include "net/rim/rim_rules.hpp"

#include <stdexcept>
#include <vector>

#include "net/io/run_command.hpp"

namespace baton::net {
namespace {

const char* table_name = "baton_rim";

std::string ipv4(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." + std::to_string((a >> 8) & 255) +
         "." + std::to_string(a & 255);
}

void must(const std::vector<std::string>& argv, const std::string& input = {}) {
  std::string out;
  const int rc = run_command(argv, out, input);
  if (rc != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    throw std::runtime_error("rim: `" + cmd + "` failed (" + std::to_string(rc) + "): " + out);
  }
}

std::string element(const rim_flow_key& f) {
  return "{ " + ipv4(f.client_address) + " . " + std::to_string(f.client_port) + " . " + ipv4(f.service_address) +
         " . " + std::to_string(f.service_port) + " }";
}

std::string rules() {
  // Priority -300 (raw): before connection tracking, so a dropped packet leaves no trace there.
  return std::string("table inet ") + table_name + " {\n"
         "  set handed_away {\n"
         "    type ipv4_addr . inet_service . ipv4_addr . inet_service\n"
         "  }\n"
         "  chain prerouting {\n"
         "    type filter hook prerouting priority -300; policy accept;\n"
         "    ip saddr . tcp sport . ip daddr . tcp dport @handed_away counter drop\n"
         "  }\n"
         "}\n";
}

}  // namespace

void remove_rim_rules(const rim_rules_config& c) noexcept {
  std::string out;
  run_command({"nft", "delete", "table", "inet", table_name}, out);
  const std::string table = std::to_string(c.route_table);
  for (int i = 0; i < 8 && run_command({"ip", "rule", "del", "iif", c.tun, "lookup", table}, out) == 0; ++i) {
  }
  run_command({"ip", "route", "flush", "table", table}, out);
}

void install_rim_rules(const rim_rules_config& c) {
  remove_rim_rules(c);
  must({"nft", "-f", "-"}, rules());
  const std::string table = std::to_string(c.route_table);
  must({"ip", "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", table});
  must({"ip", "rule", "add", "iif", c.tun, "lookup", table});
  // The client's packets come out of the TUN though the route to the client is elsewhere.
  must({"sysctl", "-qw", "net.ipv4.conf." + c.tun + ".rp_filter=0"});
  must({"sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0"});
}

void drop_flow(const rim_flow_key& flow) {
  must({"nft", "add", "element", "inet", table_name, "handed_away", element(flow)});
}

void undrop_flow(const rim_flow_key& flow) {
  std::string out;
  run_command({"nft", "delete", "element", "inet", table_name, "handed_away", element(flow)}, out);
}

}  // namespace baton::net
