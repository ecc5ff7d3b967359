#include "synergy_tokend/shared_cache_policy.hpp"

#include <boost/test/unit_test.hpp>

namespace st = synergy_tokend;
using namespace std::chrono_literals;
using st::shared_action;

namespace {

// A fake clock: both clocks advance together.
struct fake_clock {
    st::moment now{st::wall_clock::time_point(1'800'000'000s), st::steady_time(1000s)};
    void advance(std::chrono::milliseconds d) {
        now.wall += d;
        now.mono += d;
    }
};

st::shared_attempt_config attempt_config() {
    st::shared_attempt_config c;
    c.lease = 1000ms;
    c.poll_interval = 50ms;
    c.wait_limit = 2000ms;
    c.refresh.min_remaining = 60s;
    c.refresh.refresh_at = 0.75;
    c.refresh.jitter = 0.0;
    c.refresh.min_serve_remaining = 5s;
    return c;
}

// An entry of a 3600 s token issued `age` ago (refresh point at 2700 s).
st::token_times entry_aged(const fake_clock& c, std::chrono::seconds age) {
    return {c.now.wall - age, c.now.wall - age + 3600s};
}

} // namespace

BOOST_AUTO_TEST_SUITE(shared_cache_policy)

BOOST_AUTO_TEST_CASE(a_fresh_entry_is_adopted_without_a_lease) {
    fake_clock c;
    st::shared_attempt a(attempt_config(), 0.0, c.now);
    BOOST_TEST((a.first().action == shared_action::read));
    const auto step = a.on_read(c.now, st::read_outcome::entry, entry_aged(c, 100s), false, false);
    BOOST_TEST((step.action == shared_action::adopt));
    // Due by this host's schedule (2700 s after issue): compete instead.
    st::shared_attempt b(attempt_config(), 0.0, c.now);
    BOOST_TEST(
        (b.on_read(c.now, st::read_outcome::entry, entry_aged(c, 2701s), false, true).action ==
         shared_action::take_lease));
    // The token this host already holds is never adopted again.
    st::shared_attempt d(attempt_config(), 0.0, c.now);
    BOOST_TEST((d.on_read(c.now, st::read_outcome::entry, entry_aged(c, 100s), true, true).action ==
                shared_action::take_lease));
}

BOOST_AUTO_TEST_CASE(nothing_servable_here_takes_even_a_due_entry) {
    fake_clock c;
    st::shared_attempt a(attempt_config(), 0.0, c.now);
    BOOST_TEST(
        (a.on_read(c.now, st::read_outcome::entry, entry_aged(c, 3000s), false, false).action ==
         shared_action::adopt));
    // But not one with no servable time left.
    st::shared_attempt b(attempt_config(), 0.0, c.now);
    BOOST_TEST(
        (b.on_read(c.now, st::read_outcome::entry, entry_aged(c, 3596s), false, false).action ==
         shared_action::take_lease));
}

BOOST_AUTO_TEST_CASE(the_winner_reads_again_then_fetches) {
    fake_clock c;
    st::shared_attempt a(attempt_config(), 0.0, c.now);
    BOOST_TEST((a.on_read(c.now, st::read_outcome::none, std::nullopt, false, false).action ==
                shared_action::take_lease));
    BOOST_TEST((a.on_lease(c.now, st::lease_outcome::won, false).action == shared_action::read));
    BOOST_TEST(a.holding());
    BOOST_TEST((a.on_read(c.now, st::read_outcome::none, std::nullopt, false, false).action ==
                shared_action::fetch_holder));
    // Had the last holder written meanwhile, its entry is taken (and the lease released).
    st::shared_attempt b(attempt_config(), 0.0, c.now);
    b.on_read(c.now, st::read_outcome::none, std::nullopt, false, false);
    b.on_lease(c.now, st::lease_outcome::won, false);
    BOOST_TEST((b.on_read(c.now, st::read_outcome::entry, entry_aged(c, 0s), false, false).action ==
                shared_action::adopt));
}

BOOST_AUTO_TEST_CASE(a_loser_with_a_token_polls_and_takes_what_the_holder_writes) {
    fake_clock c;
    st::shared_attempt a(attempt_config(), 0.0, c.now);
    a.on_read(c.now, st::read_outcome::entry, entry_aged(c, 2701s), true, true);
    auto step = a.on_lease(c.now, st::lease_outcome::lost, true);
    BOOST_TEST((step.action == shared_action::sleep));
    BOOST_TEST(step.sleep_for.count() == 50);
    c.advance(50ms);
    step = a.on_read(c.now, st::read_outcome::entry, entry_aged(c, 2701s), true, true);
    BOOST_TEST((step.action == shared_action::sleep));
    c.advance(50ms);
    step = a.on_read(c.now, st::read_outcome::entry, entry_aged(c, 0s), false, true);
    BOOST_TEST((step.action == shared_action::adopt));
}

BOOST_AUTO_TEST_CASE(a_holder_that_does_not_deliver_is_overtaken_after_lease_ms) {
    fake_clock c;
    st::shared_attempt a(attempt_config(), 0.0, c.now);
    a.on_read(c.now, st::read_outcome::none, std::nullopt, false, true);
    a.on_lease(c.now, st::lease_outcome::lost, true);
    for (int i = 0; i < 19; ++i) {
        c.advance(50ms);
        BOOST_TEST((a.on_read(c.now, st::read_outcome::none, std::nullopt, false, true).action ==
                    shared_action::sleep));
    }
    c.advance(50ms); // 1000 ms since the lease was lost
    BOOST_TEST((a.on_read(c.now, st::read_outcome::none, std::nullopt, false, true).action ==
                shared_action::take_lease));
    BOOST_TEST((a.on_lease(c.now, st::lease_outcome::won, true).action == shared_action::read));
}

BOOST_AUTO_TEST_CASE(nothing_to_serve_waits_at_most_the_request_timeout) {
    auto cfg = attempt_config();
    cfg.lease = 10000ms; // longer than the wait: the wait limit decides
    fake_clock c;
    st::shared_attempt a(cfg, 0.0, c.now);
    a.on_read(c.now, st::read_outcome::none, std::nullopt, false, false);
    auto step = a.on_lease(c.now, st::lease_outcome::lost, false);
    std::chrono::milliseconds waited{0};
    while (step.action == shared_action::sleep) {
        c.advance(step.sleep_for);
        waited += step.sleep_for;
        step = a.on_read(c.now, st::read_outcome::none, std::nullopt, false, false);
    }
    BOOST_TEST((step.action == shared_action::fetch_alone));
    BOOST_TEST(waited.count() == 2000);
}

BOOST_AUTO_TEST_CASE(redis_failures_fetch_alone) {
    fake_clock c;
    st::shared_attempt a(attempt_config(), 0.0, c.now);
    BOOST_TEST((a.on_read(c.now, st::read_outcome::failed, std::nullopt, false, true).action ==
                shared_action::fetch_alone));
    st::shared_attempt b(attempt_config(), 0.0, c.now);
    b.on_read(c.now, st::read_outcome::none, std::nullopt, false, true);
    BOOST_TEST(
        (b.on_lease(c.now, st::lease_outcome::failed, true).action == shared_action::fetch_alone));
}

BOOST_AUTO_TEST_CASE(the_link_logs_each_change_once_and_retries_with_backoff) {
    fake_clock c;
    st::refresh_config backoff;
    backoff.retry_initial = 1000ms;
    backoff.retry_max = 4000ms;
    st::shared_link link;
    BOOST_TEST(link.use_redis(c.now.mono));
    BOOST_TEST(!link.on_success());
    // draw 0.5: half of each cap (full jitter).
    BOOST_TEST(link.on_failure(c.now.mono, "GET: timeout", backoff, 0.5));
    // A second command failing before the retry time: counted, the delay not lengthened.
    BOOST_TEST(!link.on_failure(c.now.mono + 100ms, "GET: timeout", backoff, 0.5));
    BOOST_TEST(std::string(st::to_string(link.state)) == "fallback");
    BOOST_TEST(link.fallbacks == 1u);
    BOOST_TEST(link.errors == 2u);
    BOOST_TEST(!link.use_redis(c.now.mono + 499ms));
    BOOST_TEST(link.use_redis(c.now.mono + 500ms));
    // Each failed retry doubles the cap: 2 s, then 4 s (retry_max) and no more.
    auto t = c.now.mono + 500ms;
    BOOST_TEST(!link.on_failure(t, "GET: timeout", backoff, 0.5));
    BOOST_TEST(!link.use_redis(t + 999ms));
    BOOST_TEST(link.use_redis(t + 1000ms));
    for (int i = 0; i < 3; ++i) {
        t += 2000ms;
        link.on_failure(t, "GET: timeout", backoff, 0.5);
        BOOST_TEST(!link.use_redis(t + 1999ms));
        BOOST_TEST(link.use_redis(t + 2000ms));
    }
    BOOST_TEST(link.on_success());
    BOOST_TEST(std::string(st::to_string(link.state)) == "sharing");
    BOOST_TEST(link.last_error == "GET: timeout");
    BOOST_TEST(link.use_redis(t));
    // After a success the backoff starts over.
    BOOST_TEST(link.on_failure(t, "GET: timeout", backoff, 0.5));
    BOOST_TEST(link.use_redis(t + 500ms));
    BOOST_TEST(link.fallbacks == 2u);
}

BOOST_AUTO_TEST_CASE(poll_interval_follows_the_lease) {
    BOOST_TEST(st::shared_poll_interval(10000ms).count() == 500);
    BOOST_TEST(st::shared_poll_interval(1000ms).count() == 50);
    BOOST_TEST(st::shared_poll_interval(2000ms).count() == 100);
}

BOOST_AUTO_TEST_SUITE_END()
