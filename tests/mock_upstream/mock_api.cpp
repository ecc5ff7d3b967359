#include "mock_api.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <set>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <variant>

#include <boost/json.hpp>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace synergy_auth_mock {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
using std::chrono::system_clock;

constexpr std::string_view token_path = "/v1/products/token";
constexpr std::string_view info_prefix = "/v1/info/";
constexpr std::string_view scopes_authorized_path = "/v1/info/scopes/authorized";
constexpr std::string_view scopes_available_path = "/v1/info/scopes/available";
constexpr std::string_view access_authorized_path = "/v1/info/access/authorized";
constexpr std::string_view access_available_path = "/v1/info/access/available";

// The AccessListResponse example of token-information-examples.txt, compact.
constexpr std::string_view access_list_data =
    R"({"organizations":[{"sport":"basketball","organizationId":"b1a23",)"
    R"("nameLocal":"National Basketball League","nameLatin":"National Basketball League"}],)"
    R"("organizationGroups":[{"sport":"basketball","orgGroup":"aubb"}]})";

// ---- encoding helpers ----

std::string base64url(std::string_view bytes) {
    static constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    auto byte = [&](std::size_t i) {
        return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i]));
    };
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
        for (int shift : {18, 12, 6, 0})
            out += alphabet[(n >> shift) & 63];
    }
    if (const std::size_t rest = bytes.size() - i; rest > 0) {
        const std::uint32_t n = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        if (rest == 2)
            out += alphabet[(n >> 6) & 63];
    }
    return out;
}

// nullopt for anything but unpadded base64url.
std::optional<std::string> from_base64url(std::string_view text) {
    std::string out;
    std::uint32_t bits = 0;
    int count = 0;
    for (const char c : text) {
        int v = -1;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-')
            v = 62;
        else if (c == '_')
            v = 63;
        else
            return std::nullopt;
        bits = bits << 6 | static_cast<std::uint32_t>(v);
        count += 6;
        if (count >= 8) {
            count -= 8;
            out += static_cast<char>((bits >> count) & 0xff);
        }
    }
    return out;
}

// The first 8 hex digits of SHA-256(text): a stable, non-secret stand-in for a user id.
std::string short_hash(std::string_view text) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("EVP_Digest(SHA-256) failed");
    std::string hex;
    for (unsigned i = 0; i < 4; ++i) {
        static constexpr std::string_view digits = "0123456789abcdef";
        hex += digits[digest[i] >> 4];
        hex += digits[digest[i] & 15];
    }
    return hex;
}

std::string random_bytes(std::size_t n) {
    std::string bytes(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n)) != 1)
        throw std::runtime_error("RAND_bytes failed");
    return bytes;
}

std::int64_t unix_seconds(system_clock::time_point t) {
    return std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
}

// "2026-11-23 08:43:41.227584": UTC, space, no zone, microseconds, as upstream writes it.
std::string meta_time(system_clock::time_point now) {
    const auto seconds = std::chrono::floor<std::chrono::seconds>(now);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now - seconds);
    const std::time_t t = system_clock::to_time_t(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[64];
    std::snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d.%06lld", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(micros.count()));
    return text;
}

// Written by hand rather than by Boost.JSON, which would print generationTime as 1E-3.
std::string meta(unsigned code) {
    return R"({"code":)" + std::to_string(code) +
           R"(,"codeVersion":"mock","generationTime":0.001,"time":")" +
           meta_time(system_clock::now()) + R"(","version":1})";
}

// `tag_json`, when given, goes in as "mock": what identifies the reply (see info_reply).
std::string data_envelope(std::string_view data_json, unsigned code,
                          std::string_view tag_json = {}) {
    std::string out = R"({"data":)" + std::string(data_json) + R"(,"meta":)" + meta(code);
    if (!tag_json.empty())
        out += R"(,"mock":)" + std::string(tag_json);
    return out + "}";
}

std::string error_envelope(unsigned code, std::string_view message, std::string_view reason) {
    const json::object error{
        {"code", code},
        {"message", message},
        {"errors",
         json::array{json::object{{"code", code}, {"message", message}, {"reason", reason}}}},
    };
    return R"({"error":)" + json::serialize(error) + R"(,"meta":)" + meta(code) + "}";
}

response make_response(unsigned status, std::string body,
                       std::string_view content_type = "application/json") {
    response res;
    res.result(status);
    res.set(http::field::content_type, content_type);
    res.body() = std::move(body);
    return res;
}

response error_response(unsigned status, std::string_view message, std::string_view reason) {
    return make_response(status, error_envelope(status, message, reason));
}

std::pair<std::string_view, std::string_view> split_target(std::string_view target) {
    const auto question = target.find('?');
    if (question == std::string_view::npos)
        return {target, {}};
    return {target.substr(0, question), target.substr(question + 1)};
}

endpoint classify(std::string_view path) {
    if (path == token_path)
        return endpoint::token;
    if (path.starts_with(info_prefix))
        return endpoint::info;
    return endpoint::other;
}

bool fault_matches(const fault& f, endpoint kind) {
    switch (f.endpoint) {
    case fault_endpoint::token:
        return kind == endpoint::token;
    case fault_endpoint::info:
        return kind == endpoint::info;
    case fault_endpoint::any:
        return true;
    }
    return false;
}

std::optional<fault> take_fault(mock_state& state, endpoint kind) {
    const auto it = std::find_if(state.faults.begin(), state.faults.end(),
                                 [kind](const fault& f) { return fault_matches(f, kind); });
    if (it == state.faults.end())
        return std::nullopt;
    fault taken = *it;
    if (it->remaining > 0 && --it->remaining == 0)
        state.faults.erase(it);
    return taken;
}

// ---- POST /v1/products/token ----

struct token_call {
    std::string identity;
    std::string product;
    std::string customer_id;
    std::optional<std::vector<std::string>> scopes;
};

struct rejection {
    unsigned status;
    std::string message;
    std::string_view reason;
};

rejection invalid(std::string message) {
    return {422, std::move(message), "INVALID_DATA"};
}

// The request body against the OpenAPI schema (additionalProperties false), strictly.
std::variant<token_call, rejection> parse_token_call(std::string_view body) {
    json::error_code ec;
    const json::value parsed = json::parse(body, ec);
    if (ec)
        return rejection{400, "request body is not valid JSON", "INVALID_DATA"};
    const json::object* object = parsed.if_object();
    if (object == nullptr)
        return invalid("request body must be a JSON object");
    for (const auto& [key, value] : *object) {
        if (key != "userIdentityToken" && key != "product" && key != "customerId" &&
            key != "scopes")
            return invalid("unknown field: " + std::string(key));
    }

    token_call call;
    for (auto [name, target] :
         {std::pair{"userIdentityToken", &call.identity}, std::pair{"product", &call.product},
          std::pair{"customerId", &call.customer_id}}) {
        const json::value* value = object->if_contains(name);
        if (value == nullptr)
            return invalid(std::string(name) + " is required");
        if (!value->is_string())
            return invalid(std::string(name) + " must be a string");
        *target = value->get_string();
    }
    if (call.identity.empty())
        return invalid("userIdentityToken must not be empty");

    if (const json::value* scopes = object->if_contains("scopes")) {
        if (!scopes->is_array())
            return invalid("scopes must be an array of strings");
        call.scopes.emplace();
        std::set<std::string_view> seen;
        for (std::size_t i = 0; i < scopes->get_array().size(); ++i) {
            const json::value& scope = scopes->get_array()[i];
            if (!scope.is_string())
                return invalid("scopes[" + std::to_string(i) + "] must be a string");
            if (!seen.insert(scope.get_string()).second)
                return invalid("scopes must be unique: \"" + std::string(scope.get_string()) +
                               "\" appears twice");
            call.scopes->emplace_back(scope.get_string());
        }
    }
    return call;
}

std::optional<rejection> check_call(const settings& config, const token_call& call) {
    if (config.valid_identity_tokens &&
        std::find(config.valid_identity_tokens->begin(), config.valid_identity_tokens->end(),
                  call.identity) == config.valid_identity_tokens->end())
        return rejection{401, "userIdentityToken is not valid", "NOT_AUTHORISED"};
    if (call.product.starts_with("invalid"))
        return invalid("product not available: " + call.product);
    return std::nullopt;
}

std::string issue_token(mock_state& state, const token_call& call, std::uint64_t request_id) {
    const std::int64_t iat = unix_seconds(system_clock::now());
    const std::int64_t exp = iat + state.config.lifetime.count();

    json::object payload{
        {"iss", "synergy-auth-mock"},
        {"sub", short_hash(call.identity)},
        {"product", call.product},
        {"customerId", call.customer_id},
    };
    if (call.scopes)
        payload["scopes"] = json::value_from(*call.scopes);
    payload["iat"] = iat;
    if (state.config.jwt_exp)
        payload["exp"] = exp;
    payload["jti"] = ++state.last_jti;
    payload["rid"] = request_id;

    std::string token = base64url(R"({"alg":"HS256","typ":"JWT"})") + "." +
                        base64url(json::serialize(payload)) + "." + base64url(random_bytes(32));
    state.tokens[token] =
        issued_token{exp, short_hash(call.identity), request_id, call.product, call.scopes, false};
    return token;
}

// `issued` is set when the reply carries a new token.
response token_reply(mock_state& state, const request& req, std::uint64_t request_id,
                     bool& issued) {
    auto parsed = parse_token_call(req.body());
    if (auto* rejected = std::get_if<rejection>(&parsed))
        return error_response(rejected->status, rejected->message, rejected->reason);
    const token_call& call = std::get<token_call>(parsed);
    if (auto rejected = check_call(state.config, call))
        return error_response(rejected->status, rejected->message, rejected->reason);

    json::object data{{"token", issue_token(state, call, request_id)}};
    issued = true;
    if (state.config.token_type)
        data["tokenType"] = *state.config.token_type;
    const std::int64_t lifetime = state.config.lifetime.count();
    switch (state.config.expires_in) {
    case expires_in_form::number:
        data["expiresIn"] = lifetime;
        break;
    case expires_in_form::string:
        data["expiresIn"] = std::to_string(lifetime);
        break;
    case expires_in_form::absent:
        break;
    case expires_in_form::raw:
        data["expiresIn"] = state.config.expires_in_raw;
        break;
    }
    return make_response(200, data_envelope(json::serialize(data), 200));
}

// ---- GET /v1/info/... ----

// The token of "Authorization: Bearer <token>" (scheme case-insensitive), or "" if none.
std::string_view bearer_token(const request& req) {
    const std::string_view value = req[http::field::authorization];
    constexpr std::string_view scheme = "bearer ";
    if (value.size() <= scheme.size() ||
        !std::equal(scheme.begin(), scheme.end(), value.begin(), [](char a, char b) {
            return a == std::tolower(static_cast<unsigned char>(b));
        }))
        return {};
    std::string_view token = value.substr(scheme.size());
    while (!token.empty() && token.front() == ' ')
        token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ')
        token.remove_suffix(1);
    return token;
}

// A token an earlier run of the mock issued, read from its payload; nullopt if it is not one.
std::optional<issued_token> earlier_token(std::string_view token) {
    const auto first_dot = token.find('.');
    const auto second_dot = token.find('.', first_dot + 1);
    if (first_dot == token.npos || second_dot == token.npos)
        return std::nullopt;
    const auto payload_text =
        from_base64url(token.substr(first_dot + 1, second_dot - first_dot - 1));
    if (!payload_text)
        return std::nullopt;
    json::error_code ec;
    const json::value parsed = json::parse(*payload_text, ec);
    const json::object* payload = ec ? nullptr : parsed.if_object();
    if (payload == nullptr)
        return std::nullopt;
    const json::value* iss = payload->if_contains("iss");
    const json::value* exp = payload->if_contains("exp");
    const json::value* sub = payload->if_contains("sub");
    const json::value* product = payload->if_contains("product");
    if (!iss || *iss != "synergy-auth-mock" || !exp || !exp->is_int64() || !sub ||
        !sub->is_string() || !product || !product->is_string() || *sub == "bogus")
        return std::nullopt;
    issued_token issued;
    issued.expires_at = exp->get_int64();
    issued.sub = sub->get_string();
    issued.product = product->get_string();
    if (const json::value* rid = payload->if_contains("rid"); rid && rid->is_int64())
        issued.request_id = static_cast<std::uint64_t>(rid->get_int64());
    if (const json::value* scopes = payload->if_contains("scopes"); scopes && scopes->is_array()) {
        issued.scopes.emplace();
        for (const json::value& scope : scopes->get_array())
            if (scope.is_string())
                issued.scopes->emplace_back(scope.get_string());
    }
    return issued;
}

// A 200 carries "mock":{"requestId","query","sub","tokenRequestId"}: this request's id and
// query, and whom the bearer token was minted for, so that a test can tell whose reply it got.
response info_reply(mock_state& state, std::string_view path, const request& req,
                    std::uint64_t request_id) {
    const std::string_view bearer = bearer_token(req);
    if (bearer.empty())
        return error_response(401, "missing bearer token", "NOT_AUTHORISED");
    auto found = state.tokens.find(std::string(bearer));
    if (found == state.tokens.end() && state.accept_earlier_tokens) {
        if (auto earlier = earlier_token(bearer))
            found = state.tokens.emplace(std::string(bearer), std::move(*earlier)).first;
    }
    if (found == state.tokens.end())
        return error_response(401, "token not issued by this server", "NOT_AUTHORISED");
    const issued_token& token = found->second;
    if (token.revoked)
        return error_response(401, "token revoked", "NOT_AUTHORISED");
    if (unix_seconds(system_clock::now()) >= token.expires_at)
        return error_response(401, "token expired", "NOT_AUTHORISED");

    const std::string tag = json::serialize(json::object{
        {"requestId", request_id},
        {"query", split_target(req.target()).second},
        {"sub", token.sub},
        {"tokenRequestId", token.request_id},
    });
    if (path == scopes_authorized_path) {
        json::array scopes{"read:organization"};
        if (token.scopes && !token.scopes->empty())
            scopes = json::value_from(*token.scopes).as_array();
        return make_response(200, data_envelope(json::serialize(scopes), 200, tag));
    }
    if (path == scopes_available_path)
        return make_response(200, data_envelope(R"(["read:organization","read:games"])", 200, tag));
    if (token.product != "datacore")
        return error_response(403, "only for datacore tokens", "NOT_AUTHORISED");
    return make_response(200, data_envelope(access_list_data, 200, tag));
}

// ---- /product/... (a product API for the daemon's routes, PRODUCT.md §11) ----

// Any method on /product/echo/...: the bearer token is checked as for /info (a revoked one gets
// 401), then the request comes back as JSON: {"method","target","headers":[[name,value],...],
// "body"}, with X-Echo-Method; HEAD gets the same header block without a body.
response product_reply(mock_state& state, const request& req, std::uint64_t request_id) {
    const std::string_view bearer = bearer_token(req);
    auto found = state.tokens.find(std::string(bearer));
    if (bearer.empty() || found == state.tokens.end())
        return error_response(401, "token not issued by this server", "NOT_AUTHORISED");
    if (found->second.revoked)
        return error_response(401, "token revoked", "NOT_AUTHORISED");
    json::array headers;
    for (const auto& f : req)
        headers.push_back(json::array{std::string(f.name_string()), std::string(f.value())});
    json::object echo{
        {"method", std::string(req.method_string())},
        {"target", std::string(req.target())},
        {"headers", std::move(headers)},
        {"body", req.body()},
        {"requestId", request_id},
        {"tokenRequestId", found->second.request_id},
    };
    response res = make_response(200, json::serialize(echo));
    res.set("X-Echo-Method", std::string(req.method_string()));
    res.set(http::field::connection, "keep-alive, X-Hop");
    res.set("X-Hop", "named by Connection: never forwarded");
    res.set("X-Tokend-Spoof", "a daemon header from upstream: never forwarded");
    if (req.method() == http::verb::head)
        res.body().clear();
    return res;
}

// GET /product/stream?size=N&piece=P&interval_ms=I&framing=length|chunked|eof&cut=K: the bearer
// token checked as for the echo, then a generated body (stream_reply); a bad parameter gets 400.
std::optional<api_outcome> stream_outcome(mock_state& state, const request& req) {
    const std::string_view path = split_target(req.target()).first;
    if (path != "/product/stream")
        return std::nullopt;
    api_outcome out;
    const std::string_view bearer = bearer_token(req);
    auto found = state.tokens.find(std::string(bearer));
    if (bearer.empty() || found == state.tokens.end() || found->second.revoked) {
        out.res =
            error_response(401, "token not issued by this server, or revoked", "NOT_AUTHORISED");
        return out;
    }
    std::string_view query = split_target(req.target()).second;
    while (!query.empty()) {
        const std::string_view pair = query.substr(0, query.find('&'));
        query.remove_prefix(std::min(query.size(), pair.size() + 1));
        const auto eq = pair.find('=');
        const std::string_view key = pair.substr(0, eq);
        const std::string_view value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
        std::uint64_t n = 0;
        const bool number = std::from_chars(value.data(), value.data() + value.size(), n).ptr ==
                                value.data() + value.size() &&
                            !value.empty();
        if (key == "framing" && (value == "length" || value == "chunked" || value == "eof")) {
            out.stream.framing = value == "length"    ? stream_framing::length
                                 : value == "chunked" ? stream_framing::chunked
                                                      : stream_framing::eof;
        } else if (key == "size" && number) {
            out.stream.size = n;
        } else if (key == "piece" && number && n > 0) {
            out.stream.piece = static_cast<std::size_t>(std::min<std::uint64_t>(n, 1 << 20));
        } else if (key == "interval_ms" && number) {
            out.stream.interval = std::chrono::milliseconds(n);
        } else if (key == "cut" && number) {
            out.stream.cut = n;
        } else {
            out.res =
                error_response(400, "bad stream parameter: " + std::string(pair), "INVALID_DATA");
            return out;
        }
    }
    out.action = api_action::stream;
    out.res = make_response(200, "", "application/octet-stream");
    return out;
}

// ---- routing ----

response method_not_allowed(http::verb allowed) {
    response res = error_response(405, "method not allowed", "ERROR");
    res.set(http::field::allow, http::to_string(allowed));
    return res;
}

response normal_reply(mock_state& state, const request& req, std::uint64_t request_id,
                      bool& issued) {
    const std::string_view path = split_target(req.target()).first;
    if (path == token_path) {
        if (req.method() != http::verb::post)
            return method_not_allowed(http::verb::post);
        return token_reply(state, req, request_id, issued);
    }
    if (path == scopes_authorized_path || path == scopes_available_path ||
        path == access_authorized_path || path == access_available_path) {
        if (req.method() != http::verb::get)
            return method_not_allowed(http::verb::get);
        return info_reply(state, path, req, request_id);
    }
    if (path.starts_with("/product/echo"))
        return product_reply(state, req, request_id);
    return error_response(404, "no such endpoint: " + std::string(path), "NOT_FOUND");
}

std::string_view to_string(fault_mode mode) {
    switch (mode) {
    case fault_mode::status:
        return "status";
    case fault_mode::malformed:
        return "malformed";
    case fault_mode::no_token:
        return "no_token";
    case fault_mode::drop:
        return "drop";
    case fault_mode::truncate:
        return "truncate";
    case fault_mode::delay:
        return "delay";
    case fault_mode::stall:
        return "stall";
    case fault_mode::stall_body:
        return "stall_body";
    case fault_mode::interim:
        return "interim";
    case fault_mode::extra_bytes:
        return "extra_bytes";
    case fault_mode::eof_body:
        return "eof_body";
    case fault_mode::connection_close:
        return "connection_close";
    case fault_mode::short_body:
        return "short_body";
    case fault_mode::headers_then_close:
        return "headers_then_close";
    case fault_mode::byte_records:
        return "byte_records";
    }
    return "?";
}

// Beast's name for a status it knows, else "" (Beast itself would write "<unknown-status>").
std::string_view standard_reason(unsigned status) {
    if (http::int_to_status(status) == http::status::unknown)
        return {};
    return http::obsolete_reason(http::int_to_status(status));
}

// The status line and header block of `res`, as sent: "HTTP/1.1 299 \r\n" when reason is "".
std::string wire_head(const response& res, std::string_view reason) {
    std::string out = "HTTP/" + std::to_string(res.version() / 10) + "." +
                      std::to_string(res.version() % 10) + " " + std::to_string(res.result_int()) +
                      " " + std::string(reason) + "\r\n";
    for (const auto& field : res)
        out += std::string(field.name_string()) + ": " + std::string(field.value()) + "\r\n";
    return out + "\r\n";
}

std::string interim_reply(unsigned status) {
    // Beast 1.81 has no name for 103.
    const std::string_view reason = status == 103 ? "Early Hints" : standard_reason(status);
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
    if (status == 103)
        out += "Link: </style.css>; rel=preload; as=style\r\nLink: </app.js>; rel=preload\r\n";
    return out + "\r\n";
}

// What extra_bytes sends by default: a complete second reply, well formed for either endpoint,
// whose token and tag belong to no request: whoever gets it got a reply meant for nobody.
std::string bogus_reply() {
    const std::int64_t now = unix_seconds(system_clock::now());
    const json::object payload{{"iss", "synergy-auth-mock"},
                               {"sub", "bogus"},
                               {"product", "bogus"},
                               {"customerId", "bogus"},
                               {"iat", now},
                               {"exp", now + 3600},
                               {"jti", 0},
                               {"rid", 0}};
    const std::string token = base64url(R"({"alg":"HS256","typ":"JWT"})") + "." +
                              base64url(json::serialize(payload)) + "." +
                              base64url(random_bytes(32));
    const json::object data{{"token", token}, {"tokenType", "bearer"}, {"expiresIn", 3600}};
    const std::string body = data_envelope(json::serialize(data), 200,
                                           R"({"requestId":0,"query":"bogus","sub":"bogus"})");
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Mock-Request-Id: 0\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

// The raw bytes of a hostile mode, for `res` already finalized (Content-Length set).
raw_reply hostile_reply(const fault& f, response& res) {
    raw_reply raw;
    raw.gap = f.gap;
    raw.byte_records = f.byte_records || f.mode == fault_mode::byte_records;
    const raw_end close = f.close_notify ? raw_end::close_notify : raw_end::close_now;
    const raw_end after_reply = res.keep_alive() ? raw_end::keep_alive : raw_end::close_notify;
    const std::string_view reason = standard_reason(res.result_int());
    switch (f.mode) {
    case fault_mode::interim:
        for (const unsigned status : f.interim)
            raw.writes.push_back(interim_reply(status));
        raw.writes.push_back(wire_head(res, reason) + res.body());
        raw.end = after_reply;
        break;
    case fault_mode::extra_bytes: {
        const std::string extra = f.extra.value_or(bogus_reply());
        if (f.gap.count() > 0)
            raw.writes = {wire_head(res, reason) + res.body(), extra};
        else
            raw.writes = {wire_head(res, reason) + res.body() + extra};
        raw.end = after_reply;
        break;
    }
    case fault_mode::eof_body:
        res.erase(http::field::content_length);
        res.keep_alive(false);
        raw.writes = {wire_head(res, reason) + res.body()};
        raw.end = close;
        break;
    case fault_mode::connection_close:
        res.keep_alive(false);
        raw.writes = {wire_head(res, reason) + res.body()};
        raw.end = close;
        break;
    case fault_mode::short_body:
        raw.writes = {wire_head(res, reason) + res.body().substr(0, res.body().size() / 2)};
        raw.end = close;
        break;
    case fault_mode::headers_then_close:
        raw.writes = {wire_head(res, reason)};
        raw.end = close;
        break;
    default: // byte_records, and any reply sent byte by byte
        raw.writes = {wire_head(res, reason) + res.body()};
        raw.end = after_reply;
        break;
    }
    return raw;
}

// An upstream that echoes what it was sent (for redaction tests): "{{request}}" in a status
// fault's body becomes the request's Authorization value and body, escaped for a JSON string as
// PHP's json_encode does it ('/' as "\/").
std::string echo_request(std::string body, const request& req) {
    constexpr std::string_view placeholder = "{{request}}";
    const auto at = body.find(placeholder);
    if (at == std::string::npos)
        return body;
    std::string echoed;
    for (const char c : std::string(req[http::field::authorization]) + " " + req.body()) {
        if (c == '"' || c == '\\' || c == '/')
            echoed += '\\';
        if (static_cast<unsigned char>(c) >= 0x20)
            echoed += c;
    }
    return body.replace(at, placeholder.size(), echoed);
}

api_outcome fault_outcome(mock_state& state, const fault& f, const request& req,
                          std::uint64_t request_id, bool& issued) {
    api_outcome out;
    out.log_note = "fault=" + std::string(to_string(f.mode));
    switch (f.mode) {
    case fault_mode::status:
        out.res = make_response(
            f.status,
            echo_request(f.body.value_or(error_envelope(f.status, "mock fault", "ERROR")), req),
            f.content_type.value_or("application/json"));
        if (f.retry_after)
            out.res.set(http::field::retry_after, *f.retry_after);
        break;
    case fault_mode::malformed:
        out.res = make_response(200, "<html>not json", "text/html");
        break;
    case fault_mode::no_token:
        out.res =
            make_response(200, data_envelope(R"({"tokenType":"bearer","expiresIn":3600})", 200));
        break;
    case fault_mode::drop:
        out.action = api_action::drop;
        break;
    case fault_mode::stall:
        out.action = api_action::stall;
        break;
    case fault_mode::truncate:
        out.action = api_action::truncate;
        out.res = normal_reply(state, req, request_id, issued);
        break;
    case fault_mode::stall_body:
        out.action = api_action::stall_body;
        out.res = normal_reply(state, req, request_id, issued);
        break;
    case fault_mode::delay:
        out.res = normal_reply(state, req, request_id, issued);
        break;
    case fault_mode::interim:
    case fault_mode::extra_bytes:
    case fault_mode::eof_body:
    case fault_mode::connection_close:
    case fault_mode::short_body:
    case fault_mode::headers_then_close:
    case fault_mode::byte_records:
        out.action = api_action::raw;
        out.res = normal_reply(state, req, request_id, issued);
        break;
    }
    return out;
}

void finalize(response& res, const request& req, std::uint64_t request_id) {
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    res.set("X-Mock-Request-Id", std::to_string(request_id));
    res.prepare_payload();
}

json::value body_field(std::string_view body, std::string_view key) {
    json::error_code ec;
    const json::value parsed = json::parse(body, ec);
    if (ec || !parsed.is_object())
        return nullptr;
    const json::value* value = parsed.get_object().if_contains(key);
    return value ? *value : json::value();
}

} // namespace

api_ticket begin_api_request(mock_state& state, const request& req) {
    api_ticket ticket;
    ticket.request_id = state.next_request_id();
    const auto [path, query] = split_target(req.target());
    ticket.kind = classify(path);

    switch (ticket.kind) {
    case endpoint::token: {
        ++state.count.token_requests;
        const auto since_start = std::chrono::steady_clock::now() - state.started;
        state.token_requests.push_back({
            ticket.request_id,
            std::chrono::duration_cast<std::chrono::milliseconds>(since_start),
            0,
            body_field(req.body(), "product"),
            body_field(req.body(), "customerId"),
        });
        break;
    }
    case endpoint::info: {
        ++state.count.info_requests;
        std::optional<std::string> authorization;
        if (auto it = req.find(http::field::authorization); it != req.end())
            authorization = std::string(it->value());
        state.last_info = info_record{ticket.request_id,
                                      std::string(path),
                                      std::string(query),
                                      std::move(authorization),
                                      0,
                                      {}};
        break;
    }
    case endpoint::other:
        break;
    }

    ticket.applied_fault = take_fault(state, ticket.kind);
    ticket.delay = state.config.delay;
    if (ticket.applied_fault && ticket.applied_fault->mode == fault_mode::delay)
        ticket.delay += ticket.applied_fault->delay;
    return ticket;
}

api_outcome finish_api_request(mock_state& state, const api_ticket& ticket, const request& req) {
    bool issued = false;
    api_outcome out;
    if (ticket.applied_fault)
        out = fault_outcome(state, *ticket.applied_fault, req, ticket.request_id, issued);
    else if (auto streamed = stream_outcome(state, req))
        out = std::move(*streamed);
    else
        out.res = normal_reply(state, req, ticket.request_id, issued);
    if (out.action == api_action::stream) {
        out.res.set("X-Mock-Request-Id", std::to_string(ticket.request_id));
        return out;
    }

    unsigned status_sent = 0;
    std::string body_sent;
    if (out.action == api_action::reply || out.action == api_action::truncate ||
        out.action == api_action::stall_body || out.action == api_action::raw) {
        finalize(out.res, req, ticket.request_id);
        const fault* f = ticket.applied_fault ? &*ticket.applied_fault : nullptr;
        // A status line Beast cannot write (no reason, an unknown code, another reason), or a
        // reply to be sent byte by byte: raw bytes.
        if (out.action == api_action::reply && f != nullptr &&
            (f->byte_records || (f->mode == fault_mode::status &&
                                 (f->reason || standard_reason(f->status).empty())))) {
            out.action = api_action::raw;
            out.raw.writes = {
                wire_head(out.res, f->reason.value_or(std::string(standard_reason(f->status)))) +
                out.res.body()};
            out.raw.byte_records = f->byte_records;
            out.raw.end = out.res.keep_alive() ? raw_end::keep_alive : raw_end::close_notify;
        } else if (out.action == api_action::raw) {
            out.raw = hostile_reply(*f, out.res);
        }
        body_sent = out.res.body();
        const bool partial = out.action == api_action::truncate ||
                             out.action == api_action::stall_body ||
                             (f != nullptr && f->mode == fault_mode::short_body);
        if (f != nullptr && f->mode == fault_mode::headers_then_close)
            body_sent.clear();
        else if (partial)
            body_sent.resize(body_sent.size() / 2);
        else
            status_sent = out.res.result_int();
        if (f != nullptr && f->mode == fault_mode::eof_body && !f->close_notify)
            status_sent = 0; // its end is a truncation: no complete reply
    }

    if (ticket.kind == endpoint::token) {
        if (issued && out.action == api_action::reply)
            ++state.count.token_requests_ok;
        // Search from the back: the record is recent, and reset() may have dropped it.
        for (auto it = state.token_requests.rbegin(); it != state.token_requests.rend(); ++it) {
            if (it->request_id == ticket.request_id) {
                it->status = status_sent;
                break;
            }
        }
    }
    if (ticket.kind == endpoint::info && state.last_info &&
        state.last_info->request_id == ticket.request_id) {
        state.last_info->status = status_sent;
        state.last_info->body = std::move(body_sent);
    }
    return out;
}

response unparsable_request_reply(mock_state& state, unsigned status, const std::string& why) {
    response res = error_response(status, why, "INVALID_DATA");
    res.keep_alive(false);
    res.set("X-Mock-Request-Id", std::to_string(state.next_request_id()));
    res.prepare_payload();
    return res;
}

} // namespace synergy_auth_mock
