// The time limit of a connection, kept by one timer and one coroutine for the connection's whole
// life instead of a timer operation per read and write (the limits of PRODUCT.md §6 on local
// connections; upstream.connect_timeout_ms and request_timeout_ms on upstream ones).
//
// The owner arms a deadline before timed work and disarms it when nothing is timed. The watchdog
// sleeps until the deadline, never longer than `horizon`; when it wakes past a deadline that is
// still armed it calls `on_expiry` (which closes the socket, so the pending operation completes
// with an error) once, marks itself expired and ends. Arming a deadline no earlier than the
// watchdog's wake-up costs no timer operation; only an earlier one cancels the timer's wait.
// Pick `horizon` at least as long as the deadlines usually armed, so they rarely are earlier.
//
// Watching starts at construction and ends with stop() or the destructor, after which on_expiry
// is never called: a member of the connection it guards, it cannot outlive what it closes.
// Single-threaded: every call on the executor given at construction.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace synergy_tokend {

class deadline_watchdog {
public:
    using clock = std::chrono::steady_clock;

    deadline_watchdog(boost::asio::any_io_executor ex, clock::duration horizon,
                      std::function<void()> on_expiry);
    ~deadline_watchdog() { stop(); }
    deadline_watchdog(const deadline_watchdog&) = delete;
    deadline_watchdog& operator=(const deadline_watchdog&) = delete;

    void arm(clock::time_point deadline);
    void arm_in(clock::duration d) { arm(clock::now() + d); }
    void disarm();
    void stop();
    // The deadline passed while armed and on_expiry ran.
    bool expired() const;

private:
    // Shared with the watching coroutine, which may wake after the owner has gone.
    struct state;
    static boost::asio::awaitable<void> watch(std::shared_ptr<state> s);
    std::shared_ptr<state> state_;
};

} // namespace synergy_tokend
