// The local HTTP API's request handler (PRODUCT.md §5, §6): policy check, routing, and the
// replies of each endpoint. It knows nothing of sockets: local_server hands it a parsed request
// and writes back the response it returns.
//
// Must be called on the executor of the token_store. Never throws for bad input: every refused
// or failed request gets an error envelope naming the problem, and never a secret.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "synergy_tokend/clock.hpp"
#include "synergy_tokend/config.hpp"
#include "synergy_tokend/metrics.hpp"
#include "synergy_tokend/request_policy.hpp"
#include "synergy_tokend/router.hpp"

namespace synergy_tokend {

class token_store;
struct serve_result;
class upstream_client;

using local_request = boost::beast::http::request<boost::beast::http::string_body>;
using local_response = boost::beast::http::response<boost::beast::http::string_body>;

class local_api {
public:
    local_api(const config& cfg, token_store& store, upstream_client& upstream);

    // Where a request goes and whether the request policy (PRODUCT.md §6) lets it through:
    // worked out once per request by classify(), then handed to try_cached() and handle().
    struct routed {
        route where;
        policy_verdict verdict = policy_verdict::allow;
    };
    routed classify(const local_request& req) const;

    // The response to `req`, classified as `r`; version and keep-alive are the caller's to set.
    boost::asio::awaitable<local_response> handle(local_request req, routed r);

    // The fast path of GET /v1/tokens/{name} (PRODUCT.md §8): for a keep-alive HTTP/1.1 GET that
    // passes the request policy and names a profile whose token is servable now, the complete
    // reply (status line, headers, body), serialised once and reused until the token, the
    // second of the reply's time or its expiresIn changes. Counted like any other request.
    // nullptr when the request needs handle() (anything else, or any error reply).
    std::shared_ptr<const std::string> try_cached(const local_request& req, const routed& r);

    // What the listeners report for /status and /metrics (set once the server exists).
    struct listener_info {
        std::vector<std::string> listeners;
        std::size_t open_connections = 0;
    };
    void set_listener_info(std::function<listener_info()> provider) {
        listener_info_ = std::move(provider);
    }

    wall_clock::time_point started_at() const { return started_at_; }

private:
    boost::asio::awaitable<local_response> dispatch(local_request req, routed r);
    boost::asio::awaitable<local_response> get_token(std::string name, bool plain);
    boost::asio::awaitable<local_response> products_token(std::string body);
    boost::asio::awaitable<local_response> proxy_info(local_request req, std::string target);
    // The request policy's verdict (PRODUCT.md §6) on `req` for a route of `kind`.
    policy_verdict policy_verdict_for(const local_request& req, route_kind kind) const;
    static local_response failure_response(const serve_result& served);
    local_response list_tokens() const;
    local_response readyz() const;
    status_snapshot snapshot() const;

    const config& cfg_;
    token_store& store_;
    upstream_client& upstream_;
    wall_clock::time_point started_at_;
    request_counters counters_;

    // try_cached's replies, by profile name; [0] JSON, [1] text/plain.
    struct cached_reply {
        std::shared_ptr<const std::string> bytes;
        std::string token; // the token the bytes hold, to notice a new one
        wall_clock::time_point expires_at;
        wall_clock::time_point built_at;
        wall_clock::time_point valid_until;
        std::uint64_t* requests = nullptr; // this route's 200 counter in counters_
    };
    std::map<std::string, cached_reply, std::less<>> token_replies_[2];
    std::function<listener_info()> listener_info_;
};

// A JSON or plain error reply in the upstream error envelope (status, message; no secrets).
local_response make_error_response(unsigned status, std::string_view message);

} // namespace synergy_tokend
