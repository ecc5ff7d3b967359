// Routing of the local API, its reply envelopes and the request policy (PRODUCT.md §5, §6).
#include "synergy_tokend/request_policy.hpp"
#include "synergy_tokend/router.hpp"

#include <optional>
#include <ostream>
#include <set>
#include <string>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

namespace st = synergy_tokend;
namespace json = boost::json;

namespace synergy_tokend {
std::ostream& operator<<(std::ostream& out, route_kind k) {
    return out << route_label(k);
}
std::ostream& operator<<(std::ostream& out, policy_verdict v) {
    return out << describe(v);
}
std::ostream& operator<<(std::ostream& out, path_problem p) {
    return out << describe(p);
}
} // namespace synergy_tokend

namespace {

const st::route_kind all_routes[] = {
    st::route_kind::tokens_list, st::route_kind::token_get,     st::route_kind::products_token,
    st::route_kind::info,        st::route_kind::status,        st::route_kind::metrics,
    st::route_kind::healthz,     st::route_kind::readyz,        st::route_kind::whoami,
    st::route_kind::status_page, st::route_kind::product_route, st::route_kind::not_found,
};

bool is_secret_route(st::route_kind k) {
    return k == st::route_kind::token_get || k == st::route_kind::info ||
           k == st::route_kind::product_route;
}

// A request that passes every check.
st::request_facts good_request() {
    st::request_facts f;
    f.host = "localhost:8731";
    f.tokend_request = "1";
    return f;
}

json::value parse(const std::string& text) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    BOOST_REQUIRE_MESSAGE(!ec, "not JSON: " << text);
    return v;
}

} // namespace

BOOST_AUTO_TEST_SUITE(router)

BOOST_AUTO_TEST_CASE(fixed_paths_route_with_their_method) {
    struct row {
        const char* method;
        const char* target;
        st::route_kind kind;
        bool allowed;
        const char* allow;
    };
    const row rows[] = {
        {"GET", "/v1/tokens", st::route_kind::tokens_list, true, "GET"},
        {"HEAD", "/v1/tokens", st::route_kind::tokens_list, true, "GET"},
        {"GET", "/v1/tokens?verbose=1", st::route_kind::tokens_list, true, "GET"},
        {"POST", "/v1/tokens", st::route_kind::tokens_list, false, "GET"},
        {"DELETE", "/v1/tokens", st::route_kind::tokens_list, false, "GET"},
        {"POST", "/v1/products/token", st::route_kind::products_token, true, "POST"},
        {"GET", "/v1/products/token", st::route_kind::products_token, false, "POST"},
        {"PUT", "/v1/products/token", st::route_kind::products_token, false, "POST"},
        {"GET", "/status", st::route_kind::status, true, "GET"},
        {"HEAD", "/status", st::route_kind::status, true, "GET"},
        {"POST", "/status", st::route_kind::status, false, "GET"},
        {"GET", "/", st::route_kind::status_page, true, "GET"},
        {"HEAD", "/", st::route_kind::status_page, true, "GET"},
        {"GET", "/?refresh=1", st::route_kind::status_page, true, "GET"},
        {"POST", "/", st::route_kind::status_page, false, "GET"},
        {"PUT", "/", st::route_kind::status_page, false, "GET"},
        {"DELETE", "/", st::route_kind::status_page, false, "GET"},
        {"GET", "/metrics", st::route_kind::metrics, true, "GET"},
        {"GET", "/healthz", st::route_kind::healthz, true, "GET"},
        {"HEAD", "/healthz", st::route_kind::healthz, true, "GET"},
        {"POST", "/healthz", st::route_kind::healthz, false, "GET"},
        {"GET", "/readyz", st::route_kind::readyz, true, "GET"},
        {"GET", "/v1/whoami", st::route_kind::whoami, true, "GET"},
        {"POST", "/v1/whoami", st::route_kind::whoami, false, "GET"},
        {"GET", "/v1/tokens/stats", st::route_kind::token_get, true, "GET"},
        {"POST", "/v1/tokens/stats", st::route_kind::token_get, false, "GET"},
        {"GET", "/v1/info/scopes/authorized", st::route_kind::info, true, "GET"},
        {"POST", "/v1/info/scopes/authorized", st::route_kind::info, false, "GET"},
    };
    for (const auto& r : rows) {
        BOOST_TEST_INFO(r.method << " " << r.target);
        const auto m = st::match_route(r.method, r.target);
        BOOST_CHECK_EQUAL(m.kind, r.kind);
        BOOST_CHECK_EQUAL(m.method_allowed, r.allowed);
        BOOST_CHECK_EQUAL(std::string(m.allow), r.allow);
    }
}

BOOST_AUTO_TEST_CASE(status_answers_html_only_to_a_caller_preferring_it) {
    struct row {
        const char* accept;
        bool html;
    };
    const row rows[] = {
        // Browsers' own Accept headers (Chromium/Firefox, Safari).
        {"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
         "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
         true},
        {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true},
        {"text/html", true},
        {"TEXT/HTML", true},
        {"text/*", true},
        {"text/html;q=0.9, application/json;q=0.5", true},
        {"application/json;q=0.1, text/html", true},
        {"text/html ; q=1.000 , */* ; q=0.001", true},
        // curl, fetch(), the CLI and scripts keep the JSON.
        {"", false},
        {"*/*", false},
        {"application/json", false},
        {"application/json, text/html", false}, // a tie keeps JSON
        {"text/html, */*", false},
        {"text/html;q=0.5, application/json", false},
        {"text/html;q=0.5, application/*", false},
        {"text/html;q=0, */*", false},
        {"text/plain", false},
        {"text/htmlx", false},
        // A malformed element counts for nothing.
        {"text/html;q=2", false},
        {"text/html;q=abc", false},
        {"text/html;q=1.0001", false},
        {"text/html;q=1.5", false},
        {"html", false},
        {",,,;;;", false},
    };
    for (const auto& r : rows) {
        BOOST_TEST_INFO("Accept: " << r.accept);
        BOOST_CHECK_EQUAL(st::prefers_html(r.accept), r.html);
    }
}

BOOST_AUTO_TEST_CASE(unknown_paths_are_not_found) {
    const char* targets[] = {
        "//",
        "/index.html",
        "/nope",
        "/v1",
        "/v1/",
        "/v1/tokens/",
        "/v1/tokens/a/b",
        "/v1/tokensx",
        "/V1/tokens",
        "/statusx",
        "/status/",
        "/v1/products/token/x",
        "/v1/info",
        "/v1/info/",
        "/v1/infox/scopes",
        "",
    };
    for (const char* target : targets) {
        BOOST_TEST_INFO("GET " << target);
        BOOST_CHECK_EQUAL(st::match_route("GET", target).kind, st::route_kind::not_found);
    }
}

BOOST_AUTO_TEST_CASE(profile_names_are_percent_decoded) {
    struct row {
        const char* target;
        const char* name;
    };
    const row rows[] = {
        {"/v1/tokens/stats", "stats"},   {"/v1/tokens/stats?x=1", "stats"},
        {"/v1/tokens/st%61ts", "stats"}, {"/v1/tokens/my%20profile", "my profile"},
        {"/v1/tokens/a%2db", "a-b"},     {"/v1/tokens/%C3%A9t%C3%A9", "\xC3\xA9t\xC3\xA9"},
    };
    for (const auto& r : rows) {
        BOOST_TEST_INFO(r.target);
        const auto m = st::match_route("GET", r.target);
        BOOST_CHECK_EQUAL(m.kind, st::route_kind::token_get);
        BOOST_CHECK_EQUAL(m.param, r.name);
    }
    // An encoded '/' or NUL, or a broken escape, names no profile.
    for (const char* target : {"/v1/tokens/a%2Fb", "/v1/tokens/a%2fb", "/v1/tokens/a%00",
                               "/v1/tokens/a%zz", "/v1/tokens/a%4", "/v1/tokens/%"}) {
        BOOST_TEST_INFO(target);
        BOOST_CHECK_EQUAL(st::match_route("GET", target).kind, st::route_kind::not_found);
    }
}

BOOST_AUTO_TEST_CASE(product_routes_take_any_method_and_keep_the_target_below_v1_routes) {
    for (const char* method : {"GET", "POST", "HEAD", "DELETE", "PUT", "PATCH", "OPTIONS"}) {
        BOOST_TEST_INFO(method);
        const auto m = st::match_route(method, "/v1/routes/stats/a/b?x=1&y=../z");
        BOOST_TEST((m.kind == st::route_kind::product_route));
        BOOST_TEST(m.method_allowed);
        BOOST_TEST(m.param == "/stats/a/b?x=1&y=../z");
    }
    BOOST_TEST(st::match_route("GET", "/v1/routes/stats/").param == "/stats/");
    // No route name, no slash after it, or a path that could leave the route's base.
    for (const char* target :
         {"/v1/routes/", "/v1/routes/stats", "/v1/routes//x", "/v1/routes/stats/../x",
          "/v1/routes/stats/a%2Fb", "/v1/routes/../tokens/x", "/v1/routesx/stats/"}) {
        BOOST_TEST_INFO(target);
        BOOST_TEST((st::match_route("GET", target).kind == st::route_kind::not_found));
    }
    BOOST_TEST(st::target_path_problem("/v1/routes/stats/%2e%2e/x") != st::path_problem::none);
    BOOST_TEST(std::string(st::route_label(st::route_kind::product_route)) == "/v1/routes/*");
}

BOOST_AUTO_TEST_CASE(info_keeps_the_rest_of_the_path_and_the_query) {
    struct row {
        const char* target;
        const char* param;
    };
    const row rows[] = {
        {"/v1/info/scopes/authorized", "/scopes/authorized"},
        {"/v1/info/access/available?sport=basketball&org=b1a23",
         "/access/available?sport=basketball&org=b1a23"},
        {"/v1/info/scopes/authorized?q=a%20b", "/scopes/authorized?q=a%20b"},
        // Dots in the query are data, not path segments.
        {"/v1/info/scopes/authorized?next=../products/token",
         "/scopes/authorized?next=../products/token"},
        {"/v1/info/x..y/z.", "/x..y/z."},
    };
    for (const auto& r : rows) {
        BOOST_TEST_INFO(r.target);
        const auto m = st::match_route("GET", r.target);
        BOOST_CHECK_EQUAL(m.kind, st::route_kind::info);
        BOOST_CHECK_EQUAL(m.param, r.param);
    }
}

BOOST_AUTO_TEST_CASE(info_refuses_dot_segments_that_leave_info_upstream) {
    // Each would reach {base_url}/products/token or elsewhere once upstream resolves it.
    const char* targets[] = {
        "/v1/info/../products/token",
        "/v1/info/%2e%2e/products/token",
        "/v1/info/%2E%2E/products/token",
        "/v1/info/.%2e/products/token",
        "/v1/info/scopes/../../products/token",
        "/v1/info/scopes/..",
        "/v1/info/./scopes/authorized",
        "/v1/info/scopes/./authorized",
        "/v1/info/..",
        "/v1/info/..?x=1",
        "/v1/info/..\\products\\token",
    };
    for (const char* target : targets) {
        BOOST_TEST_INFO(target);
        const auto m = st::match_route("GET", target);
        BOOST_CHECK_NE(m.kind, st::route_kind::info);
        BOOST_CHECK(m.param.empty());
    }
}

BOOST_AUTO_TEST_CASE(forwarded_paths_refuse_what_upstream_could_decode_or_resolve_otherwise) {
    using pp = st::path_problem;
    struct row {
        std::string path;
        pp expected;
    };
    const row rows[] = {
        {"/scopes/authorized", pp::none},
        {"/x..y/z.", pp::none},
        {"/.x/..y/...", pp::none},
        {"/a%20b", pp::none},
        {"/%41%7e", pp::none}, // other escapes pass as they came
        {"/a/", pp::none},
        {"/..%2fproducts/token", pp::encoded_slash},
        {"/..%2Fproducts/token", pp::encoded_slash},
        {"/a%2fb", pp::encoded_slash},
        {"/%5c..%5cproducts", pp::encoded_backslash},
        {"/%5C", pp::encoded_backslash},
        {"/%2e%2e/products/token", pp::encoded_dot},
        {"/.%2E/products/token", pp::encoded_dot},
        {"/%3b", pp::encoded_semicolon},
        {"/a%3Bb", pp::encoded_semicolon},
        {"/a%00", pp::encoded_nul},
        {"/%252e%252e/products/token", pp::double_encoding},
        {"/%25", pp::double_encoding},
        {"/%2541", pp::double_encoding},
        {"/%zz", pp::bad_escape},
        {"/%4", pp::bad_escape},
        {"/%", pp::bad_escape},
        {"/a%2", pp::bad_escape},
        {"/%g0", pp::bad_escape},
        {"/..\\products", pp::backslash},
        {"/a\\b", pp::backslash},
        {"/..;/products/token", pp::semicolon},
        {"/x;jsessionid=1", pp::semicolon},
        {"/..", pp::dot_segment},
        {"/.", pp::dot_segment},
        {"/../products/token", pp::dot_segment},
        {"/./scopes", pp::dot_segment},
        {"/scopes/../../products/token", pp::dot_segment},
        {"/scopes/.", pp::dot_segment},
        {"/scopes/./x", pp::dot_segment},
        {std::string("/a\0b", 4), pp::nul},
        {"/x#/../../products/token", pp::fragment},
        // The first problem from the left counts.
        {"/../%2f", pp::dot_segment},
        {"/%2f/..", pp::encoded_slash},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("path " << r.path) {
            BOOST_CHECK_EQUAL(st::forwarded_path_problem(r.path), r.expected);
        }
    }
}

BOOST_AUTO_TEST_CASE(the_path_rule_applies_below_info_and_routes_and_not_to_the_query) {
    using pp = st::path_problem;
    struct row {
        const char* target;
        pp expected;
    };
    const row rows[] = {
        {"/v1/info/scopes/authorized", pp::none},
        {"/v1/info/scopes/authorized?next=../%2f..%252e;x", pp::none},
        {"/v1/info/..%2fproducts/token", pp::encoded_slash},
        {"/v1/info/%5c..%5cproducts", pp::encoded_backslash},
        {"/v1/info/..;/products/token", pp::semicolon},
        {"/v1/info/%252e%252e/products/token", pp::double_encoding},
        {"/v1/info/scopes%00", pp::encoded_nul},
        {"/v1/info/..", pp::dot_segment},
        {"/v1/info/..?x=1", pp::dot_segment},
        {"/v1/routes/stats/%2e%2e/admin", pp::encoded_dot},
        {"/v1/routes/stats/a;b", pp::semicolon},
        // Not forwarded: other rules (or none) apply.
        {"/v1/tokens/a%25b", pp::none},
        {"/v1/infox/%2e%2e", pp::none},
        {"/status", pp::none},
        {"/v1/info", pp::none},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("target " << r.target) {
            BOOST_CHECK_EQUAL(st::target_path_problem(r.target), r.expected);
            // What the rule refuses is never routed to the proxy either.
            if (r.expected != pp::none)
                BOOST_CHECK_NE(st::match_route("GET", r.target).kind, st::route_kind::info);
        }
    }
}

BOOST_AUTO_TEST_CASE(each_path_problem_has_its_own_message) {
    using pp = st::path_problem;
    const pp problems[] = {
        pp::encoded_slash, pp::encoded_backslash, pp::encoded_dot, pp::encoded_semicolon,
        pp::encoded_nul,   pp::double_encoding,   pp::bad_escape,  pp::backslash,
        pp::semicolon,     pp::dot_segment,       pp::nul,         pp::fragment,
    };
    std::set<std::string> messages;
    for (pp p : problems) {
        const std::string m = st::describe(p);
        BOOST_TEST_CONTEXT(m) {
            BOOST_CHECK(m.find("path") != std::string::npos);
            messages.insert(m);
        }
    }
    BOOST_CHECK_EQUAL(messages.size(), std::size(problems));
    BOOST_CHECK(std::string(st::describe(pp::encoded_slash)).find("%2F") != std::string::npos);
    BOOST_CHECK(std::string(st::describe(pp::double_encoding)).find("%25") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(data_envelope_is_json_with_code_and_time) {
    const std::string time = "2026-11-23T08:43:41Z";
    const auto v = parse(st::data_envelope(200, R"({"token":"t","expiresIn":5})", time));
    BOOST_CHECK_EQUAL(v.at("data").at("token").as_string(), "t");
    BOOST_CHECK_EQUAL(v.at("data").at("expiresIn").to_number<int>(), 5);
    BOOST_CHECK_EQUAL(v.at("meta").at("code").to_number<int>(), 200);
    BOOST_CHECK_EQUAL(v.at("meta").at("time").as_string(), time);
    BOOST_CHECK_EQUAL(v.as_object().size(), 2u);

    const auto list = parse(st::data_envelope(200, "[]", time));
    BOOST_CHECK(list.at("data").as_array().empty());
}

BOOST_AUTO_TEST_CASE(error_envelope_is_upstreams_shape_and_escapes_the_message) {
    const std::string time = "2026-11-23T08:43:41Z";
    const std::string message = "no token profile named \"a\\b\"\n\ttab \x01 end";
    const auto v = parse(st::error_envelope(404, "NOT_FOUND", message, time));
    const auto& error = v.at("error");
    BOOST_CHECK_EQUAL(error.at("code").to_number<int>(), 404);
    BOOST_CHECK_EQUAL(error.at("message").as_string(), message);
    BOOST_REQUIRE_EQUAL(error.at("errors").as_array().size(), 1u);
    const auto& detail = error.at("errors").at(0);
    BOOST_CHECK_EQUAL(detail.at("code").to_number<int>(), 404);
    BOOST_CHECK_EQUAL(detail.at("message").as_string(), message);
    BOOST_CHECK_EQUAL(detail.at("reason").as_string(), "NOT_FOUND");
    BOOST_CHECK_EQUAL(v.at("meta").at("code").to_number<int>(), 404);
    BOOST_CHECK_EQUAL(v.at("meta").at("time").as_string(), time);
}

BOOST_AUTO_TEST_CASE(reasons_use_upstreams_vocabulary) {
    struct row {
        unsigned status;
        const char* reason;
    };
    const row rows[] = {
        {400, "INVALID_DATA"},   {413, "INVALID_DATA"}, {422, "INVALID_DATA"},
        {431, "INVALID_DATA"},   {404, "NOT_FOUND"},    {401, "NOT_AUTHORISED"},
        {403, "NOT_AUTHORISED"}, {405, "ERROR"},        {500, "ERROR"},
        {502, "ERROR"},          {503, "ERROR"},        {504, "ERROR"},
    };
    for (const auto& r : rows) {
        BOOST_TEST_INFO(r.status);
        BOOST_CHECK_EQUAL(std::string(st::reason_for_status(r.status)), r.reason);
        const auto v = parse(st::error_envelope(r.status, st::reason_for_status(r.status), "m",
                                                "2026-11-23T08:43:41Z"));
        BOOST_CHECK_EQUAL(v.at("error").at("errors").at(0).at("reason").as_string(), r.reason);
    }
}

BOOST_AUTO_TEST_CASE(host_must_be_loopback_by_name_with_any_port) {
    const char* allowed[] = {
        "",          "localhost",   "LOCALHOST:80", "LocalHost",  "localhost:8731",
        "127.0.0.1", "127.0.0.1:1", "[::1]",        "[::1]:8731",
    };
    for (const char* host : allowed) {
        BOOST_TEST_INFO("Host: " << host);
        BOOST_CHECK(st::host_allowed(host));
    }
    const char* refused[] = {
        "evil.com",
        "evil.com:8731",
        "127.0.0.2",
        "127.0.0.2:8731",
        "[::2]",
        "[::2]:8731",
        "localhost.evil.com",
        "localhost.evil.com:8731",
        "evil-localhost",
        "[::1",
        "[::1]x",
        "::1",
        "0.0.0.0",
        "127.1",
        "10.0.0.1:8731",
        "[::ffff:7f00:1]",
    };
    for (const char* host : refused) {
        BOOST_TEST_INFO("Host: " << host);
        BOOST_CHECK(!st::host_allowed(host));
    }
}

BOOST_AUTO_TEST_CASE(a_clean_request_is_allowed_on_every_route) {
    for (const auto kind : all_routes) {
        BOOST_TEST_INFO(kind);
        BOOST_CHECK_EQUAL(st::check_request(good_request(), kind, true), st::policy_verdict::allow);
        // No Host header at all (HTTP/1.0, some Unix-socket clients) is allowed too.
        auto no_host = good_request();
        no_host.host.reset();
        BOOST_CHECK_EQUAL(st::check_request(no_host, kind, true), st::policy_verdict::allow);
    }
}

BOOST_AUTO_TEST_CASE(browsers_and_proxies_are_refused_on_every_route) {
    for (const auto kind : all_routes) {
        BOOST_TEST_INFO(kind);
        auto origin = good_request();
        origin.has_origin = true;
        BOOST_CHECK_EQUAL(st::check_request(origin, kind, true), st::policy_verdict::proxied);
        auto xff = good_request();
        xff.has_x_forwarded_for = true;
        BOOST_CHECK_EQUAL(st::check_request(xff, kind, true), st::policy_verdict::proxied);
        auto forwarded = good_request();
        forwarded.has_forwarded = true;
        BOOST_CHECK_EQUAL(st::check_request(forwarded, kind, false), st::policy_verdict::proxied);
        auto rebound = good_request();
        rebound.host = "attacker.example:8731";
        BOOST_CHECK_EQUAL(st::check_request(rebound, kind, false), st::policy_verdict::bad_host);
    }
}

BOOST_AUTO_TEST_CASE(request_header_is_needed_for_token_get_and_info_only) {
    const std::optional<std::string_view> missing_values[] = {std::nullopt,
                                                              std::string_view(""),
                                                              std::string_view("0"),
                                                              std::string_view("true"),
                                                              std::string_view("yes"),
                                                              std::string_view("1 "),
                                                              std::string_view("11")};
    for (const auto kind : all_routes) {
        for (const auto& value : missing_values) {
            BOOST_TEST_INFO(kind << ", X-Tokend-Request " << value.value_or("(absent)"));
            auto f = good_request();
            f.tokend_request = value;
            const auto expected = is_secret_route(kind) ? st::policy_verdict::missing_request_header
                                                        : st::policy_verdict::allow;
            BOOST_CHECK_EQUAL(st::check_request(f, kind, true), expected);
            // listen.require_request_header false: not needed anywhere.
            BOOST_CHECK_EQUAL(st::check_request(f, kind, false), st::policy_verdict::allow);
        }
    }
}

BOOST_AUTO_TEST_CASE(refusals_say_why) {
    BOOST_CHECK(std::string(st::describe(st::policy_verdict::missing_request_header))
                    .find("X-Tokend-Request") != std::string::npos);
    BOOST_CHECK(std::string(st::describe(st::policy_verdict::bad_host)).find("Host") !=
                std::string::npos);
    BOOST_CHECK(std::string(st::describe(st::policy_verdict::proxied)).find("Origin") !=
                std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
