#include "synergy_tokend/token_changes.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "synergy_tokend/digest.hpp"

namespace synergy_tokend {

namespace asio = boost::asio;

namespace {

constexpr std::size_t etag_bytes = 16;

} // namespace

token_changes::token_changes(asio::any_io_executor ex)
    : ex_(std::move(ex))
    , key_(random_bytes(32)) {}

void token_changes::changed(std::string_view name) {
    const auto it = waiters_.find(name);
    if (it == waiters_.end())
        return;
    for (waiter& w : it->second) {
        *w.woken = true;
        w.timer->cancel();
    }
}

void token_changes::stop() {
    stopped_ = true;
    for (auto& [name, list] : waiters_)
        for (waiter& w : list)
            w.timer->cancel();
}

asio::awaitable<token_changes::woke>
token_changes::wait(std::string name, std::chrono::steady_clock::time_point deadline) {
    if (stopped_)
        co_return woke::stopped;
    asio::steady_timer timer(ex_, deadline);
    bool woken = false;
    auto list_it = waiters_.try_emplace(std::move(name)).first;
    std::list<waiter>& list = list_it->second;
    const auto self = list.insert(list.end(), waiter{&timer, &woken});
    ++waiting_;
    // Removes the waiter however the wait ends (an exception included).
    struct guard {
        token_changes* owner;
        std::map<std::string, std::list<waiter>, std::less<>>::iterator list_it;
        std::list<waiter>::iterator self;
        ~guard() {
            --owner->waiting_;
            list_it->second.erase(self);
            if (list_it->second.empty())
                owner->waiters_.erase(list_it);
        }
    } g{this, list_it, self};
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (woken)
        co_return woke::changed;
    if (stopped_)
        co_return woke::stopped;
    if (ec)
        co_return woke::cancelled;
    co_return woke::deadline;
}

std::string token_changes::etag_of(std::string_view token) const {
    return "\"" + hmac_sha256_hex(key_, token, etag_bytes) + "\"";
}

} // namespace synergy_tokend
