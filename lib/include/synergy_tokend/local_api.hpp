// The local HTTP API's request handler (PRODUCT.md §5, §6): the request policy, routing, the fast
// path, and the replies of each endpoint. It knows nothing of sockets: local_server hands it each
// parsed request through handle(), its one entry point, and writes back the reply it returns.
//
// handle() classifies the request (router: where it goes; request_policy: whether it may) and
// then answers it one of two ways:
// - the fast path of GET /v1/tokens/{name} (PRODUCT.md §8), synchronously: for a keep-alive
//   HTTP/1.1 GET that passes the request policy and names a profile whose token is servable now,
//   the complete reply (status line, headers, body), serialised once by http_reply's serialiser
//   and shared until the token, the second of the reply's time or its expiresIn changes; no
//   coroutine is started and nothing is copied;
// - every other request (and that one when its token is not servable now, or the server will
//   close the connection): a coroutine that makes the response, which the server awaits and
//   serialises. /v1/info/... goes to info_proxy, tokens to token_store.
// Change notification (PRODUCT.md §5, §11): every token reply carries an ETag
// (token_changes::etag_of(), computed once per token, the fast path's too). A GET with an ETag
// (`etag=` or If-None-Match, change_wait.hpp) whose profile's servable token still has it gets
// 304 at once, or with `wait=S` is held until token_store reports a change of the profile
// (token_changes.hpp), the token stops being servable, or S seconds pass (then 304). Access rules
// apply before the wait and again after it. At most listen.max_waits requests are held at once;
// more get 503. A held reply is marked `held` so that local_server releases it when its client
// goes away (local_server.hpp). Bad wait parameters get 400 naming the parameter.
//
// Every reply is counted in /metrics by route and status, the fast path's too, and so are the
// refusals the server makes itself (refusal()).
//
// Access rules (PRODUCT.md §9): a profile with `allow` is served only to a caller the rule admits
// (access.hpp), whether asked for directly, as the profile a /v1/info call would use, or as the
// profile a drop-in POST matches; `on_demand.allow` rules drop-in requests that match no
// profile. Others get 403 naming caller and profile, counted by profile in /metrics and logged
// once per caller and profile per minute (uid, pid, executable). GET /v1/tokens lists only what
// the caller may read; GET /v1/whoami says who the caller is and what it may read. The caller is
// asked of the kernel once per connection, only when a request needs it (lazy_caller).
//
// Must be called on the executor of the token_store. Never throws for bad input: every refused
// or failed request gets an error envelope naming the problem, and never a secret. A bug (or
// std::bad_alloc) is an exception out of handle() or of the awaited response.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "synergy_tokend/change_wait.hpp"
#include "synergy_tokend/clock.hpp"
#include "synergy_tokend/config.hpp"
#include "synergy_tokend/http_reply.hpp"
#include "synergy_tokend/info_proxy.hpp"
#include "synergy_tokend/metrics.hpp"
#include "synergy_tokend/peer_identity.hpp"
#include "synergy_tokend/request_policy.hpp"
#include "synergy_tokend/route_proxy.hpp"
#include "synergy_tokend/router.hpp"

namespace synergy_tokend {

class reply_sink;
class token_store;
class upstream_client;

// What the server sends back for one request: exactly one of the two is set.
struct local_reply {
    // The fast path: the complete reply, to be sent as it is (it says keep-alive).
    std::shared_ptr<const std::string> bytes;
    // Otherwise the response to come, to be awaited once; version, keep-alive and framing are
    // the server's to set (reply_header()).
    boost::asio::awaitable<local_response> response;
    // The response may be held for long (a change wait): the server cancels it when the client
    // closes the connection meanwhile.
    bool held = false;
};

class local_api {
public:
    local_api(const config& cfg, token_store& store, upstream_client& upstream);

    // The one entry point: the reply to `req`, which it moves from only when the reply is a
    // `response`. `may_keep_alive`: false when the server closes the connection after this reply
    // whatever the request says (it is stopping); the fast path then is not taken.
    // `caller` is the connection's, and must outlive the awaited response.
    // `sink`, when given, must outlive the awaited response: a product API route writes its reply
    // into it as it arrives (reply_sink.hpp) and the response only tells its status; without
    // one a route's reply is read whole (at most 8 MiB).
    local_reply handle(local_request&& req, bool may_keep_alive, lazy_caller& caller,
                       reply_sink* sink = nullptr);

    // The reply to a request the server refuses itself (limits, framing: local_server.hpp): the
    // error envelope of `status` with `message`, counted in /metrics under the route of
    // `partial`, the request as far as the parser got: its method and target once its request
    // line was parsed, "other" before that or when they name no route.
    local_response refusal(unsigned status, std::string_view message, const local_request& partial);

    // What the listeners report for /status and /metrics (set once the server exists).
    struct listener_info {
        std::vector<std::string> listeners;
        std::size_t open_connections = 0;
    };
    void set_listener_info(std::function<listener_info()> provider) {
        listener_info_ = std::move(provider);
    }

    // The file sinks' counts for /metrics (set once the sinks exist): profile -> (ok, failed).
    void set_sink_counts(
        std::function<std::map<std::string, std::pair<std::uint64_t, std::uint64_t>>()> provider) {
        sink_counts_ = std::move(provider);
    }

    wall_clock::time_point started_at() const { return started_at_; }

    // The largest body a request to `target` may have: its route's max_body_bytes for a product
    // API route (PRODUCT.md §11), else 64 KiB (local_server.hpp).
    std::size_t body_limit(std::string_view target) const;
    // The largest of every body_limit(): what the server's parser is given before the target is
    // known.
    std::size_t largest_body_limit() const;

    // The uid → name and groups cache of the listeners' callers; cleared on reload (SIGHUP).
    account_cache& accounts() { return accounts_; }

private:
    // Where a request goes and whether the request policy (PRODUCT.md §6) lets it through.
    struct routed {
        route where;
        policy_verdict verdict = policy_verdict::allow;
        std::optional<std::string_view> if_none_match; // the first If-None-Match field
        // GET /v1/tokens/{name} with a query or If-None-Match: its change-wait parameters.
        std::optional<change_wait_parse> wait;
    };
    routed classify(const local_request& req) const;
    // The fast path (see above): the shared bytes, or nullptr when the request needs respond().
    std::shared_ptr<const std::string> try_fast(const local_request& req, const routed& r,
                                                lazy_caller& caller);
    boost::asio::awaitable<local_response> respond(local_request req, routed r, lazy_caller* caller,
                                                   reply_sink* sink);
    boost::asio::awaitable<local_response> dispatch(local_request req, routed r,
                                                    lazy_caller* caller, reply_sink* sink);
    // A GET /v1/tokens/{name} to be held, that the policy and the access rule let through.
    boost::asio::awaitable<local_response> hold(std::string name, bool plain, change_wait wait,
                                                lazy_caller* caller);
    boost::asio::awaitable<local_response> get_token(std::string name, bool plain,
                                                     lazy_caller* caller, change_wait wait);
    // The ETag of profile `name`'s token `token`, computed once per token.
    const std::string& etag_for(std::string_view name, const std::string& token);
    boost::asio::awaitable<local_response> products_token(std::string body, lazy_caller* caller);
    // The rule of profile `name` (nullptr: no such profile; an empty optional: no rule).
    const std::optional<access_rule>* rule_for(std::string_view name) const;
    // Whether `caller` may read profile `name` (always, for a profile without a rule).
    bool allowed(std::string_view name, lazy_caller& caller) const;
    // The 403 for `caller` and `profile`, counted and logged (at most once a minute each).
    local_response refuse_caller(const caller_identity& caller, const std::string& profile);
    local_response whoami(lazy_caller& caller) const;
    // The request policy's verdict (PRODUCT.md §6) on `req` for a route of `kind`.
    // Also notes the request's first If-None-Match field in `if_none_match`.
    policy_verdict policy_verdict_for(const local_request& req, route_kind kind,
                                      std::optional<std::string_view>& if_none_match) const;
    local_response list_tokens(lazy_caller& caller) const;
    local_response readyz() const;
    // /status and /metrics: the counts in `counts` (the local ones and the proxy's).
    status_snapshot snapshot(request_counters& counts) const;

    const config& cfg_;
    token_store& store_;
    upstream_client& upstream_;
    info_proxy info_;
    route_proxy routes_;
    wall_clock::time_point started_at_;
    request_counters counters_; // by_route_code; the proxy counts its own outcomes

    // try_fast's replies, by profile name; [0] JSON, [1] text/plain.
    struct cached_reply {
        std::shared_ptr<const std::string> bytes;
        std::string token; // the token the bytes hold, to notice a new one
        std::string etag;  // its ETag
        wall_clock::time_point expires_at;
        wall_clock::time_point built_at;
        wall_clock::time_point valid_until;
        std::uint64_t* requests = nullptr; // this route's 200 counter in counters_
    };
    std::map<std::string, cached_reply, std::less<>> token_replies_[2];
    // etag_for()'s cache, by profile name: the token and its ETag.
    std::map<std::string, std::pair<std::string, std::string>, std::less<>> etags_;
    std::function<listener_info()> listener_info_;
    std::function<std::map<std::string, std::pair<std::uint64_t, std::uint64_t>>()> sink_counts_;
    account_cache accounts_;
    std::map<std::string, std::uint64_t> access_denied_; // by profile
    // When a refusal of (caller, profile) was last logged, to log it at most once a minute.
    std::map<std::pair<std::string, std::string>, std::chrono::steady_clock::time_point>
        refusals_logged_;
};

} // namespace synergy_tokend
