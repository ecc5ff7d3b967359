// Sealing of the fleet's shared entries (PRODUCT.md §10): Redis never holds a token, an identity
// token, a product or a customer in the clear.
//
// - Keys: HKDF-SHA256 (OpenSSL EVP_KDF) from the identity token, with a fixed salt, gives two
//   independent 32-byte keys: `seal` for AES-256-GCM and `name` for HMAC-SHA256. A host without the
//   same identity token derives other keys, so it can neither find, read nor forge an entry.
// - Key names: key_prefix + hex(HMAC-SHA256(name, profile key)), the profile key being product,
//   customer and sorted scopes (profile_key()); the lease of an entry is its name + ":lease".
// - Entries: 0x01 | 12-byte random nonce | AES-256-GCM(plaintext) | 16-byte tag, with the entry's
//   key name as associated data (an entry copied under another name fails). The plaintext is a
//   small JSON object: token, token type, issue and expiry time in milliseconds since the epoch.
// - unseal_entry() never throws and never trusts its input: wrong length or version, a failed
//   authentication (any altered byte), or a plaintext that is not the expected object is a
//   problem text without any secret in it.
//
// Pure computation over OpenSSL's crypto library; no I/O, callable on any thread.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "synergy_tokend/clock.hpp"

namespace synergy_tokend {

struct shared_keys {
    std::array<unsigned char, 32> seal{};
    std::array<unsigned char, 32> name{};
};

// Throws std::runtime_error only when OpenSSL cannot run HKDF (out of memory, broken library).
shared_keys derive_shared_keys(std::string_view identity_token);

// The canonical text of what a token stands for: product, customer and scopes (sorted, without
// duplicates; "*" for "all the user may have"), each field length-prefixed so that no bytes
// inside a field can make two profiles' keys equal.
std::string profile_key(std::string_view product, std::string_view customer_id,
                        const std::optional<std::vector<std::string>>& scopes);

// key_prefix + 64 hex digits.
std::string entry_key_name(const shared_keys& keys, std::string_view key_prefix,
                           std::string_view profile_key);

struct shared_entry {
    std::string token;
    std::string token_type;
    wall_clock::time_point issued_at;
    wall_clock::time_point expires_at;
    friend bool operator==(const shared_entry&, const shared_entry&) = default;
};

// The sealed bytes (binary). The token and its type must be valid UTF-8 (they come from
// upstream's parsed JSON), else the entry does not unseal. Throws std::runtime_error only when
// OpenSSL fails.
std::string seal_entry(const shared_keys& keys, std::string_view key_name,
                       const shared_entry& entry);

struct unseal_result {
    std::optional<shared_entry> entry; // set on success
    std::string problem;               // otherwise: why, without secrets
};

unseal_result unseal_entry(const shared_keys& keys, std::string_view key_name,
                           std::string_view sealed);

} // namespace synergy_tokend
