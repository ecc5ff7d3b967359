#include "synergy_tokend/request_policy.hpp"

#include "synergy_tokend/authority.hpp"
#include "synergy_tokend/text.hpp"

namespace synergy_tokend {

bool host_allowed(std::string_view host) {
    if (host.empty())
        return true;
    const auto split = split_authority(host);
    if (!split)
        return false;
    // What follows the name may only be ":" and a port number.
    if (split->port && (split->port->size() > 5 ||
                        split->port->find_first_not_of("0123456789") != std::string_view::npos))
        return false;
    if (split->bracketed)
        return split->host == "::1";
    return iequals(split->host, "localhost") || split->host == "127.0.0.1";
}

policy_verdict check_request(const request_facts& facts, route_kind route,
                             bool require_request_header) {
    if (facts.host && !host_allowed(*facts.host))
        return policy_verdict::bad_host;
    if (facts.has_origin || facts.has_x_forwarded_for || facts.has_forwarded)
        return policy_verdict::proxied;
    const bool secret_route = route == route_kind::token_get || route == route_kind::info ||
                              route == route_kind::product_route;
    if (require_request_header && secret_route &&
        (!facts.tokend_request || *facts.tokend_request != "1"))
        return policy_verdict::missing_request_header;
    return policy_verdict::allow;
}

framing_verdict check_framing(const framing_facts& facts) {
    if (facts.host_fields > 1)
        return framing_verdict::duplicate_host;
    if (facts.transfer_encoding_fields == 0)
        return framing_verdict::allow;
    if (facts.version < 11)
        return framing_verdict::transfer_encoding_in_http10;
    if (facts.has_content_length)
        return framing_verdict::transfer_encoding_with_content_length;
    std::string_view coding = facts.transfer_encoding;
    while (!coding.empty() && (coding.front() == ' ' || coding.front() == '\t'))
        coding.remove_prefix(1);
    while (!coding.empty() && (coding.back() == ' ' || coding.back() == '\t'))
        coding.remove_suffix(1);
    if (facts.transfer_encoding_fields != 1 || !iequals(coding, "chunked"))
        return framing_verdict::transfer_encoding_not_chunked;
    return framing_verdict::allow;
}

const char* describe(framing_verdict v) {
    switch (v) {
    case framing_verdict::allow:
        return "allowed";
    case framing_verdict::duplicate_host:
        return "more than one Host header";
    case framing_verdict::transfer_encoding_not_chunked:
        return "Transfer-Encoding must be exactly \"chunked\" (one header, one coding)";
    case framing_verdict::transfer_encoding_with_content_length:
        return "Transfer-Encoding and Content-Length together";
    case framing_verdict::transfer_encoding_in_http10:
        return "Transfer-Encoding in an HTTP/1.0 request";
    }
    return "refused";
}

const char* describe(policy_verdict v) {
    switch (v) {
    case policy_verdict::allow:
        return "allowed";
    case policy_verdict::bad_host:
        return "Host must be localhost, 127.0.0.1 or [::1]";
    case policy_verdict::proxied:
        return "requests carrying Origin, X-Forwarded-For or Forwarded are refused";
    case policy_verdict::missing_request_header:
        return "this endpoint requires the header X-Tokend-Request: 1";
    }
    return "refused";
}

} // namespace synergy_tokend
