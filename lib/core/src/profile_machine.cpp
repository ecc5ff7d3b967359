#include "synergy_tokend/profile_machine.hpp"

#include <algorithm>

namespace synergy_tokend {

using std::chrono::milliseconds;
using std::chrono::seconds;

profile_machine::profile_machine(refresh_config cfg, random_source draw)
    : cfg_(std::move(cfg))
    , draw_(std::move(draw)) {}

bool profile_machine::servable(wall_clock::time_point now) const {
    return current_ && current_->expires_at - now > cfg_.min_serve_remaining;
}

token_state profile_machine::state(moment now) const {
    return derive_state(current_.has_value(),
                        current_ ? current_->expires_at : wall_clock::time_point{}, now.wall,
                        cfg_.min_serve_remaining, in_flight_, last_outcome_);
}

void profile_machine::claim() {
    in_flight_ = true;
}

void profile_machine::schedule(moment now, milliseconds delay) {
    next_mono_ = now.mono + delay;
    next_wall_ = now.wall + delay;
}

bool profile_machine::start(moment now, std::optional<token_value> restored) {
    if (retired_)
        return false;
    if (restored && restored->expires_at - now.wall > cfg_.min_serve_remaining) {
        const auto lifetime =
            std::chrono::duration_cast<seconds>(restored->expires_at - restored->issued_at);
        const auto due = restored->issued_at + refresh_delay(lifetime, cfg_, 2 * draw_() - 1);
        last_refresh_at_ = restored->issued_at;
        current_ = std::move(restored);
        last_outcome_ = fetch_outcome::ok;
        schedule(now, std::max(milliseconds(0),
                               std::chrono::duration_cast<milliseconds>(due - now.wall)));
        return false;
    }
    claim();
    return true;
}

std::optional<steady_time> profile_machine::wake_at(moment now) const {
    if (retired_ || in_flight_ || !next_mono_)
        return std::nullopt;
    // Due by whichever clock gets there first; and never asleep so long that a wall-clock jump
    // goes unnoticed.
    const auto by_wall = now.mono + std::max<wall_clock::duration>(wall_clock::duration::zero(),
                                                                   *next_wall_ - now.wall);
    return std::min({*next_mono_, std::chrono::time_point_cast<steady_time::duration>(by_wall),
                     now.mono + max_sleep});
}

bool profile_machine::on_timer(moment now) {
    if (retired_ || in_flight_ || !next_mono_)
        return false;
    if (now.mono < *next_mono_ && now.wall < *next_wall_)
        return false;
    claim();
    return true;
}

caller_step profile_machine::refused(moment now) const {
    caller_step out;
    out.action = caller_action::refuse;
    out.retry_after = seconds(1);
    if (next_wall_ && !in_flight_ && !retired_)
        out.retry_after =
            std::max(out.retry_after, std::chrono::ceil<seconds>(*next_wall_ - now.wall));
    return out;
}

caller_step profile_machine::on_caller(moment now) {
    if (retired_)
        return refused(now);
    if (servable(now))
        return {caller_action::serve};
    if (in_flight_)
        return {caller_action::wait};
    // A failed profile (upstream rejected product, customer or scopes) is retried on its
    // schedule only; otherwise callers may start an attempt early, but not more often than
    // retry_initial, nor before upstream's Retry-After: a burst of requests against a failing
    // upstream must not turn into a burst of upstream calls.
    if (last_outcome_ == fetch_outcome::rejected)
        return refused(now);
    if (last_attempt_end_ && now.mono - *last_attempt_end_ < cfg_.retry_initial)
        return refused(now);
    if (not_before_ && now.mono < *not_before_)
        return refused(now);
    claim();
    caller_step out{caller_action::wait};
    out.start_attempt = true;
    return out;
}

caller_step profile_machine::on_refusal(moment now, std::string_view token, unsigned status) {
    refusal_facts facts;
    facts.status = status;
    facts.is_current = current_ && current_->token == token;
    if (facts.is_current)
        facts.age = std::chrono::duration_cast<seconds>(now.wall - current_->issued_at);
    facts.brought_by_refusal = !brought_by_refusal_.empty() && brought_by_refusal_ == token;
    facts.already_forced_for = !forced_for_.empty() && forced_for_ == token;
    facts.in_flight = in_flight_;
    const refusal_step step = decide_refusal(facts);
    caller_step out;
    switch (step) {
    case refusal_step::use_current:
    case refusal_step::pass_on:
        // The current token, without a fetch: the caller retries only if it differs.
        out = on_caller(now);
        break;
    case refusal_step::join_refresh:
        out = in_flight_ ? caller_step{caller_action::wait} : on_caller(now);
        break;
    case refusal_step::force_refresh:
        if (retired_) {
            out = refused(now);
            break;
        }
        forced_for_ = std::string(token);
        forced_pending_ = true;
        brought_by_refusal_.clear();
        // A refresh already in flight may be about to bring the replacement: join it rather
        // than start another. The refused token stays current until a new one arrives.
        out = caller_step{caller_action::wait};
        if (!in_flight_) {
            claim();
            out.start_attempt = true;
        }
        break;
    }
    out.refusal = step;
    return out;
}

caller_step profile_machine::after_wait(moment now) const {
    if (!retired_ && servable(now))
        return {caller_action::serve};
    return refused(now);
}

attempt_end profile_machine::on_attempt_end(moment now, attempt_result r) {
    attempt_end out;
    in_flight_ = false;
    last_attempt_end_ = now.mono;
    not_before_.reset();
    milliseconds delay{};
    if (r.ok) {
        const wall_clock::time_point issued = r.issued_at.value_or(now.wall);
        current_ =
            token_value{std::move(r.token), std::move(r.token_type), issued, issued + r.lifetime};
        if (forced_pending_) {
            brought_by_refusal_ = current_->token;
            forced_pending_ = false;
        }
        ++refresh_count_;
        consecutive_failures_ = 0;
        last_refresh_at_ = issued;
        last_outcome_ = fetch_outcome::ok;
        last_error_.clear();
        if (!logged_problem_.empty()) {
            out.log = profile_log::recovered;
            logged_problem_.clear();
        }
        delay = refresh_delay(r.lifetime, cfg_, 2 * draw_() - 1);
        if (r.issued_at) // counted from its issue, not from now
            delay = std::max(milliseconds(0),
                             delay - std::chrono::duration_cast<milliseconds>(now.wall - issued));
    } else {
        const bool rejected = r.cls == failure_class::rejected;
        ++consecutive_failures_;
        ++(rejected ? rejections_total_ : failures_total_);
        last_outcome_ = rejected ? fetch_outcome::rejected : fetch_outcome::failed;
        if (r.retry_after)
            not_before_ =
                now.mono + std::min<steady_time::duration>(*r.retry_after, cfg_.retry_max);
        out.reread_identity = r.cls == failure_class::auth;
        if (r.problem != logged_problem_) {
            out.log = profile_log::failed;
            out.consequence = rejected        ? failure_consequence::marked_failed
                              : servable(now) ? failure_consequence::stale
                                              : failure_consequence::no_token;
            logged_problem_ = r.problem;
        }
        last_error_ = std::move(r.problem);
        delay = backoff_delay(consecutive_failures_, r.cls, r.retry_after, cfg_, draw_());
    }
    schedule(now, delay);
    out.next_in = delay;
    return out;
}

} // namespace synergy_tokend
