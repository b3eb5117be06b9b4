#include "actors/console/console_auth.hpp"

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace baton::console {

namespace {

std::array<unsigned char, SHA256_DIGEST_LENGTH> digest(std::string_view s) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> out{};
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), out.data());
  return out;
}

std::string_view trim(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

bool bearer_token_matches(std::string_view authorization, const std::string& token) {
  if (token.empty()) return false;
  authorization = trim(authorization);
  constexpr std::string_view scheme = "bearer ";
  if (authorization.size() < scheme.size()) return false;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != scheme[i]) return false;
  auto offered = trim(authorization.substr(scheme.size()));
  // Hashing first makes the comparison independent of where the strings differ and of their
  // lengths; CRYPTO_memcmp does not stop at the first difference.
  auto a = digest(offered), b = digest(token);
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string read_token_file(const std::string& path, std::size_t min_length) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read: " + std::strerror(errno));
  std::string first;
  std::getline(in, first);
  std::string token(trim(first));
  if (token.empty()) throw std::runtime_error(path + ": the token file is empty");
  if (token.size() < min_length)
    throw std::runtime_error(path + ": the token is shorter than " + std::to_string(min_length) +
                             " characters");
  return token;
}

}  // namespace baton::console
