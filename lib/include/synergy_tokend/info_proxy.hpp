// GET /v1/info/... (PRODUCT.md §5, §6): forwarded to {base_url}/info/... (query kept, path as it
// came: local_server has already refused the paths that may not be forwarded) with the Accept of
// the request and an Authorization:
// - the caller's own Authorization, untouched, when the request has one;
// - else "Bearer <token>" of the profile named by X-Token-Name, or of the default profile: the
//   token servable now, or the one get() waits for (token_store.hpp).
//
// When upstream answers 401 or 403 to a token the daemon attached, the token may have been
// revoked: token_store::get_replacing() decides whether that forces a refresh (single flight,
// shared with every other caller), and the request is sent once more only with a token that
// differs from the refused one. A refusal of the token a forced refresh brought, or of a token
// already refreshed for, is passed on as it came: one refusal costs at most one refresh.
//
// The reply: upstream's status as a number, whatever it is, with upstream's reason phrase, its
// Content-Type and its body byte for byte. Otherwise an error envelope: 404 unknown X-Token-Name,
// 400 no name and no default profile, the failure of get() when no token is servable (503 +
// Retry-After), 502 upstream unreachable, 504 upstream timeout. The text of a 502/504 names
// upstream's failure redacted of every secret the store holds and of the caller's own
// credentials (redact.hpp); no token ever appears in it.
//
// Never throws for bad input or an upstream failure. Must be called on the executor of the
// token_store and the upstream_client.
#pragma once

#include <functional>
#include <optional>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <map>
#include <string>

#include "synergy_tokend/http_reply.hpp"

namespace synergy_tokend {

class token_store;
class upstream_client;

class info_proxy {
public:
    info_proxy(token_store& store, upstream_client& upstream);

    // The reply to `req`, a GET of /v1/info<target> ("/scopes/x?a=1", the route's param);
    // version, keep-alive and framing are the server's to set.
    //
    // `admit`, when given, is asked whether the caller may use the token of the profile the call
    // would carry, before the token is taken and again after every wait for one (a reload may
    // have given the profile a rule meanwhile): a response is the refusal to answer with.
    using admission = std::function<std::optional<local_response>(const std::string& profile)>;
    boost::asio::awaitable<local_response> forward(local_request req, std::string target,
                                                   admission admit = {});

    // How the forwarded requests went, by outcome: "ok" (2xx), "upstream_status" (any other
    // status passed on), "retried_with_new_token", "no_token", "timeout", "unreachable".
    const std::map<std::string, std::uint64_t>& outcomes() const { return outcomes_; }

private:
    token_store& store_;
    upstream_client& upstream_;
    std::map<std::string, std::uint64_t> outcomes_;
};

} // namespace synergy_tokend
