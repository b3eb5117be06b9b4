#pragma once
// Loads tests/fixtures/packet/vectors.json (written by make_fixtures.py with scapy) once.

#include <arpa/inet.h>

#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace baton::net::test {

using byte_vector = std::vector<std::uint8_t>;

inline byte_vector from_hex(const std::string& hex) {
  if (hex.size() % 2) throw std::runtime_error("odd hex length");
  byte_vector out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<std::uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
  return out;
}

/// Dotted quad -> host byte order.
inline std::uint32_t addr(const std::string& dotted) {
  in_addr a{};
  if (inet_pton(AF_INET, dotted.c_str(), &a) != 1) throw std::runtime_error("bad address " + dotted);
  return ntohl(a.s_addr);
}

struct vector_row {
  std::string name;
  std::string layer;  // "ip" or "ether"
  byte_vector bytes;
  nlohmann::json j;   // the whole entry: expect, after_*, quoted, tunnel...
};

inline const std::vector<vector_row>& vectors() {
  static const std::vector<vector_row> rows = [] {
    std::ifstream in(std::string(BATON_FIXTURES) + "/packet/vectors.json");
    if (!in) throw std::runtime_error("cannot open packet/vectors.json");
    const nlohmann::json doc = nlohmann::json::parse(in);
    std::vector<vector_row> out;
    for (const auto& v : doc.at("vectors"))
      out.push_back({v.at("name"), v.at("layer"), from_hex(v.at("hex")), v});
    return out;
  }();
  return rows;
}

inline const vector_row& vec(const std::string& name) {
  for (const auto& v : vectors())
    if (v.name == name) return v;
  throw std::runtime_error("no vector " + name);
}

}  // namespace baton::net::test
