// The token store's pure rules (PRODUCT.md §4): on-demand retries on a fake clock, and what an
// upstream refusal of an attached token leads to.
#include "synergy_tokend/store_policy.hpp"

#include <boost/test/unit_test.hpp>

namespace st = synergy_tokend;
using namespace std::chrono_literals;

namespace {

const st::steady_time t0{std::chrono::hours(100)};
constexpr auto retry_initial = 1000ms;

st::on_demand_decision decide(const st::on_demand_facts& f, std::chrono::milliseconds since_t0) {
    return st::decide_on_demand(f, t0 + since_t0, retry_initial);
}

} // namespace

BOOST_AUTO_TEST_SUITE(store_policy)

BOOST_AUTO_TEST_CASE(a_new_key_is_fetched) {
    BOOST_CHECK(decide({}, 0ms).step == st::on_demand_step::fetch);
}

BOOST_AUTO_TEST_CASE(callers_join_the_fetch_in_flight) {
    st::on_demand_facts f;
    f.in_flight = true;
    BOOST_CHECK(decide(f, 0ms).step == st::on_demand_step::wait);
    // A background refresh is in flight: the current token is served meanwhile.
    f.servable = true;
    f.refresh_due = true;
    BOOST_CHECK(decide(f, 0ms).step == st::on_demand_step::serve);
}

BOOST_AUTO_TEST_CASE(a_failure_is_repeated_within_retry_initial_then_tried_again) {
    st::on_demand_facts f;
    f.last_attempt_end = t0;
    auto d = decide(f, 0ms);
    BOOST_CHECK(d.step == st::on_demand_step::repeat_failure);
    BOOST_CHECK_EQUAL(d.retry_after.count(), 1);
    d = decide(f, 999ms);
    BOOST_CHECK(d.step == st::on_demand_step::repeat_failure);
    BOOST_CHECK_EQUAL(d.retry_after.count(), 1); // never 0: "now" would invite a busy loop
    // Not a lasting failure: the window passes and the next request reaches upstream.
    BOOST_CHECK(decide(f, 1000ms).step == st::on_demand_step::fetch);
    BOOST_CHECK(decide(f, 3600s).step == st::on_demand_step::fetch);
}

BOOST_AUTO_TEST_CASE(upstreams_retry_after_extends_the_window) {
    st::on_demand_facts f;
    f.last_attempt_end = t0;
    f.not_before = t0 + 30s;
    auto d = decide(f, 1500ms);
    BOOST_CHECK(d.step == st::on_demand_step::repeat_failure);
    BOOST_CHECK_EQUAL(d.retry_after.count(), 29); // 28.5 s, rounded up
    BOOST_CHECK(decide(f, 30s).step == st::on_demand_step::fetch);
    // A Retry-After shorter than retry_initial does not shorten it.
    f.not_before = t0 + 100ms;
    BOOST_CHECK(decide(f, 500ms).step == st::on_demand_step::repeat_failure);
}

BOOST_AUTO_TEST_CASE(a_due_refresh_starts_with_the_request_that_finds_it_due) {
    st::on_demand_facts f;
    f.servable = true;
    BOOST_CHECK(decide(f, 0ms).step == st::on_demand_step::serve);
    f.refresh_due = true;
    BOOST_CHECK(decide(f, 0ms).step == st::on_demand_step::serve_and_refresh);
    // A refresh that just failed is not tried again by the very next request.
    f.last_attempt_end = t0;
    BOOST_CHECK(decide(f, 10ms).step == st::on_demand_step::serve);
    BOOST_CHECK(decide(f, 1000ms).step == st::on_demand_step::serve_and_refresh);
}

BOOST_AUTO_TEST_CASE(a_401_forces_one_refresh) {
    st::refusal_facts f;
    f.status = 401;
    f.age = 5s;
    BOOST_CHECK(st::decide_refusal(f) == st::refusal_step::force_refresh);
    // Callers whose 401 came while that refresh is in flight join it; after it, they pass on.
    f.already_forced_for = true;
    f.in_flight = true;
    BOOST_CHECK(st::decide_refusal(f) == st::refusal_step::join_refresh);
    f.in_flight = false;
    BOOST_CHECK(st::decide_refusal(f) == st::refusal_step::pass_on);
}

BOOST_AUTO_TEST_CASE(the_token_a_forced_refresh_brought_forces_no_further_refresh) {
    st::refusal_facts f;
    f.brought_by_refusal = true;
    for (unsigned status : {401u, 403u}) {
        f.status = status;
        f.age = 2h;
        BOOST_CHECK(st::decide_refusal(f) == st::refusal_step::pass_on);
        f.in_flight = true; // even with a scheduled refresh in flight: nothing is forced
        BOOST_CHECK(st::decide_refusal(f) == st::refusal_step::pass_on);
        f.in_flight = false;
    }
}

BOOST_AUTO_TEST_CASE(a_403_forces_a_refresh_only_for_a_token_older_than_a_minute) {
    st::refusal_facts f;
    f.status = 403;
    f.age = 59s;
    BOOST_CHECK(st::decide_refusal(f) == st::refusal_step::pass_on);
    f.age = 60s;
    BOOST_CHECK(st::decide_refusal(f) == st::refusal_step::force_refresh);
    // A 401 to a young token still does.
    f.status = 401;
    f.age = 0s;
    BOOST_CHECK(st::decide_refusal(f) == st::refusal_step::force_refresh);
}

BOOST_AUTO_TEST_CASE(a_refused_token_that_is_no_longer_current_is_retried_with_the_current_one) {
    st::refusal_facts f;
    f.is_current = false;
    f.brought_by_refusal = true;
    BOOST_CHECK(st::decide_refusal(f) == st::refusal_step::use_current);
}

BOOST_AUTO_TEST_SUITE_END()
