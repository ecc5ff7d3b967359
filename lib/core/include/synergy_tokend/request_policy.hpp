// Who may call the local API (PRODUCT.md §6), decided from a request's headers before routing.
// Pure: the caller extracts the header values.
//
// - Host must be absent, empty, or localhost / 127.0.0.1 / [::1] with any port (DNS rebinding).
// - Origin, X-Forwarded-For and Forwarded are refused: a browser or a proxy is in the path.
// - With listen.require_request_header, GET /v1/tokens/{name} and /v1/info/* need
//   "X-Tokend-Request: 1" (SSRF: a server tricked into fetching a URL cannot add a header).
//
// Before that, check_framing() decides on the header alone, as soon as it is complete and before
// any byte of the body is read, whether the request's framing can be trusted (§6). A request it
// refuses gets 400 and the connection is closed: where its body ends is in doubt, so nothing after
// its header may be taken for a request.
#pragma once

#include <cstddef>
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

// What check_framing() needs of a request header; the caller counts the fields.
struct framing_facts {
    unsigned version = 11;       // 10 for HTTP/1.0, 11 for HTTP/1.1
    std::size_t host_fields = 0; // Host header fields
    std::size_t transfer_encoding_fields = 0;
    std::string_view transfer_encoding; // the value of the first Transfer-Encoding field
    bool has_content_length = false;
};

enum class framing_verdict {
    allow,
    duplicate_host,                        // more than one Host field: which one counts?
    transfer_encoding_not_chunked,         // anything but the one coding "chunked"
    transfer_encoding_with_content_length, // both: two framings, one of them wrong
    transfer_encoding_in_http10,           // HTTP/1.0 has no transfer codings (RFC 9112 §6.1)
};

// Allows a request without Transfer-Encoding, or with exactly one Transfer-Encoding field whose
// value is "chunked" (any case, optional whitespace around it): the only framing besides
// Content-Length that Beast's parser and every peer agree on. A final "chunked" after another
// coding ("gzip, chunked") is refused too: the daemon decodes no other coding, so such a body
// could not be read anyway. Refuses a second Host field.
framing_verdict check_framing(const framing_facts& facts);

// The message of the 400 for a refused verdict.
const char* describe(framing_verdict v);

enum class policy_verdict { allow, bad_host, proxied, missing_request_header };

bool host_allowed(std::string_view host);

policy_verdict check_request(const request_facts& facts, route_kind route,
                             bool require_request_header);

// The message of the 403 for a refused verdict.
const char* describe(policy_verdict v);

} // namespace synergy_tokend
