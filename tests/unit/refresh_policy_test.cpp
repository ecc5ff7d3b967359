#include "synergy_tokend/refresh_policy.hpp"

#include <chrono>
#include <cstdint>
#include <limits>
#include <vector>

#include <boost/test/unit_test.hpp>

using namespace synergy_tokend;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::system_clock;

namespace {

std::int64_t ms(milliseconds d) {
    return d.count();
}

// 1994-11-06T08:49:37Z, the example date of RFC 9110.
const system_clock::time_point rfc_date{seconds{784111777}};

// Retry-After in whole seconds, -1 when not parsed: printable in a failed assertion.
std::int64_t retry_after(std::string_view value, system_clock::time_point now) {
    const auto r = parse_retry_after(value, now);
    return r ? r->count() : -1;
}

} // namespace

BOOST_AUTO_TEST_SUITE(refresh_policy)

BOOST_AUTO_TEST_CASE(refresh_delay_defaults) {
    const refresh_config cfg;
    // min(3600 * 0.75, 3600 - 60) = 2700 s
    BOOST_TEST(ms(refresh_delay(3600s, cfg, 0.0)) == 2'700'000);
}

BOOST_AUTO_TEST_CASE(refresh_delay_jitter_bounds) {
    const refresh_config cfg;
    // ± 0.05 * 3600 s = ± 180 s
    BOOST_TEST(ms(refresh_delay(3600s, cfg, -1.0)) == 2'520'000);
    BOOST_TEST(ms(refresh_delay(3600s, cfg, 1.0)) == 2'880'000);
    BOOST_TEST(ms(refresh_delay(3600s, cfg, 0.5)) == 2'790'000);
    // Draws outside [-1, 1] are held to it.
    BOOST_TEST(ms(refresh_delay(3600s, cfg, 7.0)) == 2'880'000);
    BOOST_TEST(ms(refresh_delay(3600s, cfg, -7.0)) == 2'520'000);
}

BOOST_AUTO_TEST_CASE(refresh_delay_min_remaining_wins) {
    refresh_config cfg;
    cfg.min_remaining = 600s;
    // min(2700, 3600 - 600) = 2700; with min_remaining 1200: 2400.
    BOOST_TEST(ms(refresh_delay(3600s, cfg, 0.0)) == 2'700'000);
    cfg.min_remaining = 1200s;
    BOOST_TEST(ms(refresh_delay(3600s, cfg, 0.0)) == 2'400'000);
}

BOOST_AUTO_TEST_CASE(refresh_delay_clamps) {
    refresh_config cfg;
    cfg.jitter = 0.5;
    // 2700 s - 1800 s is below half-life: 1800 s.
    BOOST_TEST(ms(refresh_delay(3600s, cfg, -1.0)) == 1'800'000);
    // 2700 s + 1800 s is past lifetime - min_serve_remaining: 3595 s.
    BOOST_TEST(ms(refresh_delay(3600s, cfg, 1.0)) == 3'595'000);
}

BOOST_AUTO_TEST_CASE(refresh_delay_two_second_token_half_life) {
    const refresh_config cfg;
    // The clamp range [1 s, 2 s - 5 s] is empty: half-life.
    for (double draw : {-1.0, 0.0, 1.0}) {
        BOOST_TEST(ms(refresh_delay(2s, cfg, draw)) == 1000);
    }
}

BOOST_AUTO_TEST_CASE(refresh_delay_shorter_than_min_remaining) {
    const refresh_config cfg; // min_remaining 60 s
    // 30 s - 60 s is negative: clamped up to half-life instead of refreshing at once.
    for (double draw : {-1.0, 0.0, 1.0}) {
        BOOST_TEST(ms(refresh_delay(30s, cfg, draw)) == 15'000);
    }
}

BOOST_AUTO_TEST_CASE(refresh_delay_millisecond_precision) {
    const refresh_config cfg;
    // min(75.75 s, 101 s - 60 s = 41 s) is below half-life: 50.5 s.
    BOOST_TEST(ms(refresh_delay(101s, cfg, 0.0)) == 50'500);
    // 0.75 * 333 s = 249.75 s; + 0.05 * 333 s * 0.1 = 1.665 s -> 251.415 s
    BOOST_TEST(ms(refresh_delay(333s, cfg, 0.1)) == 251'415);
}

BOOST_AUTO_TEST_CASE(classify) {
    BOOST_TEST((classify_status(401) == failure_class::auth));
    BOOST_TEST((classify_status(403) == failure_class::auth));
    for (unsigned s : {400u, 404u, 405u, 409u, 410u, 413u, 415u, 422u, 451u}) {
        BOOST_TEST_CONTEXT(s) {
            BOOST_TEST((classify_status(s) == failure_class::rejected));
        }
    }
    for (unsigned s : {408u, 425u, 429u, 500u, 502u, 503u, 504u, 599u, 0u, 200u, 302u, 600u}) {
        BOOST_TEST_CONTEXT(s) {
            BOOST_TEST((classify_status(s) == failure_class::transient));
        }
    }
}

BOOST_AUTO_TEST_CASE(backoff_growth_at_full_draw) {
    const refresh_config cfg; // 1 s .. 300 s
    std::vector<std::int64_t> seen;
    for (unsigned attempt = 1; attempt <= 12; ++attempt) {
        seen.push_back(
            ms(backoff_delay(attempt, failure_class::transient, std::nullopt, cfg, 1.0)));
    }
    const std::vector<std::int64_t> expected{1000,  2000,   4000,   8000,   16000,  32000,
                                             64000, 128000, 256000, 300000, 300000, 300000};
    BOOST_TEST(seen == expected, boost::test_tools::per_element());
    // Attempt 0 counts as the first; a huge attempt number saturates instead of overflowing.
    BOOST_TEST(ms(backoff_delay(0, failure_class::transient, std::nullopt, cfg, 1.0)) == 1000);
    for (unsigned attempt : {63u, 64u, 65u, 1000u, std::numeric_limits<unsigned>::max()}) {
        BOOST_TEST_CONTEXT(attempt) {
            BOOST_TEST(ms(backoff_delay(attempt, failure_class::auth, std::nullopt, cfg, 1.0)) ==
                       300'000);
        }
    }
}

BOOST_AUTO_TEST_CASE(backoff_full_jitter) {
    const refresh_config cfg;
    BOOST_TEST(ms(backoff_delay(5, failure_class::transient, std::nullopt, cfg, 0.0)) == 0);
    BOOST_TEST(ms(backoff_delay(5, failure_class::transient, std::nullopt, cfg, 0.5)) == 8000);
    BOOST_TEST(ms(backoff_delay(1, failure_class::auth, std::nullopt, cfg, 0.25)) == 250);
}

BOOST_AUTO_TEST_CASE(backoff_honours_retry_after) {
    const refresh_config cfg;
    // Longer than the jittered delay: honoured.
    BOOST_TEST(ms(backoff_delay(1, failure_class::transient, 7s, cfg, 0.0)) == 7000);
    BOOST_TEST(ms(backoff_delay(1, failure_class::transient, 7s, cfg, 1.0)) == 7000);
    // Shorter than the jittered delay: the delay stands.
    BOOST_TEST(ms(backoff_delay(5, failure_class::transient, 1s, cfg, 1.0)) == 16000);
    // Capped at retry_max, however large.
    BOOST_TEST(ms(backoff_delay(1, failure_class::transient, 3600s, cfg, 0.0)) == 300'000);
    BOOST_TEST(ms(backoff_delay(1, failure_class::transient,
                                seconds{std::numeric_limits<seconds::rep>::max()}, cfg, 0.0)) ==
               300'000);
    BOOST_TEST(ms(backoff_delay(1, failure_class::transient, 0s, cfg, 0.0)) == 0);
}

BOOST_AUTO_TEST_CASE(backoff_rejected_waits_retry_max) {
    refresh_config cfg;
    cfg.retry_max = 120'000ms;
    BOOST_TEST(ms(backoff_delay(1, failure_class::rejected, std::nullopt, cfg, 0.0)) == 120'000);
    BOOST_TEST(ms(backoff_delay(9, failure_class::rejected, 5s, cfg, 0.3)) == 120'000);
}

BOOST_AUTO_TEST_CASE(retry_after_delta_seconds) {
    const auto now = system_clock::time_point{seconds{1'700'000'000}};
    BOOST_TEST(retry_after("3", now) == 3);
    BOOST_TEST(retry_after(" 120 ", now) == 120);
    BOOST_TEST(retry_after("0", now) == 0);
    // Absurdly long values saturate rather than overflow.
    const auto huge = parse_retry_after("99999999999999999999999999999", now);
    BOOST_TEST_REQUIRE(huge.has_value());
    BOOST_TEST(huge->count() > 0);
}

BOOST_AUTO_TEST_CASE(retry_after_http_date) {
    BOOST_TEST(retry_after("Sun, 06 Nov 1994 08:49:37 GMT", rfc_date - 90s) == 90);
    // Rounded up: never earlier than the server's date.
    BOOST_TEST(retry_after("Sun, 06 Nov 1994 08:49:37 GMT", rfc_date - 89500ms) == 90);
    // In the past: 0.
    BOOST_TEST(retry_after("Sun, 06 Nov 1994 08:49:37 GMT", rfc_date + 1h) == 0);
    // Leap years and the end of a year.
    const system_clock::time_point leap_day{seconds{1'709'164'800}}; // 2024-02-29T00:00:00Z
    BOOST_TEST(retry_after("Thu, 29 Feb 2024 00:00:30 GMT", leap_day) == 30);
    const system_clock::time_point new_year{seconds{1'735'689'600}}; // 2025-01-01T00:00:00Z
    BOOST_TEST(retry_after("Tue, 31 Dec 2024 23:59:59 GMT", new_year - 11s) == 10);
}

BOOST_AUTO_TEST_CASE(retry_after_garbage) {
    const auto now = rfc_date;
    for (const char* v :
         {"", "   ", "-5", "+5", "3.5", "3 s", "soon", "0x10", "Sun, 06 Nov 1994 08:49:37 UTC",
          "Sun, 06 Nov 1994 08:49:37", "Sun, 31 Nov 1994 08:49:37 GMT",
          "Sun, 29 Feb 2023 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
          "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:49:37 GMT",
          "Sun, 6 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT"}) {
        BOOST_TEST_CONTEXT(v) {
            BOOST_TEST(!parse_retry_after(v, now).has_value());
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
