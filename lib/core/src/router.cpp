#include "synergy_tokend/router.hpp"
#include "synergy_tokend/text.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

namespace synergy_tokend {
namespace {

// Percent-decodes a path segment; an invalid escape or a decoded '/' or NUL gives "" (no match).
std::string decode_segment(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out += in[i];
            continue;
        }
        if (i + 2 >= in.size())
            return {};
        const int hi = hex_value(in[i + 1]);
        const int lo = hex_value(in[i + 2]);
        if (hi < 0 || lo < 0)
            return {};
        const char c = static_cast<char>(hi * 16 + lo);
        if (c == '/' || c == '\0')
            return {};
        out += c;
        i += 2;
    }
    return out;
}

std::string json_string(std::string_view s) {
    return boost::json::serialize(boost::json::string(s));
}

std::string meta(unsigned status, std::string_view time) {
    std::string m = R"("meta":{"code":)";
    m += std::to_string(status);
    m += R"(,"time":")";
    m += time;
    m += R"("})";
    return m;
}

// A quality value (RFC 9110 §12.4.2: "0", "0.5", "1.000"), in thousandths; -1 when malformed.
int parse_quality(std::string_view q) {
    if (q.empty() || (q[0] != '0' && q[0] != '1'))
        return -1;
    int thousandths = (q[0] - '0') * 1000;
    if (q.size() == 1)
        return thousandths;
    if (q[1] != '.' || q.size() > 5)
        return -1;
    int scale = 100;
    for (char c : q.substr(2)) {
        if (c < '0' || c > '9' || (q[0] == '1' && c != '0'))
            return -1;
        thousandths += (c - '0') * scale;
        scale /= 10;
    }
    return thousandths;
}

// The qualities (thousandths) an Accept header gives text/html and application/json.
struct acceptance {
    int html = 0;
    int json = 0;
};

// Each type gets the quality of the most specific range matching it (type/subtype over type/*
// over */*; the first of equally specific ones), 0 when none does.
acceptance accepted(std::string_view accept) {
    struct best {
        int specificity = -1;
        int quality = 0;
        void offer(int s, int q) {
            if (s > specificity) {
                specificity = s;
                quality = q;
            }
        }
    } html, json;
    while (!accept.empty()) {
        const auto comma = accept.find(',');
        std::string_view element = accept.substr(0, comma);
        accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);

        const auto semi = element.find(';');
        const std::string_view range = trim(element.substr(0, semi), http_whitespace);
        int quality = 1000;
        std::string_view params =
            semi == std::string_view::npos ? std::string_view() : element.substr(semi + 1);
        while (!params.empty()) {
            const auto next = params.find(';');
            const std::string_view param = trim(params.substr(0, next), http_whitespace);
            params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
            if (param.size() >= 2 && ascii_lower(param[0]) == 'q' && param[1] == '=')
                quality = parse_quality(param.substr(2));
        }
        const auto slash = range.find('/');
        if (quality < 0 || slash == std::string_view::npos)
            continue; // a malformed element counts for nothing
        const std::string_view type = range.substr(0, slash);
        const std::string_view subtype = range.substr(slash + 1);
        if (type == "*" && subtype == "*") {
            html.offer(0, quality);
            json.offer(0, quality);
        } else if (iequals(type, "text")) {
            if (subtype == "*")
                html.offer(1, quality);
            else if (iequals(subtype, "html"))
                html.offer(2, quality);
        } else if (iequals(type, "application")) {
            if (subtype == "*")
                json.offer(1, quality);
            else if (iequals(subtype, "json"))
                json.offer(2, quality);
        }
    }
    return {html.quality, json.quality};
}

} // namespace

bool prefers_html(std::string_view accept) {
    const acceptance a = accepted(accept);
    return a.html > a.json;
}

route match_route(std::string_view method, std::string_view target) {
    route r;
    const auto q = target.find('?');
    const std::string_view path = target.substr(0, q);
    const bool is_get = method == "GET" || method == "HEAD";

    auto fixed = [&](route_kind kind, bool method_ok, const char* allow) {
        r.kind = kind;
        r.method_allowed = method_ok;
        r.allow = allow;
        return r;
    };

    if (path == "/")
        return fixed(route_kind::status_page, is_get, "GET");
    if (path == "/v1/tokens")
        return fixed(route_kind::tokens_list, is_get, "GET");
    if (path == "/v1/products/token")
        return fixed(route_kind::products_token, method == "POST", "POST");
    if (path == "/status")
        return fixed(route_kind::status, is_get, "GET");
    if (path == "/metrics")
        return fixed(route_kind::metrics, is_get, "GET");
    if (path == "/healthz")
        return fixed(route_kind::healthz, is_get, "GET");
    if (path == "/readyz")
        return fixed(route_kind::readyz, is_get, "GET");
    if (path == "/v1/whoami")
        return fixed(route_kind::whoami, is_get, "GET");

    constexpr std::string_view tokens_prefix = "/v1/tokens/";
    if (path.starts_with(tokens_prefix)) {
        const std::string_view segment = path.substr(tokens_prefix.size());
        if (segment.empty() || segment.find('/') != std::string_view::npos)
            return r;
        std::string name = decode_segment(segment);
        if (name.empty())
            return r;
        fixed(route_kind::token_get, is_get, "GET");
        r.param = std::move(name);
        return r;
    }
    constexpr std::string_view info_prefix = "/v1/info/";
    if (path.starts_with(info_prefix) && path.size() > info_prefix.size() &&
        forwarded_path_problem(path.substr(info_prefix.size() - 1)) == path_problem::none) {
        fixed(route_kind::info, is_get, "GET");
        r.param = std::string(target.substr(info_prefix.size() - 1)); // keeps "/..." and query
        return r;
    }
    // Any method: the product API decides what it takes. The route's name is one segment.
    constexpr std::string_view routes_prefix = "/v1/routes/";
    if (path.starts_with(routes_prefix)) {
        const std::string_view below = path.substr(routes_prefix.size());
        const auto slash = below.find('/');
        if (slash == 0 || slash == std::string_view::npos ||
            forwarded_path_problem(path.substr(routes_prefix.size() - 1)) != path_problem::none)
            return r;
        r.kind = route_kind::product_route;
        r.param = std::string(target.substr(routes_prefix.size() - 1)); // "/stats/x?a=1"
        return r;
    }
    return r;
}

path_problem forwarded_path_problem(std::string_view path) {
    std::size_t segment_start = 0; // of the current segment, just after its '/'
    auto dot_segment_ends_at = [&](std::size_t end) {
        const std::string_view seg = path.substr(segment_start, end - segment_start);
        return seg == "." || seg == "..";
    };
    for (std::size_t i = 0; i < path.size(); ++i) {
        switch (path[i]) {
        case '/':
            if (dot_segment_ends_at(i))
                return path_problem::dot_segment;
            segment_start = i + 1;
            break;
        case '\\':
            return path_problem::backslash;
        case ';':
            return path_problem::semicolon;
        case '#':
            return path_problem::fragment;
        case '\0':
            return path_problem::nul;
        case '%': {
            const int hi = i + 2 < path.size() ? hex_value(path[i + 1]) : -1;
            const int lo = hi < 0 ? -1 : hex_value(path[i + 2]);
            if (lo < 0)
                return path_problem::bad_escape;
            switch (hi * 16 + lo) {
            case '/':
                return path_problem::encoded_slash;
            case '\\':
                return path_problem::encoded_backslash;
            case '.':
                return path_problem::encoded_dot;
            case ';':
                return path_problem::encoded_semicolon;
            case '\0':
                return path_problem::encoded_nul;
            case '%':
                return path_problem::double_encoding;
            default:
                break;
            }
            i += 2;
            break;
        }
        default:
            break;
        }
    }
    return dot_segment_ends_at(path.size()) ? path_problem::dot_segment : path_problem::none;
}

path_problem target_path_problem(std::string_view target) {
    const std::string_view path = target.substr(0, target.find('?'));
    for (const std::string_view prefix :
         {std::string_view("/v1/info/"), std::string_view("/v1/routes/")})
        if (path.starts_with(prefix))
            return forwarded_path_problem(path.substr(prefix.size() - 1));
    return path_problem::none;
}

const char* describe(path_problem p) {
    switch (p) {
    case path_problem::none:
        return "a path that may be forwarded";
    case path_problem::encoded_slash:
        return "an encoded '/' (%2F) in the path";
    case path_problem::encoded_backslash:
        return "an encoded '\\' (%5C) in the path";
    case path_problem::encoded_dot:
        return "an encoded '.' (%2E) in the path";
    case path_problem::encoded_semicolon:
        return "an encoded ';' (%3B) in the path";
    case path_problem::encoded_nul:
        return "an encoded NUL (%00) in the path";
    case path_problem::double_encoding:
        return "a double percent-encoding (%25) in the path";
    case path_problem::bad_escape:
        return "a '%' not followed by two hex digits in the path";
    case path_problem::backslash:
        return "a '\\' in the path";
    case path_problem::semicolon:
        return "a ';' (path parameter) in the path";
    case path_problem::dot_segment:
        return "a '.' or '..' segment in the path";
    case path_problem::nul:
        return "a NUL byte in the path";
    case path_problem::fragment:
        return "a '#' in the path";
    }
    return "a path that may not be forwarded";
}

const char* route_label(route_kind kind) {
    switch (kind) {
    case route_kind::tokens_list:
        return "/v1/tokens";
    case route_kind::token_get:
        return "/v1/tokens/{name}";
    case route_kind::products_token:
        return "/v1/products/token";
    case route_kind::info:
        return "/v1/info/*";
    case route_kind::status:
        return "/status";
    case route_kind::status_page:
        return "/";
    case route_kind::metrics:
        return "/metrics";
    case route_kind::healthz:
        return "/healthz";
    case route_kind::readyz:
        return "/readyz";
    case route_kind::whoami:
        return "/v1/whoami";
    case route_kind::product_route:
        return "/v1/routes/*";
    case route_kind::not_found:
        return "other";
    }
    return "other";
}

std::string data_envelope(unsigned status, std::string_view data_json, std::string_view time) {
    std::string out = R"({"data":)";
    out += data_json;
    out += ',';
    out += meta(status, time);
    out += '}';
    return out;
}

std::string error_envelope(unsigned status, std::string_view reason, std::string_view message,
                           std::string_view time) {
    const std::string msg = json_string(message);
    const std::string code = std::to_string(status);
    std::string out = R"({"error":{"code":)";
    out += code;
    out += R"(,"message":)";
    out += msg;
    out += R"(,"errors":[{"code":)";
    out += code;
    out += R"(,"message":)";
    out += msg;
    out += R"(,"reason":")";
    out += reason;
    out += R"("}]},)";
    out += meta(status, time);
    out += '}';
    return out;
}

const char* reason_for_status(unsigned status) {
    switch (status) {
    case 400:
    case 413:
    case 422:
    case 431:
        return "INVALID_DATA";
    case 404:
        return "NOT_FOUND";
    case 401:
    case 403:
        return "NOT_AUTHORISED";
    default:
        return "ERROR";
    }
}

} // namespace synergy_tokend
