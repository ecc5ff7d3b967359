#include "synergy_tokend/profile_view.hpp"

namespace synergy_tokend {

using std::chrono::seconds;

const char* to_string(token_state s) {
    switch (s) {
    case token_state::pending:
        return "pending";
    case token_state::fresh:
        return "fresh";
    case token_state::refreshing:
        return "refreshing";
    case token_state::stale:
        return "stale";
    case token_state::expired:
        return "expired";
    case token_state::failed:
        return "failed";
    }
    return "unknown";
}

token_state derive_state(bool has_token, wall_clock::time_point expires_at,
                         wall_clock::time_point now, seconds min_serve_remaining, bool in_flight,
                         fetch_outcome last) {
    if (!has_token)
        return last == fetch_outcome::rejected ? token_state::failed : token_state::pending;
    if (expires_at - now <= min_serve_remaining)
        return last == fetch_outcome::rejected ? token_state::failed : token_state::expired;
    if (in_flight)
        return token_state::refreshing;
    if (last == fetch_outcome::failed || last == fetch_outcome::rejected)
        return token_state::stale;
    return token_state::fresh;
}

} // namespace synergy_tokend
