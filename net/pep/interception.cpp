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

int iptables(const char* op, const interception_config& c, std::string& out) {
  auto r = queue_rule(c);
  // iptables-legacy -t mangle -A PREROUTING ...
  std::vector<std::string> argv{"iptables-legacy", r[0], r[1], op};
  argv.insert(argv.end(), r.begin() + 2, r.end());
  return run_command(argv, out);
}

}  // namespace

void remove_interception(const interception_config& c) noexcept {
  try {
    std::string out;
    for (int i = 0; i < 8 && iptables("-D", c, out) == 0; ++i) {
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
  std::string out;
  auto must = [&](int rc, const std::string& what) {
    if (rc != 0) {
      while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
      remove_interception(c);
      throw std::runtime_error("pep interception: " + what + " failed (" + out + ")");
    }
  };
  const std::string table = std::to_string(c.route_table);
  must(run_command({"ip", "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", table}, out),
       "ip route add local 0.0.0.0/0 dev lo table " + table);
  must(run_command({"ip", "rule", "add", "fwmark", "0x1/0x1", "lookup", table}, out),
       "ip rule add fwmark 0x1/0x1 lookup " + table);
  must(run_command({"nft", "-f", "-"}, out, nft_rules(c)), "nft table ip " + table_name());
  must(iptables("-A", c, out), "iptables-legacy -t mangle -A PREROUTING -i " + c.lan + " ... -j NFQUEUE");
}

}  // namespace baton::net
