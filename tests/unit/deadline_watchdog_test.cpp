// deadline_watchdog: fires once when an armed deadline passes, never when disarmed, re-armed later
// or stopped, and ends its coroutine on stop. The deadlines are tens of milliseconds against
// waits of seconds: these check behaviour, not speed.
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>

#include "synergy_tokend/deadline_watchdog.hpp"

namespace st = synergy_tokend;
using namespace std::chrono_literals;

namespace {

struct fixture {
    boost::asio::io_context ctx;
    int fired = 0;

    std::unique_ptr<st::deadline_watchdog> make(st::deadline_watchdog::clock::duration horizon) {
        return std::make_unique<st::deadline_watchdog>(ctx.get_executor(), horizon,
                                                       [this] { ++fired; });
    }
    // Runs the loop until `done` or `limit` passed.
    template <class Done>
    void run_until(Done done, std::chrono::milliseconds limit) {
        const auto end = std::chrono::steady_clock::now() + limit;
        while (!done() && std::chrono::steady_clock::now() < end && !ctx.stopped())
            ctx.run_for(10ms);
    }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(deadline_watchdog, fixture)

BOOST_AUTO_TEST_CASE(an_armed_deadline_that_passes_fires_once_and_ends_the_watch) {
    auto w = make(10s);
    w->arm_in(20ms);
    run_until([&] { return w->expired(); }, 5000ms);
    BOOST_TEST(w->expired());
    BOOST_TEST(fired == 1);
    // Nothing else is pending: the watch has ended and the loop runs dry.
    ctx.restart();
    ctx.run_for(2000ms);
    BOOST_TEST(ctx.stopped());
    BOOST_TEST(fired == 1);
}

BOOST_AUTO_TEST_CASE(a_disarmed_deadline_never_fires) {
    auto w = make(50ms); // wakes every 50 ms, past the deadline each time
    w->arm_in(20ms);
    w->disarm();
    ctx.run_for(300ms);
    BOOST_TEST(!w->expired());
    BOOST_TEST(fired == 0);
    w->stop();
}

BOOST_AUTO_TEST_CASE(a_deadline_moved_later_does_not_fire_at_the_first) {
    auto w = make(10s);
    w->arm_in(20ms);
    w->arm_in(10s);
    ctx.run_for(300ms);
    BOOST_TEST(!w->expired());
    BOOST_TEST(fired == 0);
    w->stop();
}

BOOST_AUTO_TEST_CASE(a_deadline_moved_earlier_than_the_wake_up_fires_on_time) {
    auto w = make(std::chrono::hours(1));
    w->arm_in(std::chrono::hours(1));
    ctx.run_for(50ms); // the watch now sleeps for an hour
    w->arm_in(20ms);
    run_until([&] { return w->expired(); }, 5000ms);
    BOOST_TEST(w->expired());
    BOOST_TEST(fired == 1);
}

BOOST_AUTO_TEST_CASE(stop_ends_the_watch_without_firing) {
    auto w = make(std::chrono::hours(1));
    w->arm_in(20ms);
    w->stop();
    ctx.run_for(2000ms);
    BOOST_TEST(ctx.stopped()); // the coroutine ended: no work left
    BOOST_TEST(!w->expired());
    BOOST_TEST(fired == 0);
}

BOOST_AUTO_TEST_CASE(destroying_the_watchdog_ends_the_watch_without_firing) {
    // The owner goes away, its watchdog with it, while the watch sleeps past a due deadline.
    {
        auto w = make(std::chrono::hours(1));
        w->arm_in(std::chrono::hours(1));
        ctx.run_for(20ms);
        w->arm_in(0ms);
    }
    ctx.run_for(2000ms);
    BOOST_TEST(ctx.stopped());
    BOOST_TEST(fired == 0);
}

BOOST_AUTO_TEST_SUITE_END()
