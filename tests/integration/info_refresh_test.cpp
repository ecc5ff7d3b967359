// Upstream refusals of the token the daemon attaches to /v1/info (PRODUCT.md §4, §5): one forced
// refresh and one retry, no churn however often upstream refuses, and the old token servable
// until a new one has arrived.
#include <string>
#include <thread>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include "harness.hpp"

using namespace tokend_test;
namespace json = boost::json;

namespace {

std::string config_for(const mock_upstream& mock, const std::string& extra_json = "{}") {
    json::object cfg = json::parse(extra_json).as_object();
    cfg["upstream"] = json::object{
        {"base_url", mock.base_url()}, {"ca_file", mock.ca_file()}, {"request_timeout_ms", 3000}};
    cfg["tokens"] =
        json::parse(R"([{"name":"stats","product":"synergy-stats","customer_id":"345"}])");
    return json::serialize(cfg);
}

http_reply info(const tokend_daemon& daemon) {
    http_call call;
    call.target = "/v1/info/scopes/authorized";
    call.headers["X-Tokend-Request"] = "1";
    return http_request(daemon.tcp(), call);
}

std::string last_info_authorization(mock_upstream& mock) {
    const auto a = mock.control("GET", "/control/last-info").at("authorization");
    return a.is_string() ? std::string(a.as_string()) : std::string();
}

} // namespace

BOOST_AUTO_TEST_SUITE(info_refresh)

BOOST_AUTO_TEST_CASE(twenty_info_calls_answered_401_make_exactly_one_extra_token_request) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const std::string first = token_of(daemon.get_token("stats"));
    BOOST_REQUIRE(!first.empty());
    BOOST_REQUIRE_EQUAL(mock.counter("token_requests"), 1);

    // Upstream refuses every token on /info, the fresh one too.
    mock.fault(R"({"mode":"status","status":401,"endpoint":"info","count":-1})");
    for (int i = 0; i < 20; ++i) {
        BOOST_TEST_INFO("call " << i);
        const auto r = info(daemon);
        // Upstream's refusal, as it came.
        BOOST_CHECK_EQUAL(r.status, 401u);
        BOOST_CHECK(r.body.find("mock fault") != std::string::npos);
    }
    // The first refusal forced one refresh; the token it brought was refused too, and that is
    // passed on without another.
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 2);
    const std::string second = token_of(daemon.get_token("stats"));
    BOOST_CHECK(!second.empty());
    BOOST_CHECK_NE(second, first);
    BOOST_CHECK_EQUAL(last_info_authorization(mock), "Bearer " + second);
    // 20 calls, one of them retried once.
    BOOST_CHECK_EQUAL(mock.counter("info_requests"), 21);

    // Concurrent callers change nothing.
    for (const auto& r : http_concurrent(
             daemon.tcp(),
             [] {
                 http_call call;
                 call.target = "/v1/info/scopes/authorized";
                 call.headers["X-Tokend-Request"] = "1";
                 return call;
             }(),
             20))
        BOOST_CHECK_EQUAL(r.status, 401u);
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 2);

    // Once upstream accepts tokens again, the current one works: nothing was lost.
    mock.clear_faults();
    BOOST_CHECK_EQUAL(info(daemon).status, 200u);
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 2);
}

BOOST_AUTO_TEST_CASE(a_refresh_answered_429_keeps_the_old_token_servable) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, R"({"refresh":{"retry_initial_ms":200}})"));
    const std::string first = token_of(daemon.get_token("stats"));
    BOOST_REQUIRE(!first.empty());

    mock.fault(R"({"mode":"status","status":401,"endpoint":"info","count":-1})");
    mock.fault(R"({"mode":"status","status":429,"endpoint":"token","count":-1,"retry_after":1})");
    // The forced refresh meets the 429: the caller gets upstream's refusal of the old token ...
    const auto refused = info(daemon);
    BOOST_CHECK_EQUAL(refused.status, 401u);
    BOOST_CHECK_GE(mock.counter("token_requests"), 2);
    // ... and the old token, still valid, is served to everyone meanwhile.
    for (int i = 0; i < 5; ++i) {
        const auto r = daemon.get_token("stats");
        BOOST_CHECK_MESSAGE(r.status == 200, r.status << " " << r.body);
        BOOST_CHECK_EQUAL(token_of(r), first);
        std::this_thread::sleep_for(100ms);
    }
    // More refusals of the old token force no more refreshes; the driver keeps retrying on its
    // own backoff, at most about once per Retry-After.
    const auto before = mock.counter("token_requests");
    for (int i = 0; i < 10; ++i)
        BOOST_CHECK_EQUAL(info(daemon).status, 401u);
    BOOST_CHECK_LE(mock.counter("token_requests"), before + 2);

    // Upstream recovers: the background retry brings a new token, which /info then uses.
    mock.clear_faults();
    std::string second;
    for (int i = 0; i < 40 && (second.empty() || second == first); ++i) {
        std::this_thread::sleep_for(100ms);
        second = token_of(daemon.get_token("stats"));
    }
    BOOST_CHECK_NE(second, first);
    BOOST_CHECK_EQUAL(info(daemon).status, 200u);
    BOOST_CHECK_EQUAL(last_info_authorization(mock), "Bearer " + second);
}

BOOST_AUTO_TEST_CASE(a_403_to_a_young_token_is_an_answer_not_a_reason_to_refresh) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    BOOST_REQUIRE_EQUAL(daemon.get_token("stats").status, 200u);
    mock.fault(R"({"mode":"status","status":403,"endpoint":"info","count":-1})");
    for (int i = 0; i < 5; ++i)
        BOOST_CHECK_EQUAL(info(daemon).status, 403u);
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 1);
    BOOST_CHECK_EQUAL(mock.counter("info_requests"), 5);
}

BOOST_AUTO_TEST_SUITE_END()
