// Upstream reply -> product token and lifetime (PRODUCT.md §2). Pure: no I/O, no clock reads
// (the caller passes "now").
//
// Parsing is lenient where upstream's documentation is loose:
//  - data.expiresIn may be a JSON number or a string holding a number (fractions are truncated);
//  - the token is a JWT whose payload's `exp` claim (base64url, no signature check) is a second
//    source of expiry; lifetime = the smaller of the two where both are usable, the usable one
//    otherwise, and `default_lifetime` (flagged, so the caller can warn) where neither is;
//  - an expiresIn that is present but not a usable number ("abc", "", "1e999", NaN) counts as
//    absent; a usable but absurd one is kept, and a lifetime is never longer than
//    max_token_lifetime (so later time arithmetic cannot overflow);
//  - data.tokenType may be absent: "bearer" is assumed.
// A missing/empty data.token, a lifetime <= 0 or a body that is not a JSON object is an error.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

namespace synergy_tokend {

// The longest lifetime a reply can yield, whatever its expiresIn or JWT exp says.
inline constexpr std::chrono::seconds max_token_lifetime{10LL * 366 * 24 * 3600};

struct token_reply {
    std::string token;
    std::string token_type = "bearer";
    std::chrono::seconds lifetime{0};
    bool lifetime_defaulted = false; // neither expiresIn nor JWT exp was usable
};

enum class token_reply_errc {
    not_json = 1,  // body is not a JSON object
    missing_token, // data.token missing, empty, not a string, or holding characters
                   // other than visible ASCII (it goes into an Authorization header)
    bad_lifetime,  // the lifetime chosen (expiresIn, JWT exp or the default) is <= 0
};

const boost::system::error_category& token_reply_category();
boost::system::error_code make_error_code(token_reply_errc e);

// Parses a 2xx body of POST /products/token. `now` is wall-clock time, against which the JWT exp
// is turned into whole seconds (rounded down). Never throws on bad input.
boost::system::result<token_reply> parse_token_reply(std::string_view body,
                                                     std::chrono::seconds default_lifetime,
                                                     std::chrono::system_clock::time_point now);

// The `exp` claim of a JWT's payload, if the token has three dot-separated parts and the payload
// decodes (base64url, padding optional) to a JSON object with a finite numeric `exp`. Never throws.
std::optional<std::chrono::system_clock::time_point> jwt_expiry(std::string_view jwt);

// Decodes base64url (also accepts standard base64 and missing padding); nullopt on a character
// outside both alphabets, misplaced or excess '=', or an impossible length (len % 4 == 1).
std::optional<std::string> base64url_decode(std::string_view in);
// Encodes with the base64url alphabet, without padding (as JWTs do).
std::string base64url_encode(std::string_view in);

// What an upstream error reply says, for logs: "HTTP 422 INVALID_DATA: customerId is invalid".
// Never contains request data: upstream's message is cut to 200 bytes, stripped of control
// characters, and any long run of token-like characters (an echoed secret) becomes "[redacted]".
// Tolerates a non-JSON body: "HTTP 503 (non-JSON body)", "HTTP 502 (empty body)".
std::string describe_upstream_error(unsigned status, std::string_view body);

} // namespace synergy_tokend

template <>
struct boost::system::is_error_code_enum<synergy_tokend::token_reply_errc> : std::true_type {};
