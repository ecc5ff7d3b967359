// The daemon's configuration (PRODUCT.md §3): a plain struct with the documented defaults, and a
// pure parser from JSON text (comments and trailing commas allowed) that rejects unknown keys and
// reports every problem with its key path, e.g.
//   config.json: tokens[1].customer_id: expected a string or a number
//
// Parsing does no I/O; load_config_file() reads a file and then parses it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "synergy_tokend/access.hpp"
#include "synergy_tokend/log_level.hpp"
#include "synergy_tokend/shared_cache_config.hpp"

namespace synergy_tokend {

struct upstream_config {
    std::string base_url = "https://token.connect.sportradar.com/v1";
    std::string ca_file; // PEM bundle; empty = the system trust store
    std::chrono::milliseconds connect_timeout{3000};
    std::chrono::milliseconds request_timeout{10000};
    std::size_t max_connections = 8; // upstream connections open at once; more requests queue
    std::chrono::seconds idle_timeout{30};
    bool allow_insecure_http = false;
    friend bool operator==(const upstream_config&, const upstream_config&) = default;
};

// Exactly one of token_file and token_env is non-empty after a successful parse. A relative
// token_file is looked up in $CREDENTIALS_DIRECTORY first (systemd LoadCredential=), then in
// base_dir: the directory of the configuration file (load_config_file sets it; empty = the working
// directory). The default is the credential "identity-token", so that the shipped unit's
// LoadCredential=identity-token:/etc/synergy-tokend/identity-token works with no identity section.
struct identity_config {
    std::string token_file = "identity-token";
    std::string token_env;
    std::string base_dir;
    friend bool operator==(const identity_config&, const identity_config&) = default;
};

struct tcp_listen_address {
    std::string host; // literal IP address, without brackets
    std::uint16_t port = 0;
    friend bool operator==(const tcp_listen_address&, const tcp_listen_address&) = default;
};

struct listen_config {
    std::vector<tcp_listen_address> tcp{{"127.0.0.1", 8731}};
    bool allow_remote = false;
    std::string unix_path = "/run/synergy-tokend/tokend.sock"; // empty = no Unix socket
    unsigned unix_mode = 0660;
    bool require_request_header = true;
    std::size_t max_connections = 1024;
    // Held change waits (GET /v1/tokens/{name}?wait=) at once; more get 503. Absent from the
    // file: half of max_connections (at least 1), so waits cannot take every connection.
    std::size_t max_waits = 512;
    // A request must arrive complete this long after a connection's accept, or after its own
    // first byte on a kept-alive connection.
    std::chrono::seconds request_timeout{10};
    // A kept-alive connection may idle this long between requests.
    std::chrono::seconds keepalive_idle{60};
    friend bool operator==(const listen_config&, const listen_config&) = default;
};

// A file the profile's token is written to after every refresh (PRODUCT.md §11).
struct sink_config {
    enum class format { token, json };
    std::string path; // absolute, under the runtime or state directory
    unsigned mode = 0640;
    format fmt = format::token;
    friend bool operator==(const sink_config&, const sink_config&) = default;
};

struct profile_config {
    std::string name;
    std::string product;
    std::string customer_id;                        // a number in the file becomes its decimal text
    std::optional<std::vector<std::string>> scopes; // nullopt = all the user may have
    bool is_default = false;
    std::optional<access_rule> allow; // who may read it (PRODUCT.md §9); nullopt = anyone
    std::optional<sink_config> sink;  // nullopt = no file
    friend bool operator==(const profile_config&, const profile_config&) = default;
};

// Both profiles stand for the same upstream token (name, product, customer, scopes as a set): a
// reload that changes only `allow` or `default` keeps the token and its schedule.
bool same_token(const profile_config& a, const profile_config& b);

struct refresh_config {
    double refresh_at = 0.75;
    std::chrono::seconds min_remaining{60};
    double jitter = 0.05;
    std::chrono::milliseconds retry_initial{1000};
    std::chrono::milliseconds retry_max{300000};
    std::chrono::seconds default_lifetime{3600};
    std::chrono::seconds min_serve_remaining{5};
};

struct on_demand_config {
    bool enabled = true;
    std::size_t max_entries = 10000;
    // The cache's estimated heap use (token_store.hpp says what is counted); least recently used
    // entries are evicted beyond it, as beyond max_entries.
    std::size_t max_bytes = 33554432;
    std::chrono::seconds idle_evict{3600};
    std::optional<access_rule> allow; // who may make drop-in requests that match no profile
};

// A product API route (PRODUCT.md §11): /v1/routes<prefix><rest> is forwarded to
// <upstream><rest> with the token of profile `token`.
struct route_config {
    std::string prefix;   // "/stats/": a slash, one or more name characters, a slash
    std::string upstream; // normalised base URL, no trailing slash ("https://api.example.com/v2")
    std::string token;    // the profile whose token goes upstream (a name in tokens[])
    std::string ca_file;  // PEM bundle; empty = the system trust store
    // The longest wait for the next byte (connect, each write and each read): an idle timeout,
    // not a limit on the whole exchange, so a large or slow reply runs as long as bytes flow.
    std::chrono::milliseconds timeout{30000};
    std::size_t max_body_bytes = 1048576; // request bodies above get 413
    // The prefix without its slashes ("stats"): the name in /v1/routes/<name>/... and /status.
    std::string name() const {
        return prefix.size() > 2 ? prefix.substr(1, prefix.size() - 2) : "";
    }
    friend bool operator==(const route_config&, const route_config&) = default;
};

struct state_config {
    bool persist = false;
    std::string dir = "/var/lib/synergy-tokend";
};

struct service_config {
    std::chrono::seconds startup_timeout{30};
    std::chrono::seconds shutdown_grace{5};
};

struct config {
    upstream_config upstream;
    identity_config identity;
    listen_config listen;
    std::vector<profile_config> tokens;
    refresh_config refresh;
    on_demand_config on_demand;
    state_config state;
    service_config service;
    std::optional<shared_cache_config> shared_cache; // PRODUCT.md §10; nullopt: no sharing
    std::vector<route_config> routes;                // PRODUCT.md §11
    log_level log = log_level::info;

    // The profile /info calls use when none is named: the one marked default, else the only one.
    const profile_config* default_profile() const;
};

struct config_parse_result {
    config value;                    // meaningful only when errors is empty
    std::vector<std::string> errors; // each "SOURCE: key.path: what was expected"
    bool ok() const { return errors.empty(); }
};

// Parses and validates configuration text. `source` names the input in messages (usually the
// file's base name). Never throws on bad input; every problem found is reported, not just the
// first.
// User and group names in `allow` rules are resolved through `accounts` (numeric ids need no
// entry); an unknown name is an error naming its key.
config_parse_result parse_config(std::string_view text, std::string_view source = "config.json",
                                 const account_lookup& accounts = system_accounts());

// Reads `path` and parses it; an unreadable file is one error naming the path and the reason.
config_parse_result load_config_file(const std::string& path);

} // namespace synergy_tokend
