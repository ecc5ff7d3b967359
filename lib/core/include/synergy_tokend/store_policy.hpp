// The token store's decisions that do not depend on I/O (PRODUCT.md §4): what a drop-in request
// for an on-demand key does, and what an upstream refusal of an attached token does. Pure: clocks
// are parameters, so the rules are tested on a fake clock.
#pragma once

#include <chrono>
#include <optional>

namespace synergy_tokend {

using steady_time = std::chrono::steady_clock::time_point;

// What a drop-in request for an on-demand key does.
enum class on_demand_step {
    serve,             // the cached token
    serve_and_refresh, // the cached token; a refresh starts with this request's identity token
    wait,              // join the fetch in flight
    fetch,             // start a fetch with this request's identity token, and wait for it
    repeat_failure,    // too soon after the last attempt: answer its outcome again
};

struct on_demand_facts {
    bool servable = false;    // holds a token with more than min_serve_remaining left
    bool refresh_due = false; // that token's refresh point has passed
    bool in_flight = false;   // an upstream token request for the key is in flight
    std::optional<steady_time> last_attempt_end;
    std::optional<steady_time> not_before; // upstream's Retry-After, if it sent one
};

struct on_demand_decision {
    on_demand_step step = on_demand_step::serve;
    // With repeat_failure: how long until a request may reach upstream again (>= 1 s, rounded up).
    std::chrono::seconds retry_after{0};
};

// An upstream attempt for a key starts no sooner than `retry_initial` after the last one ended,
// nor before upstream's Retry-After: a request within that window gets the last outcome again
// (a servable token is served meanwhile, its refresh waits for the window to pass). A failure
// is never final: the first request after the window tries again.
on_demand_decision decide_on_demand(const on_demand_facts& f, steady_time now,
                                    std::chrono::milliseconds retry_initial);

// What an upstream 401/403 to a token the daemon attached (/v1/info) leads to.
enum class refusal_step {
    use_current,   // the profile already holds another token: the caller retries with that one
    pass_on,       // upstream's refusal goes back to the caller; no refresh
    join_refresh,  // the refresh this token already forced is in flight: retry with its token
    force_refresh, // one refresh of the profile (single flight), then retry with its token
};

struct refusal_facts {
    unsigned status = 401;           // 401 or 403
    bool is_current = true;          // the refused token is the profile's current token
    std::chrono::seconds age{0};     // of the refused token, since it was issued
    bool brought_by_refusal = false; // it is the token a refresh forced by a refusal brought
    bool already_forced_for = false; // a refusal of this very token already forced a refresh
    bool in_flight = false;          // an upstream token request of the profile is in flight
};

// 401, or 403 to a token older than a minute, forces one refresh (a 403 to a newer token is a
// permission answer, not a stale token). The token that refresh brings forces no further refresh
// when refused, so one upstream token request per lifetime holds whatever /info answers.
refusal_step decide_refusal(const refusal_facts& f);

} // namespace synergy_tokend
