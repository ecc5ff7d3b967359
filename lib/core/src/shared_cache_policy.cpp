#include "synergy_tokend/shared_cache_policy.hpp"

#include <algorithm>

#include "synergy_tokend/refresh_policy.hpp"

namespace synergy_tokend {

using std::chrono::milliseconds;

milliseconds shared_poll_interval(milliseconds lease) {
    return std::clamp<milliseconds>(lease / 20, milliseconds(50), milliseconds(500));
}

shared_attempt::shared_attempt(shared_attempt_config cfg, double jitter_draw, moment now)
    : cfg_(std::move(cfg))
    , jitter_(jitter_draw)
    , started_(now.mono) {}

bool shared_attempt::fresh(const token_times& entry, wall_clock::time_point now) const {
    if (entry.expires_at - now <= cfg_.refresh.min_serve_remaining)
        return false;
    const auto lifetime =
        std::chrono::duration_cast<std::chrono::seconds>(entry.expires_at - entry.issued_at);
    return now < entry.issued_at + refresh_delay(lifetime, cfg_.refresh, jitter_);
}

shared_step shared_attempt::on_read(moment now, read_outcome r, std::optional<token_times> entry,
                                    bool is_current, bool servable_now) {
    if (r == read_outcome::failed)
        return {shared_action::fetch_alone};
    if (r == read_outcome::entry && entry && !is_current) {
        const bool servable = entry->expires_at - now.wall > cfg_.refresh.min_serve_remaining;
        // Nothing to serve here: a servable entry is better than waiting, even one due for a
        // refresh (which the next attempt, with a token in hand, competes for).
        if (fresh(*entry, now.wall) || (servable && !servable_now))
            return {shared_action::adopt}; // holding the lease: the store releases it
    }
    if (holding_)
        return {shared_action::fetch_holder};
    if (!lost_at_)
        return {shared_action::take_lease};
    // Waiting for the holder.
    if (now.mono - *lost_at_ >= cfg_.lease)
        return {shared_action::take_lease}; // it did not deliver: overtake
    if (!servable_now && now.mono - started_ >= cfg_.wait_limit)
        return {shared_action::fetch_alone};
    return on_wake(now);
}

shared_step shared_attempt::on_lease(moment now, lease_outcome r, bool servable_now) {
    switch (r) {
    case lease_outcome::failed:
        return {shared_action::fetch_alone};
    case lease_outcome::won:
        // Read once more: the last holder may have written its entry and released its lease
        // between this host's read and its SET NX.
        holding_ = true;
        return {shared_action::read};
    case lease_outcome::lost:
        break;
    }
    if (!lost_at_)
        lost_at_ = now.mono;
    if (!servable_now && now.mono - started_ >= cfg_.wait_limit)
        return {shared_action::fetch_alone};
    return on_wake(now);
}

shared_step shared_attempt::on_wake(moment now) const {
    // Sleep one poll interval, but never past the end of a wait with nothing to serve.
    auto sleep = cfg_.poll_interval;
    const auto waited = std::chrono::duration_cast<milliseconds>(now.mono - started_);
    if (waited < cfg_.wait_limit)
        sleep = std::min(sleep, cfg_.wait_limit - waited);
    return {shared_action::sleep, std::max(sleep, milliseconds(1))};
}

const char* to_string(shared_state s) {
    return s == shared_state::sharing ? "sharing" : "fallback";
}

bool shared_link::use_redis(steady_time now) const {
    return state == shared_state::sharing || !retry_at || now >= *retry_at;
}

bool shared_link::on_success() {
    failures = 0;
    if (state == shared_state::sharing)
        return false;
    state = shared_state::sharing;
    return true;
}

bool shared_link::on_failure(steady_time now, std::string problem, const refresh_config& backoff,
                             double draw) {
    ++errors;
    if (state == shared_state::sharing || !retry_at || now >= *retry_at) {
        ++failures;
        retry_at =
            now + backoff_delay(failures, failure_class::transient, std::nullopt, backoff, draw);
    }
    last_error = std::move(problem);
    if (state == shared_state::fallback)
        return false;
    state = shared_state::fallback;
    ++fallbacks;
    return true;
}

} // namespace synergy_tokend
