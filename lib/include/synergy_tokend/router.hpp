// Routing of the local HTTP API (PRODUCT.md §5) and the envelopes of its replies. Pure.
#pragma once

#include <string>
#include <string_view>

namespace synergy_tokend {

enum class route_kind {
    tokens_list,    // GET /v1/tokens
    token_get,      // GET /v1/tokens/{name}
    products_token, // POST /v1/products/token
    info,           // GET /v1/info/...
    status,         // GET /status
    metrics,        // GET /metrics
    healthz,        // GET /healthz
    readyz,         // GET /readyz
    not_found,
};

struct route {
    route_kind kind = route_kind::not_found;
    bool method_allowed = true; // false: the path exists but not for this method (405)
    const char* allow = "";     // the method the path takes, for the Allow header
    std::string param;          // token_get: the profile name (percent-decoded);
                                // info: the path below /v1/info with its query ("/scopes/x?a=1")
};

// The route's label in metrics: "/v1/tokens/{name}", "/v1/info/*", "other", ...
const char* route_label(route_kind kind);

// Matches a request target ("/v1/tokens/stats?x") and method ("GET"). HEAD is treated as GET.
route match_route(std::string_view method, std::string_view target);

// {"data":<data_json>,"meta":{"code":N,"time":"..."}}; data_json must be serialized JSON.
std::string data_envelope(unsigned status, std::string_view data_json, std::string_view time);

// {"error":{"code":N,"message":M,"errors":[{"code":N,"message":M,"reason":R}]},"meta":{...}}
// reason is one of INVALID_DATA, NOT_FOUND, NOT_AUTHORISED, ERROR (upstream's vocabulary).
std::string error_envelope(unsigned status, std::string_view reason, std::string_view message,
                           std::string_view time);

// The upstream reason word that fits a local status code.
const char* reason_for_status(unsigned status);

} // namespace synergy_tokend
