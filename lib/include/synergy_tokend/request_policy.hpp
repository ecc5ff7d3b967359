// Who may call the local API (PRODUCT.md §6), decided from a request's headers before routing.
// Pure: the caller extracts the header values.
//
// - Host must be absent, empty, or localhost / 127.0.0.1 / [::1] with any port (DNS rebinding).
// - Origin, X-Forwarded-For and Forwarded are refused: a browser or a proxy is in the path.
// - With listen.require_request_header, GET /v1/tokens/{name} and /v1/info/* need
//   "X-Tokend-Request: 1" (SSRF: a server tricked into fetching a URL cannot add a header).
#pragma once

#include <optional>
#include <string_view>

#include "synergy_tokend/router.hpp"

namespace synergy_tokend {

struct request_facts {
    std::optional<std::string_view> host; // nullopt when the header is absent
    bool has_origin = false;
    bool has_x_forwarded_for = false;
    bool has_forwarded = false;
    std::optional<std::string_view> tokend_request; // value of X-Tokend-Request
};

enum class policy_verdict { allow, bad_host, proxied, missing_request_header };

bool host_allowed(std::string_view host);

policy_verdict check_request(const request_facts& facts, route_kind route,
                             bool require_request_header);

// The message of the 403 for a refused verdict.
const char* describe(policy_verdict v);

} // namespace synergy_tokend
