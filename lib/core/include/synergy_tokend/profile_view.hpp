// What a token profile shows the rest of the daemon (PRODUCT.md §4 states, §5 /status): its
// state, its current token and its figures. Pure value types, so that the renderers of /status
// and /metrics take them without depending on the store that keeps them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "synergy_tokend/clock.hpp"
#include "synergy_tokend/config.hpp"

namespace synergy_tokend {

enum class token_state { pending, fresh, refreshing, stale, expired, failed };
const char* to_string(token_state s);

// How the last upstream attempt for a profile ended.
enum class fetch_outcome { none, ok, failed, rejected };

// The state a profile shows (pure): `has_token`/`expires_at` describe the current token.
token_state derive_state(bool has_token, wall_clock::time_point expires_at,
                         wall_clock::time_point now, std::chrono::seconds min_serve_remaining,
                         bool in_flight, fetch_outcome last);

struct token_value {
    std::string token;
    std::string token_type;
    wall_clock::time_point issued_at;
    wall_clock::time_point expires_at;
};

struct profile_view {
    profile_config cfg;
    bool is_default = false;
    token_state state = token_state::pending;
    std::optional<wall_clock::time_point> expires_at;
    std::optional<wall_clock::time_point> refresh_at; // next scheduled attempt
    std::optional<wall_clock::time_point> last_refresh_at;
    std::string last_error;
    unsigned consecutive_failures = 0;
    std::uint64_t refresh_count = 0;    // successful upstream token requests
    std::uint64_t failures_total = 0;   // failed ones (network, 5xx, 429, 401/403, bad reply)
    std::uint64_t rejections_total = 0; // 400/404/422: product, customer or scopes refused
};

} // namespace synergy_tokend
