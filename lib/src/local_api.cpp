#include "synergy_tokend/local_api.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "synergy_tokend/request_policy.hpp"
#include "synergy_tokend/router.hpp"
#include "synergy_tokend/token_store.hpp"
#include "synergy_tokend/upstream_client.hpp"

namespace synergy_tokend {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

std::string now_text() { return format_rfc3339(wall_clock::now()); }

local_response json_response(unsigned status, std::string body) {
    local_response res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, "application/json");
    res.body() = std::move(body);
    return res;
}

template <class Field>
std::optional<std::string_view> header(const local_request& req, Field f) {
    const auto it = req.find(f);
    if (it == req.end())
        return std::nullopt;
    return std::string_view(it->value().data(), it->value().size());
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

local_response make_error_response(unsigned status, std::string_view message) {
    return json_response(status,
                         error_envelope(status, reason_for_status(status), message, now_text()));
}

local_api::local_api(const config& cfg, token_store& store, upstream_client& upstream)
    : cfg_(cfg), store_(store), upstream_(upstream), started_at_(wall_clock::now()) {}

asio::awaitable<local_response> local_api::handle(local_request req) {
    const std::string_view method(req.method_string().data(), req.method_string().size());
    const std::string_view target(req.target().data(), req.target().size());
    const route r = match_route(method, target);

    request_facts facts;
    facts.host = header(req, http::field::host);
    facts.has_origin = req.find(http::field::origin) != req.end();
    facts.has_x_forwarded_for = req.find("X-Forwarded-For") != req.end();
    facts.has_forwarded = req.find(http::field::forwarded) != req.end();
    facts.tokend_request = header(req, "X-Tokend-Request");
    if (const auto verdict = check_request(facts, r.kind, cfg_.listen.require_request_header);
        verdict != policy_verdict::allow)
        co_return make_error_response(403, describe(verdict));

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
        co_return list_tokens();
    case route_kind::token_get:
        co_return co_await get_token(r.param, wants_plain_text(req));
    case route_kind::healthz:
        co_return json_response(200, data_envelope(200, R"({"status":"ok"})", now_text()));
    case route_kind::readyz:
        co_return readyz();
    default:
        co_return make_error_response(501, "this endpoint is not available in this version");
    }
}

asio::awaitable<local_response> local_api::get_token(std::string name, bool plain) {
    serve_result served = co_await store_.get(std::move(name));
    local_response res;
    switch (served.outcome) {
    case serve_result::status::unknown_profile:
        res = make_error_response(404, served.reason);
        break;
    case serve_result::status::unavailable:
        res = make_error_response(503, served.reason);
        res.set(http::field::retry_after, std::to_string(served.retry_after.count()));
        break;
    case serve_result::status::ok: {
        const auto now = wall_clock::now();
        if (plain) {
            res = local_response{http::status::ok, 11};
            res.set(http::field::content_type, "text/plain; charset=utf-8");
            res.body() = std::move(served.token.token);
        } else {
            json::object data;
            data["token"] = std::move(served.token.token);
            data["tokenType"] = std::move(served.token.token_type);
            data["expiresIn"] = whole_seconds_until(served.token.expires_at, now);
            data["expiresAt"] = format_rfc3339(served.token.expires_at);
            res = json_response(200, data_envelope(200, json::serialize(data), now_text()));
        }
        break;
    }
    }
    res.set(http::field::cache_control, "no-store");
    co_return res;
}

local_response local_api::list_tokens() const {
    json::array list;
    for (const profile_view& v : store_.profiles()) {
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
