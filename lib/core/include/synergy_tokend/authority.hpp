// Splitting an authority ("host", "host:port", "[v6]", "[v6]:port") into host and port text: the
// one grammar for the upstream base URL, the listen addresses, the Host header and the CLI's
// --endpoint. Pure.
#pragma once

#include <optional>
#include <string_view>

namespace synergy_tokend {

struct host_and_port {
    std::string_view host;                // without the brackets of an IPv6 literal; may be empty
    std::optional<std::string_view> port; // the text after the ':' (after ']'); nullopt: no ':'
    bool bracketed = false;               // the host was written as "[...]"
};

// nullopt when a '[' has no ']' or something other than ':' follows the ']'. Without brackets the
// port is what follows the last ':'. Neither part is validated further: that is the caller's,
// with its own defaults and messages.
std::optional<host_and_port> split_authority(std::string_view authority);

// What follows "scheme://" in a URL, split at the first '/' into the authority and the path (the
// path keeps its '/'; empty when there is none), for the URLs of the configuration (the upstream
// base URL, the shared cache's Redis URL), which take neither a query, a fragment nor a user.
struct url_parts {
    std::string_view authority;
    std::string_view path;
    enum class problem { none, query_or_fragment, user_info } problem = problem::none;
};
url_parts split_url_rest(std::string_view rest);

} // namespace synergy_tokend
