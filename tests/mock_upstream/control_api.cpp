#include "control_api.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include <boost/json.hpp>

namespace synergy_auth_mock {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;

// Keeps iat + lifetime far from int64 overflow.
constexpr std::int64_t max_abs_lifetime_s = 1'000'000'000'000;

response json_reply(unsigned status, const json::value& body) {
    response res;
    res.result(status);
    res.set(http::field::content_type, "application/json");
    res.body() = json::serialize(body);
    return res;
}

response ok() {
    return json_reply(200, json::object{{"ok", true}});
}

response failure(unsigned status, std::string_view why) {
    return json_reply(status, json::object{{"ok", false}, {"error", why}});
}

// An integer, also when written as 3.0 or 3e3; nullopt for anything else.
std::optional<std::int64_t> as_integer(const json::value& value) {
    json::error_code ec;
    const auto n = value.to_number<std::int64_t>(ec);
    if (ec)
        return std::nullopt;
    return n;
}

// The request body as a JSON object; an empty body counts as {}. nullopt: not an object.
std::optional<json::object> body_object(const request& req) {
    if (req.body().find_first_not_of(" \t\r\n") == std::string::npos)
        return json::object{};
    json::error_code ec;
    json::value parsed = json::parse(req.body(), ec);
    if (ec || !parsed.is_object())
        return std::nullopt;
    return std::move(parsed.get_object());
}

// ---- GET routes ----

response counters_reply(const counters& c) {
    return json_reply(200, json::object{
                               {"token_requests", c.token_requests},
                               {"token_requests_ok", c.token_requests_ok},
                               {"info_requests", c.info_requests},
                               {"connections", c.connections},
                               {"open_connections", c.open_connections},
                               {"tls_handshakes", c.tls_handshakes},
                               {"max_open_connections", c.max_open_connections},
                           });
}

response token_requests_reply(const std::vector<token_request_record>& records) {
    json::array data;
    for (const token_request_record& r : records) {
        data.push_back(json::object{
            {"t_ms", r.received.count()},
            {"status", r.status},
            {"product", r.product},
            {"customerId", r.customer_id},
        });
    }
    return json_reply(200, json::object{{"data", std::move(data)}});
}

response last_info_reply(const std::optional<info_record>& last) {
    if (!last)
        return failure(404, "no /info request yet");
    json::value authorization = nullptr;
    if (last->authorization)
        authorization = *last->authorization;
    return json_reply(200, json::object{
                               {"path", last->path},
                               {"query", last->query},
                               {"authorization", std::move(authorization)},
                               {"status", last->status},
                               {"body", last->body},
                           });
}

// ---- POST /control/settings ----

// Applies all of update or, on the first bad key, nothing; returns that key's problem.
std::optional<std::string> apply_settings(settings& config, const json::object& update) {
    settings next = config;
    for (const auto& [key, value] : update) {
        if (key == "lifetime_s") {
            const auto n = as_integer(value);
            if (!n || *n > max_abs_lifetime_s || *n < -max_abs_lifetime_s)
                return "lifetime_s: expected an integer (|n| <= 1e12)";
            next.lifetime = std::chrono::seconds{*n};
        } else if (key == "expires_in_form") {
            const json::string* form = value.if_string();
            if (form && *form == "number")
                next.expires_in = expires_in_form::number;
            else if (form && *form == "string")
                next.expires_in = expires_in_form::string;
            else if (form && *form == "absent")
                next.expires_in = expires_in_form::absent;
            else if (form && *form == "raw")
                next.expires_in = expires_in_form::raw;
            else
                return "expires_in_form: expected \"number\", \"string\", \"absent\" or \"raw\"";
        } else if (key == "expires_in_raw") {
            next.expires_in_raw = value;
        } else if (key == "jwt_exp") {
            if (!value.is_bool())
                return "jwt_exp: expected a boolean";
            next.jwt_exp = value.get_bool();
        } else if (key == "token_type") {
            if (value.is_null())
                next.token_type.reset();
            else if (value.is_string())
                next.token_type = std::string(value.get_string());
            else
                return "token_type: expected a string or null";
        } else if (key == "valid_identity_tokens") {
            if (value.is_null()) {
                next.valid_identity_tokens.reset();
                continue;
            }
            if (!value.is_array())
                return "valid_identity_tokens: expected an array of strings or null";
            next.valid_identity_tokens.emplace();
            for (const json::value& token : value.get_array()) {
                if (!token.is_string())
                    return "valid_identity_tokens: expected an array of strings or null";
                next.valid_identity_tokens->emplace_back(token.get_string());
            }
        } else if (key == "delay_ms") {
            const auto n = as_integer(value);
            if (!n || *n < 0)
                return "delay_ms: expected an integer >= 0";
            next.delay = std::chrono::milliseconds{*n};
        } else if (key == "keepalive_idle_ms") {
            if (value.is_null()) {
                next.keepalive_idle.reset();
                continue;
            }
            const auto n = as_integer(value);
            if (!n || *n < 1)
                return "keepalive_idle_ms: expected an integer >= 1, or null";
            next.keepalive_idle = std::chrono::milliseconds{*n};
        } else {
            return "unknown setting: " + std::string(key);
        }
    }
    config = std::move(next);
    return std::nullopt;
}

// ---- POST /control/fault ----

struct fault_or_error {
    fault parsed;
    std::string error; // empty: parsed is valid
};

fault_or_error parse_fault(const json::object& spec) {
    fault_or_error out;
    fault& f = out.parsed;
    auto fail = [&out](std::string why) {
        out.error = std::move(why);
        return out;
    };

    const json::value* mode = spec.if_contains("mode");
    if (mode == nullptr || !mode->is_string())
        return fail("mode: expected one of status, malformed, no_token, drop, truncate, delay, "
                    "stall, stall_body, interim, extra_bytes, eof_body, connection_close, "
                    "short_body, headers_then_close, byte_records");
    const std::string_view m = mode->get_string();
    if (m == "status")
        f.mode = fault_mode::status;
    else if (m == "malformed")
        f.mode = fault_mode::malformed;
    else if (m == "no_token")
        f.mode = fault_mode::no_token;
    else if (m == "drop")
        f.mode = fault_mode::drop;
    else if (m == "truncate")
        f.mode = fault_mode::truncate;
    else if (m == "delay")
        f.mode = fault_mode::delay;
    else if (m == "stall")
        f.mode = fault_mode::stall;
    else if (m == "stall_body")
        f.mode = fault_mode::stall_body;
    else if (m == "interim")
        f.mode = fault_mode::interim;
    else if (m == "extra_bytes")
        f.mode = fault_mode::extra_bytes;
    else if (m == "eof_body")
        f.mode = fault_mode::eof_body;
    else if (m == "connection_close")
        f.mode = fault_mode::connection_close;
    else if (m == "short_body")
        f.mode = fault_mode::short_body;
    else if (m == "headers_then_close")
        f.mode = fault_mode::headers_then_close;
    else if (m == "byte_records")
        f.mode = fault_mode::byte_records;
    else
        return fail("mode: unknown mode \"" + std::string(m) + "\"");

    bool has_status = false;
    bool has_delay = false;
    for (const auto& [key, value] : spec) {
        if (key == "mode") {
            continue;
        } else if (key == "count") {
            const auto n = as_integer(value);
            if (!n || (*n != -1 && *n < 1) || *n > std::numeric_limits<int>::max())
                return fail("count: expected an integer >= 1, or -1 for until cleared");
            f.remaining = static_cast<int>(*n);
        } else if (key == "endpoint") {
            const json::string* e = value.if_string();
            if (e && *e == "token")
                f.endpoint = fault_endpoint::token;
            else if (e && *e == "info")
                f.endpoint = fault_endpoint::info;
            else if (e && *e == "any")
                f.endpoint = fault_endpoint::any;
            else
                return fail("endpoint: expected \"token\", \"info\" or \"any\"");
        } else if (key == "status") {
            const auto n = as_integer(value);
            if (!n || *n < 200 || *n > 999)
                return fail("status: expected an integer from 200 to 999");
            f.status = static_cast<unsigned>(*n);
            has_status = true;
        } else if (key == "retry_after") {
            if (value.is_string())
                f.retry_after = std::string(value.get_string());
            else if (const auto n = as_integer(value))
                f.retry_after = std::to_string(*n);
            else
                return fail("retry_after: expected a string or an integer");
        } else if (key == "body") {
            if (!value.is_string())
                return fail("body: expected a string");
            f.body = std::string(value.get_string());
        } else if (key == "content_type") {
            if (!value.is_string())
                return fail("content_type: expected a string");
            f.content_type = std::string(value.get_string());
        } else if (key == "delay_ms") {
            const auto n = as_integer(value);
            if (!n || *n < 0)
                return fail("delay_ms: expected an integer >= 0");
            f.delay = std::chrono::milliseconds{*n};
            has_delay = true;
        } else if (key == "reason") {
            if (value.is_null())
                f.reason.reset();
            else if (value.is_string())
                f.reason = std::string(value.get_string());
            else
                return fail("reason: expected a string or null");
        } else if (key == "interim") {
            const json::array* codes = value.if_array();
            if (codes == nullptr)
                return fail("interim: expected an array of status codes 100 to 199 but 101");
            f.interim.clear();
            for (const json::value& code : *codes) {
                const auto n = as_integer(code);
                if (!n || *n < 100 || *n > 199 || *n == 101)
                    return fail("interim: expected an array of status codes 100 to 199 but 101");
                f.interim.push_back(static_cast<unsigned>(*n));
            }
        } else if (key == "extra") {
            if (!value.is_string())
                return fail("extra: expected a string");
            f.extra = std::string(value.get_string());
        } else if (key == "close_notify" || key == "byte_records") {
            if (!value.is_bool())
                return fail(std::string(key) + ": expected a boolean");
            (key == "close_notify" ? f.close_notify : f.byte_records) = value.get_bool();
        } else if (key == "gap_ms") {
            const auto n = as_integer(value);
            if (!n || *n < 0 || *n > 60'000)
                return fail("gap_ms: expected an integer from 0 to 60000");
            f.gap = std::chrono::milliseconds{*n};
        } else {
            return fail("unknown key: " + std::string(key));
        }
    }
    if (f.mode == fault_mode::status && !has_status)
        return fail("status: required with mode \"status\"");
    if (f.mode == fault_mode::delay && !has_delay)
        return fail("delay_ms: required with mode \"delay\"");
    return out;
}

// ---- POST /control/down ----

std::optional<api_down> parse_down(const json::object& spec, std::string& error) {
    api_down down;
    for (const auto& [key, value] : spec) {
        if (key != "seconds") {
            error = "unknown key: " + std::string(key);
            return std::nullopt;
        }
        if (value.is_null())
            continue;
        json::error_code ec;
        const double seconds = value.to_number<double>(ec);
        if (ec || !std::isfinite(seconds) || seconds < 0 || seconds > 1e6) {
            error = "seconds: expected a number from 0 to 1e6, or null";
            return std::nullopt;
        }
        down.duration = std::chrono::milliseconds{std::llround(seconds * 1000)};
    }
    return down;
}

control_result route(mock_state& state, const request& req) {
    const std::string_view target = req.target();
    const std::string_view path = target.substr(0, target.find('?'));
    const bool get = req.method() == http::verb::get;
    const bool post = req.method() == http::verb::post;

    if (path == "/control/counters" || path == "/control/token-requests" ||
        path == "/control/last-info") {
        if (!get)
            return {failure(405, "use GET"), std::nullopt, false};
        if (path == "/control/counters")
            return {counters_reply(state.count), std::nullopt, false};
        if (path == "/control/token-requests")
            return {token_requests_reply(state.token_requests), std::nullopt, false};
        return {last_info_reply(state.last_info), std::nullopt, false};
    }

    if (path != "/control/settings" && path != "/control/fault" &&
        path != "/control/clear-faults" && path != "/control/down" && path != "/control/up" &&
        path != "/control/revoke" && path != "/control/reset")
        return {failure(404, "no such control endpoint"), std::nullopt, false};
    if (!post)
        return {failure(405, "use POST"), std::nullopt, false};
    const std::optional<json::object> body = body_object(req);
    if (!body)
        return {failure(400, "body: expected a JSON object"), std::nullopt, false};

    if (path == "/control/settings") {
        if (auto error = apply_settings(state.config, *body))
            return {failure(400, *error), std::nullopt, false};
        return {ok(), std::nullopt, false};
    }
    if (path == "/control/fault") {
        fault_or_error parsed = parse_fault(*body);
        if (!parsed.error.empty())
            return {failure(400, parsed.error), std::nullopt, false};
        state.faults.push_back(std::move(parsed.parsed));
        return {ok(), std::nullopt, false};
    }
    if (path == "/control/clear-faults") {
        state.faults.clear();
        return {ok(), std::nullopt, false};
    }
    if (path == "/control/down") {
        std::string error;
        auto down = parse_down(*body, error);
        if (!down)
            return {failure(400, error), std::nullopt, false};
        return {ok(), down, false};
    }
    if (path == "/control/up")
        return {ok(), std::nullopt, true};
    if (path == "/control/revoke") {
        for (auto& [token, issued] : state.tokens)
            issued.revoked = true;
        return {ok(), std::nullopt, false};
    }
    // /control/reset: "back to start" includes a listening API port.
    state.reset();
    return {ok(), std::nullopt, true};
}

} // namespace

control_result handle_control(mock_state& state, const request& req) {
    control_result result = route(state, req);
    result.res.version(req.version());
    result.res.keep_alive(req.keep_alive());
    result.res.prepare_payload();
    return result;
}

} // namespace synergy_auth_mock
