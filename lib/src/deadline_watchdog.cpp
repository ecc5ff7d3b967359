#include "synergy_tokend/deadline_watchdog.hpp"

#include <algorithm>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace synergy_tokend {

namespace asio = boost::asio;

deadline_watchdog::deadline_watchdog(asio::any_io_executor ex, clock::duration horizon)
    : timer_(std::move(ex), clock::time_point::max())
    , horizon_(horizon) {}

void deadline_watchdog::start(std::function<void()> on_expiry) {
    on_expiry_ = std::move(on_expiry);
    asio::co_spawn(timer_.get_executor(), watch(shared_from_this()), asio::detached);
}

void deadline_watchdog::arm(clock::time_point deadline) {
    deadline_ = deadline;
    armed_ = true;
    if (deadline < timer_.expiry())
        timer_.cancel(); // the watchdog wakes and sleeps again until the new deadline
}

void deadline_watchdog::stop() {
    stopped_ = true;
    on_expiry_ = nullptr;
    timer_.cancel();
}

asio::awaitable<void> deadline_watchdog::watch(std::shared_ptr<deadline_watchdog> self) {
    while (!self->stopped_) {
        const auto now = clock::now();
        if (self->armed_ && now >= self->deadline_) {
            self->expired_ = true;
            self->stopped_ = true;
            if (auto on_expiry = std::exchange(self->on_expiry_, nullptr))
                on_expiry();
            break;
        }
        self->timer_.expires_at(self->armed_ ? std::min(self->deadline_, now + self->horizon_)
                                             : now + self->horizon_);
        co_await self->timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

} // namespace synergy_tokend
