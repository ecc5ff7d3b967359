// The time limit of a connection, kept by one timer and one coroutine for the connection's whole
// life instead of a timer operation per read and write (the limits of PRODUCT.md §6 on local
// connections; upstream.connect_timeout_ms and request_timeout_ms on upstream ones).
//
// The owner arms a deadline before timed work and disarms it when nothing is timed. The watchdog
// sleeps until the deadline, never longer than `horizon`; when it wakes past a deadline that is
// still armed it calls the owner's `on_expiry` (which closes the socket, so the pending operation
// completes with an error) once, marks itself expired and ends. Arming a deadline no earlier than
// the watchdog's wake-up costs no timer operation; only an earlier one cancels the timer's wait.
// Pick `horizon` at least as long as the deadlines usually armed, so they rarely are earlier.
//
// Single-threaded: every call on the executor given at construction. The owner calls stop()
// when it closes (and before it goes away); the watchdog then ends without calling on_expiry.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace synergy_tokend {

class deadline_watchdog : public std::enable_shared_from_this<deadline_watchdog> {
public:
    using clock = std::chrono::steady_clock;

    // Use through std::make_shared, then start().
    deadline_watchdog(boost::asio::any_io_executor ex, clock::duration horizon);

    // Starts watching; on_expiry must not outlive what it closes (stop() first).
    void start(std::function<void()> on_expiry);
    void arm(clock::time_point deadline);
    void arm_in(clock::duration d) { arm(clock::now() + d); }
    void disarm() { armed_ = false; }
    void stop();
    // The deadline passed while armed and on_expiry ran.
    bool expired() const { return expired_; }

private:
    static boost::asio::awaitable<void> watch(std::shared_ptr<deadline_watchdog> self);

    boost::asio::steady_timer timer_;
    clock::duration horizon_;
    clock::time_point deadline_{};
    std::function<void()> on_expiry_;
    bool armed_ = false;
    bool expired_ = false;
    bool stopped_ = false;
};

} // namespace synergy_tokend
