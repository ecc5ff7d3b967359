#include "synergy_tokend/store_policy.hpp"

#include <algorithm>

namespace synergy_tokend {

on_demand_decision decide_on_demand(const on_demand_facts& f, steady_time now,
                                    std::chrono::milliseconds retry_initial) {
    if (f.in_flight)
        return {f.servable ? on_demand_step::serve : on_demand_step::wait, {}};
    std::optional<steady_time> allowed_from;
    if (f.last_attempt_end)
        allowed_from = *f.last_attempt_end + retry_initial;
    if (f.not_before)
        allowed_from = allowed_from ? std::max(*allowed_from, *f.not_before) : *f.not_before;
    const bool may_ask = !allowed_from || now >= *allowed_from;
    if (f.servable)
        return {f.refresh_due && may_ask ? on_demand_step::serve_and_refresh
                                         : on_demand_step::serve,
                {}};
    if (may_ask)
        return {on_demand_step::fetch, {}};
    const auto left = std::chrono::ceil<std::chrono::seconds>(*allowed_from - now);
    return {on_demand_step::repeat_failure, std::max(left, std::chrono::seconds(1))};
}

refusal_step decide_refusal(const refusal_facts& f) {
    if (!f.is_current)
        return refusal_step::use_current;
    if (f.status == 403 && f.age < std::chrono::minutes(1))
        return refusal_step::pass_on;
    if (f.brought_by_refusal)
        return refusal_step::pass_on;
    if (f.already_forced_for)
        return f.in_flight ? refusal_step::join_refresh : refusal_step::pass_on;
    return refusal_step::force_refresh;
}

} // namespace synergy_tokend
