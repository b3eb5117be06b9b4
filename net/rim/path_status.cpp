#include "net/rim/path_status.hpp"

#include <netinet/in.h>
#include <linux/tcp.h>  // the kernel's tcp_info (glibc's lacks tcpi_segs_out)
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace baton::net {

bool read_tcp_counters(int fd, tcp_counters& out) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return false;
  // tcpi_segs_out arrived in Linux 4.2; a shorter answer leaves it out.
  if (len < offsetof(tcp_info, tcpi_segs_out) + sizeof info.tcpi_segs_out) return false;
  out.segs_out = info.tcpi_segs_out;
  out.retransmitted = info.tcpi_total_retrans;
  out.rtt_us = info.tcpi_rtt;
  out.bytes_acked = info.tcpi_bytes_acked;
  return true;
}

namespace {
std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}
}  // namespace

bool parse_icmp_errors(const std::string& snmp, icmp_errors& out) {
  std::istringstream in(snmp);
  std::string header, values;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Icmp: ", 0) != 0) continue;
    if (header.empty()) header = line;
    else if (values.empty()) values = line;
  }
  const auto names = words(header), numbers = words(values);
  if (names.empty() || names.size() != numbers.size()) return false;
  icmp_errors found;
  int seen = 0;
  for (std::size_t i = 1; i < names.size(); ++i) {
    char* end = nullptr;
    const auto v = std::strtoull(numbers[i].c_str(), &end, 10);
    if (end == numbers[i].c_str() || *end != '\0') return false;
    if (names[i] == "InDestUnreachs") found.unreachable = v, ++seen;
    else if (names[i] == "InTimeExcds") found.time_exceeded = v, ++seen;
    else if (names[i] == "InSrcQuenchs") found.source_quench = v, ++seen;
  }
  if (seen != 3) return false;
  out = found;
  return true;
}

icmp_errors read_icmp_errors() {
  std::ifstream f("/proc/net/snmp");
  std::stringstream text;
  text << f.rdbuf();
  icmp_errors out;
  parse_icmp_errors(text.str(), out);
  return out;
}

std::uint32_t load_permille() {
  double load[1] = {0};
  if (::getloadavg(load, 1) != 1) return 0;
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  return static_cast<std::uint32_t>(load[0] * 1000.0 / static_cast<double>(cpus > 0 ? cpus : 1));
}

}  // namespace baton::net
