// When to refresh a token and how long to back off after a failure (PRODUCT.md §4). Pure: every
// random draw and every clock reading is a parameter, so the policy is tested without sleeping.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "synergy_tokend/config.hpp"

namespace synergy_tokend {

// Delay after issue at which a token of `lifetime` is refreshed:
// min(lifetime * refresh_at, lifetime - min_remaining), moved by `jitter_draw` * jitter * lifetime
// (jitter_draw in [-1, 1]), then clamped to [lifetime * 0.5, lifetime - min_serve_remaining].
// A lifetime so short that the clamp range is empty yields lifetime * 0.5.
std::chrono::milliseconds refresh_delay(std::chrono::seconds lifetime, const refresh_config& cfg,
                                        double jitter_draw);

// How an upstream token request ended, for the retry decision.
enum class failure_class {
    transient, // network error, timeout, 429, 5xx, unusable reply: retry with backoff
    auth,      // 401/403: re-read the identity token, then back off
    rejected,  // 400/404/422: bad product, customer or scopes: state `failed`, retry at retry_max
};

failure_class classify_status(unsigned http_status);

// Delay before retry number `attempt` (1 = first retry) after a failure: "full jitter" backoff,
// uniform in [0, min(retry_max, retry_initial * 2^(attempt-1))] using `draw` in [0, 1); never
// shorter than a Retry-After the server sent (capped at retry_max); `rejected` waits retry_max.
std::chrono::milliseconds backoff_delay(unsigned attempt, failure_class cls,
                                        std::optional<std::chrono::seconds> retry_after,
                                        const refresh_config& cfg, double draw);

// Parses a Retry-After header: delta-seconds or an HTTP-date (relative to `now`); nullopt if
// absent or malformed. Negative results become 0.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

} // namespace synergy_tokend
