// The upstream token request of a profile or on-demand key, and what its result means
// (PRODUCT.md §2, §4). Pure: plain values in and out (the I/O layer converts from and to Beast),
// `now` passed in, no redaction (texts from upstream are redacted by the caller, which holds
// the secrets).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "synergy_tokend/refresh_policy.hpp"
#include "synergy_tokend/token_reply.hpp"

namespace synergy_tokend {

// An HTTP error reply of upstream to a token request, kept to pass on to drop-in callers;
// redacted (by the store) of every secret but the caller's own identity token.
struct upstream_http_error {
    unsigned status = 0;
    std::string reason; // upstream's reason phrase, redacted
    std::string body;
    std::string content_type;
    std::string retry_after; // the Retry-After to send with it; empty: none
};

// POST {base_url}/products/token.
struct token_call {
    std::string target = "/products/token"; // relative to the base path
    std::string content_type = "application/json";
    std::string body;
};

// The body upstream expects: userIdentityToken, product, customerId and, when `scopes` is set,
// the scopes sorted and each once (upstream refuses duplicates; the order carries no meaning).
token_call build_token_call(std::string_view identity_token, std::string_view product,
                            std::string_view customer_id,
                            const std::optional<std::vector<std::string>>& scopes);

// Upstream's final reply to a token call, as plain values.
struct token_call_reply {
    unsigned status = 0;
    std::string_view body;
    std::optional<std::string_view> retry_after;  // the Retry-After field, if present
    std::optional<std::string_view> content_type; // the Content-Type field, if present
};

enum class token_call_outcome {
    ok,         // 2xx with a usable token and lifetime
    bad_reply,  // 2xx without one: transient (retried), 502 to a drop-in caller
    http_error, // any other status: passed on to a drop-in caller as it came
};

struct token_call_result {
    token_call_outcome outcome = token_call_outcome::http_error;
    token_reply reply;                               // ok: token, type, lifetime
    failure_class cls = failure_class::transient;    // not ok: how to retry (refresh_policy.hpp)
    std::optional<std::chrono::seconds> retry_after; // http_error: upstream's Retry-After, parsed
    std::string problem; // bad_reply: "HTTP 200: <why>" (upstream's text is not in it)
};

// Classifies upstream's reply. `now` is wall-clock time (JWT exp, an HTTP-date Retry-After).
token_call_result classify_token_reply(const token_call_reply& reply,
                                       std::chrono::seconds default_lifetime,
                                       std::chrono::system_clock::time_point now);

} // namespace synergy_tokend
