#include "synergy_tokend/deadline_watchdog.hpp"

#include <algorithm>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace synergy_tokend {

namespace asio = boost::asio;

struct deadline_watchdog::state {
    state(asio::any_io_executor ex, clock::duration horizon, std::function<void()> on_expiry)
        : timer(std::move(ex), clock::time_point::max())
        , horizon(horizon)
        , on_expiry(std::move(on_expiry)) {}

    asio::steady_timer timer;
    clock::duration horizon;
    std::function<void()> on_expiry;
    clock::time_point deadline{};
    bool armed = false;
    bool expired = false;
    bool stopped = false;
};

asio::awaitable<void> deadline_watchdog::watch(std::shared_ptr<state> s) {
    while (!s->stopped) {
        const auto now = clock::now();
        if (s->armed && now >= s->deadline) {
            s->expired = true;
            s->stopped = true;
            if (auto on_expiry = std::exchange(s->on_expiry, nullptr))
                on_expiry();
            break;
        }
        s->timer.expires_at(s->armed ? std::min(s->deadline, now + s->horizon) : now + s->horizon);
        co_await s->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

deadline_watchdog::deadline_watchdog(asio::any_io_executor ex, clock::duration horizon,
                                     std::function<void()> on_expiry)
    : state_(std::make_shared<state>(ex, horizon, std::move(on_expiry))) {
    asio::co_spawn(ex, watch(state_), asio::detached);
}

void deadline_watchdog::arm(clock::time_point deadline) {
    state_->deadline = deadline;
    state_->armed = true;
    if (deadline < state_->timer.expiry())
        state_->timer.cancel(); // the watchdog wakes and sleeps again until the new deadline
}

void deadline_watchdog::disarm() {
    state_->armed = false;
}

void deadline_watchdog::stop() {
    state_->stopped = true;
    state_->on_expiry = nullptr;
    state_->timer.cancel();
}

bool deadline_watchdog::expired() const {
    return state_->expired;
}

} // namespace synergy_tokend
