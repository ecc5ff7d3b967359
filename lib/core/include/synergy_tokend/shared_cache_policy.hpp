// The shared cache's decisions (PRODUCT.md §10) as state machines without I/O, fed with the time
// of every event, in the manner of profile_machine (which they feed).
//
// shared_attempt: one upstream attempt that profile_machine claimed, when a shared cache is
// configured. Instead of calling upstream at once, the store asks it what to do and carries it out:
//   read the entry -> adopt it (no upstream call)            when it is servable and, by this
//                                                            host's jitter, not yet due; or this
//                                                            host has nothing servable at all
//                  -> take the lease (SET NX PX lease_ms)   otherwise
//   lease won      -> read once more (the last holder may have written and released its lease
//                     between this host's read and its SET NX): adopt what it wrote and
//                     release the lease, or fetch from upstream as the holder (then write the
//                     entry and release the lease)
//   lease lost     -> poll: read again every poll interval; adopt what the holder writes;
//                     take the lease over once lease_ms has passed since it was lost (the holder
//                     did not deliver); a host with nothing servable fetches itself once it has
//                     waited upstream.request_timeout_ms
//   Redis failed (an error, a timeout, garbage, an entry that fails authentication counts as
//   "no entry", not as a failure) -> fetch alone, as without sharing.
//
// shared_link: the daemon's view of Redis: sharing, or fallback after a failure, with the change
// logged once; in fallback, Redis is tried again (by the next attempt) once the retry delay has
// passed: the upstream retries' backoff (backoff_delay: full jitter, refresh.retry_initial_ms
// doubling up to refresh.retry_max_ms) over the failed retries in a row; failures of commands
// that started before the retry time do not lengthen it. Sharing resumes with the first success.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "synergy_tokend/clock.hpp"
#include "synergy_tokend/config.hpp"
#include "synergy_tokend/profile_machine.hpp"

namespace synergy_tokend {

// The times of a token: the shared entry's, or the current one's.
struct token_times {
    wall_clock::time_point issued_at;
    wall_clock::time_point expires_at;
};

struct shared_attempt_config {
    std::chrono::milliseconds lease{10000};
    std::chrono::milliseconds poll_interval{100};
    std::chrono::milliseconds wait_limit{10000}; // upstream.request_timeout
    refresh_config refresh;
};

// The poll interval for a lease: lease / 20, within [50 ms, 500 ms].
std::chrono::milliseconds shared_poll_interval(std::chrono::milliseconds lease);

enum class shared_action {
    read,         // GET the entry, then on_read()
    take_lease,   // SET lease NX PX lease_ms with a random owner, then on_lease()
    adopt,        // use the entry read last; the attempt is over, no upstream call
    fetch_holder, // call upstream holding the lease; write the entry, then release the lease
    fetch_alone,  // call upstream without the lease (Redis failed, or the wait is over)
    sleep,        // wait `sleep_for`, then on_wake()
};

struct shared_step {
    shared_action action = shared_action::read;
    std::chrono::milliseconds sleep_for{0};
};

enum class read_outcome { failed, none, entry };
enum class lease_outcome { failed, won, lost };

class shared_attempt {
public:
    // `jitter_draw` in [-1, 1]: this host's jitter for judging when an entry is due.
    shared_attempt(shared_attempt_config cfg, double jitter_draw, moment now);

    shared_step first() const { return {shared_action::read}; }
    // `servable_now`: this host has a servable token now (it keeps serving it while it waits).
    // `is_current`: the entry holds the token this host already has (whose refresh is due, or
    // the attempt would not run): never adopted again.
    shared_step on_read(moment now, read_outcome r, std::optional<token_times> entry,
                        bool is_current, bool servable_now);
    shared_step on_lease(moment now, lease_outcome r, bool servable_now);
    shared_step on_wake(moment now) const;

    // The entry is servable and not yet due to be refreshed by this host's schedule.
    bool fresh(const token_times& entry, wall_clock::time_point now) const;
    bool waited() const { return lost_at_.has_value(); }
    bool holding() const { return holding_; }

private:
    shared_attempt_config cfg_;
    double jitter_;
    steady_time started_;
    std::optional<steady_time> lost_at_; // first lost lease
    bool holding_ = false;               // the lease is this host's
};

enum class shared_state { sharing, fallback };
const char* to_string(shared_state s);

// What /status and /metrics show of the shared cache.
struct shared_cache_view {
    std::string url; // as configured: it never holds a password
    shared_state state = shared_state::sharing;
    std::string last_error;
    std::uint64_t hits = 0;
    std::uint64_t lease_wins = 0;
    std::uint64_t fallbacks = 0;
    std::uint64_t errors = 0;
    std::uint64_t rejected_entries = 0;
    std::uint64_t commands = 0;
};

struct shared_link {
    shared_state state = shared_state::sharing;
    std::string last_error;              // free of secrets
    unsigned failures = 0;               // failed tries in a row, for the backoff
    std::optional<steady_time> retry_at; // in fallback: when Redis is tried again
    std::uint64_t hits = 0;              // attempts answered by an entry, without an upstream call
    std::uint64_t lease_wins = 0;        // leases taken (this host fetched for the fleet)
    std::uint64_t fallbacks = 0;         // changes from sharing to fallback
    std::uint64_t errors = 0;            // Redis failures (each command that failed)
    std::uint64_t rejected_entries = 0;  // entries that failed authentication or decoding

    // Whether an attempt starting now uses Redis.
    bool use_redis(steady_time now) const;
    // The outcome of a Redis exchange; true when the state changed (worth one log line).
    bool on_success();
    // `draw` in [0, 1) jitters the retry delay.
    bool on_failure(steady_time now, std::string problem, const refresh_config& backoff,
                    double draw);
};

} // namespace synergy_tokend
