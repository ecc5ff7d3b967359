// The `token` and `status` commands: clients of a running daemon (PRODUCT.md §7).
//
// Endpoint: --endpoint, else $SYNERGY_TOKEND_ENDPOINT, else the default Unix socket;
// "http://HOST:PORT" or "unix:/path". Exit codes: 0 ok, 1 the daemon answered an error,
// 3 the daemon is unreachable (connection failed or no reply within 15 s; for `token --watch`,
// within 15 s after the wait), 2 a bad endpoint.
#pragma once

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace synergy_tokend {

struct client_endpoint {
    std::string unix_path; // set for unix:/path
    std::string host;      // set for http://HOST:PORT
    std::string port;
};

// Parses "http://HOST:PORT" or "unix:/path"; nullopt when it is neither. Pure.
std::optional<client_endpoint> parse_client_endpoint(std::string_view text);

// The endpoint to use: `given`, else $SYNERGY_TOKEND_ENDPOINT, else the default socket.
std::string choose_endpoint(const std::string& given);

// The human table of `synergy-tokend status` from GET /status's data object. Pure.
std::string format_status_table(const boost::json::value& data,
                                std::chrono::system_clock::time_point now);

// Prints profile `name`'s token. `watch`: prints it, then each new token as a line (flushed),
// using the daemon's change waits (GET /v1/tokens/{name}?wait= with If-None-Match); returns only
// on an error (exit code and message as above).
int run_token_command(const std::string& endpoint, const std::string& name, std::ostream& out,
                      std::ostream& err, bool watch = false);
int run_status_command(const std::string& endpoint, std::ostream& out, std::ostream& err);

// GET /v1/whoami's data as lines for a person: listener, how identified, uid, groups, pid, and
// the profiles this caller may read.
std::string format_whoami(const boost::json::value& data);
int run_whoami_command(const std::string& endpoint, std::ostream& out, std::ostream& err);

} // namespace synergy_tokend
