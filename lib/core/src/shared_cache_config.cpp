#include "synergy_tokend/shared_cache_config.hpp"

#include <algorithm>

#include "synergy_tokend/authority.hpp"

namespace synergy_tokend {

namespace {

constexpr std::string_view expected_url =
    "expected redis://HOST[:PORT][/DB], rediss://HOST[:PORT][/DB] or unix:/PATH";

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<unsigned> small_number(std::string_view s, unsigned max) {
    if (!all_digits(s) || s.size() > 5)
        return std::nullopt;
    unsigned v = 0;
    for (char c : s)
        v = v * 10 + static_cast<unsigned>(c - '0');
    if (v > max)
        return std::nullopt;
    return v;
}

} // namespace

redis_url_check parse_redis_url(std::string_view url) {
    redis_url_check out;
    for (char c : url) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
            out.problem = "expected a URL without spaces or control characters";
            return out;
        }
    }
    if (url.starts_with("unix:")) {
        std::string_view path = url.substr(5);
        if (path.starts_with("//"))
            path.remove_prefix(2); // unix:///run/redis.sock
        if (!path.starts_with('/') || path.size() < 2) {
            out.problem = "expected an absolute socket path after unix:, e.g. "
                          "unix:/run/redis/redis-server.sock";
            return out;
        }
        if (path.size() > 107) {
            out.problem = "expected a socket path of at most 107 bytes";
            return out;
        }
        out.endpoint.transport = redis_endpoint::kind::unix_socket;
        out.endpoint.path = std::string(path);
        return out;
    }
    std::string_view rest;
    if (url.starts_with("redis://")) {
        rest = url.substr(8);
        out.endpoint.transport = redis_endpoint::kind::tcp;
    } else if (url.starts_with("rediss://")) {
        rest = url.substr(9);
        out.endpoint.transport = redis_endpoint::kind::tls;
    } else {
        out.problem = std::string(expected_url);
        return out;
    }
    const url_parts parts = split_url_rest(rest);
    if (parts.problem == url_parts::problem::query_or_fragment) {
        out.problem = "expected a URL without a query (?) or fragment (#)";
        return out;
    }
    if (parts.problem == url_parts::problem::user_info) {
        out.problem = "expected a URL without a user name or password (use username and "
                      "password_file)";
        return out;
    }
    const std::string_view authority = parts.authority;
    std::string_view db = parts.path;
    const auto split = split_authority(authority);
    if (!split || split->host.empty()) {
        out.problem = std::string(expected_url);
        return out;
    }
    const bool host_ok = std::all_of(split->host.begin(), split->host.end(), [&](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == '_' || (split->bracketed && c == ':');
    });
    if (!host_ok) {
        out.problem = "expected a host name or IP address after the scheme";
        return out;
    }
    out.endpoint.host = std::string(split->host);
    if (split->port) {
        const auto port = small_number(*split->port, 65535);
        if (!port || *port == 0) {
            out.problem = "expected a port from 1 to 65535 after the host";
            return out;
        }
        out.endpoint.port = static_cast<std::uint16_t>(*port);
    }
    if (!db.empty()) {
        db.remove_prefix(1);
        if (!db.empty()) {
            const auto n = small_number(db, 65535);
            if (!n) {
                out.problem = "expected a database number after the '/' (e.g. /0)";
                return out;
            }
            out.endpoint.db = *n;
        }
    }
    return out;
}

} // namespace synergy_tokend
