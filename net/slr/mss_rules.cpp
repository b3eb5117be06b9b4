#include "net/slr/mss_rules.hpp"

#include <stdexcept>

#include "net/io/run_command.hpp"

namespace baton::net {
namespace {

const char* table_name = "baton_mss";

}  // namespace

void install_mss_clamp(const std::vector<std::string>& sources, std::uint16_t mss) {
  if (sources.empty()) throw std::runtime_error("mss clamp: no virtual subnets");
  std::string set;
  for (const auto& s : sources) set += (set.empty() ? "" : ", ") + s;
  const std::string m = std::to_string(mss);
  // Priority mangle (-150): after the stack wrote the SYN-ACK, before it leaves.
  const std::string rules = std::string("table ip ") + table_name + " {\n"
                            "  chain output {\n"
                            "    type filter hook output priority mangle; policy accept;\n"
                            "    ip saddr { " + set + " } tcp flags & (syn | ack) == (syn | ack) "
                            "tcp option maxseg size > " + m + " counter tcp option maxseg size set " + m + "\n"
                            "  }\n"
                            "}\n";
  remove_mss_clamp();
  run_or_throw({"nft", "-f", "-"}, "mss clamp", rules);
}

void remove_mss_clamp() noexcept {
  std::string out;
  run_command({"nft", "delete", "table", "ip", table_name}, out);
}

std::int64_t mss_clamped_count() noexcept {
  std::string out;
  if (run_command({"nft", "list", "chain", "ip", table_name, "output"}, out) != 0) return -1;
  const auto at = out.find("counter packets ");
  if (at == std::string::npos) return -1;
  try {
    return std::stoll(out.substr(at + 16));
  } catch (...) {
    return -1;
  }
}

}  // namespace baton::net
