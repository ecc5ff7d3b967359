// The configured token profiles, the on-demand cache, and their lifecycle (PRODUCT.md §4, §5).
//
// This is the glue that runs the core's rules on the event loop; it decides no timing itself.
// Each profile is a profile_machine (profile_machine.hpp) fed with the time of every event:
// one driver coroutine per profile sleeps on a timer until the machine's wake_at() and tells it
// the timer fired; callers (get, get_replacing) ask the machine, which says serve, wait or refuse
// (503 + Retry-After), and claims an upstream attempt when one is to start. An attempt is a
// coroutine that reads the identity token, sends the call build_token_call() made, classifies the
// reply with classify_token_reply() (token_exchange.hpp), reports the end to the machine, logs
// what the machine says is worth logging, and wakes its waiters: every waiter of an attempt holds
// its attempt_signal (a timer that never expires, cancelled when the attempt ends) and waits on
// it up to upstream.request_timeout.
//
// On-demand entries (drop-in POST /v1/products/token requests that match no profile) live in
// their own on_demand_cache (on_demand_cache.hpp), have no driver, and hold no identity token: an
// entry is found by the SHA-256 of the identity token with product, customer and scopes, and every
// upstream request for it uses the identity token of the request that triggers it. What a request
// does is decide_on_demand() (store_policy.hpp): the first request fetches; later ones are answered
// from cache; the first request after the refresh point refreshes in the background with its own
// identity token. An upstream error is answered as it came and is not a lasting failure: a request
// may reach upstream again refresh.retry_initial_ms after the last attempt for the key ended (or
// after upstream's Retry-After, when later); a request within that window gets the same answer
// again (upstream's status and body, with a Retry-After saying when the window ends; 503 +
// Retry-After when the attempt ended without a reply). Scopes are deduplicated and sorted before
// they go upstream. An entry's last use, for eviction, is the last time it served a token (or its
// creation): requests for a key that fails do not keep it alive. The cache is bounded by
// on_demand.max_entries and on_demand.max_bytes (on_demand_cache.hpp says what the bytes count),
// and entries unused for on_demand.idle_evict_s are dropped.
//
// Guarantees:
// - single flight: at most one upstream token request per profile or on-demand key is in flight,
//   whatever the number of callers; all waiters share its result;
// - a token is served only while it has more than refresh.min_serve_remaining_s of real
//   (wall-clock) time left, judged at every request; timers use the monotonic clock;
// - a token stays servable until its replacement has arrived: no refresh, forced or scheduled,
//   drops it first;
// - an on-demand token is only ever served to requests with the identity token it was fetched
//   with (the key holds the identity token's SHA-256);
// - upstream's text (error bodies, messages, transport details) is redacted (redact.hpp) of the
//   configured identity token, the identity token of the request, and every token the store
//   holds, before it reaches a log line, last_error (/status) or a serve_result; a drop-in
//   caller's own identity token is left in upstream's body passed back to that caller (it sent
//   it), nobody else's secret is;
// - state changes and failures are logged once per change, never a token or identity token;
// - change notification (token_changes.hpp): changes().changed(name) is called once a profile's
//   new token is in place, and when a reload drops or replaces the profile; stop() stops it;
// - with state.persist, profile tokens are saved after every refresh and, at start, a saved
//   token that is still servable (same identity token, product, customer, scopes) is used
//   without an upstream call and refreshed on its schedule.
//
// All member functions must be called on the executor given at construction.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "synergy_tokend/clock.hpp"
#include "synergy_tokend/config.hpp"
#include "synergy_tokend/identity_source.hpp"
#include "synergy_tokend/on_demand_cache.hpp"
#include "synergy_tokend/profile_machine.hpp"
#include "synergy_tokend/profile_view.hpp"
#include "synergy_tokend/redact.hpp"
#include "synergy_tokend/refresh_policy.hpp"
#include "synergy_tokend/token_changes.hpp"
#include "synergy_tokend/token_exchange.hpp"
#include "synergy_tokend/token_request.hpp"

namespace synergy_tokend {

class upstream_client;
class shared_cache;
struct shared_cache_view;

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
    // different identity source, every profile is fetched again. Returns how many of each, for
    // the log line that tells an operator the tokens were kept.
    struct reload_counts {
        std::size_t kept = 0;    // unchanged: token and schedule kept
        std::size_t fetched = 0; // new or changed: fetched now
        std::size_t dropped = 0; // removed (or replaced by a changed one)
    };
    reload_counts reload(const config& cfg);

    // A servable token of profile `name`, waiting for a fetch if needed (see above).
    boost::asio::awaitable<serve_result> get(std::string name);

    // The current token of profile `name` when it is servable right now: what get() would return
    // at once, without waiting or starting a fetch (the fast path of GET /v1/tokens/{name}).
    // nullptr otherwise. The pointer is valid until the store next runs (a co_await, a reload).
    const token_value* servable_now(std::string_view name, wall_clock::time_point now) const;

    // After upstream refused `rejected_token` of profile `name` (attached by the daemon) with
    // `upstream_status` 401 or 403: the token to retry with, as decide_refusal() rules
    // (store_policy.hpp). A 401, or a 403 to a token older than a minute, forces one refresh
    // (single flight, joining one in flight) and returns the token it brought; the token a forced
    // refresh brought forces no further refresh when it is refused, and a token already refreshed
    // for forces none again. In those cases, and when the forced refresh fails, the current token
    // (possibly `rejected_token` itself, which stays servable until a new one has arrived) is
    // returned: the caller retries only with a token that differs, else passes the refusal on.
    boost::asio::awaitable<serve_result> get_replacing(std::string name, std::string rejected_token,
                                                       unsigned upstream_status);

    // The profile a drop-in request stands for: same identity token as configured, product,
    // customer and scopes. nullptr when none matches.
    const profile_config* profile_for(const token_request& req);

    // The drop-in request's token from the on-demand cache, fetching it when needed with
    // `req.identity_token` (see above). Must only be called when on_demand.enabled.
    boost::asio::awaitable<serve_result> get_on_demand(token_request req);
    std::size_t on_demand_count() const { return on_demand_.size(); }
    std::size_t on_demand_bytes() const { return on_demand_.bytes(); } // on_demand_cache.hpp

    // `text` (from upstream) redacted of the configured identity token, every token held, and
    // `request_secret` (the identity token or Authorization value of the request at hand);
    // `keep` is left in (the recipient's own secret). See redact.hpp.
    std::string redact(std::string_view text, std::string_view request_secret = {},
                       std::string_view keep = {});

    // The profiles' change notification (token_changes.hpp).
    token_changes& changes() { return changes_; }

    // Makes the next fetch re-read the identity token even if its file looks unchanged (SIGHUP).
    void reread_identity() { force_identity_reread_ = true; }

    // The shared cache (PRODUCT.md §10) as /status and /metrics show it; nullopt without one.
    std::optional<shared_cache_view> shared_view() const;

    std::vector<profile_view> profiles() const;
    std::size_t servable_count() const;
    std::vector<std::string> unservable_profiles() const;
    const profile_config* default_profile() const;

private:
    struct profile;
    using profile_ptr = std::shared_ptr<profile>;
    using signal_ptr = std::shared_ptr<attempt_signal>;
    // How one upstream token call ended.
    struct call_result {
        attempt_result attempt;                        // for the machine
        std::optional<upstream_http_error> http_error; // upstream said no (status, body)
        bool bad_reply = false;                        // 2xx without a usable token
        bool lifetime_defaulted = false;               // ok, with refresh.default_lifetime_s
    };

    // What the holder of a shared lease writes once its waiters have their token.
    struct shared_publish {
        std::string name;
        std::string owner;
        std::string identity;
        bool write = false; // false: release the lease only (the fetch failed)
    };
    static moment now();
    // A profile's attempt with a shared cache (token_store_shared.cpp, shared_cache_policy.hpp):
    // an entry another host wrote, or an upstream call (holding the lease, or alone).
    static boost::asio::awaitable<call_result>
    fetch_shared(token_store* self, profile_ptr p, std::string identity,
                 std::shared_ptr<shared_publish> publish);
    static boost::asio::awaitable<void> finish_shared(token_store* self, profile_ptr p,
                                                      std::shared_ptr<shared_publish> publish);
    // The driver: sleeps until the machine's wake_at(), tells it the timer fired.
    static boost::asio::awaitable<void> drive(token_store* self, profile_ptr p);
    // One upstream attempt of a profile, claimed by its machine.
    static boost::asio::awaitable<void> run_attempt(token_store* self, profile_ptr p,
                                                    signal_ptr signal);
    static boost::asio::awaitable<void>
    run_on_demand_attempt(token_store* self, on_demand_cache::entry_ptr e, std::string identity);
    static boost::asio::awaitable<void> sweep_on_demand(token_store* self);
    // The upstream token call and its classification; `on_demand`: the caller's own identity
    // token stays in upstream's body passed back to it.
    boost::asio::awaitable<call_result>
    call_upstream(std::string identity, std::string product, std::string customer_id,
                  std::optional<std::vector<std::string>> scopes, bool on_demand);
    // Waits until `signal`'s attempt ends, the store stops, or upstream.request_timeout passes.
    boost::asio::awaitable<void> wait_for(signal_ptr signal);
    // Carries out a caller's step: starts the attempt it claimed, waits when told to.
    boost::asio::awaitable<serve_result> settle(profile_ptr p, caller_step step);
    void begin_attempt(const profile_ptr& p);
    void retire(profile& p);
    serve_result result_of(const profile& p, const caller_step& step) const;
    void begin_on_demand_attempt(const on_demand_cache::entry_ptr& e, std::string identity);
    // What a drop-in request gets when its key has no servable token after the last attempt.
    // `repeat`: answered without an upstream call, within the retry window.
    serve_result on_demand_failure(const on_demand_entry& e, std::chrono::seconds retry_after,
                                   bool repeat) const;
    bool servable(const std::optional<token_value>& t, wall_clock::time_point now) const;
    const redactor& secrets();
    profile_view view(const profile& p, moment now) const;
    void note_first_fetch_done(profile& p);
    std::map<std::string, token_value> restore_persisted();
    void persist();
    double draw();

    boost::asio::any_io_executor ex_;
    config cfg_;
    upstream_client& upstream_;
    identity_source& identity_;
    std::map<std::string, profile_ptr, std::less<>> profiles_;
    on_demand_cache on_demand_;
    redactor secrets_;          // views of identity_copy_ and of every token held
    bool secrets_stale_ = true; // a token or the identity changed since secrets_ was built
    std::string identity_copy_; // the configured identity token, as last read
    std::unique_ptr<boost::asio::steady_timer> sweep_timer_;
    std::function<void()> first_round_done_;
    std::function<void()> on_fetch_end_;
    bool started_ = false;
    std::size_t first_fetches_pending_ = 0;
    bool force_identity_reread_ = false;
    bool stopped_ = false;
    std::mt19937_64 rng_;
    token_changes changes_;
    std::shared_ptr<shared_cache> shared_; // with shared_cache configured
};

} // namespace synergy_tokend
