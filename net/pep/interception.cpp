#include "net/pep/interception.hpp"

#include "net/io/run_command.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace baton::net {
namespace {

std::string table_name() { return "baton_pep"; }

std::string nft_rules(const interception_config& c) {
  return "table ip " + table_name() + " {\n"
         "  chain prerouting {\n"
         "    type filter hook prerouting priority -140; policy accept;\n"
         // The SYN's verdict mark becomes the connection's.
         "    ct mark 0 meta mark & 0xff00 != 0 ct mark set meta mark & 0xff00\n"
         "    ct mark & 0xff00 == 0x100 meta l4proto tcp tproxy to :" + std::to_string(c.listen_port) +
         " meta mark set 0x1 accept\n"
         "  }\n"
         "}\n";
}

std::vector<std::string> queue_rule(const interception_config& c) {
  return {"-t", "mangle", "PREROUTING", "-i", c.lan, "-p", "tcp", "--syn", "-m", "connmark", "--mark", "0/0xff00",
          "-j", "NFQUEUE", "--queue-num", std::to_string(c.queue), "--queue-bypass"};
}

std::vector<std::string> iptables(const char* op, const interception_config& c) {
  auto r = queue_rule(c);
  // iptables-legacy -t mangle -A PREROUTING ...
  std::vector<std::string> argv{"iptables-legacy", r[0], r[1], op};
  argv.insert(argv.end(), r.begin() + 2, r.end());
  return argv;
}

}  // namespace

void remove_interception(const interception_config& c) noexcept {
  try {
    std::string out;
    for (int i = 0; i < 8 && run_command(iptables("-D", c), out) == 0; ++i) {
    }
    run_command({"nft", "delete", "table", "ip", table_name()}, out);
    const std::string table = std::to_string(c.route_table);
    for (int i = 0; i < 8 && run_command({"ip", "rule", "del", "fwmark", "0x1/0x1", "lookup", table}, out) == 0; ++i) {
    }
    run_command({"ip", "route", "flush", "table", table}, out);
  } catch (...) {
  }
}

void install_interception(const interception_config& c) {
  remove_interception(c);
  const std::string table = std::to_string(c.route_table);
  try {
    run_or_throw({"ip", "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", table}, "pep interception");
    run_or_throw({"ip", "rule", "add", "fwmark", "0x1/0x1", "lookup", table}, "pep interception");
    run_or_throw({"nft", "-f", "-"}, "pep interception", nft_rules(c));
    run_or_throw(iptables("-A", c), "pep interception");
  } catch (...) {
    remove_interception(c);  // nothing half-installed is left behind
    throw;
  }
}

}  // namespace baton::net
