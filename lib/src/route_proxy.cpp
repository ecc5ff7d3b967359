#include "synergy_tokend/route_proxy.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <exception>
#include <string_view>
#include <vector>

#include "synergy_tokend/log.hpp"
#include "synergy_tokend/reply_sink.hpp"
#include "synergy_tokend/text.hpp"
#include "synergy_tokend/token_store.hpp"
#include "synergy_tokend/upstream_client.hpp"

namespace synergy_tokend {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

std::string_view sv(beast::string_view s) {
    return {s.data(), s.size()};
}

// The names a Connection field lists (hop-by-hop for this one message), lower-cased.
template <class Fields>
std::vector<std::string> connection_names(const Fields& fields) {
    std::vector<std::string> out;
    for (auto it = fields.find(http::field::connection);
         it != fields.end() && it->name() == http::field::connection; ++it) {
        for (const auto& token : http::token_list(it->value())) {
            std::string name(token.data(), token.size());
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            out.push_back(std::move(name));
        }
    }
    return out;
}

// Whether a field goes through the daemon, either way (see route_proxy.hpp).
bool passes(std::string_view name, const std::vector<std::string>& named_by_connection) {
    static constexpr std::string_view dropped[] = {
        "connection",  "keep-alive",     "te",   "trailer",    "transfer-encoding",
        "upgrade",     "content-length", "host", "user-agent", "authorization",
        "x-token-name"};
    for (auto d : dropped)
        if (beast::iequals(name, d))
            return false;
    if (name.size() >= 6 && beast::iequals(name.substr(0, 6), "proxy-"))
        return false;
    if (name.size() >= 9 && beast::iequals(name.substr(0, 9), "x-tokend-"))
        return false;
    for (const auto& n : named_by_connection)
        if (beast::iequals(name, n))
            return false;
    return true;
}

// Methods a retry may repeat (RFC 9110 §9.2.2: idempotent), the body being held whole.
bool safe_to_repeat(http::verb v) {
    switch (v) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::put:
    case http::verb::delete_:
    case http::verb::options:
        return true;
    default:
        return false;
    }
}

upstream_request route_request(const local_request& req, std::string target,
                               std::string authorization) {
    upstream_request up;
    up.method = req.method();
    up.target = std::move(target);
    up.body = req.body();
    up.authorization = std::move(authorization);
    const auto named = connection_names(req);
    up.accept = "*/*";
    for (const auto& f : req) {
        const std::string_view name = sv(f.name_string());
        if (f.name() == http::field::accept) {
            up.accept = std::string(sv(f.value()));
        } else if (f.name() == http::field::content_type) {
            up.content_type = std::string(sv(f.value()));
        } else if (passes(name, named)) {
            up.fields.emplace_back(std::string(name), std::string(sv(f.value())));
        }
    }
    return up;
}

// The local reply's status line and fields for upstream's `head`: its status as a number, its
// reason phrase, its fields but the hop-by-hop and daemon ones; for HEAD, upstream's
// Content-Length (of the body a GET would get).
local_response forwarded_head(const http::response_header<>& head, http::verb method) {
    local_response out;
    out.version(11);
    out.result(head.result_int());
    out.reason(head.reason());
    const auto named = connection_names(head);
    for (const auto& f : head)
        if (passes(sv(f.name_string()), named))
            out.insert(f.name_string(), f.value());
    if (method == http::verb::head)
        if (auto cl = head.find(http::field::content_length); cl != head.end())
            out.set(http::field::content_length, cl->value());
    return out;
}

// Passes a route's reply on to the local client as it arrives (reply_sink.hpp), or has it read
// whole when it is small and may be answered otherwise: a reply without a body, and a 401 or
// 403 that a retry with a new token may replace.
class relay final : public reply_consumer {
public:
    relay(reply_sink* sink, http::verb method, bool may_retry)
        : sink_(sink)
        , method_(method)
        , may_retry_(may_retry) {}

    asio::awaitable<choice> header(const reply_head& head) override {
        const unsigned status = head.fields.result_int();
        if (sink_ == nullptr || head.body_length == std::uint64_t{0} ||
            (may_retry_ && (status == 401 || status == 403)))
            co_return choice::collect;
        local_response out = forwarded_head(head.fields, method_);
        const boost::system::error_code ec = co_await sink_->begin(out, head.body_length);
        if (ec)
            co_return choice::stop;
        co_return choice::stream;
    }

    asio::awaitable<bool> body(std::string_view bytes) override {
        const boost::system::error_code ec = co_await sink_->write(bytes);
        co_return !ec;
    }

private:
    reply_sink* sink_;
    http::verb method_;
    bool may_retry_;
};

upstream_config client_config(const route_config& r, const upstream_config& base) {
    upstream_config c;
    c.base_url = r.upstream;
    c.ca_file = r.ca_file;
    c.connect_timeout = std::min(base.connect_timeout, r.timeout);
    c.request_timeout = r.timeout;
    c.max_connections = base.max_connections;
    c.idle_timeout = base.idle_timeout;
    c.allow_insecure_http = true; // the config parser has checked upstream.allow_insecure_http
    return c;
}

} // namespace

route_proxy::route_proxy(asio::any_io_executor ex, const config& cfg, token_store& store)
    : ex_(ex)
    , cfg_(cfg)
    , store_(store) {}

route_proxy::~route_proxy() = default;

std::optional<std::size_t> route_proxy::body_limit(std::string_view target) const {
    constexpr std::string_view prefix = "/v1/routes";
    if (!target.starts_with(prefix))
        return std::nullopt;
    const std::string_view below = target.substr(prefix.size());
    for (const auto& r : cfg_.routes)
        if (below.starts_with(r.prefix))
            return r.max_body_bytes;
    return std::nullopt;
}

route_proxy::entry* route_proxy::find(std::string_view name) {
    const route_config* rc = nullptr;
    for (const auto& r : cfg_.routes)
        if (r.name() == name)
            rc = &r;
    // Routes a reload removed are forgotten (a request in flight holds its client).
    std::erase_if(routes_, [this](const auto& e) {
        return std::none_of(cfg_.routes.begin(), cfg_.routes.end(),
                            [&](const route_config& r) { return r.name() == e.first; });
    });
    if (rc == nullptr)
        return nullptr;
    auto [it, fresh] = routes_.try_emplace(std::string(name));
    if (fresh || !(it->second.cfg == *rc)) {
        it->second.cfg = *rc;
        it->second.client.reset(); // made anew with the route's new settings
    }
    return &it->second;
}

asio::awaitable<local_response> route_proxy::forward(local_request req, std::string below,
                                                     admission admit, reply_sink* sink) {
    // below = "/<name>/<rest>[?query]"
    const auto slash = below.find('/', 1);
    const std::string name = below.substr(1, slash - 1);
    entry* e = find(name);
    if (e == nullptr)
        co_return make_error_response(404, "no route named \"" + name + "\"");
    const std::string profile = e->cfg.token;
    const std::string target = below.substr(slash); // "/<rest>[?query]"
    ++e->stats.requests;
    if (!e->client) {
        try {
            e->client =
                std::make_shared<upstream_client>(ex_, client_config(e->cfg, cfg_.upstream));
        } catch (const std::exception& ex) {
            ++e->stats.errors;
            co_return make_error_response(502, "route " + name + ": " + ex.what());
        }
    }
    // The frame holds the client and the route's settings: a reload may replace both meanwhile.
    const std::shared_ptr<upstream_client> client = e->client;

    if (admit)
        if (auto refusal = admit(profile))
            co_return std::move(*refusal);
    std::string attached;
    if (const token_value* now = store_.servable_now(profile, wall_clock::now())) {
        attached = now->token;
    } else {
        serve_result served = co_await store_.get(profile);
        if (served.outcome != serve_result::status::ok) {
            if (entry* again = find(name))
                ++again->stats.errors;
            co_return failure_response(served);
        }
        if (admit)
            if (auto refusal = admit(profile))
                co_return std::move(*refusal);
        attached = std::move(served.token.token);
    }

    const bool repeatable = safe_to_repeat(req.method());
    relay first(sink, req.method(), repeatable);
    upstream_stream_result res =
        co_await client->stream(route_request(req, target, "Bearer " + attached), first);
    bool retried = false;
    if (res.ok() && !res.streamed && repeatable &&
        (res.response.result_int() == 401 || res.response.result_int() == 403)) {
        serve_result fresh =
            co_await store_.get_replacing(profile, attached, res.response.result_int());
        if (fresh.outcome == serve_result::status::ok && fresh.token.token != attached) {
            // A reload while waiting for the replacement may have given the profile a rule.
            if (admit)
                if (auto refusal = admit(profile))
                    co_return std::move(*refusal);
            retried = true;
            relay second(sink, req.method(), false);
            res = co_await client->stream(route_request(req, target, "Bearer " + fresh.token.token),
                                          second);
        }
    }
    entry* now_e = find(name); // the entry may have gone with a reload
    if (now_e != nullptr) {
        now_e->stats.retried += retried ? 1 : 0;
        now_e->stats.last_latency = res.latency;
    }
    if (sink != nullptr && sink->begun()) {
        // The header has gone to the client: the body ends complete, or cut short.
        local_response out;
        out.result(res.response.result_int());
        if (res.ok() && res.streamed) {
            co_await sink->finish();
            co_return out;
        }
        sink->abort();
        if (!res.stopped) { // upstream's doing, not the client's going away
            if (now_e != nullptr)
                ++now_e->stats.truncated;
            log::warn("route", name + ": the reply (" + std::to_string(res.response.result_int()) +
                                   ") was cut short after " + std::to_string(res.body_bytes) +
                                   " bytes of body, and so is the local reply: " +
                                   store_.redact(res.detail));
        }
        co_return out;
    }
    if (!res.ok()) {
        if (now_e != nullptr)
            ++now_e->stats.errors;
        const bool timed_out = res.ec == upstream_errc::timeout;
        co_return make_error_response(
            timed_out ? 504 : 502,
            "route " + name + ": " +
                (timed_out ? "upstream timed out: " : "upstream unreachable: ") +
                store_.redact(res.detail));
    }
    local_response out = forwarded_head(res.response.base(), req.method());
    out.body() = std::move(res.response.body());
    co_return out;
}

std::map<std::string, route_stats> route_proxy::stats() const {
    std::map<std::string, route_stats> out;
    for (const auto& r : cfg_.routes) {
        const auto it = routes_.find(r.name());
        out[r.name()] = it == routes_.end() ? route_stats{} : it->second.stats;
    }
    return out;
}

} // namespace synergy_tokend
