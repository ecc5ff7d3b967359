// Product API routes (PRODUCT.md §11): /v1/routes/<name>/... forwarded to the route's fixed base
// URL with the profile's token, against the mock's product endpoint (/product/echo, behind TLS),
// which answers with the request it got.
#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <unistd.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include "harness.hpp"

using namespace tokend_test;
namespace json = boost::json;

namespace {

// The mock's API root ("https://127.0.0.1:PORT", base_url without "/v1").
std::string api_root(const mock_upstream& mock) {
    std::string url = mock.base_url();
    return url.substr(0, url.rfind("/v1"));
}

std::string config_for(const mock_upstream& mock, const std::string& profile_extra = "",
                       std::size_t max_body = 1048576) {
    json::object cfg;
    cfg["upstream"] = json::object{
        {"base_url", mock.base_url()}, {"ca_file", mock.ca_file()}, {"request_timeout_ms", 3000}};
    cfg["tokens"] = json::parse(
        R"([{"name":"stats","product":"synergy-stats","customer_id":"345")" + profile_extra + "}]");
    cfg["routes"] = json::array{json::object{{"prefix", "/stats/"},
                                             {"upstream", api_root(mock) + "/product/"},
                                             {"token", "stats"},
                                             {"ca_file", mock.ca_file()},
                                             {"timeout_ms", 3000},
                                             {"max_body_bytes", max_body}}};
    return json::serialize(cfg);
}

http_reply route_call(const tokend_daemon& daemon, std::string method, std::string target,
                      std::string body = {}) {
    http_call call;
    call.method = std::move(method);
    call.target = std::move(target);
    call.headers["X-Tokend-Request"] = "1";
    call.body = std::move(body);
    return http_request(daemon.tcp(), call);
}

// The value of header `name` (any case) in the echo's list, "" when absent.
std::string echoed_header(const json::value& echo, std::string_view name) {
    for (const auto& h : echo.at("headers").as_array()) {
        std::string n(h.as_array()[0].as_string());
        for (auto& c : n)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (n == name)
            return std::string(h.as_array()[1].as_string());
    }
    return {};
}

} // namespace

BOOST_AUTO_TEST_SUITE(routes)

BOOST_AUTO_TEST_CASE(get_post_head_delete_are_forwarded_with_the_profile_token) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const std::string token = token_of(daemon.get_token("stats"));
    BOOST_REQUIRE(!token.empty());

    http_call get;
    get.target = "/v1/routes/stats/echo/a/b?x=1&y=%20z";
    get.headers["X-Tokend-Request"] = "1";
    get.headers["X-App"] = "kept";
    get.headers["Authorization"] = "Bearer caller-own-credential";
    get.headers["Connection"] = "keep-alive, X-Drop-Me";
    get.headers["X-Drop-Me"] = "hop-by-hop";
    get.headers["Proxy-Authorization"] = "Basic xyz";
    const auto r = http_request(daemon.tcp(), get);
    BOOST_REQUIRE_EQUAL(r.status, 200u);
    const auto echo = r.json();
    BOOST_TEST(echo.at("method").as_string() == "GET");
    BOOST_TEST(echo.at("target").as_string() == "/product/echo/a/b?x=1&y=%20z");
    BOOST_TEST(echoed_header(echo, "authorization") == "Bearer " + token);
    BOOST_TEST(echoed_header(echo, "x-app") == "kept");
    BOOST_TEST(echoed_header(echo, "x-drop-me") == "");
    BOOST_TEST(echoed_header(echo, "proxy-authorization") == "");
    BOOST_TEST(echoed_header(echo, "x-tokend-request") == "");
    BOOST_TEST(echoed_header(echo, "host") == api_root(mock).substr(8));
    // Upstream's hop-by-hop and daemon-named headers do not come back; its own do.
    BOOST_TEST(r.header("x-echo-method") == "GET");
    BOOST_TEST(r.header("x-hop") == "");
    BOOST_TEST(r.header("x-tokend-spoof") == "");

    // A 1 MiB body, byte for byte (every byte value but NUL, which JSON would escape anyway).
    std::string body(1048576, '\0');
    for (std::size_t i = 0; i < body.size(); ++i)
        body[i] = static_cast<char>('a' + i % 26);
    const auto post = route_call(daemon, "POST", "/v1/routes/stats/echo", body);
    BOOST_REQUIRE_EQUAL(post.status, 200u);
    BOOST_TEST(post.json().at("method").as_string() == "POST");
    BOOST_TEST((post.json().at("body").as_string() == body));

    const auto head = route_call(daemon, "HEAD", "/v1/routes/stats/echo");
    BOOST_TEST(head.status == 200u);
    BOOST_TEST(head.header("x-echo-method") == "HEAD");
    BOOST_TEST(head.body.empty());

    const auto del = route_call(daemon, "DELETE", "/v1/routes/stats/echo/item/7");
    BOOST_REQUIRE_EQUAL(del.status, 200u);
    BOOST_TEST(del.json().at("method").as_string() == "DELETE");
    BOOST_TEST(del.json().at("target").as_string() == "/product/echo/item/7");
    BOOST_TEST(mock.counter("token_requests") == 1);

    // /status shows the route's counts, no token.
    const auto status = route_call(daemon, "GET", "/status");
    BOOST_TEST(status.body.find("\"routes\"") != std::string::npos);
    BOOST_TEST(status.body.find(token) == std::string::npos);
    const std::string log = daemon.log();
    BOOST_TEST(log.find(token) == std::string::npos);
    BOOST_TEST(log.find("caller-own-credential") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_body_over_max_body_bytes_gets_413_and_nothing_is_forwarded) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, "", 1000));
    BOOST_TEST(route_call(daemon, "POST", "/v1/routes/stats/echo", std::string(1000, 'x')).status ==
               200u);
    const auto big = route_call(daemon, "POST", "/v1/routes/stats/echo", std::string(1001, 'x'));
    BOOST_TEST(big.status == 413u);
    BOOST_TEST(big.body.find("over 1000 bytes") != std::string::npos);
    // Other endpoints keep their 64 KiB.
    BOOST_TEST(route_call(daemon, "POST", "/v1/products/token", std::string(70000, 'x')).status ==
               413u);
}

BOOST_AUTO_TEST_CASE(paths_that_leave_the_base_and_unknown_routes_are_refused) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    for (const char* target : {"/v1/routes/stats/../v1/products/token", "/v1/routes/stats/a%2Fb",
                               "/v1/routes/stats/%2e%2e/x", "/v1/routes/stats/a;b"}) {
        BOOST_TEST_INFO(target);
        BOOST_TEST(route_call(daemon, "GET", target).status == 400u);
    }
    BOOST_TEST(route_call(daemon, "GET", "/v1/routes/nope/x").status == 404u);
    // The request header is needed, as for tokens.
    http_call bare;
    bare.target = "/v1/routes/stats/echo";
    BOOST_TEST(http_request(daemon.tcp(), bare).status == 403u);
}

BOOST_AUTO_TEST_CASE(a_revoked_token_is_replaced_for_a_get_but_a_post_gets_the_401) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const std::string first = token_of(daemon.get_token("stats"));
    BOOST_REQUIRE(!first.empty());

    mock.control("POST", "/control/revoke", "{}");
    const auto post = route_call(daemon, "POST", "/v1/routes/stats/echo", "{}");
    BOOST_TEST(post.status == 401u); // passed on, not retried
    BOOST_TEST(mock.counter("token_requests") == 1);

    const auto get = route_call(daemon, "GET", "/v1/routes/stats/echo");
    BOOST_REQUIRE_EQUAL(get.status, 200u);
    BOOST_TEST(mock.counter("token_requests") == 2);
    const std::string second = token_of(daemon.get_token("stats"));
    BOOST_TEST(second != first);
    BOOST_TEST(echoed_header(get.json(), "authorization") == "Bearer " + second);
    BOOST_TEST(daemon.log().find(second) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_caller_the_profile_refuses_gets_403) {
    mock_upstream mock;
    const unsigned other = ::getuid() + 4242;
    tokend_daemon daemon(config_for(mock, R"(,"allow":{"users":[)" + std::to_string(other) + "]}"));
    const auto r = route_call(daemon, "GET", "/v1/routes/stats/echo");
    BOOST_TEST(r.status == 403u);
    BOOST_TEST(r.body.find("may not read profile \\\"stats\\\"") != std::string::npos, r.body);
}

// The rule is checked again after the wait for a replacement token: a reload meanwhile that gives
// the profile a rule excluding the caller refuses the retry.
BOOST_AUTO_TEST_CASE(a_rule_added_while_a_route_waits_for_a_replacement_refuses_the_retry) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    BOOST_REQUIRE(!token_of(daemon.get_token("stats")).empty());
    mock.control("POST", "/control/revoke", "{}"); // the next echo answers 401
    mock.fault(R"({"mode":"delay","delay_ms":1500,"endpoint":"token","count":1})");
    const std::int64_t before = mock.counter("token_requests");
    http_reply reply;
    std::thread caller([&] { reply = route_call(daemon, "GET", "/v1/routes/stats/echo"); });
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (mock.counter("token_requests") == before && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms); // until the replacement is being fetched
    auto cfg = json::parse(read_file(daemon.config_path())).as_object();
    cfg["tokens"].as_array()[0].as_object()["allow"] =
        json::parse(R"({"users":[)" + std::to_string(::getuid() + 4242) + "]}");
    write_file(daemon.config_path(), json::serialize(cfg));
    daemon.proc().signal(SIGHUP);
    BOOST_CHECK(wait_for_line(daemon.log_path(), "configuration reloaded", 5s));
    caller.join();
    BOOST_TEST(reply.status == 403u);
    BOOST_TEST(reply.body.find("may not read profile \\\"stats\\\"") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
