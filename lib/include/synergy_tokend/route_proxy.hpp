// Product API routes (PRODUCT.md §11): `/v1/routes/<name>/<rest>` (any method, query kept) is
// forwarded to the route's fixed base URL + `/<rest>`, never to a host named by the request, with
// `Authorization: Bearer <token of the route's profile>`. local_server has already refused paths
// that could leave the base path (`..`, encoded separators: router.hpp forwarded_path_problem())
// and bodies over the route's max_body_bytes (413), so the body arrives whole.
//
// Headers: the caller's are forwarded except the hop-by-hop ones (Connection and the fields it
// names, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-*), the daemon's own
// (X-Tokend-*, X-Token-Name), Host (the upstream's is sent), Content-Length (recomputed),
// User-Agent, and the caller's own Authorization (the route's token replaces it). The reply comes
// back with upstream's status as a number, its reason phrase and its fields, minus the same
// hop-by-hop and daemon fields, and its body byte for byte.
//
// Given a reply_sink (local_server's), the reply streams (upstream_client::stream()): its header
// goes to the client as soon as it is read, then its body as it arrives, any length, with at
// most one window held and upstream read no faster than the client takes the bytes; upstream's
// Content-Length is kept, else the sink frames it chunked. Interim 1xx replies are skipped. A
// reply without a body, and a 401/403 that may be retried, are read whole first. If the reply
// breaks after its header went out (upstream closed early, bad framing, idle past timeout_ms),
// the sink is aborted so that the client sees it cut short, and the route's `truncated` count
// and a log line say so.
//
// A 401 (or a 403 to a token older than a minute: token_store::get_replacing()) forces the
// profile's single refresh and one retry with the new token: the body is held whole, so every
// request is safe to repeat except those whose method says it must not be (POST, PATCH, and any
// method not known to be idempotent), which get upstream's answer.
//
// Each route has its own upstream_client (its own kept-alive pool, the TLS and reuse rules of the
// Auth API's), made when the route is first used and replaced when a reload changes the route;
// a request in flight keeps the client it started with. route.timeout_ms is an idle timeout:
// connecting, and every wait for progress after (upstream's next bytes, the client taking the
// last ones). Failures before the reply's header: 404 unknown route, the profile's serve failure
// (503 + Retry-After), 403 for a caller the profile's allow refuses (`admit`), 502 unreachable /
// invalid reply (the text redacted), 504 timeout. Never a token in a reply, a log line, /status or
// /metrics.
//
// Must be used on the executor given at construction (that of the token_store).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "synergy_tokend/config.hpp"
#include "synergy_tokend/http_reply.hpp"

namespace synergy_tokend {

class reply_sink;
class token_store;
class upstream_client;

// What /status and /metrics show of one route (no token, no header value).
struct route_stats {
    std::uint64_t requests = 0;
    std::uint64_t errors = 0; // answered by the daemon (502/503/504), not by upstream
    std::uint64_t retried = 0;
    std::chrono::microseconds last_latency{0};
    std::uint64_t truncated = 0; // cut short after the header was passed on
};

class route_proxy {
public:
    route_proxy(boost::asio::any_io_executor ex, const config& cfg, token_store& store);
    ~route_proxy();

    // The max_body_bytes of the route `target` (a request target) falls under, or nullopt when
    // it names no configured route.
    std::optional<std::size_t> body_limit(std::string_view target) const;

    using admission = std::function<std::optional<local_response>(const std::string& profile)>;
    // The reply to `req` whose target below /v1/routes is `below` ("/stats/x?a=1").
    // With a sink, a reply with a body is passed on as it arrives and the returned response
    // only tells its status (reply_sink.hpp); without one it is read whole (at most 8 MiB).
    boost::asio::awaitable<local_response> forward(local_request req, std::string below,
                                                   admission admit, reply_sink* sink = nullptr);

    // By route name, for the configured routes.
    std::map<std::string, route_stats> stats() const;

private:
    struct entry {
        route_config cfg;
        std::shared_ptr<upstream_client> client;
        route_stats stats;
    };
    entry* find(std::string_view name);

    boost::asio::any_io_executor ex_;
    const config& cfg_;
    token_store& store_;
    std::map<std::string, entry, std::less<>> routes_;
};

} // namespace synergy_tokend
