// SHA-256 digests through OpenSSL, for the keys that must not reveal what they stand for (the
// on-demand cache key, the identity token's fingerprint in the state file, the tokens' ETags) and
// for the status page's Content-Security-Policy hashes. Pure functions, kept out of the core
// library because they need OpenSSL.
#pragma once

#include <string>
#include <string_view>

#include "synergy_tokend/token_request.hpp"

namespace synergy_tokend {

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// Standard base64 (with padding) of the SHA-256 of `data`: a CSP hash source's digest.
std::string sha256_base64(std::string_view data);

// Lower-case hex of the first `bytes` bytes (at most 32) of HMAC-SHA256(`key`, `data`).
std::string hmac_sha256_hex(std::string_view key, std::string_view data, std::size_t bytes = 32);

// `n` bytes from OpenSSL's random generator (throws std::runtime_error if it fails).
std::string random_bytes(std::size_t n);

// SHA-256 (hex) of on_demand_key_material(): the on-demand cache key. Two identity tokens never
// share a key, and the key does not reveal the token.
std::string on_demand_key(const token_request& req);

} // namespace synergy_tokend
