#include "synergy_tokend/info_proxy.hpp"

#include <boost/beast/core/string.hpp>

#include <optional>
#include <string_view>

#include "synergy_tokend/token_store.hpp"
#include "synergy_tokend/upstream_client.hpp"

namespace synergy_tokend {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

std::string_view value_of(const local_request::value_type& field) {
    return {field.value().data(), field.value().size()};
}

// The request headers the proxy reads, found in one pass over the fields (the first of repeated
// ones, as with find()).
struct info_headers {
    std::optional<std::string_view> authorization; // the caller's own credentials
    std::optional<std::string_view> token_name;    // X-Token-Name
    std::optional<std::string_view> accept;
};

info_headers info_headers_of(const local_request& req) {
    info_headers h;
    for (const auto& f : req) {
        if (f.name() == http::field::authorization) {
            if (!h.authorization)
                h.authorization = value_of(f);
        } else if (f.name() == http::field::accept) {
            if (!h.accept)
                h.accept = value_of(f);
        } else if (f.name() == http::field::unknown && !h.token_name &&
                   beast::iequals(f.name_string(), "X-Token-Name")) {
            h.token_name = value_of(f);
        }
    }
    return h;
}

// The upstream request for GET /v1/info<target>, made afresh for its one retry: send() takes its
// request by value, and a fresh one is cheaper than a copy kept for a retry that rarely happens.
upstream_request info_request(const info_headers& h, std::string_view target,
                              std::string authorization) {
    upstream_request up;
    up.method = http::verb::get;
    up.target.reserve(5 + target.size());
    up.target += "/info";
    up.target += target;
    if (h.accept)
        up.accept = std::string(*h.accept);
    up.authorization = std::move(authorization);
    return up;
}

// The secret in a caller's own Authorization value ("Bearer <token>"), for redaction.
std::string_view credentials_of(std::optional<std::string_view> authorization) {
    if (!authorization)
        return {};
    const auto space = authorization->rfind(' ');
    return space == std::string_view::npos ? *authorization : authorization->substr(space + 1);
}

} // namespace

info_proxy::info_proxy(token_store& store, upstream_client& upstream)
    : store_(store)
    , upstream_(upstream) {}

asio::awaitable<local_response> info_proxy::forward(local_request req, std::string target,
                                                    admission admit) {
    std::string profile;
    std::string attached; // the token the daemon attached, if it did
    std::string authorization;
    const info_headers headers = info_headers_of(req);
    if (headers.authorization) {
        authorization = std::string(*headers.authorization); // untouched
    } else {
        if (headers.token_name) {
            profile = std::string(*headers.token_name);
        } else if (const profile_config* def = store_.default_profile()) {
            profile = def->name;
        } else {
            co_return make_error_response(
                400, "no X-Token-Name header and no default profile to take the token from");
        }
        if (admit)
            if (auto refusal = admit(profile))
                co_return std::move(*refusal);
        if (const token_value* now = store_.servable_now(profile, wall_clock::now())) {
            attached = now->token; // the usual case, without waiting
        } else {
            serve_result served = co_await store_.get(profile);
            if (served.outcome != serve_result::status::ok) {
                ++outcomes_["no_token"];
                co_return failure_response(served);
            }
            if (admit)
                if (auto refusal = admit(profile))
                    co_return std::move(*refusal);
            attached = std::move(served.token.token);
        }
        authorization = "Bearer " + attached;
    }

    upstream_request up = info_request(headers, target, std::move(authorization));
    upstream_result res = co_await upstream_.send(std::move(up));
    if (res.ok() && !attached.empty() &&
        (res.response.result_int() == 401 || res.response.result_int() == 403)) {
        // The token may have been revoked: replace it (once, shared with every other caller)
        // and try again once, only with a token that differs from the refused one.
        serve_result fresh =
            co_await store_.get_replacing(profile, attached, res.response.result_int());
        if (fresh.outcome == serve_result::status::ok && fresh.token.token != attached) {
            // A reload while waiting for the replacement may have given the profile a rule.
            if (admit)
                if (auto refusal = admit(profile))
                    co_return std::move(*refusal);
            ++outcomes_["retried_with_new_token"];
            up = info_request(headers, target, "Bearer " + fresh.token.token);
            res = co_await upstream_.send(std::move(up));
        }
    }
    if (!res.ok()) {
        const bool timed_out = res.ec == upstream_errc::timeout;
        ++outcomes_[timed_out ? "timeout" : "unreachable"];
        co_return make_error_response(
            timed_out ? 504 : 502,
            (timed_out ? "upstream timed out: " : "upstream unreachable: ") +
                store_.redact(res.detail, credentials_of(headers.authorization)));
    }
    ++outcomes_[res.response.result_int() / 100 == 2 ? "ok" : "upstream_status"];
    // The status as a number, whatever it is (Beast names only the registered ones), with
    // upstream's reason phrase.
    local_response out;
    out.version(11);
    out.result(res.response.result_int());
    out.reason(res.response.reason());
    if (auto ct = res.response.find(http::field::content_type); ct != res.response.end())
        out.set(http::field::content_type, ct->value());
    out.body() = std::move(res.response.body());
    co_return out;
}

} // namespace synergy_tokend
