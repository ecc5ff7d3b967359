// The `shared_cache` section (PRODUCT.md §10): where the fleet's Redis is and how long the daemon
// may wait on it. A plain struct with the documented defaults, and the pure parser of its URL.
// config.cpp reads the section with key-path errors; absent = no sharing (std::nullopt there).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace synergy_tokend {

// Where Redis listens, from `url`.
struct redis_endpoint {
    enum class kind { tcp, tls, unix_socket };
    kind transport = kind::tcp;
    std::string host;          // tcp/tls: a name or an IP address (IPv6 without brackets)
    std::uint16_t port = 6379; // tcp/tls
    std::string path;          // unix_socket: absolute
    unsigned db = 0;           // SELECTed after AUTH when not 0
    friend bool operator==(const redis_endpoint&, const redis_endpoint&) = default;
};

struct redis_url_check {
    redis_endpoint endpoint; // valid when problem is empty
    std::string problem;     // "expected ..."
};

// "redis://HOST[:PORT][/DB]", "rediss://HOST[:PORT][/DB]" (TLS) or "unix:/ABSOLUTE/PATH". A user
// name or password in the URL is refused (they belong in username and password_file, so that the
// URL may be shown in /status as it is). Pure.
redis_url_check parse_redis_url(std::string_view url);

struct shared_cache_config {
    std::string url;           // as configured; never holds a password (parse_redis_url)
    redis_endpoint endpoint;   // parsed from url
    std::string username;      // empty: AUTH with the password alone (the default user)
    std::string password_file; // empty: no AUTH; relative: $CREDENTIALS_DIRECTORY first
    std::string ca_file;       // rediss://: PEM bundle; empty = the system trust store
    std::string key_prefix = "tokend:";
    // The longest any wait on Redis may take (connect, AUTH, one command); a local request never
    // waits on Redis longer.
    std::chrono::milliseconds timeout{200};
    // How long a host's lease on a refresh lasts before another may take it over.
    std::chrono::milliseconds lease{10000};
    friend bool operator==(const shared_cache_config&, const shared_cache_config&) = default;
};

} // namespace synergy_tokend
