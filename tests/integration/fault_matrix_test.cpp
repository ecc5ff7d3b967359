// The fault matrix of issue 5 (PRODUCT.md §4): for every way the Auth API can fail a token
// request, the daemon's state, the reply a local caller gets and the delay before the next
// upstream attempt, against the mock Auth API over TLS.
//
// One test case per fault (a data-driven test over the table below), so each fails on its own:
// it starts a fresh mock with the fault armed for every token request and a fresh daemon, watches
// /status (which never triggers a fetch) to time the daemon's attempts, then asks for the token,
// then clears the fault and checks the daemon recovers without a restart.
#include <boost/json/serialize.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <functional>
#include <ostream>
#include <thread>

#include "harness.hpp"

using namespace tokend_test;
namespace json = boost::json;
using steady = std::chrono::steady_clock;

namespace {

// Short enough for a case to take a second or two, long enough that each bound below tells a
// backoff from an immediate retry and a timeout from an immediate failure despite the slack.
constexpr long retry_initial_ms = 200;
// Retry-After is capped at retry_max_ms (a rule unit-tested on a fake clock), so the Retry-After
// values below are not above it.
constexpr long retry_max_ms = 1000;
constexpr long request_timeout_ms = 600;
// Polling /status every 20 ms, on a loaded CI machine: how far a measured gap may be off.
constexpr long slack_ms = 250;

std::string config_for(const std::string& base_url, const std::string& ca_file) {
    return R"({"upstream":{"base_url":")" + base_url + R"(","ca_file":")" + ca_file +
           R"(","connect_timeout_ms":1000,"request_timeout_ms":)" +
           std::to_string(request_timeout_ms) +
           R"(},"tokens":[{"name":"stats","product":"synergy-stats","customer_id":"345"}],)"
           R"("refresh":{"retry_initial_ms":)" +
           std::to_string(retry_initial_ms) + R"(,"retry_max_ms":)" + std::to_string(retry_max_ms) +
           "}}";
}

json::object profile_status(tokend_daemon& daemon) {
    http_call call;
    call.target = "/status";
    const auto r = http_request(daemon.tcp(), call);
    BOOST_REQUIRE_EQUAL(r.status, 200u);
    return r.json().at("data").at("profiles").at(0).as_object();
}

struct fault_case {
    std::string name;
    std::function<void(mock_upstream&)> arm; // before the daemon starts
    std::string ca = "trusted";              // or "untrusted": the TLS failure
    // Expected after the first attempts:
    std::string state;       // "pending" (retrying), "failed" (rejected) or "fresh"
    std::string error_names; // lastError and the local 503 body contain this
    long min_gap_ms = 0;     // between the end of one failed attempt and the end of the next
    long max_gap_ms = 0;     // 0: the backoff bound of the attempt (full jitter)
    long attempt_ms = 0;     // how long one attempt takes (a timeout), added to both bounds
    bool mock_sees_attempts = true;
    int attempts = 3; // attempts timed: 2 when one gap of a long fixed delay says it all
};

// A data-driven test case names its sample in every failure message.
std::ostream& operator<<(std::ostream& os, const fault_case& c) {
    return os << c.name;
}

// Upper bound of the full-jitter delay before retry `n` (1-based).
long backoff_bound_ms(int n) {
    long bound = retry_initial_ms;
    for (int i = 1; i < n && bound < retry_max_ms; ++i)
        bound *= 2;
    return std::min(bound, retry_max_ms);
}

void set_fault(mock_upstream& mock, const std::string& spec) {
    mock.fault(spec);
}

std::vector<fault_case> failing_cases() {
    using m = mock_upstream;
    return {
        {"connection refused", [](m& mock) { mock.control("POST", "/control/down"); }, "trusted",
         "pending", "connect", 0, 0, 0, false},
        {"TLS failure (untrusted certificate)", [](m&) {}, "untrusted", "pending",
         "certificate verify failed", 0, 0, 0, false},
        {"timeout before headers",
         [](m& mock) { set_fault(mock, R"({"mode":"stall","count":-1})"); }, "trusted", "pending",
         "timed out", 0, 0, request_timeout_ms},
        {"timeout mid-body",
         [](m& mock) { set_fault(mock, R"({"mode":"stall_body","count":-1})"); }, "trusted",
         "pending", "timed out", 0, 0, request_timeout_ms},
        {"connection closed mid-reply",
         [](m& mock) { set_fault(mock, R"({"mode":"truncate","count":-1})"); }, "trusted",
         "pending", "before a complete reply", 0, 0, 0},
        {"HTTP 500",
         [](m& mock) { set_fault(mock, R"({"mode":"status","status":500,"count":-1})"); },
         "trusted", "pending", "HTTP 500", 0, 0, 0},
        {"HTTP 503 with Retry-After",
         [](m& mock) {
             set_fault(mock, R"({"mode":"status","status":503,"retry_after":"1","count":-1})");
         },
         "trusted", "pending", "HTTP 503", 1000, 1000 + slack_ms, 0},
        {"HTTP 429 with Retry-After",
         [](m& mock) {
             set_fault(mock, R"({"mode":"status","status":429,"retry_after":"1","count":-1})");
         },
         "trusted", "pending", "HTTP 429", 1000, 1000 + slack_ms, 0},
        {"HTTP 401",
         [](m& mock) { mock.settings(R"({"valid_identity_tokens":["another-identity"]})"); },
         "trusted", "pending", "HTTP 401", 0, 0, 0},
        {"HTTP 422",
         [](m& mock) { set_fault(mock, R"({"mode":"status","status":422,"count":-1})"); },
         "trusted", "failed", "HTTP 422", retry_max_ms, retry_max_ms + slack_ms, 0, true, 2},
        {"non-JSON body", [](m& mock) { set_fault(mock, R"({"mode":"malformed","count":-1})"); },
         "trusted", "pending", "not a JSON object", 0, 0, 0},
        {"JSON without data.token",
         [](m& mock) { set_fault(mock, R"({"mode":"no_token","count":-1})"); }, "trusted",
         "pending", "no data.token", 0, 0, 0},
        {"expiresIn 0",
         [](m& mock) { mock.settings(R"({"expires_in_form":"raw","expires_in_raw":0})"); },
         "trusted", "pending", "no usable lifetime", 0, 0, 0},
        {"expiresIn negative",
         [](m& mock) { mock.settings(R"({"expires_in_form":"raw","expires_in_raw":-60})"); },
         "trusted", "pending", "no usable lifetime", 0, 0, 0},
    };
}

std::string describe(const std::vector<long>& gaps) {
    std::string s;
    for (const long g : gaps)
        s += (s.empty() ? "" : ", ") + std::to_string(g) + " ms";
    return s;
}

} // namespace

BOOST_AUTO_TEST_SUITE(fault_matrix)

BOOST_DATA_TEST_CASE(each_upstream_failure_gives_the_right_state_reply_and_retry_delay,
                     boost::unit_test::data::make(failing_cases()), c) {
    mock_upstream mock;
    c.arm(mock);
    tokend_daemon daemon(
        config_for(mock.base_url(), c.ca == "trusted" ? mock.ca_file() : mock.untrusted_ca_file()));

    // The ends of the first attempts, as /status shows them (consecutiveFailures grows).
    const int attempts_wanted = c.attempts;
    std::vector<steady::time_point> ends;
    json::object p;
    const auto give_up = steady::now() + 15s;
    std::int64_t seen = 0;
    while (static_cast<int>(ends.size()) < attempts_wanted && steady::now() < give_up) {
        p = profile_status(daemon);
        const auto failures = p.at("consecutiveFailures").to_number<std::int64_t>();
        for (; seen < failures; ++seen)
            ends.push_back(steady::now());
        std::this_thread::sleep_for(20ms);
    }
    // Two quick attempts may fall between two polls: both are seen at the same moment.
    BOOST_REQUIRE_GE(ends.size(), static_cast<std::size_t>(attempts_wanted));
    ends.resize(static_cast<std::size_t>(attempts_wanted));

    // State and last error.
    BOOST_CHECK_EQUAL(p.at("state").as_string(), c.state);
    const std::string last_error =
        p.at("lastError").is_string() ? std::string(p.at("lastError").as_string()) : "";
    BOOST_CHECK_MESSAGE(last_error.find(c.error_names) != std::string::npos,
                        "lastError \"" << last_error << "\" should name \"" << c.error_names
                                       << "\"");

    // The delay before each next attempt.
    std::vector<long> gaps;
    for (std::size_t i = 1; i < ends.size(); ++i)
        gaps.push_back(static_cast<long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(ends[i] - ends[i - 1]).count()));
    BOOST_TEST_MESSAGE(c.name << ": \"" << last_error << "\", gaps between attempts "
                              << describe(gaps));
    for (std::size_t i = 0; i < gaps.size(); ++i) {
        const long lower = c.min_gap_ms + c.attempt_ms - slack_ms;
        const long upper =
            (c.max_gap_ms ? c.max_gap_ms : backoff_bound_ms(static_cast<int>(i) + 1)) +
            c.attempt_ms + slack_ms;
        BOOST_CHECK_MESSAGE(gaps[i] >= lower && gaps[i] <= upper,
                            "gap " << i + 1 << " " << gaps[i] << " ms, expected within [" << lower
                                   << ", " << upper << "] ms");
    }
    if (c.mock_sees_attempts)
        BOOST_CHECK_GE(mock.counter("token_requests"), attempts_wanted);
    else
        BOOST_CHECK_EQUAL(mock.counter("token_requests"), 0);

    // A local caller: 503 with Retry-After and an error envelope naming the problem.
    const auto r = daemon.get_token("stats");
    BOOST_CHECK_EQUAL(r.status, 503u);
    const std::string retry_after = r.header("retry-after");
    BOOST_CHECK(!retry_after.empty() &&
                retry_after.find_first_not_of("0123456789") == std::string::npos &&
                std::stol(retry_after) >= 1);
    const auto body = r.json();
    BOOST_REQUIRE(body.is_object() && body.as_object().contains("error"));
    BOOST_CHECK(std::string(json::serialize(body)).find(c.error_names) != std::string::npos);
    BOOST_CHECK(daemon.proc().running());

    // The cause goes away: the daemon recovers by itself, without a restart.
    mock.clear_faults();
    mock.settings(R"({"valid_identity_tokens":null,"expires_in_form":"number"})");
    mock.control("POST", "/control/up");
    if (c.ca != "trusted")
        return; // a trust store does not change by itself; covered by the log line
    BOOST_CHECK_EQUAL(daemon.get_token_within("stats", 8s).status, 200u);
    BOOST_CHECK_EQUAL(profile_status(daemon).at("state").as_string(), "fresh");
}

// The two expiresIn values that are not errors: the JWT's exp claim is the lifetime, one upstream
// call is made and no retry follows.
BOOST_DATA_TEST_CASE(huge_or_non_numeric_expires_in_falls_back_to_the_jwt_exp,
                     boost::unit_test::data::make(std::vector<std::string>{"1000000000000",
                                                                           R"("soon")"}),
                     raw) {
    mock_upstream mock;
    mock.settings(std::string(R"({"lifetime_s":600,"expires_in_form":"raw",)") +
                  R"("expires_in_raw":)" + raw + "}");
    tokend_daemon daemon(config_for(mock.base_url(), mock.ca_file()));
    const auto r = daemon.get_token("stats");
    BOOST_REQUIRE_EQUAL(r.status, 200u);
    const auto expires_in = r.json().at("data").at("expiresIn").to_number<long long>();
    BOOST_CHECK_LE(expires_in, 600);
    BOOST_CHECK_GE(expires_in, 590);
    // A retry would come within retry_initial_ms (200 ms) of a failed attempt.
    std::this_thread::sleep_for(600ms);
    const auto p = profile_status(daemon);
    BOOST_CHECK_EQUAL(p.at("state").as_string(), "fresh");
    BOOST_CHECK_EQUAL(p.at("consecutiveFailures").to_number<int>(), 0);
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 1);
}

BOOST_AUTO_TEST_SUITE_END()
