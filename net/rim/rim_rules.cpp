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
  run_or_throw(argv, "rim", input);
}

std::string element(const rim_flow_key& f) {
  return "{ " + ipv4(f.client_address) + " . " + std::to_string(f.client_port) + " . " + ipv4(f.service_address) +
         " . " + std::to_string(f.service_port) + " }";
}

std::string rules(const rim_rules_config& c) {
  const std::string tun = c.tun;
  const std::string mark = std::to_string(c.route_table);
  // Prerouting at priority -300 (raw): before connection tracking, so a dropped packet leaves no
  // trace there. Output: a masqueraded flow's segments are marked, which reroutes them into the
  // TUN (ip rule); a funnel-cast flow's segments go out as usual and a copy goes into the TUN.
  return std::string("table ip ") + table_name + " {\n"
         "  set handed_away { type ipv4_addr . inet_service . ipv4_addr . inet_service; }\n"
         "  set masqueraded { type ipv4_addr . inet_service . ipv4_addr . inet_service; }\n"
         "  set funnelled { type ipv4_addr . inet_service . ipv4_addr . inet_service; }\n"
         "  chain prerouting {\n"
         "    type filter hook prerouting priority -300; policy accept;\n"
         "    ip saddr . tcp sport . ip daddr . tcp dport @handed_away counter drop\n"
         "  }\n"
         "  chain output_route {\n"
         "    type route hook output priority -150; policy accept;\n"
         "    ip saddr . tcp sport . ip daddr . tcp dport @masqueraded meta mark set " + mark + "\n"
         "  }\n"
         "  chain output_copy {\n"
         "    type filter hook output priority 0; policy accept;\n"
         "    ip saddr . tcp sport . ip daddr . tcp dport @funnelled dup to 192.0.2.254 device \"" + tun + "\"\n"
         "  }\n"
         "}\n";
}

void set_element(const char* set, const rim_flow_key& f, bool on, bool service_side) {
  const std::string e = service_side
                            ? "{ " + ipv4(f.service_address) + " . " + std::to_string(f.service_port) + " . " +
                                  ipv4(f.client_address) + " . " + std::to_string(f.client_port) + " }"
                            : element(f);
  if (on) {
    must({"nft", "add", "element", "ip", table_name, set, e});
  } else {
    std::string out;
    run_command({"nft", "delete", "element", "ip", table_name, set, e}, out);
  }
}

}  // namespace

void remove_rim_rules(const rim_rules_config& c) noexcept {
  std::string out;
  run_command({"nft", "delete", "table", "ip", table_name}, out);
  const std::string table = std::to_string(c.route_table);
  const std::string exit_table = std::to_string(c.route_table + 1);
  for (int i = 0; i < 8 && run_command({"ip", "rule", "del", "iif", c.tun, "lookup", table}, out) == 0; ++i) {
  }
  for (int i = 0; i < 8 && run_command({"ip", "rule", "del", "fwmark", table, "lookup", exit_table}, out) == 0; ++i) {
  }
  run_command({"ip", "route", "flush", "table", table}, out);
  run_command({"ip", "route", "flush", "table", exit_table}, out);
}

void install_rim_rules(const rim_rules_config& c) {
  remove_rim_rules(c);
  must({"nft", "-f", "-"}, rules(c));
  const std::string table = std::to_string(c.route_table);
  const std::string exit_table = std::to_string(c.route_table + 1);
  must({"ip", "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", table});
  must({"ip", "rule", "add", "iif", c.tun, "lookup", table});
  // Masqueraded segments (marked by output_route) leave through the TUN, to the packet loop.
  must({"ip", "route", "add", "default", "dev", c.tun, "table", exit_table});
  must({"ip", "rule", "add", "fwmark", table, "lookup", exit_table});
  // The client's packets come out of the TUN though the route to the client is elsewhere.
  must({"sysctl", "-qw", "net.ipv4.conf." + c.tun + ".rp_filter=0"});
  must({"sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0"});
}

void drop_flow(const rim_flow_key& flow) { set_element("handed_away", flow, true, false); }
void undrop_flow(const rim_flow_key& flow) { set_element("handed_away", flow, false, false); }
void masquerade_flow(const rim_flow_key& flow, bool on) { set_element("masqueraded", flow, on, true); }
void funnel_flow(const rim_flow_key& flow, bool on) { set_element("funnelled", flow, on, true); }

}  // namespace baton::net
