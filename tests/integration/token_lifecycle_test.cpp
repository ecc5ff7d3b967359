// The token lifecycle end to end (PRODUCT.md §4): the daemon against the mock Auth API over TLS.
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>

#include "harness.hpp"

using namespace tokend_test;
namespace json = boost::json;

namespace {

// A config for one profile "stats" against `mock`, with the refresh section given.
std::string config_for(const mock_upstream& mock, const std::string& refresh = "{}",
                       const std::string& extra_upstream = "") {
    return R"({"upstream":{"base_url":")" + mock.base_url() + R"(","ca_file":")" + mock.ca_file() +
           R"(","request_timeout_ms":3000)" + extra_upstream +
           R"(},"tokens":[{"name":"stats","product":"synergy-stats","customer_id":"345"}],)"
           R"("refresh":)" +
           refresh + "}";
}

// Settings for short-lived tokens: served down to their last second, retried quickly.
const std::string short_lived_refresh =
    R"({"min_remaining_s":1,"min_serve_remaining_s":0,"retry_initial_ms":100,"retry_max_ms":400})";

} // namespace

BOOST_AUTO_TEST_SUITE(token_lifecycle)

BOOST_AUTO_TEST_CASE(serves_a_valid_token_continuously_across_refreshes) {
    mock_upstream mock;
    // 3 s, not less: the JWT's exp counts whole seconds from a whole-second iat, so a token
    // fetched late in a second has up to a second less than lifetime_s left; from a 2 s token
    // that is sometimes under one second, which is no usable lifetime.
    mock.settings(R"({"lifetime_s":3})");
    tokend_daemon daemon(config_for(mock, short_lived_refresh));

    std::set<std::string> distinct;
    int served = 0;
    // 6 s: two whole lifetimes and the refreshes inside them.
    const auto end = std::chrono::steady_clock::now() + 6s;
    while (std::chrono::steady_clock::now() < end) {
        const auto r = daemon.get_token("stats");
        BOOST_REQUIRE_MESSAGE(r.status == 200, "status " << r.status << " " << r.body);
        const std::string token = token_of(r);
        // The mock's own expiry claim: the token handed out must not have expired yet.
        BOOST_REQUIRE_GT(jwt_exp(token), unix_now() - 1);
        BOOST_CHECK_EQUAL(r.header("cache-control"), "no-store");
        distinct.insert(token);
        ++served;
        std::this_thread::sleep_for(20ms);
    }
    const auto upstream_calls = mock.counter("token_requests");
    BOOST_TEST_MESSAGE(served << " requests served, " << distinct.size() << " tokens, "
                              << upstream_calls << " upstream token requests");
    BOOST_CHECK_GT(served, 100);
    // Refreshed before each expiry: the first token and at least one new one per 3 s lifetime
    // (a token served past its expiry fails the loop above) ...
    BOOST_CHECK_GE(distinct.size(), 3u);
    // ... and one upstream call per refresh, not one per client request (about 250 of them). A
    // 3 s token looks 2 s long (see above) and is refreshed min_remaining_s (1 s) before its end:
    // about one call a second, and 15 leaves room for a slow machine's late ones.
    BOOST_CHECK_LE(upstream_calls, 15);
    // Every upstream call's token was served (one more may have landed after the last poll).
    const auto seen = static_cast<std::int64_t>(distinct.size());
    BOOST_CHECK_GE(upstream_calls, seen);
    BOOST_CHECK_LE(upstream_calls, seen + 1);
    BOOST_CHECK(daemon.log().find("error") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(concurrent_cold_requests_share_one_upstream_call) {
    mock_upstream mock;
    // Slow upstream: every request below arrives while the first fetch is in flight.
    mock.settings(R"({"delay_ms":1000})");
    tokend_daemon daemon(config_for(mock));

    http_call call;
    call.target = "/v1/tokens/stats";
    call.headers["X-Tokend-Request"] = "1";
    const auto replies = http_concurrent(daemon.tcp(), call, 200);
    std::set<std::string> tokens;
    for (const auto& r : replies) {
        BOOST_REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.error << " " << r.body);
        tokens.insert(token_of(r));
    }
    BOOST_CHECK_EQUAL(tokens.size(), 1u);
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 1);
}

BOOST_AUTO_TEST_CASE(expires_in_number_string_and_absent_give_the_right_expiry) {
    struct form {
        const char* settings;
        long long lifetime;
    };
    const form forms[] = {
        {R"({"lifetime_s":600,"expires_in_form":"number"})", 600},
        {R"({"lifetime_s":700,"expires_in_form":"string"})", 700},
        {R"({"lifetime_s":800,"expires_in_form":"absent"})", 800},
        // Both present and disagreeing: the smaller wins.
        {R"({"lifetime_s":900,"expires_in_form":"raw","expires_in_raw":300})", 300},
        {R"({"lifetime_s":200,"expires_in_form":"raw","expires_in_raw":"5000"})", 200},
    };
    for (const auto& f : forms) {
        mock_upstream mock;
        mock.settings(f.settings);
        tokend_daemon daemon(config_for(mock));
        const auto r = daemon.get_token("stats");
        BOOST_REQUIRE_EQUAL(r.status, 200u);
        const auto doc = r.json();
        const auto& data = doc.at("data");
        const auto expires_in = data.at("expiresIn").to_number<long long>();
        BOOST_TEST_INFO(f.settings);
        BOOST_CHECK_LE(expires_in, f.lifetime);
        BOOST_CHECK_GE(expires_in, f.lifetime - 3);
        BOOST_CHECK_EQUAL(data.at("tokenType").as_string(), "bearer");
    }
}

BOOST_AUTO_TEST_CASE(plain_text_accept_gives_the_bare_token) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const auto json_reply = daemon.get_token("stats");
    const auto plain = daemon.get_token("stats", "text/plain");
    BOOST_REQUIRE_EQUAL(plain.status, 200u);
    BOOST_CHECK_EQUAL(plain.body, token_of(json_reply));
    BOOST_CHECK(plain.header("content-type").starts_with("text/plain"));
    BOOST_CHECK_EQUAL(plain.header("cache-control"), "no-store");
}

BOOST_AUTO_TEST_CASE(unknown_profile_is_404_and_list_shows_no_token) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const auto token = token_of(daemon.get_token("stats"));
    BOOST_REQUIRE(!token.empty());

    const auto missing = daemon.get_token("nope");
    BOOST_CHECK_EQUAL(missing.status, 404u);
    BOOST_CHECK(missing.body.find("nope") != std::string::npos);

    http_call list;
    list.target = "/v1/tokens";
    const auto r = http_request(daemon.tcp(), list);
    BOOST_REQUIRE_EQUAL(r.status, 200u);
    BOOST_CHECK(r.body.find(token) == std::string::npos);
    const auto doc = r.json();
    const auto& p = doc.at("data").as_array().at(0);
    BOOST_CHECK_EQUAL(p.at("name").as_string(), "stats");
    BOOST_CHECK_EQUAL(p.at("customerId").as_string(), "345");
    BOOST_CHECK_EQUAL(p.at("state").as_string(), "fresh");
    BOOST_CHECK(p.at("expiresAt").is_string());
    BOOST_CHECK_EQUAL(p.at("default").as_bool(), true);
}

BOOST_AUTO_TEST_CASE(upstream_down_serves_until_real_expiry_then_503_then_recovers) {
    mock_upstream mock;
    mock.settings(R"({"lifetime_s":4})");
    tokend_daemon daemon(config_for(mock, short_lived_refresh));
    const auto first = daemon.get_token("stats");
    BOOST_REQUIRE_EQUAL(first.status, 200u);
    mock.control("POST", "/control/down");

    // While the current token lasts it keeps being served (stale); then 503 with Retry-After.
    bool saw_stale = false;
    http_reply r;
    const auto give_up = std::chrono::steady_clock::now() + 12s;
    while (std::chrono::steady_clock::now() < give_up) {
        r = daemon.get_token("stats");
        if (r.status != 200)
            break;
        BOOST_REQUIRE_GT(jwt_exp(token_of(r)), unix_now() - 1);
        http_call list;
        list.target = "/v1/tokens";
        const auto states = http_request(daemon.tcp(), list);
        if (states.body.find(R"("state":"stale")") != std::string::npos)
            saw_stale = true;
        std::this_thread::sleep_for(100ms);
    }
    BOOST_CHECK(saw_stale);
    BOOST_REQUIRE_EQUAL(r.status, 503u);
    BOOST_CHECK(!r.header("retry-after").empty());
    BOOST_CHECK(r.body.find("connect") != std::string::npos);

    mock.control("POST", "/control/up");
    r = daemon.get_token_within("stats", 8s);
    BOOST_CHECK_EQUAL(r.status, 200u);
    BOOST_CHECK(daemon.proc().running());
}

BOOST_AUTO_TEST_CASE(upstream_errors_and_garbage_keep_the_stale_token_then_recover) {
    const char* faults[] = {
        R"({"mode":"status","status":500,"count":-1})",
        R"({"mode":"malformed","count":-1})",
        R"({"mode":"no_token","count":-1})",
    };
    // One mock and one daemon per fault, side by side: each waits for its token to expire, and
    // they wait at the same time.
    struct pair {
        explicit pair(const char* f)
            : fault(f) {}
        const char* fault;
        mock_upstream mock;
        std::optional<tokend_daemon> daemon;
        std::string first;
        http_reply last;
        bool done = false;
    };
    std::vector<std::unique_ptr<pair>> pairs;
    for (const char* fault : faults) {
        auto& p = *pairs.emplace_back(std::make_unique<pair>(fault));
        p.mock.settings(R"({"lifetime_s":3})");
        p.daemon.emplace(config_for(p.mock, short_lived_refresh));
        p.first = token_of(p.daemon->get_token("stats"));
        BOOST_REQUIRE_MESSAGE(!p.first.empty(), fault);
        p.mock.fault(fault);
    }

    const auto give_up = std::chrono::steady_clock::now() + 10s;
    for (std::size_t left = pairs.size(); left > 0 && std::chrono::steady_clock::now() < give_up;) {
        for (auto& p : pairs) {
            if (p->done)
                continue;
            BOOST_TEST_CONTEXT(p->fault) {
                p->last = p->daemon->get_token("stats");
                if (p->last.status != 200) {
                    p->done = true;
                    --left;
                    continue;
                }
                // Only the token obtained before the fault can be served, until it expires.
                BOOST_REQUIRE_EQUAL(token_of(p->last), p->first);
                BOOST_REQUIRE_GT(jwt_exp(token_of(p->last)), unix_now() - 1);
            }
        }
        std::this_thread::sleep_for(100ms);
    }
    for (auto& p : pairs) {
        BOOST_TEST_CONTEXT(p->fault) {
            BOOST_REQUIRE_EQUAL(p->last.status, 503u);
            BOOST_CHECK(!p->last.header("retry-after").empty());
            p->mock.clear_faults();
        }
    }
    for (auto& p : pairs) {
        BOOST_TEST_CONTEXT(p->fault) {
            const auto r = p->daemon->get_token_within("stats", 8s);
            BOOST_CHECK_EQUAL(r.status, 200u);
            BOOST_CHECK_NE(token_of(r), p->first);
            // One warning for the outage, not one per retry.
            const std::string log = p->daemon->log();
            std::size_t warnings = 0;
            for (auto at = log.find("token request failed"); at != std::string::npos;
                 at = log.find("token request failed", at + 1))
                ++warnings;
            BOOST_CHECK_EQUAL(warnings, 1u);
            BOOST_CHECK(log.find("recovered") != std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_CASE(retries_back_off_exponentially_and_honour_retry_after) {
    mock_upstream mock;
    mock.fault(R"({"mode":"status","status":503,"count":-1})");
    {
        tokend_daemon daemon(config_for(mock, R"({"retry_initial_ms":100,"retry_max_ms":1600})"));
        // How many attempts fit in a 3 s window is the point, so the window is waited out
        // (watched, so that too many attempts end it at once).
        const auto window_end = std::chrono::steady_clock::now() + 3s;
        while (std::chrono::steady_clock::now() < window_end &&
               mock.counter("token_requests") <= 14)
            std::this_thread::sleep_for(100ms);
    }
    auto attempts = mock.token_requests();
    // Full-jitter backoff doubling from 100 ms to 1.6 s: a handful of attempts in 3 s (the
    // delays' upper bounds add up to 3.1 s after the fifth attempt, their means to 3.1 s after
    // the eighth), where a fixed 100 ms interval would have made 30. Fourteen would take
    // thirteen draws summing under 3 s, against a mean of 8 s: well under one run in a thousand.
    BOOST_TEST_MESSAGE(attempts.size() << " attempts in 3 s");
    BOOST_CHECK_GE(attempts.size(), 3u);
    BOOST_CHECK_LE(attempts.size(), 14u);

    // Retry-After: 1 → the next attempt waits at least 1 s, where the backoff alone would retry
    // within 100 ms and then 200 ms.
    mock.clear_faults();
    mock.control("POST", "/control/reset");
    mock.fault(R"({"mode":"status","status":429,"retry_after":"1","count":2})");
    tokend_daemon second(config_for(mock, R"({"retry_initial_ms":100,"retry_max_ms":5000})"));
    // Callers asking meanwhile must not make the daemon call before Retry-After either; they
    // ask until the third attempt (the first after the fault) came, and a while longer.
    const auto until = std::chrono::steady_clock::now() + 6s;
    while (std::chrono::steady_clock::now() < until && mock.counter("token_requests") < 3) {
        second.get_token("stats");
        std::this_thread::sleep_for(50ms);
    }
    for (int i = 0; i < 4; ++i) {
        second.get_token("stats");
        std::this_thread::sleep_for(50ms);
    }
    attempts = mock.token_requests();
    BOOST_REQUIRE_EQUAL(attempts.size(), 3u);
    const auto t0 = attempts[0].at("t_ms").to_number<long long>();
    const auto t1 = attempts[1].at("t_ms").to_number<long long>();
    const auto t2 = attempts[2].at("t_ms").to_number<long long>();
    BOOST_CHECK_GE(t1 - t0, 950);
    BOOST_CHECK_GE(t2 - t1, 950);
    BOOST_CHECK_EQUAL(attempts[2].at("status").to_number<int>(), 200);
}

BOOST_AUTO_TEST_CASE(untrusted_upstream_certificate_is_refused_and_logged) {
    mock_upstream mock;
    std::string cfg = config_for(mock);
    const auto at = cfg.find(mock.ca_file());
    cfg.replace(at, mock.ca_file().size(), mock.untrusted_ca_file());
    tokend_daemon daemon(cfg);
    const auto r = daemon.get_token("stats");
    BOOST_CHECK_EQUAL(r.status, 503u);
    BOOST_CHECK(wait_for_line(daemon.log_path(), "certificate verify failed", 5s));
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 0);
}

BOOST_AUTO_TEST_CASE(upstream_certificate_for_another_address_is_refused) {
    // A certificate from the trusted CA, but for localhost, 127.0.0.1 and ::1: at 127.0.0.2 the
    // server is not the one the configuration names.
    mock_upstream mock(true, "127.0.0.2");
    tokend_daemon daemon(config_for(mock));
    const auto r = daemon.get_token("stats");
    BOOST_CHECK_EQUAL(r.status, 503u);
    BOOST_CHECK(wait_for_line(daemon.log_path(), "certificate verify failed", 5s));
    BOOST_CHECK(wait_for_line(daemon.log_path(), "IP address mismatch", 1s));
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 0);
}

BOOST_AUTO_TEST_CASE(upstream_named_by_ip_address_is_verified_against_that_address) {
    mock_upstream mock;
    std::string cfg = config_for(mock);
    const std::string by_name = "https://localhost:";
    cfg.replace(cfg.find(by_name), by_name.size(), "https://127.0.0.1:");
    tokend_daemon daemon(cfg);
    const auto r = daemon.get_token_within("stats", 5s);
    BOOST_CHECK_EQUAL(r.status, 200u);
    BOOST_CHECK_GE(mock.counter("tls_handshakes"), 1);
}

BOOST_AUTO_TEST_CASE(identity_token_file_change_is_picked_up_before_the_next_fetch) {
    mock_upstream mock;
    mock.settings(R"({"valid_identity_tokens":["second-identity-token"]})");
    tokend_daemon daemon(config_for(mock, R"({"retry_initial_ms":100,"retry_max_ms":300})"),
                         "first-identity-token");
    BOOST_CHECK(wait_for_line(daemon.log_path(), "HTTP 401", 5s));
    write_file(daemon.identity_path(), "second-identity-token\n");
    // A different mtime, even on file systems with a coarse clock, without waiting for one.
    struct stat st {};
    BOOST_REQUIRE(::stat(daemon.identity_path().c_str(), &st) == 0);
    timespec times[2] = {st.st_atim, st.st_mtim};
    times[1].tv_sec += 2;
    BOOST_REQUIRE(::utimensat(AT_FDCWD, daemon.identity_path().c_str(), times, 0) == 0);
    // A fetch that started before the write may still fail with the first identity (and answer
    // a caller waiting for it with 503); the next one reads the new file.
    const auto r = daemon.get_token_within("stats", 3s);
    BOOST_CHECK_EQUAL(r.status, 200u);
    BOOST_CHECK_LE(mock.counter("token_requests_ok"), 1);
    // No identity token in the log, ever.
    BOOST_CHECK(daemon.log().find("first-identity-token") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
