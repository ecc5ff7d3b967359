// Everything the mock Auth API remembers: settings, armed faults, counters, the log of token
// requests, the tokens it issued and the last /info exchange. Plain data, no I/O; the API and
// control handlers (mock_api.hpp, control_api.hpp) read and change it. Lives on the one
// event-loop thread, so there is no locking.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/json/value.hpp>

namespace synergy_auth_mock {

// How data.expiresIn appears in a token reply.
enum class expires_in_form {
    number, // a JSON integer: the lifetime in seconds
    string, // a string holding that integer, e.g. "3600"
    absent, // no expiresIn key
    raw,    // settings::expires_in_raw, whatever JSON value it is
};

struct settings {
    std::chrono::seconds lifetime{3600}; // JWT exp = iat + lifetime, whatever expires_in says
    expires_in_form expires_in = expires_in_form::number;
    boost::json::value expires_in_raw;               // used with expires_in_form::raw
    bool jwt_exp = true;                             // false: the JWT payload has no exp claim
    std::optional<std::string> token_type{"bearer"}; // nullopt: no tokenType key
    // nullopt: any non-empty userIdentityToken is accepted; else only these (401 otherwise).
    std::optional<std::vector<std::string>> valid_identity_tokens;
    std::chrono::milliseconds delay{0}; // before every API reply
    // Set: a connection that has served a request and waits longer than this for the next one
    // is closed (TLS close_notify, then FIN), like a server's keep-alive timeout.
    std::optional<std::chrono::milliseconds> keepalive_idle;
};

// Which API requests a fault applies to.
enum class fault_endpoint {
    token, // path /v1/products/token
    info,  // paths under /v1/info/
    any,
};

enum class fault_mode {
    status,     // reply fault::status with fault::body (default: an upstream error envelope)
    malformed,  // 200, Content-Type text/html, body "<html>not json"
    no_token,   // 200 token envelope without data.token
    drop,       // close the connection without replying
    truncate,   // the normal reply's headers, then half its body, then close
    delay,      // wait fault::delay, then reply normally
    stall,      // never reply; hold the connection until the client closes it
    stall_body, // the normal reply's headers and half its body, then hold the connection
    // The hostile but legal upstream (issue 13); each is written as raw bytes:
    interim,            // fault::interim 1xx replies, then the normal reply
    extra_bytes,        // the normal reply, then fault::extra (default: a second, bogus reply)
    eof_body,           // the normal reply without Content-Length, "Connection: close", body, end
    connection_close,   // the normal reply with "Connection: close", then the end
    short_body,         // the normal reply's headers (full Content-Length), half its body, end
    headers_then_close, // the normal reply's headers (full Content-Length), then the end
    byte_records,       // the normal reply, one byte per write (one TLS record each)
};

struct fault {
    fault_mode mode = fault_mode::status;
    fault_endpoint endpoint = fault_endpoint::token;
    int remaining = 1; // requests still to hit; -1 = until cleared
    unsigned status = 500;
    std::optional<std::string> retry_after;
    std::optional<std::string> body;
    std::optional<std::string> content_type;
    std::chrono::milliseconds delay{0};
    // status: the reason phrase; nullopt: Beast's name for a status it knows, else none.
    std::optional<std::string> reason;
    std::vector<unsigned> interim{100, 103}; // interim: the 1xx codes sent before the reply
    std::optional<std::string> extra;        // extra_bytes: the bytes; nullopt: a bogus reply
    // eof_body, connection_close, short_body, headers_then_close: the end is a TLS close_notify
    // (then FIN) when true, a bare TCP close (a truncation, for TLS) when false.
    bool close_notify = true;
    bool byte_records = false;        // any mode that writes a reply: one byte per write
    std::chrono::milliseconds gap{0}; // interim, extra_bytes: pause between the writes
};

// All about the API port only.
struct counters {
    std::uint64_t token_requests = 0;    // requests for /v1/products/token, faulted ones too
    std::uint64_t token_requests_ok = 0; // of those, replied 200 with a fresh token
    std::uint64_t info_requests = 0;     // requests for /v1/info/...
    std::uint64_t connections = 0;       // connections accepted
    std::uint64_t open_connections = 0;  // a gauge: reset() leaves it alone
    std::uint64_t tls_handshakes = 0;    // completed server handshakes
    std::uint64_t max_open_connections = 0;
};

struct token_request_record {
    std::uint64_t request_id = 0;
    std::chrono::milliseconds received{0}; // since the mock started (steady clock)
    unsigned status = 0;                   // 0 until replied; stays 0 without a full reply
    boost::json::value product;            // as the body had it; null if absent or unparsable
    boost::json::value customer_id;
};

struct issued_token {
    std::int64_t expires_at = 0;  // unix seconds: the JWT exp, even when the JWT has none
    std::string sub;              // the JWT sub: 8 hex of SHA-256 of the identity token
    std::uint64_t request_id = 0; // of the token request that minted it (the JWT's rid)
    std::string product;
    std::optional<std::vector<std::string>> scopes;
    bool revoked = false;
};

struct info_record {
    std::uint64_t request_id = 0;
    std::string path;
    std::string query; // without the '?'
    std::optional<std::string> authorization;
    unsigned status = 0;
    std::string body; // exactly the bytes sent ("" for drop/stall, half for truncate/stall_body)
};

struct mock_state {
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

    settings config;
    std::deque<fault> faults; // a request takes the first one whose endpoint matches
    counters count;
    std::vector<token_request_record> token_requests;
    std::unordered_map<std::string, issued_token> tokens; // by token
    std::optional<info_record> last_info;
    std::uint64_t last_request_id = 0; // X-Mock-Request-Id of the latest API request
    std::uint64_t last_jti = 0;
    // --accept-earlier-tokens: a bearer token this process did not issue is accepted when its
    // payload is one this mock writes (iss synergy-auth-mock, an exp), as a restarted upstream
    // accepts the tokens it signed before. Not changed by reset().
    bool accept_earlier_tokens = false;

    std::uint64_t next_request_id() { return ++last_request_id; }

    // Counters (except the open-connections gauge), settings, faults, the request log, issued
    // tokens, last-info and request ids back to their state at start. JWT ids keep counting, so
    // that a token's payload is never issued twice.
    void reset();
};

} // namespace synergy_auth_mock
