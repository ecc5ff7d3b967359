#include "synergy_tokend/local_api.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <unistd.h>

#include "synergy_tokend/local_server.hpp"
#include "synergy_tokend/log.hpp"
#include "synergy_tokend/request_policy.hpp"
#include "synergy_tokend/router.hpp"
#include "synergy_tokend/status_page.hpp"
#include "synergy_tokend/token_request.hpp"
#include "synergy_tokend/token_store.hpp"
#include "synergy_tokend/upstream_client.hpp"

namespace synergy_tokend {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

namespace {

std::string now_text() {
    return format_rfc3339(wall_clock::now());
}

std::string_view value_of(const local_request::value_type& field) {
    return {field.value().data(), field.value().size()};
}

template <class Field>
std::optional<std::string_view> header(const local_request& req, Field f) {
    const auto it = req.find(f);
    if (it == req.end())
        return std::nullopt;
    return value_of(*it);
}

bool wants_plain_text(const local_request& req) {
    const auto accept = header(req, http::field::accept);
    return accept && accept->starts_with("text/plain");
}

json::value time_or_null(const std::optional<wall_clock::time_point>& t) {
    if (!t)
        return nullptr;
    return json::string(format_rfc3339(*t));
}

} // namespace

local_api::local_api(const config& cfg, token_store& store, upstream_client& upstream)
    : cfg_(cfg)
    , store_(store)
    , upstream_(upstream)
    , info_(store, upstream)
    , routes_(upstream.executor(), cfg, store)
    , started_at_(wall_clock::now()) {}

local_api::routed local_api::classify(const local_request& req) const {
    const std::string_view method(req.method_string().data(), req.method_string().size());
    const std::string_view target(req.target().data(), req.target().size());
    routed out;
    out.where = match_route(method, target);
    out.verdict = policy_verdict_for(req, out.where.kind, out.if_none_match);
    if (out.where.kind == route_kind::token_get &&
        (out.if_none_match || target.find('?') != std::string_view::npos))
        out.wait = parse_change_wait(target, out.if_none_match);
    return out;
}

local_reply local_api::handle(local_request&& req, bool may_keep_alive, lazy_caller& caller,
                              reply_sink* sink) {
    routed r = classify(req);
    if (may_keep_alive)
        if (auto bytes = try_fast(req, r, caller))
            return {std::move(bytes), {}};
    // A request to be held that passes every check goes straight to hold(): a held request
    // keeps its coroutine frames for the whole wait, so they are few and small.
    if (r.wait && r.wait->ok() && r.wait->value.holds() && r.verdict == policy_verdict::allow &&
        r.where.method_allowed && allowed(r.where.param, caller))
        return {nullptr,
                hold(std::move(r.where.param), wants_plain_text(req), std::move(r.wait->value),
                     &caller),
                true};
    return {nullptr, respond(std::move(req), std::move(r), &caller, sink)};
}

asio::awaitable<local_response> local_api::hold(std::string name, bool plain, change_wait wait,
                                                lazy_caller* caller) {
    local_response res = co_await get_token(std::move(name), plain, caller, std::move(wait));
    ++counters_.by_route_code[{route_label(route_kind::token_get), res.result_int()}];
    co_return res;
}

std::size_t local_api::body_limit(std::string_view target) const {
    return routes_.body_limit(target).value_or(server_limits{}.body_limit);
}

std::size_t local_api::largest_body_limit() const {
    std::size_t out = server_limits{}.body_limit;
    for (const auto& r : cfg_.routes)
        out = std::max(out, r.max_body_bytes);
    return out;
}

const std::optional<access_rule>* local_api::rule_for(std::string_view name) const {
    for (const auto& p : cfg_.tokens)
        if (p.name == name)
            return &p.allow;
    return nullptr;
}

bool local_api::allowed(std::string_view name, lazy_caller& caller) const {
    const std::optional<access_rule>* rule = rule_for(name);
    return rule == nullptr || !rule->has_value() || may_read(*rule, caller.get());
}

namespace {

std::string executable_of(std::int64_t pid) {
    char path[4096];
    const std::string link = "/proc/" + std::to_string(pid) + "/exe";
    const ssize_t n = ::readlink(link.c_str(), path, sizeof path - 1);
    return n > 0 ? std::string(path, static_cast<std::size_t>(n)) : std::string("unreadable");
}

} // namespace

local_response local_api::refuse_caller(const caller_identity& caller, const std::string& profile) {
    ++access_denied_[profile];
    const std::string who = caller.known() ? std::to_string(caller.uid) : "unknown";
    const auto now = std::chrono::steady_clock::now();
    auto [it, first] = refusals_logged_.try_emplace({who, profile}, now);
    if (first || now - it->second >= std::chrono::minutes(1)) {
        it->second = now;
        std::string line = refusal_message(caller, profile) + " (" + caller.listener;
        if (caller.pid)
            line += ", pid " + std::to_string(*caller.pid) + ", " + executable_of(*caller.pid);
        line += "); further refusals of this caller and profile are not logged for a minute";
        log::warn("access", line);
        // Forget callers not refused for a minute, so that many callers cannot grow the map.
        if (refusals_logged_.size() > 4096)
            std::erase_if(refusals_logged_,
                          [&](const auto& e) { return now - e.second >= std::chrono::minutes(1); });
    }
    return make_error_response(403, refusal_message(caller, profile));
}

local_response local_api::whoami(lazy_caller& lazy) const {
    const caller_identity& c = lazy.get();
    json::object data;
    data["listener"] = c.listener;
    data["identifiedBy"] = to_string(c.how);
    if (c.known()) {
        data["uid"] = c.uid;
        data["user"] = c.user.empty() ? json::value(nullptr) : json::value(c.user);
        data["gid"] = c.gid ? json::value(*c.gid) : json::value(nullptr);
        json::array groups;
        for (auto g : c.groups)
            groups.emplace_back(g);
        data["groups"] = std::move(groups);
        data["pid"] = c.pid ? json::value(*c.pid) : json::value(nullptr);
    } else {
        data["unknownReason"] = c.unknown_reason;
    }
    json::array readable;
    for (const auto& p : cfg_.tokens)
        if (may_read(p.allow, c))
            readable.emplace_back(p.name);
    data["readableProfiles"] = std::move(readable);
    data["onDemand"] = cfg_.on_demand.enabled && may_read(cfg_.on_demand.allow, c);
    return json_response(200, data_envelope(200, json::serialize(data), now_text()));
}

local_response local_api::refusal(unsigned status, std::string_view message,
                                  const local_request& partial) {
    const route_kind kind =
        match_route({partial.method_string().data(), partial.method_string().size()},
                    {partial.target().data(), partial.target().size()})
            .kind;
    ++counters_.by_route_code[{route_label(kind), status}];
    return make_error_response(status, message);
}

asio::awaitable<local_response> local_api::respond(local_request req, routed r, lazy_caller* caller,
                                                   reply_sink* sink) {
    const route_kind kind = r.where.kind;
    local_response res = co_await dispatch(std::move(req), std::move(r), caller, sink);
    ++counters_.by_route_code[{route_label(kind), res.result_int()}];
    co_return res;
}

asio::awaitable<local_response> local_api::dispatch(local_request req, routed rr,
                                                    lazy_caller* caller, reply_sink* sink) {
    const std::string_view method(req.method_string().data(), req.method_string().size());
    const std::string_view target(req.target().data(), req.target().size());

    if (rr.verdict != policy_verdict::allow)
        co_return make_error_response(403, describe(rr.verdict));
    route& r = rr.where;

    if (r.kind == route_kind::not_found)
        co_return make_error_response(404, "no such endpoint: " + std::string(method) + " " +
                                               std::string(target.substr(0, target.find('?'))));
    if (!r.method_allowed) {
        auto res = make_error_response(405, std::string("method not allowed; use ") + r.allow);
        res.set(http::field::allow, r.allow);
        co_return res;
    }

    switch (r.kind) {
    case route_kind::tokens_list:
        co_return list_tokens(*caller);
    case route_kind::token_get: {
        if (!allowed(r.param, *caller))
            co_return refuse_caller(caller->get(), r.param);
        if (rr.wait && !rr.wait->ok()) {
            local_response res = make_error_response(400, rr.wait->error);
            res.set(http::field::cache_control, "no-store");
            co_return res;
        }
        // A named value: GCC 12 destroys a temporary of ?: inside co_await twice.
        change_wait wait;
        if (rr.wait)
            wait = std::move(rr.wait->value);
        co_return co_await get_token(r.param, wants_plain_text(req), caller, std::move(wait));
    }
    case route_kind::products_token:
        co_return co_await products_token(std::move(req.body()), caller);
    case route_kind::info:
        // The profile whose token the call would carry must be one the caller may read (none
        // when the caller brings its own Authorization: it then reads nothing of the daemon's).
        co_return co_await info_.forward(
            std::move(req), std::move(r.param),
            [this, caller](const std::string& profile) -> std::optional<local_response> {
                if (allowed(profile, *caller))
                    return std::nullopt;
                return refuse_caller(caller->get(), profile);
            });
    case route_kind::product_route:
        co_return co_await routes_.forward(
            std::move(req), std::move(r.param),
            [this, caller](const std::string& profile) -> std::optional<local_response> {
                if (allowed(profile, *caller))
                    return std::nullopt;
                return refuse_caller(caller->get(), profile);
            },
            sink);
    case route_kind::whoami:
        co_return whoami(*caller);
    case route_kind::healthz:
        co_return json_response(200, data_envelope(200, R"({"status":"ok"})", now_text()));
    case route_kind::readyz:
        co_return readyz();
    case route_kind::status: {
        // The same URL answers a person's browser with the page, anything else with JSON.
        const auto accept = header(req, http::field::accept);
        local_response res;
        if (accept && prefers_html(*accept)) {
            res = status_page_response();
        } else {
            request_counters counts;
            res = json_response(
                200, data_envelope(200, render_status_json(snapshot(counts)), now_text()));
        }
        res.set(http::field::vary, "Accept");
        co_return res;
    }
    case route_kind::status_page:
        co_return status_page_response();
    case route_kind::metrics: {
        request_counters counts;
        local_response res{http::status::ok, 11};
        res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        res.body() = render_metrics(snapshot(counts));
        co_return res;
    }
    case route_kind::not_found:
        break; // answered above
    }
    co_return make_error_response(404, "no such endpoint");
}

policy_verdict local_api::policy_verdict_for(const local_request& req, route_kind kind,
                                             std::optional<std::string_view>& if_none_match) const {
    // One pass over the request's few fields rather than a lookup per header. The first of
    // repeated fields counts, as with find().
    request_facts facts;
    for (const auto& f : req) {
        switch (f.name()) {
        case http::field::host:
            if (!facts.host)
                facts.host = value_of(f);
            break;
        case http::field::origin:
            facts.has_origin = true;
            break;
        case http::field::forwarded:
            facts.has_forwarded = true;
            break;
        case http::field::if_none_match:
            if (!if_none_match)
                if_none_match = value_of(f);
            break;
        case http::field::unknown:
            if (beast::iequals(f.name_string(), "X-Forwarded-For"))
                facts.has_x_forwarded_for = true;
            else if (!facts.tokend_request && beast::iequals(f.name_string(), "X-Tokend-Request"))
                facts.tokend_request = value_of(f);
            break;
        default:
            break;
        }
    }
    return check_request(facts, kind, cfg_.listen.require_request_header);
}

namespace {

// GET /v1/tokens/{name}'s 200 reply for `t` (whose ETag is `etag`) at time `now`.
local_response token_response(const token_value& t, bool plain, wall_clock::time_point now,
                              const std::string& etag) {
    local_response res;
    if (plain) {
        res = local_response{http::status::ok, 11};
        res.set(http::field::content_type, "text/plain; charset=utf-8");
        res.body() = t.token;
    } else {
        json::object data;
        data["token"] = t.token;
        data["tokenType"] = t.token_type;
        data["expiresIn"] = whole_seconds_until(t.expires_at, now);
        data["expiresAt"] = format_rfc3339(t.expires_at);
        res = json_response(200, data_envelope(200, json::serialize(data), format_rfc3339(now)));
    }
    res.set(http::field::cache_control, "no-store");
    res.set(http::field::etag, etag);
    return res;
}

// The 304 for a token the caller has (ETag `etag`).
local_response not_modified(const std::string& etag) {
    local_response res{http::status::not_modified, 11};
    res.set(http::field::cache_control, "no-store");
    res.set(http::field::etag, etag);
    return res;
}

} // namespace

const std::string& local_api::etag_for(std::string_view name, const std::string& token) {
    auto it = etags_.find(name);
    if (it == etags_.end())
        it = etags_.emplace(std::string(name), std::pair<std::string, std::string>{}).first;
    auto& [known, etag] = it->second;
    if (etag.empty() || known != token) {
        known = token;
        etag = store_.changes().etag_of(token);
    }
    return etag;
}

asio::awaitable<local_response> local_api::get_token(std::string name, bool plain,
                                                     lazy_caller* caller, change_wait wait) {
    using steady = std::chrono::steady_clock;
    token_changes& changes = store_.changes();
    if (wait.holds() && changes.waiting() >= cfg_.listen.max_waits) {
        local_response res = make_error_response(
            503, "too many held requests: listen.max_waits (" +
                     std::to_string(cfg_.listen.max_waits) +
                     ") requests are already waiting for a token change; retry later");
        res.set(http::field::retry_after, "1");
        res.set(http::field::cache_control, "no-store");
        co_return res;
    }
    const auto deadline = steady::now() + wait.wait;
    // While the profile's servable token has an ETag the caller has: 304 at once, or once the
    // wait is over; else hold until the store reports a change or the token stops being
    // servable. A token that changed, or none servable, is answered as a plain GET.
    while (!wait.etags.empty()) {
        const auto wall = wall_clock::now();
        const token_value* t = store_.servable_now(name, wall);
        if (t == nullptr)
            break;
        const std::string etag = etag_for(name, t->token);
        if (!wait.matches(etag))
            break;
        const auto mono = steady::now();
        if (!wait.holds() || mono >= deadline || changes.stopped())
            co_return not_modified(etag);
        const auto servable_for = std::chrono::duration_cast<steady::duration>(
            t->expires_at - cfg_.refresh.min_serve_remaining - wall);
        const auto wake = std::min<steady::time_point>(deadline, mono + servable_for +
                                                                     std::chrono::milliseconds(1));
        if (co_await changes.wait(name, wake) == token_changes::woke::cancelled)
            co_return not_modified(etag); // the client went away: nobody reads it
        if (!allowed(name, *caller)) // a reload while waiting may have given the profile a rule
            co_return refuse_caller(caller->get(), name);
    }
    const serve_result served = co_await store_.get(name);
    // A reload while waiting may have given the profile a rule.
    if (!allowed(name, *caller))
        co_return refuse_caller(caller->get(), name);
    if (served.outcome != serve_result::status::ok) {
        local_response res = failure_response(served);
        res.set(http::field::cache_control, "no-store");
        co_return res;
    }
    co_return token_response(served.token, plain, wall_clock::now(),
                             etag_for(name, served.token.token));
}

std::shared_ptr<const std::string> local_api::try_fast(const local_request& req, const routed& r,
                                                       lazy_caller& caller) {
    // Only the plain case: a keep-alive HTTP/1.1 GET of a token the policy lets through.
    if (req.method() != http::verb::get || req.version() != 11 || !req.keep_alive() ||
        r.where.kind != route_kind::token_get || !r.where.method_allowed ||
        r.verdict != policy_verdict::allow || r.wait)
        return nullptr;
    const std::string_view name = r.where.param;

    const auto now = wall_clock::now();
    const token_value* t = store_.servable_now(name, now);
    if (t == nullptr || !allowed(name, caller))
        return nullptr; // respond() waits for the token, or refuses the caller
    const bool plain = wants_plain_text(req);
    auto& cache = token_replies_[plain ? 1 : 0];
    auto it = cache.find(name);
    if (it == cache.end())
        it = cache.emplace(std::string(name), cached_reply{}).first;
    cached_reply& c = it->second;
    if (!c.bytes || now < c.built_at || now >= c.valid_until || c.expires_at != t->expires_at ||
        c.token != t->token) {
        if (c.etag.empty() || c.token != t->token)
            c.etag = store_.changes().etag_of(t->token);
        c.bytes = std::make_shared<const std::string>(
            reply_bytes(token_response(*t, plain, now, c.etag), true));
        c.token = t->token;
        c.expires_at = t->expires_at;
        c.built_at = now;
        // The bytes hold the time (whole seconds) and expiresIn (whole seconds until expiry):
        // they stay true until the next second starts or expiresIn drops by one.
        const auto whole_left = std::chrono::seconds(whole_seconds_until(t->expires_at, now));
        const auto next_second =
            std::chrono::floor<std::chrono::seconds>(now) + std::chrono::seconds(1);
        c.valid_until = std::min<wall_clock::time_point>(next_second, t->expires_at - whole_left);
        if (c.requests == nullptr)
            c.requests = &counters_.by_route_code[{route_label(route_kind::token_get), 200}];
    }
    ++*c.requests;
    return c.bytes;
}

asio::awaitable<local_response> local_api::products_token(std::string body, lazy_caller* caller) {
    token_request_parse parsed = parse_token_request(body);
    if (!parsed.ok())
        co_return make_error_response(400, "malformed token request: " + parsed.error);

    serve_result served;
    if (const profile_config* p = store_.profile_for(parsed.value)) {
        const std::string name = p->name; // p is the store's: it may go on a reload
        if (!allowed(name, *caller))
            co_return refuse_caller(caller->get(), name);
        served = co_await store_.get(name);
        if (!allowed(name, *caller)) // a reload while waiting may have given it a rule
            co_return refuse_caller(caller->get(), name);
    } else if (cfg_.on_demand.enabled) {
        if (cfg_.on_demand.allow && !may_read(cfg_.on_demand.allow, caller->get()))
            co_return refuse_caller(caller->get(), "on_demand");
        served = co_await store_.get_on_demand(std::move(parsed.value));
        if (cfg_.on_demand.allow && !may_read(cfg_.on_demand.allow, caller->get()))
            co_return refuse_caller(caller->get(), "on_demand"); // a rule a reload added
    } else {
        co_return make_error_response(
            404, "no token profile matches this request, and on_demand.enabled is false");
    }
    local_response res;
    if (served.outcome != serve_result::status::ok) {
        res = failure_response(served);
    } else {
        const auto now = wall_clock::now();
        json::object data;
        data["token"] = std::move(served.token.token);
        data["tokenType"] = std::move(served.token.token_type);
        data["expiresIn"] = whole_seconds_until(served.token.expires_at, now);
        res = json_response(200, data_envelope(200, json::serialize(data), now_text()));
    }
    res.set(http::field::cache_control, "no-store");
    co_return res;
}

local_response local_api::list_tokens(lazy_caller& caller) const {
    json::array list;
    for (const profile_view& v : store_.profiles()) {
        if (v.cfg.allow && !may_read(v.cfg.allow, caller.get()))
            continue;
        json::object p;
        p["name"] = v.cfg.name;
        p["product"] = v.cfg.product;
        p["customerId"] = v.cfg.customer_id;
        if (v.cfg.scopes) {
            json::array scopes;
            for (const auto& s : *v.cfg.scopes)
                scopes.emplace_back(s);
            p["scopes"] = std::move(scopes);
        } else {
            p["scopes"] = nullptr;
        }
        p["state"] = to_string(v.state);
        p["expiresAt"] = time_or_null(v.expires_at);
        p["refreshAt"] = time_or_null(v.refresh_at);
        p["default"] = v.is_default;
        list.emplace_back(std::move(p));
    }
    return json_response(200, data_envelope(200, json::serialize(list), now_text()));
}

status_snapshot local_api::snapshot(request_counters& counts) const {
    status_snapshot s;
    s.version = SYNERGY_TOKEND_VERSION;
    s.started_at = started_at_;
    s.now = wall_clock::now();
    s.upstream_base_url = cfg_.upstream.base_url;
    s.upstream = upstream_.stats();
    s.upstream_latency = upstream_.latency();
    s.profiles = store_.profiles();
    s.on_demand_entries = store_.on_demand_count();
    s.held_requests = store_.changes().waiting();
    s.shared_cache = store_.shared_view();
    const auto route_counts = routes_.stats();
    for (const auto& r : cfg_.routes) {
        const auto it = route_counts.find(r.name());
        const route_stats st = it == route_counts.end() ? route_stats{} : it->second;
        s.routes.push_back({r.name(), r.upstream, r.token, st.requests, st.errors, st.retried,
                            st.last_latency, st.truncated});
    }
    if (sink_counts_)
        s.sink_writes = sink_counts_();
    if (listener_info_) {
        auto info = listener_info_();
        s.listeners = std::move(info.listeners);
        s.open_connections = info.open_connections;
    }
    counts.by_route_code = counters_.by_route_code;
    counts.proxy_outcomes = info_.outcomes();
    counts.access_denied = access_denied_;
    s.requests = &counts;
    return s;
}

local_response local_api::readyz() const {
    const auto missing = store_.unservable_profiles();
    if (missing.empty()) {
        json::object data;
        data["ready"] = true;
        data["servable"] = store_.servable_count();
        return json_response(200, data_envelope(200, json::serialize(data), now_text()));
    }
    std::string message = "no servable token for:";
    for (const auto& name : missing)
        message += " " + name;
    return make_error_response(503, message);
}

} // namespace synergy_tokend
