// The token lifecycle (PRODUCT.md §4) on a fake clock: every timing rule of profile_machine,
// with jitter drawn from a scripted source. Nothing here sleeps.
#include "synergy_tokend/profile_machine.hpp"

#include <deque>
#include <vector>

#include <boost/test/unit_test.hpp>

namespace st = synergy_tokend;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// A fake clock: both clocks advance together unless a test jumps one of them.
struct fake_clock {
    st::moment now{st::wall_clock::time_point{std::chrono::hours(500000)},
                   st::steady_time{std::chrono::hours(100)}};
    void advance(st::steady_time::duration d) {
        now.wall += std::chrono::duration_cast<st::wall_clock::duration>(d);
        now.mono += d;
    }
};

// Draws `value` every time; `script` first, when given.
struct scripted_draws {
    double value = 0.5; // 0.5: no jitter in refresh_delay, half the cap in backoff_delay
    std::deque<double> script;
    st::random_source source() {
        return [this] {
            if (script.empty())
                return value;
            const double d = script.front();
            script.pop_front();
            return d;
        };
    }
};

st::attempt_result ok(seconds lifetime, std::string token = "tok-1") {
    st::attempt_result r;
    r.ok = true;
    r.token = std::move(token);
    r.lifetime = lifetime;
    return r;
}

st::attempt_result failed(st::failure_class cls, std::string problem = "HTTP 503",
                          std::optional<seconds> retry_after = std::nullopt) {
    st::attempt_result r;
    r.cls = cls;
    r.problem = std::move(problem);
    r.retry_after = retry_after;
    return r;
}

long long ms(milliseconds d) {
    return d.count();
}

// A profile that has fetched `token` of `lifetime` at the clock's now.
struct warm_profile {
    fake_clock clock;
    scripted_draws draws;
    st::refresh_config cfg;
    st::profile_machine m{cfg, draws.source()};
    explicit warm_profile(seconds lifetime = 3600s, std::string token = "tok-1") {
        BOOST_REQUIRE(m.start(clock.now));
        m.on_attempt_end(clock.now, ok(lifetime, std::move(token)));
    }
};

} // namespace

BOOST_AUTO_TEST_SUITE(profile_machine)

BOOST_AUTO_TEST_CASE(a_cold_profile_fetches_at_start) {
    fake_clock clock;
    scripted_draws draws;
    st::profile_machine m({}, draws.source());
    BOOST_TEST((m.state(clock.now) == st::token_state::pending));
    BOOST_TEST(m.start(clock.now));
    BOOST_TEST(m.in_flight());
    BOOST_TEST(!m.wake_at(clock.now)); // nothing scheduled while in flight
    BOOST_TEST(!m.on_timer(clock.now));
}

BOOST_AUTO_TEST_CASE(single_flight_with_many_waiters) {
    fake_clock clock;
    scripted_draws draws;
    st::profile_machine m({}, draws.source());
    BOOST_REQUIRE(m.start(clock.now));
    // 1,000 cold callers: every one waits, none starts another attempt.
    int started = 0;
    for (int i = 0; i < 1000; ++i) {
        const auto s = m.on_caller(clock.now);
        BOOST_TEST((s.action == st::caller_action::wait));
        started += s.start_attempt;
    }
    BOOST_TEST(started == 0);
    BOOST_TEST(!m.on_timer(clock.now));
    clock.advance(200ms);
    m.on_attempt_end(clock.now, ok(3600s));
    // Every waiter gets the attempt's token.
    for (int i = 0; i < 1000; ++i)
        BOOST_TEST((m.after_wait(clock.now).action == st::caller_action::serve));
    BOOST_TEST(m.current()->token == "tok-1");
    BOOST_TEST(m.refresh_count() == 1u);
}

BOOST_AUTO_TEST_CASE(single_flight_when_callers_start_the_attempt) {
    warm_profile p(60s);
    p.clock.advance(56s); // 4 s left: past min_serve_remaining
    const auto first = p.m.on_caller(p.clock.now);
    BOOST_TEST((first.action == st::caller_action::wait));
    BOOST_TEST(first.start_attempt);
    const auto second = p.m.on_caller(p.clock.now);
    BOOST_TEST((second.action == st::caller_action::wait));
    BOOST_TEST(!second.start_attempt);
    // The scheduled refresh is due too, but the attempt in flight is the one.
    BOOST_TEST(!p.m.on_timer(p.clock.now));
}

BOOST_AUTO_TEST_CASE(refresh_point_and_jitter) {
    for (auto [draw, expected] : {std::pair{0.5, 2'700'000LL}, // no jitter: 0.75 * 3600 s
                                  std::pair{0.0, 2'520'000LL}, // - 0.05 * 3600 s
                                  std::pair{1.0, 2'880'000LL}}) {
        fake_clock clock;
        scripted_draws draws{draw, {}};
        st::profile_machine m({}, draws.source());
        m.start(clock.now);
        const auto end = m.on_attempt_end(clock.now, ok(3600s));
        BOOST_TEST(ms(end.next_in) == expected);
        BOOST_TEST((m.next_attempt_at() == clock.now.wall + milliseconds(expected)));
        BOOST_TEST((m.state(clock.now) == st::token_state::fresh));
    }
}

BOOST_AUTO_TEST_CASE(refresh_point_clamps) {
    st::refresh_config cfg;
    cfg.jitter = 0.5;
    for (auto [draw, expected] : {std::pair{0.0, 1'800'000LL},    // half-life at the least
                                  std::pair{1.0, 3'595'000LL}}) { // lifetime - min_serve_remaining
        fake_clock clock;
        scripted_draws draws{draw, {}};
        st::profile_machine m(cfg, draws.source());
        m.start(clock.now);
        BOOST_TEST(ms(m.on_attempt_end(clock.now, ok(3600s)).next_in) == expected);
    }
    // A token shorter than min_remaining refreshes at half-life, not at once.
    fake_clock clock;
    scripted_draws draws;
    st::profile_machine m({}, draws.source());
    m.start(clock.now);
    BOOST_TEST(ms(m.on_attempt_end(clock.now, ok(30s)).next_in) == 15'000);
}

BOOST_AUTO_TEST_CASE(the_timer_fires_the_refresh_at_its_point) {
    warm_profile p(3600s); // refresh at 2700 s
    BOOST_TEST((*p.m.wake_at(p.clock.now) == p.clock.now.mono + st::profile_machine::max_sleep));
    p.clock.advance(2699s);
    BOOST_TEST((*p.m.wake_at(p.clock.now) == p.clock.now.mono + 1s));
    BOOST_TEST(!p.m.on_timer(p.clock.now));
    p.clock.advance(1s);
    BOOST_TEST(p.m.on_timer(p.clock.now));
    BOOST_TEST((p.m.state(p.clock.now) == st::token_state::refreshing));
    BOOST_TEST((p.m.on_caller(p.clock.now).action == st::caller_action::serve));
}

BOOST_AUTO_TEST_CASE(a_wall_clock_jump_makes_the_refresh_due) {
    warm_profile p(3600s);
    // A suspend: the monotonic clock stood still, the wall clock moved 50 minutes.
    p.clock.now.wall += 50min;
    BOOST_TEST((*p.m.wake_at(p.clock.now) == p.clock.now.mono));
    BOOST_TEST(p.m.on_timer(p.clock.now));
}

// Fails the attempt in flight with `r`, lets the backoff pass and claims the retry; returns the
// backoff.
long long fail_and_retry(fake_clock& clock, st::profile_machine& m, st::attempt_result r) {
    const auto delay = m.on_attempt_end(clock.now, std::move(r)).next_in;
    clock.advance(delay);
    BOOST_REQUIRE(m.on_timer(clock.now));
    return ms(delay);
}

BOOST_AUTO_TEST_CASE(backoff_grows_to_retry_max_with_full_jitter) {
    fake_clock clock;
    scripted_draws draws{0.999999, {}}; // the top of each full-jitter range
    st::profile_machine m({}, draws.source());
    m.start(clock.now);
    std::vector<long long> delays;
    for (int i = 0; i < 11; ++i)
        delays.push_back(fail_and_retry(clock, m, failed(st::failure_class::transient)));
    // retry_initial 1 s doubling, capped at retry_max 300 s (floored to the millisecond).
    const std::vector<long long> expected{999,   1999,   3999,   7999,   15999, 31999,
                                          63999, 127999, 255999, 299999, 299999};
    BOOST_TEST(delays == expected, boost::test_tools::per_element());
    BOOST_TEST(m.consecutive_failures() == 11u);
    // Full jitter: a draw of 0 retries at once, of 0.5 halfway up the range.
    draws.value = 0.0;
    BOOST_TEST(fail_and_retry(clock, m, failed(st::failure_class::transient)) == 0);
    draws.value = 0.5;
    BOOST_TEST(fail_and_retry(clock, m, failed(st::failure_class::transient)) == 150'000);
    // A success starts the backoff over.
    m.on_attempt_end(clock.now, ok(3600s));
    BOOST_TEST(m.consecutive_failures() == 0u);
    clock.advance(2700s);
    BOOST_REQUIRE(m.on_timer(clock.now));
    draws.value = 0.999999;
    BOOST_TEST(fail_and_retry(clock, m, failed(st::failure_class::transient)) == 999);
}

BOOST_AUTO_TEST_CASE(retry_after_is_honoured_by_the_timer_and_by_callers) {
    fake_clock clock;
    scripted_draws draws{0.0, {}}; // backoff 0 but for Retry-After
    st::profile_machine m({}, draws.source());
    m.start(clock.now);
    const auto end =
        m.on_attempt_end(clock.now, failed(st::failure_class::transient, "HTTP 429", 30s));
    BOOST_TEST(ms(end.next_in) == 30'000);
    // Callers do not start an attempt before it either, and are told when to come back.
    clock.advance(5s);
    const auto early = m.on_caller(clock.now);
    BOOST_TEST((early.action == st::caller_action::refuse));
    BOOST_TEST(!early.start_attempt);
    BOOST_TEST(early.retry_after.count() == 25);
    BOOST_TEST(!m.on_timer(clock.now));
    clock.advance(25s);
    const auto later = m.on_caller(clock.now);
    BOOST_TEST((later.action == st::caller_action::wait));
    BOOST_TEST(later.start_attempt);
    // A Retry-After beyond retry_max is held to retry_max.
    BOOST_TEST(
        ms(m.on_attempt_end(clock.now, failed(st::failure_class::transient, "HTTP 503", 86400s))
               .next_in) == 300'000);
}

BOOST_AUTO_TEST_CASE(rejected_marks_failed_and_retries_at_retry_max) {
    fake_clock clock;
    scripted_draws draws;
    st::profile_machine m({}, draws.source());
    m.start(clock.now);
    for (unsigned status : {400u, 404u, 422u}) {
        const auto end = m.on_attempt_end(
            clock.now, failed(st::classify_status(status), "HTTP " + std::to_string(status)));
        BOOST_TEST(ms(end.next_in) == 300'000);
        BOOST_TEST((end.consequence == st::failure_consequence::marked_failed));
        BOOST_TEST((m.state(clock.now) == st::token_state::failed));
        // No caller starts an attempt for a failed profile, however long after.
        clock.advance(299s);
        const auto s = m.on_caller(clock.now);
        BOOST_TEST((s.action == st::caller_action::refuse));
        BOOST_TEST(s.retry_after.count() == 1);
        BOOST_TEST(!m.on_timer(clock.now));
        clock.advance(1s);
        BOOST_REQUIRE(m.on_timer(clock.now));
    }
    BOOST_TEST(m.rejections_total() == 3u);
    BOOST_TEST(m.failures_total() == 0u);
}

BOOST_AUTO_TEST_CASE(auth_failures_reread_the_identity_then_back_off) {
    fake_clock clock;
    scripted_draws draws{0.999999, {}};
    st::profile_machine m({}, draws.source());
    m.start(clock.now);
    const auto end = m.on_attempt_end(clock.now, failed(st::classify_status(401), "HTTP 401"));
    BOOST_TEST(end.reread_identity);
    BOOST_TEST(ms(end.next_in) == 999);
    BOOST_TEST((m.state(clock.now) == st::token_state::pending));
    clock.advance(999ms);
    BOOST_REQUIRE(m.on_timer(clock.now));
    BOOST_TEST(!m.on_attempt_end(clock.now, failed(st::failure_class::transient)).reread_identity);
}

BOOST_AUTO_TEST_CASE(min_serve_remaining) {
    warm_profile p(60s);
    p.clock.advance(54s); // 6 s left
    BOOST_TEST((p.m.on_caller(p.clock.now).action == st::caller_action::serve));
    p.clock.advance(1s); // exactly min_serve_remaining left: no longer servable
    BOOST_TEST(!p.m.servable(p.clock.now));
    BOOST_TEST((p.m.state(p.clock.now) == st::token_state::expired));
    const auto s = p.m.on_caller(p.clock.now);
    BOOST_TEST((s.action == st::caller_action::wait));
    BOOST_TEST(s.start_attempt);
    // Judged on the wall clock: a jump past expiry is noticed at once.
    warm_profile q(3600s);
    q.clock.now.wall += 3596s;
    BOOST_TEST(!q.m.servable(q.clock.now));
}

BOOST_AUTO_TEST_CASE(retry_gating_for_callers) {
    fake_clock clock;
    scripted_draws draws{0.999999, {}};
    st::profile_machine m({}, draws.source());
    m.start(clock.now);
    // Five failures: the scheduled retry is 16 s away, but callers may try after retry_initial.
    for (int i = 0; i < 4; ++i)
        fail_and_retry(clock, m, failed(st::failure_class::transient));
    BOOST_TEST(ms(m.on_attempt_end(clock.now, failed(st::failure_class::transient)).next_in) ==
               15'999);
    clock.advance(999ms);
    for (int i = 0; i < 100; ++i) {
        const auto s = m.on_caller(clock.now);
        BOOST_TEST((s.action == st::caller_action::refuse));
        BOOST_TEST(s.retry_after.count() == 15); // until the scheduled retry (15.999 s - 0.999 s)
    }
    clock.advance(1ms);
    int started = 0;
    for (int i = 0; i < 100; ++i) {
        const auto s = m.on_caller(clock.now);
        BOOST_TEST((s.action == st::caller_action::wait));
        started += s.start_attempt;
    }
    BOOST_TEST(started == 1); // once per retry_initial, whatever the number of callers
    // While it is in flight, a refused caller is told to come back in a second.
    m.on_attempt_end(clock.now, failed(st::failure_class::transient));
    BOOST_TEST((m.on_caller(clock.now).action == st::caller_action::refuse));
}

BOOST_AUTO_TEST_CASE(a_caller_waiting_past_the_timeout_is_refused) {
    fake_clock clock;
    scripted_draws draws;
    st::profile_machine m({}, draws.source());
    m.start(clock.now);
    clock.advance(10s); // upstream.request_timeout passed; the attempt is still in flight
    const auto s = m.after_wait(clock.now);
    BOOST_TEST((s.action == st::caller_action::refuse));
    BOOST_TEST(s.retry_after.count() == 1);
}

BOOST_AUTO_TEST_CASE(a_token_stays_servable_until_its_replacement_arrives) {
    warm_profile p(3600s, "old");
    p.clock.advance(2700s);
    BOOST_REQUIRE(p.m.on_timer(p.clock.now));
    BOOST_TEST((p.m.on_caller(p.clock.now).action == st::caller_action::serve));
    const auto end =
        p.m.on_attempt_end(p.clock.now, failed(st::failure_class::transient, "connection refused"));
    BOOST_TEST((end.consequence == st::failure_consequence::stale));
    BOOST_TEST((p.m.state(p.clock.now) == st::token_state::stale));
    BOOST_TEST((p.m.on_caller(p.clock.now).action == st::caller_action::serve));
    BOOST_TEST(p.m.current()->token == "old");
    // A forced refresh does not drop it either, in flight or failed.
    p.clock.advance(1s);
    const auto forced = p.m.on_refusal(p.clock.now, "old", 401);
    BOOST_TEST((forced.refusal == st::refusal_step::force_refresh));
    BOOST_TEST((p.m.on_caller(p.clock.now).action == st::caller_action::serve));
    p.m.on_attempt_end(p.clock.now, failed(st::failure_class::transient, "connection refused"));
    BOOST_TEST((p.m.after_wait(p.clock.now).action == st::caller_action::serve));
    BOOST_TEST(p.m.current()->token == "old");
}

BOOST_AUTO_TEST_CASE(forced_refresh_once_per_token) {
    warm_profile p(3600s, "A");
    p.clock.advance(2min);
    auto s = p.m.on_refusal(p.clock.now, "A", 401);
    BOOST_TEST((s.refusal == st::refusal_step::force_refresh));
    BOOST_TEST((s.action == st::caller_action::wait));
    BOOST_TEST(s.start_attempt);
    // Another refusal of A while that refresh is in flight joins it.
    s = p.m.on_refusal(p.clock.now, "A", 401);
    BOOST_TEST((s.refusal == st::refusal_step::join_refresh));
    BOOST_TEST((s.action == st::caller_action::wait));
    BOOST_TEST(!s.start_attempt);
    p.m.on_attempt_end(p.clock.now, ok(3600s, "B"));
    BOOST_TEST((p.m.after_wait(p.clock.now).action == st::caller_action::serve));
    BOOST_TEST(p.m.brought_by_refusal() == "B");
    // A late refusal of A: the caller retries with B, no refresh.
    s = p.m.on_refusal(p.clock.now, "A", 401);
    BOOST_TEST((s.refusal == st::refusal_step::use_current));
    BOOST_TEST((s.action == st::caller_action::serve));
    BOOST_TEST(!s.start_attempt);
    // B was brought by a refusal: its refusal is passed on, however old it gets.
    p.clock.advance(10min);
    s = p.m.on_refusal(p.clock.now, "B", 401);
    BOOST_TEST((s.refusal == st::refusal_step::pass_on));
    BOOST_TEST(!s.start_attempt);
    BOOST_TEST(p.m.refresh_count() == 2u);
}

BOOST_AUTO_TEST_CASE(a_refused_token_forces_no_second_refresh_after_a_failed_one) {
    warm_profile p(3600s, "A");
    p.clock.advance(2min);
    BOOST_TEST(p.m.on_refusal(p.clock.now, "A", 401).start_attempt);
    p.m.on_attempt_end(p.clock.now, failed(st::failure_class::transient));
    const auto s = p.m.on_refusal(p.clock.now, "A", 401);
    BOOST_TEST((s.refusal == st::refusal_step::pass_on));
    BOOST_TEST(!s.start_attempt);
}

BOOST_AUTO_TEST_CASE(the_403_age_rule) {
    warm_profile p(3600s, "A");
    p.clock.advance(59s);
    // A 403 to a token younger than a minute is a permission answer: passed on.
    auto s = p.m.on_refusal(p.clock.now, "A", 403);
    BOOST_TEST((s.refusal == st::refusal_step::pass_on));
    BOOST_TEST((s.action == st::caller_action::serve));
    BOOST_TEST(!s.start_attempt);
    // A 401 forces a refresh whatever the age.
    warm_profile q(3600s, "A");
    BOOST_TEST((q.m.on_refusal(q.clock.now, "A", 401).refusal == st::refusal_step::force_refresh));
    // From a minute on, a 403 forces one.
    p.clock.advance(1s);
    s = p.m.on_refusal(p.clock.now, "A", 403);
    BOOST_TEST((s.refusal == st::refusal_step::force_refresh));
    BOOST_TEST(s.start_attempt);
}

BOOST_AUTO_TEST_CASE(a_forced_refresh_joins_a_scheduled_one_in_flight) {
    warm_profile p(3600s, "A");
    p.clock.advance(2700s);
    BOOST_REQUIRE(p.m.on_timer(p.clock.now));
    const auto s = p.m.on_refusal(p.clock.now, "A", 401);
    BOOST_TEST((s.refusal == st::refusal_step::force_refresh));
    BOOST_TEST((s.action == st::caller_action::wait));
    BOOST_TEST(!s.start_attempt);
    p.m.on_attempt_end(p.clock.now, ok(3600s, "B"));
    BOOST_TEST(p.m.brought_by_refusal() == "B");
}

BOOST_AUTO_TEST_CASE(reload_unchanged_keeps_token_and_schedule) {
    warm_profile p(3600s, "A"); // refresh at 2700 s
    const auto due = p.m.next_attempt_at();
    st::refresh_config next;
    next.refresh_at = 0.5;
    p.m.reload(next);
    BOOST_TEST((p.m.next_attempt_at() == due));
    BOOST_TEST((p.m.on_caller(p.clock.now).action == st::caller_action::serve));
    BOOST_TEST(!p.m.on_timer(p.clock.now));
    // The new settings apply from the next refresh on.
    p.clock.advance(2700s);
    BOOST_REQUIRE(p.m.on_timer(p.clock.now));
    BOOST_TEST(ms(p.m.on_attempt_end(p.clock.now, ok(3600s, "B")).next_in) == 1'800'000);
}

BOOST_AUTO_TEST_CASE(reload_changed_starts_over) {
    // A changed profile is a new machine: it serves nothing of the old one and fetches at once.
    warm_profile old(3600s, "A");
    old.m.retire();
    st::profile_machine changed({}, old.draws.source());
    BOOST_TEST(changed.start(old.clock.now));
    const auto s = changed.on_caller(old.clock.now);
    BOOST_TEST((s.action == st::caller_action::wait));
    BOOST_TEST(!s.start_attempt);
}

BOOST_AUTO_TEST_CASE(reload_removed_refuses_its_callers) {
    fake_clock clock;
    scripted_draws draws;
    st::profile_machine m({}, draws.source());
    m.start(clock.now);
    BOOST_TEST((m.on_caller(clock.now).action == st::caller_action::wait));
    m.retire();
    // The waiter woken by the removal, and any later caller, are refused; nothing is scheduled.
    BOOST_TEST((m.after_wait(clock.now).action == st::caller_action::refuse));
    m.on_attempt_end(clock.now, ok(3600s));
    BOOST_TEST((m.after_wait(clock.now).action == st::caller_action::refuse));
    BOOST_TEST((m.on_caller(clock.now).action == st::caller_action::refuse));
    BOOST_TEST(!m.wake_at(clock.now));
    clock.advance(1h);
    BOOST_TEST(!m.on_timer(clock.now));
}

BOOST_AUTO_TEST_CASE(a_change_of_state_is_logged_once) {
    fake_clock clock;
    scripted_draws draws;
    st::profile_machine m({}, draws.source());
    m.start(clock.now);
    auto end = m.on_attempt_end(clock.now, failed(st::failure_class::transient, "HTTP 503"));
    BOOST_TEST((end.log == st::profile_log::failed));
    BOOST_TEST((end.consequence == st::failure_consequence::no_token));
    fail_and_retry(clock, m, failed(st::failure_class::transient, "HTTP 503"));
    end = m.on_attempt_end(clock.now, failed(st::failure_class::transient, "HTTP 503"));
    BOOST_TEST((end.log == st::profile_log::none));
    clock.advance(end.next_in);
    BOOST_REQUIRE(m.on_timer(clock.now));
    end = m.on_attempt_end(clock.now, failed(st::failure_class::transient, "timed out"));
    BOOST_TEST((end.log == st::profile_log::failed));
    BOOST_TEST(m.last_error() == "timed out");
    clock.advance(end.next_in);
    BOOST_REQUIRE(m.on_timer(clock.now));
    BOOST_TEST((m.on_attempt_end(clock.now, ok(3600s)).log == st::profile_log::recovered));
    BOOST_TEST(m.last_error().empty());
    clock.advance(2700s);
    BOOST_REQUIRE(m.on_timer(clock.now));
    BOOST_TEST((m.on_attempt_end(clock.now, ok(3600s)).log == st::profile_log::none));
}

BOOST_AUTO_TEST_CASE(a_restored_token_is_refreshed_on_its_schedule) {
    fake_clock clock;
    scripted_draws draws;
    st::profile_machine m({}, draws.source());
    const st::token_value saved{"saved", "bearer", clock.now.wall - 1000s, clock.now.wall + 2600s};
    BOOST_TEST(!m.start(clock.now, saved));
    BOOST_TEST((m.on_caller(clock.now).action == st::caller_action::serve));
    BOOST_TEST((m.last_refresh_at() == saved.issued_at));
    // Issued 1000 s ago, refresh point 2700 s after issue: 1700 s from now.
    BOOST_TEST((m.next_attempt_at() == clock.now.wall + 1700s));
    // One past its refresh point is refreshed at once; one no longer servable is fetched.
    st::profile_machine late({}, draws.source());
    BOOST_TEST(!late.start(
        clock.now, st::token_value{"s", "bearer", clock.now.wall - 3000s, clock.now.wall + 600s}));
    BOOST_TEST(late.on_timer(clock.now));
    st::profile_machine expired({}, draws.source());
    BOOST_TEST(expired.start(
        clock.now, st::token_value{"s", "bearer", clock.now.wall - 3600s, clock.now.wall + 5s}));
}

BOOST_AUTO_TEST_SUITE_END()
