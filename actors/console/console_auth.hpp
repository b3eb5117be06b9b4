#pragma once
// The console's bearer-token check, apart from the server so it is tested on its own. No Asio,
// no OpenSSL in this header.

#include <string>
#include <string_view>

namespace baton::console {

/// Whether `authorization` (an Authorization header's value) is "Bearer <token>" with exactly
/// `token`. The comparison takes the same time whatever the bytes (both sides are hashed with
/// SHA-256 and the digests compared with CRYPTO_memcmp), so a client cannot learn the token a byte
/// at a time. An empty `token` matches nothing. The scheme is case-insensitive (RFC 7235).
bool bearer_token_matches(std::string_view authorization, const std::string& token);

/// Reads a token file: its first line, without surrounding whitespace. Throws std::runtime_error
/// naming the file (never quoting its content) if it cannot be read, is empty, or the token is
/// shorter than `min_length` characters.
std::string read_token_file(const std::string& path, std::size_t min_length = 16);

}  // namespace baton::console
