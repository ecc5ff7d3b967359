// The lifecycle of one token profile as a state machine without I/O (PRODUCT.md §4), in the manner
// of Boost.Redis's protocol machines: the store feeds it events (the profile started, a timer
// fired, a caller arrived, upstream refused an attached token, an attempt ended, a reload) with
// the time they happened, and does what it decides (start an upstream attempt, sleep until a
// time, serve, wait or refuse a caller, log a change of state). Nothing here reads a clock or
// draws a random number itself: `now` is a parameter and jitter comes from the injected
// random_source, so every timing rule is tested on a fake clock.
//
// Rules:
// - single flight: an event that decides to fetch claims the attempt at once (in_flight() is true
//   on return, `start_attempt` says so); while one is in flight no event starts another, and every
//   caller waits for it. The store runs exactly one upstream request per claim and reports its
//   end with on_attempt_end();
// - refresh point: refresh_delay() after a success (jitter drawn from the source); on failure
//   backoff_delay() with full jitter, honouring Retry-After; 400/404/422 mark the profile failed
//   and retry at retry_max; 401/403 ask for the identity token to be re-read;
// - serving: a token is served while it has more than min_serve_remaining of wall-clock time
//   left; it stays the current token until a new one has arrived (a failed or forced refresh
//   never drops it);
// - retry gating: a caller finding no servable token starts an attempt only when none is in
//   flight, the profile is not failed, the last attempt ended at least retry_initial ago and
//   upstream's Retry-After has passed; otherwise it is refused with a Retry-After;
// - refusals of attached tokens: decide_refusal() (store_policy.hpp), one forced refresh per
//   token, the 403 age rule;
// - timers: the wake time is monotonic, but a refresh is also due once the wall clock passes its
//   point (a suspend/resume or a clock jump), so wake_at() is never more than max_sleep away.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "synergy_tokend/clock.hpp"
#include "synergy_tokend/config.hpp"
#include "synergy_tokend/profile_view.hpp"
#include "synergy_tokend/refresh_policy.hpp"
#include "synergy_tokend/store_policy.hpp"

namespace synergy_tokend {

// When an event happened: wall clock for expiry, monotonic clock for timers.
struct moment {
    wall_clock::time_point wall;
    steady_time mono;
};

// Uniform draws in [0, 1).
using random_source = std::function<double()>;

// How an upstream attempt ended, as the store reports it.
struct attempt_result {
    bool ok = false;
    // ok: the token and its lifetime (issued at the moment the end is reported).
    std::string token;
    std::string token_type = "bearer";
    std::chrono::seconds lifetime{0};
    // A token another host fetched (the shared cache): its own issue time, from which its
    // refresh is scheduled; nullopt: issued at the moment the end is reported.
    std::optional<wall_clock::time_point> issued_at;
    // not ok:
    failure_class cls = failure_class::transient;
    std::optional<std::chrono::seconds> retry_after;
    std::string problem; // for the log and /status, already free of secrets
};

// The change of state an attempt's end is worth a log line for, once per change.
enum class profile_log {
    none,      // nothing new (a success after a success, the same failure again)
    recovered, // a success after a logged failure
    failed,    // a failure that differs from the last one logged
};

// With profile_log::failed: what the profile does now.
enum class failure_consequence {
    marked_failed, // rejected: retried at retry_max
    stale,         // serving the current token while it lasts
    no_token,      // nothing to serve; retrying with backoff
};

struct attempt_end {
    profile_log log = profile_log::none;
    failure_consequence consequence = failure_consequence::no_token;
    bool reread_identity = false;         // 401/403: re-read the identity token before the next
    std::chrono::milliseconds next_in{0}; // until the next scheduled attempt
};

// What a caller gets.
enum class caller_action {
    serve,  // current() is servable: hand it out
    wait,   // wait for the attempt in flight (up to upstream.request_timeout), then after_wait()
    refuse, // 503 with `retry_after`
};

struct caller_step {
    caller_action action = caller_action::refuse;
    bool start_attempt = false; // this event claimed a new attempt: the store starts it
    std::chrono::seconds retry_after{1};
    refusal_step refusal = refusal_step::use_current; // on_refusal() only: what it decided
};

class profile_machine {
public:
    // The longest the store sleeps before re-checking the wall clock.
    static constexpr std::chrono::milliseconds max_sleep{30000};

    profile_machine(refresh_config cfg, random_source draw);

    // The profile starts, with a token restored from the state file if there is one (used only
    // when servable). True: an attempt was claimed (no servable token); false: the token is
    // refreshed on its own schedule.
    bool start(moment now, std::optional<token_value> restored = std::nullopt);

    // When the store should next call on_timer(); nullopt while nothing is scheduled (an attempt
    // in flight, not started, or retired).
    std::optional<steady_time> wake_at(moment now) const;
    // The timer fired. True: the scheduled attempt is due and was claimed.
    bool on_timer(moment now);

    // A caller wants the token.
    caller_step on_caller(moment now);
    // Upstream answered `status` (401/403) to `token`, attached by the daemon: decide_refusal()
    // with this profile's facts. A forced refresh claims an attempt (or joins the one in flight)
    // and the caller waits; use_current and pass_on are answered like on_caller().
    caller_step on_refusal(moment now, std::string_view token, unsigned status);
    // A waiting caller's wait ended (its attempt ended, the time was up, or the profile retired).
    caller_step after_wait(moment now) const;

    attempt_end on_attempt_end(moment now, attempt_result r);

    // A reload with this profile unchanged: it keeps its token and schedule; the refresh
    // settings apply from now on. (A changed profile is a new machine.)
    void reload(refresh_config cfg) { cfg_ = std::move(cfg); }
    // The profile is stopped or removed: no more attempts; callers are refused.
    void retire() { retired_ = true; }
    bool retired() const { return retired_; }

    // Whether current() may be handed out: only the wall clock matters for expiry.
    bool servable(wall_clock::time_point now) const;
    bool servable(moment now) const { return servable(now.wall); }
    const std::optional<token_value>& current() const { return current_; }
    bool in_flight() const { return in_flight_; }
    token_state state(moment now) const;
    fetch_outcome last_outcome() const { return last_outcome_; }
    std::optional<wall_clock::time_point> next_attempt_at() const { return next_wall_; }
    std::optional<wall_clock::time_point> last_refresh_at() const { return last_refresh_at_; }
    const std::string& last_error() const { return last_error_; }
    unsigned consecutive_failures() const { return consecutive_failures_; }
    std::uint64_t refresh_count() const { return refresh_count_; }
    std::uint64_t failures_total() const { return failures_total_; }
    std::uint64_t rejections_total() const { return rejections_total_; }
    // Tokens held for the refusal rule (secrets, for redaction).
    const std::string& forced_for() const { return forced_for_; }
    const std::string& brought_by_refusal() const { return brought_by_refusal_; }

private:
    void claim();
    void schedule(moment now, std::chrono::milliseconds delay);
    caller_step refused(moment now) const;

    refresh_config cfg_;
    random_source draw_;
    std::optional<token_value> current_;
    fetch_outcome last_outcome_ = fetch_outcome::none;
    bool in_flight_ = false;
    bool retired_ = false;
    unsigned attempt_ = 0; // failures since the last success, for the backoff
    unsigned consecutive_failures_ = 0;
    std::uint64_t refresh_count_ = 0;
    std::uint64_t failures_total_ = 0;
    std::uint64_t rejections_total_ = 0;
    std::string last_error_;
    std::string logged_problem_;
    std::optional<steady_time> next_mono_;
    std::optional<wall_clock::time_point> next_wall_;
    std::optional<wall_clock::time_point> last_refresh_at_;
    std::optional<steady_time> last_attempt_end_;
    std::optional<steady_time> not_before_; // upstream's Retry-After
    std::string forced_for_;                // the token whose refusal forced a refresh
    bool forced_pending_ = false;           // that refresh has yet to bring a token
    std::string brought_by_refusal_;        // the token it brought
};

} // namespace synergy_tokend
