// The change-notification parameters of GET /v1/tokens/{name} (PRODUCT.md §5, §11), read from the
// request target's query and its If-None-Match header. Pure.
//
//   GET /v1/tokens/stats?wait=60&etag="3f…"      or      If-None-Match: "3f…"  (with ?wait=60)
//
// - `etag=` (percent-decoded; the quotes may be left out, as %22 is awkward in a URL) or
//   If-None-Match names the version of the token the caller has. When both are given, `etag=`
//   counts. If-None-Match may list several tags (`"a", W/"b"`); it matches when any does (weak
//   comparison, RFC 9110 §13.1.2). `*` names no version and is refused.
// - `wait=S` (whole seconds, 0 to max_wait_seconds) holds the request while the profile's token
//   still matches, up to S seconds; then 304. Without `wait` a matching request gets 304 at once.
//   Without an ETag to compare (none given, or `etag=` empty: the first turn of a shell loop)
//   there is nothing to wait for, and the token comes at once.
// - Other query parameters are ignored. A malformed or repeated `wait` or `etag`, or a malformed
//   If-None-Match, is an error naming the parameter (the caller answers 400).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace synergy_tokend {

inline constexpr long max_wait_seconds = 3600;

struct change_wait {
    // The entity tags the caller has, each in its quoted strong form ("\"3f…\""), W/ dropped.
    // Empty: the caller has none.
    std::vector<std::string> etags;
    std::chrono::seconds wait{0};

    // Whether `current` (an ETag as the daemon sends it, quotes included) is one of etags.
    bool matches(std::string_view current) const;
    // Whether the request is to be held (it has an ETag and a wait).
    bool holds() const { return !etags.empty() && wait.count() > 0; }
};

struct change_wait_parse {
    change_wait value;
    std::string error; // "wait: expected whole seconds from 0 to 3600"; empty when ok
    bool ok() const { return error.empty(); }
};

// `target` is the request target (its query, after '?', is read); `if_none_match` the header's
// value when present.
change_wait_parse parse_change_wait(std::string_view target,
                                    std::optional<std::string_view> if_none_match);

} // namespace synergy_tokend
