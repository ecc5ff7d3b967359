// Upstream's text never carries a secret further (PRODUCT.md §6): an upstream that echoes every
// request into its error messages, JSON-escaped as PHP writes it ('/' as "\/"), and the logs,
// /status, /metrics and error bodies of the daemon that talks to it.
#include <string>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include "harness.hpp"

using namespace tokend_test;
namespace json = boost::json;

namespace {

// Secrets with '/' in them, so that the echo escapes them.
const std::string daemon_identity = "daemon/identity/token+0001==";
const std::string caller_identity = "caller/identity/token+0002==";

std::string config_for(const mock_upstream& mock) {
    json::object cfg;
    cfg["upstream"] = json::object{
        {"base_url", mock.base_url()}, {"ca_file", mock.ca_file()}, {"request_timeout_ms", 3000}};
    cfg["tokens"] =
        json::parse(R"([{"name":"stats","product":"synergy-stats","customer_id":"345"}])");
    cfg["log"] = json::object{{"level", "debug"}}; // every line the daemon can write
    return json::serialize(cfg);
}

// "{{request}}" becomes the request's Authorization and body (mock_api.cpp echo_request).
std::string echo_fault(unsigned status, const std::string& endpoint) {
    const std::string body = R"({"error":{"code":)" + std::to_string(status) +
                             R"(,"message":"cannot process {{request}}","errors":[{"code":)" +
                             std::to_string(status) +
                             R"(,"message":"see message","reason":"INVALID_DATA"}]},"meta":{}})";
    return json::serialize(json::object{{"mode", "status"},
                                        {"status", status},
                                        {"endpoint", endpoint},
                                        {"count", -1},
                                        {"body", body}});
}

// `secret` in any form the echo may give it: raw, or with '/' escaped.
bool holds(const std::string& text, std::string secret) {
    if (text.find(secret) != std::string::npos)
        return true;
    for (std::size_t at = 0; (at = secret.find('/', at)) != std::string::npos; at += 2)
        secret.insert(at, "\\");
    return text.find(secret) != std::string::npos;
}

http_call drop_in(const std::string& identity, const std::string& product) {
    http_call call;
    call.method = "POST";
    call.target = "/v1/products/token";
    call.headers["Content-Type"] = "application/json";
    call.body = json::serialize(
        json::object{{"userIdentityToken", identity}, {"product", product}, {"customerId", "9"}});
    return call;
}

std::string get(const tokend_daemon& daemon, const std::string& target) {
    http_call call;
    call.target = target;
    return http_request(daemon.tcp(), call).body;
}

} // namespace

BOOST_AUTO_TEST_SUITE(redaction)

BOOST_AUTO_TEST_CASE(an_upstream_echoing_every_request_leaks_no_secret) {
    mock_upstream mock;
    mock.fault(echo_fault(422, "token"));
    tokend_daemon daemon(config_for(mock), daemon_identity);
    // The profile's first fetch met the echo: the error reached the log and /status, redacted.
    BOOST_REQUIRE(wait_for_line(daemon.log_path(), "HTTP 422", 10s));
    // A caller whose profile has no token: 503, with the reason redacted.
    http_call token_call;
    token_call.target = "/v1/tokens/stats";
    token_call.headers["X-Tokend-Request"] = "1";
    const auto unavailable = http_request(daemon.tcp(), token_call);
    BOOST_CHECK_EQUAL(unavailable.status, 503u);
    BOOST_CHECK(unavailable.body.find("[redacted]") != std::string::npos);
    BOOST_CHECK(!holds(unavailable.body, daemon_identity));

    // A drop-in caller gets upstream's body: its own identity token in it stays (it sent it, and
    // a drop-in client expects upstream's answer), the daemon's does not appear.
    const auto dropped = http_request(daemon.tcp(), drop_in(caller_identity, "synergy-live"));
    BOOST_CHECK_EQUAL(dropped.status, 422u);
    // The echo escapes '/' (else this test would prove little about escaped forms).
    BOOST_CHECK(dropped.body.find(R"(caller\/identity\/token+0002==)") != std::string::npos);
    BOOST_CHECK(!holds(dropped.body, daemon_identity));
    // Repeated within retry_initial_ms: the same.
    const auto again = http_request(daemon.tcp(), drop_in(caller_identity, "synergy-live"));
    BOOST_CHECK_EQUAL(again.body, dropped.body);

    const std::string status = get(daemon, "/status");
    const std::string metrics = get(daemon, "/metrics");
    const std::string log = daemon.log();
    BOOST_CHECK(status.find("[redacted]") != std::string::npos);
    for (const auto* secret : {&daemon_identity, &caller_identity}) {
        BOOST_TEST_INFO("secret " << secret->substr(0, 12));
        BOOST_CHECK(!holds(status, *secret));
        BOOST_CHECK(!holds(metrics, *secret));
        BOOST_CHECK(!holds(log, *secret));
    }
}

BOOST_AUTO_TEST_CASE(upstream_text_never_carries_another_callers_secret) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock), daemon_identity);
    http_call token_call;
    token_call.target = "/v1/tokens/stats";
    token_call.headers["X-Tokend-Request"] = "1";
    const std::string profile_token = token_of(http_request(daemon.tcp(), token_call));
    BOOST_REQUIRE(!profile_token.empty());
    // Another caller's on-demand token.
    const auto other =
        http_request(daemon.tcp(), drop_in("identity-of-another-caller", "synergy-x"));
    const std::string other_token = token_of(other);
    BOOST_REQUIRE(!other_token.empty());

    // Upstream's error text names tokens it should not: the daemon's, another caller's, and the
    // daemon's identity token.
    const std::string leaky = R"({"error":{"code":400,"message":"conflict with )" + profile_token +
                              " and " + other_token + " of " + daemon_identity +
                              R"(","errors":[]},"meta":{}})";
    mock.fault(json::serialize(
        json::object{{"mode", "status"}, {"status", 400}, {"endpoint", "token"}, {"body", leaky}}));
    const auto r = http_request(daemon.tcp(), drop_in(caller_identity, "synergy-y"));
    BOOST_CHECK_EQUAL(r.status, 400u);
    BOOST_CHECK(r.body.find("conflict with [redacted] and [redacted] of [redacted]") !=
                std::string::npos);
    for (const auto* secret : {&profile_token, &other_token, &daemon_identity}) {
        BOOST_CHECK(!holds(r.body, *secret));
        BOOST_CHECK(!holds(daemon.log(), *secret));
        BOOST_CHECK(!holds(get(daemon, "/status"), *secret));
    }
}

BOOST_AUTO_TEST_SUITE_END()
