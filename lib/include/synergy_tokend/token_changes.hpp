// Change notification of the profiles' tokens (PRODUCT.md §5, §11): what a held
// GET /v1/tokens/{name}?wait=… waits on, and what the file sinks follow.
//
// token_store calls changed(name) once a profile's current token has been replaced (a refresh),
// and when the profile is dropped or replaced by a reload; every waiter of that profile wakes at
// once, in the same turn of the event loop (each waiter sleeps on its own timer, which changed()
// cancels), so nothing polls. stop() wakes every waiter for good (SIGTERM: held requests answer
// instead of holding the drain back).
//
// The ETags: etag_of() is an HMAC-SHA256 of the token under a key drawn at random when the object
// is made, 128 bits of it in hex, quoted ("\"3f2a…\""). A bare SHA-256 of the token would let
// whoever sees an ETag (a proxy's log, a shell history) confirm a guessed or leaked token offline;
// under a secret key the tag says nothing about the token except whether it changed. The price:
// ETags change when the daemon restarts, so a caller waiting across a restart gets the current
// token at once (one extra answer, never a missed change).
//
// Single threaded: every member must be called on the executor given at construction.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <map>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace synergy_tokend {

class token_changes {
public:
    explicit token_changes(boost::asio::any_io_executor ex);
    token_changes(const token_changes&) = delete;
    token_changes& operator=(const token_changes&) = delete;

    // Wakes every waiter of profile `name`.
    void changed(std::string_view name);
    // Wakes every waiter; from then on wait() returns at once.
    void stop();
    bool stopped() const { return stopped_; }

    enum class woke {
        changed,   // changed(name) was called
        deadline,  // `deadline` passed
        stopped,   // stop() was called
        cancelled, // the awaiting coroutine was cancelled (its caller went away)
    };
    // Waits until changed(name), stop(), `deadline`, or cancellation of the awaiting operation
    // (per-operation cancellation, as a parallel group emits). The waiter is counted in waiting()
    // while it waits, and removed however the wait ends.
    boost::asio::awaitable<woke> wait(std::string name,
                                      std::chrono::steady_clock::time_point deadline);

    std::size_t waiting() const { return waiting_; }

    // The ETag of `token` (see above): quoted hex, the same for the same token while the daemon
    // runs.
    std::string etag_of(std::string_view token) const;

private:
    struct waiter {
        boost::asio::steady_timer* timer;
        bool* woken;
    };
    boost::asio::any_io_executor ex_;
    std::map<std::string, std::list<waiter>, std::less<>> waiters_;
    std::size_t waiting_ = 0;
    bool stopped_ = false;
    std::string key_; // the ETags' HMAC key
};

} // namespace synergy_tokend
