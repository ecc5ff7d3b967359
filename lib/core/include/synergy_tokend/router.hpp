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
    status,         // GET /status (JSON, or the status page for a caller preferring HTML)
    status_page,    // GET /
    metrics,        // GET /metrics
    healthz,        // GET /healthz
    readyz,         // GET /readyz
    whoami,         // GET /v1/whoami
    product_route,  // any method /v1/routes/{name}/... (PRODUCT.md §11)
    not_found,
};

struct route {
    route_kind kind = route_kind::not_found;
    bool method_allowed = true; // false: the path exists but not for this method (405)
    const char* allow = "";     // the method the path takes, for the Allow header
    std::string param;          // token_get: the profile name (percent-decoded);
                                // info: the path below /v1/info with its query ("/scopes/x?a=1");
                                // product_route: the target below /v1/routes ("/stats/x?a=1")
};

// The route's label in metrics: "/v1/tokens/{name}", "/v1/info/*", "other", ...
const char* route_label(route_kind kind);

// Matches a request target ("/v1/tokens/stats?x") and method ("GET"). HEAD is treated as GET.
// "/" is the status page (status_page.hpp): GET or HEAD, 405 otherwise.
// A /v1/info/ target whose path has a forwarded_path_problem() is not_found: it is never
// forwarded (local_server refuses such a request with 400 before it gets here).
route match_route(std::string_view method, std::string_view target);

// Whether GET /status should answer the status page rather than JSON, from the request's Accept
// header (RFC 9110 §12.5.1): true when text/html (or text/*) is acceptable with a higher quality
// than application/json gets (from application/json, application/* or */*). A tie, no Accept
// header, or one that cannot be parsed keep the JSON that scripts and the CLI expect; a browser's
// "text/html,...,*/*;q=0.8" gets the page.
bool prefers_html(std::string_view accept);

// Why a path that the daemon forwards upstream as it came (the part of a /v1/info/... path below
// /v1/info, later the part of a route path below its prefix) may not be forwarded (PRODUCT.md
// §6): a path that upstream, or a server in front of it, could resolve outside the prefix, or
// decode differently from the daemon. The daemon decodes nothing it forwards, so it refuses what
// only decoding would make harmless.
enum class path_problem {
    none,
    encoded_slash,     // %2f, %2F
    encoded_backslash, // %5c
    encoded_dot,       // %2e ("%2e%2e" is ".." to many servers)
    encoded_semicolon, // %3b
    encoded_nul,       // %00
    double_encoding,   // %25: "%252e%252e" is ".." once decoded twice
    bad_escape,        // '%' not followed by two hex digits
    backslash,         // a raw '\' ("..\" is "../" to some servers)
    semicolon,         // a raw ';' (a path parameter: "..;/" is "../" to some servers)
    dot_segment,       // a "." or ".." segment
    nul,               // a raw NUL byte
    fragment,          // a raw '#' (never part of a request target)
};

// The first problem of `path` (a path without its query, e.g. "/scopes/authorized"), scanning
// left to right; none when it may be forwarded.
path_problem forwarded_path_problem(std::string_view path);

// For a request target under one of the prefixes whose paths are forwarded ("/v1/info/",
// "/v1/routes/"), the forwarded_path_problem() of its path below the prefix (query excluded);
// none for any other target.
path_problem target_path_problem(std::string_view target);

// The message naming the problem, e.g. "an encoded '/' (%2F) in the path".
const char* describe(path_problem p);

// {"data":<data_json>,"meta":{"code":N,"time":"..."}}; data_json must be serialized JSON.
std::string data_envelope(unsigned status, std::string_view data_json, std::string_view time);

// {"error":{"code":N,"message":M,"errors":[{"code":N,"message":M,"reason":R}]},"meta":{...}}
// reason is one of INVALID_DATA, NOT_FOUND, NOT_AUTHORISED, ERROR (upstream's vocabulary).
std::string error_envelope(unsigned status, std::string_view reason, std::string_view message,
                           std::string_view time);

// The upstream reason word that fits a local status code.
const char* reason_for_status(unsigned status);

} // namespace synergy_tokend
