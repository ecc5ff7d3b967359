// Persisted tokens (PRODUCT.md §6, state.persist): so a restart makes no upstream call while the
// tokens it had are still servable.
//
// The file (<state.dir>/tokens.json) holds, per profile, the token with its issue time and
// lifetime, and the SHA-256 of the identity token it was obtained with (a token is reused only
// for the same identity, product, customer and scopes). It is written 0600 via a temporary file,
// fsync and rename, so a crash (even kill -9) leaves either the old or the new file, never a torn
// one. A corrupt, truncated, unreadable or foreign-owned file is reported and ignored: it never
// stops the daemon.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "synergy_tokend/clock.hpp"

namespace synergy_tokend {

struct persisted_token {
    std::string profile;
    std::string product;
    std::string customer_id;
    std::optional<std::vector<std::string>> scopes;
    std::string identity_sha256;
    std::string token;
    std::string token_type;
    wall_clock::time_point issued_at;
    std::chrono::seconds lifetime{0};
};

// Serialization (pure).
std::string serialize_state(const std::vector<persisted_token>& tokens);
// Parses a state file's content; nullopt (and `error` set) when it is not a valid state file.
std::optional<std::vector<persisted_token>> parse_state(std::string_view text, std::string& error);

// File I/O. Both return an error message, empty on success.
std::string write_state_file(const std::string& dir, const std::vector<persisted_token>& tokens);
std::string read_state_file(const std::string& dir, std::vector<persisted_token>& tokens);

std::string state_file_path(const std::string& dir);

} // namespace synergy_tokend
