// The configured token profiles, the on-demand cache, and their lifecycle (PRODUCT.md §4, §5).
//
// Each profile has one refresh driver (a coroutine) that fetches its token at start, sleeps until
// the refresh point of refresh_policy, and retries failures with backoff. Callers ask get(): a
// servable token is returned at once; otherwise the caller waits for the fetch in flight
// (starting one if none is, at most once per refresh.retry_initial_ms) up to
// upstream.request_timeout; when that fetch fails, or the time is up, it gets `unavailable` with a
// Retry-After.
//
// On-demand entries (drop-in POST /v1/products/token requests that match no profile) have no
// driver: the first request fetches, later ones are answered from cache, the first request after
// the refresh point refreshes in the background; entries unused for on_demand.idle_evict_s, or
// the least recently used beyond on_demand.max_entries, are evicted.
//
// Guarantees:
// - single flight: at most one upstream token request per profile or on-demand key is in flight,
//   whatever the number of callers; all waiters share its result;
// - a token is served only while it has more than refresh.min_serve_remaining_s of real
//   (wall-clock) time left, judged at every request; timers use the monotonic clock;
// - an on-demand token is only ever served to requests with the identity token it was fetched
//   with (the key holds the identity token's SHA-256);
// - state changes and failures are logged once per change, never a token or identity token;
// - with state.persist, profile tokens are saved after every refresh and, at start, a saved
//   token that is still servable (same identity token, product, customer, scopes) is used
//   without an upstream call and refreshed on its schedule.
//
// All member functions must be called on the executor given at construction.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "synergy_tokend/clock.hpp"
#include "synergy_tokend/config.hpp"
#include "synergy_tokend/identity_source.hpp"
#include "synergy_tokend/refresh_policy.hpp"
#include "synergy_tokend/token_request.hpp"

namespace synergy_tokend {

class upstream_client;

enum class token_state { pending, fresh, refreshing, stale, expired, failed };
const char* to_string(token_state s);

// How the last upstream attempt for a profile ended.
enum class fetch_outcome { none, ok, failed, rejected };

// The state a profile shows (pure): `has_token`/`expires_at` describe the current token.
token_state derive_state(bool has_token, wall_clock::time_point expires_at,
                         wall_clock::time_point now, std::chrono::seconds min_serve_remaining,
                         bool in_flight, fetch_outcome last);

struct token_value {
    std::string token;
    std::string token_type;
    wall_clock::time_point issued_at;
    wall_clock::time_point expires_at;
};

struct profile_view {
    profile_config cfg;
    bool is_default = false;
    token_state state = token_state::pending;
    std::optional<wall_clock::time_point> expires_at;
    std::optional<wall_clock::time_point> refresh_at; // next scheduled attempt
    std::optional<wall_clock::time_point> last_refresh_at;
    std::string last_error;
    unsigned consecutive_failures = 0;
    std::uint64_t refresh_count = 0;    // successful upstream token requests
    std::uint64_t failures_total = 0;   // failed ones (network, 5xx, 429, 401/403, bad reply)
    std::uint64_t rejections_total = 0; // 400/404/422: product, customer or scopes refused
};

// An HTTP error reply of upstream to a token request, kept to pass on to drop-in callers.
struct upstream_http_error {
    unsigned status = 0;
    std::string body;
    std::string content_type;
};

struct serve_result {
    enum class status {
        ok,
        unknown_profile,
        unavailable,    // no servable token (503)
        upstream_error, // on-demand only: upstream's HTTP error reply, to pass on as it came
        bad_reply,      // on-demand only: upstream answered 2xx without a usable token (502)
    };
    status outcome = status::unavailable;
    token_value token;                   // set when ok
    std::chrono::seconds retry_after{1}; // set when unavailable
    std::string reason;                  // why not ok; never contains a secret
    upstream_http_error upstream;        // set when upstream_error
};

class token_store {
public:
    token_store(boost::asio::any_io_executor ex, const config& cfg, upstream_client& upstream,
                identity_source& identity);
    ~token_store();
    token_store(const token_store&) = delete;
    token_store& operator=(const token_store&) = delete;

    // Starts one refresh driver per profile. `first_round_done` is called once, when every
    // profile's first fetch has ended (successfully or not).
    void start(std::function<void()> first_round_done = {});

    // Ends the drivers and wakes every waiter (they get `unavailable`).
    void stop();

    // Called after every upstream token request of a profile ends (to update STATUS=).
    void on_fetch_end(std::function<void()> callback) { on_fetch_end_ = std::move(callback); }

    // Applies a reloaded configuration (SIGHUP): profiles whose settings are unchanged keep
    // their token and schedule; new or changed ones are fetched; removed ones are dropped (their
    // waiters get `unavailable`). The refresh and on-demand settings apply from now on; with a
    // different identity source, every profile is fetched again.
    void reload(const config& cfg);

    // A servable token of profile `name`, waiting for a fetch if needed (see above).
    boost::asio::awaitable<serve_result> get(std::string name);

    // The current token of profile `name` when it is servable right now: what get() would return
    // at once, without waiting or starting a fetch (the fast path of GET /v1/tokens/{name}).
    // nullptr otherwise. The pointer is valid until the store next runs (a co_await, a reload).
    const token_value* servable_now(std::string_view name, wall_clock::time_point now) const;

    // After upstream refused `rejected_token` of profile `name` with 401, or with 403 when that
    // token is older than a minute: fetches a new token (single flight; no new fetch when the
    // profile already holds a different token) and returns it. A 403 to a newer token is a
    // permission answer, not a stale token, so the current token is returned unchanged.
    boost::asio::awaitable<serve_result> get_replacing(std::string name, std::string rejected_token,
                                                       unsigned upstream_status);

    // The profile a drop-in request stands for: same identity token as configured, product,
    // customer and scopes. nullptr when none matches.
    const profile_config* profile_for(const token_request& req);

    // The drop-in request's token from the on-demand cache, fetching it when needed. Must only
    // be called when on_demand.enabled.
    boost::asio::awaitable<serve_result> get_on_demand(token_request req);
    std::size_t on_demand_count() const { return on_demand_.size(); }

    // Makes the next fetch re-read the identity token even if its file looks unchanged (SIGHUP).
    void reread_identity() { force_identity_reread_ = true; }

    std::vector<profile_view> profiles() const;
    std::size_t servable_count() const;
    std::vector<std::string> unservable_profiles() const;
    const profile_config* default_profile() const;

private:
    struct entry;
    using entry_ptr = std::shared_ptr<entry>;
    struct attempt_result {
        bool ok = false;
        failure_class cls = failure_class::transient;
        std::optional<std::chrono::seconds> retry_after;
        std::chrono::seconds lifetime{0};
    };

    static boost::asio::awaitable<void> drive(token_store* self, entry_ptr e);
    static boost::asio::awaitable<void> fetch_in_background(token_store* self, entry_ptr e);
    static boost::asio::awaitable<void> sweep_on_demand(token_store* self);
    boost::asio::awaitable<attempt_result> fetch(entry_ptr e);
    boost::asio::awaitable<void> sleep(entry_ptr e, std::chrono::milliseconds delay);
    boost::asio::awaitable<serve_result> wait_for_token(entry_ptr e, bool force_fetch);
    // Starts a fetch unless one is in flight; false when a profile's last attempt ended less
    // than retry_initial_ms ago (and `force` is not set).
    bool start_fetch(entry_ptr e, bool force);
    serve_result failure_of(const entry& e, wall_clock::time_point now) const;
    void evict_on_demand(std::size_t keep_at_most);
    bool servable(const entry& e, wall_clock::time_point now) const;
    profile_view view(const entry& e, wall_clock::time_point now) const;
    void note_first_fetch_done(entry& e);
    void restore_persisted();
    void persist();
    double draw(double lo, double hi);

    boost::asio::any_io_executor ex_;
    config cfg_;
    upstream_client& upstream_;
    identity_source& identity_;
    std::map<std::string, entry_ptr, std::less<>> entries_;
    std::unordered_map<std::string, entry_ptr> on_demand_; // by on_demand_key()
    std::list<std::string> on_demand_lru_;                 // most recently used first
    std::unique_ptr<boost::asio::steady_timer> sweep_timer_;
    std::function<void()> first_round_done_;
    std::function<void()> on_fetch_end_;
    bool started_ = false;
    std::size_t first_fetches_pending_ = 0;
    bool force_identity_reread_ = false;
    bool stopped_ = false;
    std::mt19937_64 rng_;
};

} // namespace synergy_tokend
