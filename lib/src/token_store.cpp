#include "synergy_tokend/token_store.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "synergy_tokend/digest.hpp"
#include "synergy_tokend/log.hpp"
#include "synergy_tokend/state_file.hpp"
#include "synergy_tokend/store_policy.hpp"
#include "synergy_tokend/token_reply.hpp"
#include "synergy_tokend/upstream_client.hpp"

namespace synergy_tokend {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace asio::experimental::awaitable_operators;
using std::chrono::milliseconds;
using std::chrono::seconds;
using steady = std::chrono::steady_clock;

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
// A sleeping driver re-checks the wall clock at least this often, so a clock jump or a
// suspend/resume cannot leave a token unrefreshed past its real refresh point.
constexpr milliseconds max_sleep_chunk{30000};

// Scopes sorted and each once: upstream refuses duplicates, and the order carries no meaning.
std::string token_request_body(const profile_config& p, const std::string& identity) {
    json::object body;
    body["userIdentityToken"] = identity;
    body["product"] = p.product;
    body["customerId"] = p.customer_id;
    if (p.scopes) {
        json::array scopes;
        for (auto& s : normalized_scopes(*p.scopes))
            scopes.emplace_back(std::move(s));
        body["scopes"] = std::move(scopes);
    }
    return json::serialize(body);
}

// What an on-demand entry costs beyond its strings and sizeof(entry) (see token_store.hpp): the
// unordered_map node and its bucket, the LRU list node, the shared_ptr control block, and a
// 16-byte allocator header on each of those allocations and on each string buffer.
constexpr std::size_t on_demand_entry_overhead = 256;

std::string seconds_text(milliseconds d) {
    return std::to_string(std::chrono::duration_cast<seconds>(d).count()) + " s";
}

} // namespace

struct token_store::entry {
    entry(asio::any_io_executor ex, profile_config c)
        : cfg(std::move(c))
        , wake(ex)
        , done(ex, steady::time_point::max()) {}

    profile_config cfg;
    bool on_demand = false;
    std::optional<token_value> current;
    fetch_outcome last_outcome = fetch_outcome::none;
    bool in_flight = false;
    bool stopped = false;
    bool kicked = false;
    bool first_fetch_done = false;
    unsigned consecutive_failures = 0;
    std::uint64_t refresh_count = 0;
    std::uint64_t failures_total = 0;
    std::uint64_t rejections_total = 0;
    std::string last_error;
    std::string logged_problem; // the failure last logged, so a retry does not log again
    std::optional<wall_clock::time_point> next_attempt_at;
    std::optional<wall_clock::time_point> last_refresh_at;
    std::optional<steady::time_point> last_attempt_end;
    std::optional<steady::time_point> not_before;       // upstream's Retry-After, if it sent one
    std::uint64_t generation = 0;                       // fetches ended so far
    std::optional<upstream_http_error> last_http_error; // of the last fetch, if upstream said no
    bool last_reply_unusable = false; // the last fetch got a 2xx without a usable token
    std::optional<wall_clock::time_point> refresh_due; // on-demand: refresh on the next request
    std::list<std::string>::iterator lru_position;     // on-demand: place in on_demand_lru_
    steady::time_point last_used{};  // on-demand: last token served, for the sweep
    bool cached = false;             // on-demand: in on_demand_ (not evicted)
    std::size_t accounted_bytes = 0; // on-demand: its part of on_demand_bytes_
    // Upstream refusals of attached tokens (decide_refusal): the token whose refusal forced a
    // refresh, whether that refresh has yet to bring a token, and the token it brought.
    std::string forced_for;
    bool forced_pending = false;
    std::string brought_by_refusal;
    asio::steady_timer wake; // the driver's sleep; cancelled to fetch early
    asio::steady_timer done; // never expires; cancelled to wake waiters when a fetch ends
};

token_store::token_store(asio::any_io_executor ex, const config& cfg, upstream_client& upstream,
                         identity_source& identity)
    : ex_(ex)
    , cfg_(cfg)
    , upstream_(upstream)
    , identity_(identity)
    , sweep_timer_(std::make_unique<asio::steady_timer>(ex))
    , rng_(std::random_device{}()) {
    for (const auto& p : cfg_.tokens)
        entries_.emplace(p.name, std::make_shared<entry>(ex_, p));
}

token_store::~token_store() {
    stop();
}

void token_store::start(std::function<void()> first_round_done) {
    started_ = true;
    first_round_done_ = std::move(first_round_done);
    first_fetches_pending_ = entries_.size();
    if (cfg_.state.persist)
        restore_persisted();
    if (first_fetches_pending_ == 0 && first_round_done_)
        first_round_done_();
    for (auto& [name, e] : entries_)
        asio::co_spawn(ex_, drive(this, e), asio::detached);
    asio::co_spawn(ex_, sweep_on_demand(this), asio::detached);
}

void token_store::stop() {
    if (stopped_)
        return;
    stopped_ = true;
    for (auto* map : {&entries_}) {
        for (auto& [name, e] : *map) {
            e->stopped = true;
            e->wake.cancel();
            e->done.cancel();
        }
    }
    for (auto& [key, e] : on_demand_) {
        e->stopped = true;
        e->done.cancel();
    }
    sweep_timer_->cancel();
}

void token_store::restore_persisted() {
    std::vector<persisted_token> saved;
    if (auto problem = read_state_file(cfg_.state.dir, saved); !problem.empty()) {
        log::warn("token_store", "ignoring the state file: " + problem);
        return;
    }
    const identity_read id = identity_.get();
    if (!id.ok() || saved.empty())
        return;
    const std::string identity_hash = sha256_hex(id.token);
    const auto now = wall_clock::now();
    for (const auto& p : saved) {
        auto it = entries_.find(p.profile);
        if (it == entries_.end())
            continue;
        entry& e = *it->second;
        if (p.identity_sha256 != identity_hash || p.product != e.cfg.product ||
            p.customer_id != e.cfg.customer_id || !same_scopes(p.scopes, e.cfg.scopes))
            continue;
        token_value v{p.token, p.token_type, p.issued_at, p.issued_at + p.lifetime};
        if (v.expires_at - now <= cfg_.refresh.min_serve_remaining)
            continue;
        e.current = std::move(v);
        secrets_stale_ = true;
        e.last_outcome = fetch_outcome::ok;
        e.last_refresh_at = p.issued_at;
        log::info("token_store",
                  "profile " + e.cfg.name + ": using the saved token, valid for " +
                      std::to_string(whole_seconds_until(e.current->expires_at, now)) +
                      " s more; no upstream call");
    }
}

void token_store::persist() {
    const identity_read id = identity_.get();
    if (!id.ok())
        return;
    const std::string identity_hash = sha256_hex(id.token);
    std::vector<persisted_token> tokens;
    for (const auto& [name, e] : entries_) {
        if (!e->current)
            continue;
        persisted_token p;
        p.profile = name;
        p.product = e->cfg.product;
        p.customer_id = e->cfg.customer_id;
        p.scopes = e->cfg.scopes;
        p.identity_sha256 = identity_hash;
        p.token = e->current->token;
        p.token_type = e->current->token_type;
        p.issued_at = e->current->issued_at;
        p.lifetime =
            std::chrono::duration_cast<seconds>(e->current->expires_at - e->current->issued_at);
        tokens.push_back(std::move(p));
    }
    if (auto problem = write_state_file(cfg_.state.dir, tokens); !problem.empty())
        log::warn("token_store", "cannot save tokens: " + problem);
}

void token_store::reload(const config& cfg) {
    const bool same_identity = cfg.identity == cfg_.identity;
    std::map<std::string, entry_ptr, std::less<>> next;
    for (const auto& p : cfg.tokens) {
        auto old = entries_.find(p.name);
        if (same_identity && old != entries_.end() && old->second->cfg == p) {
            next.emplace(p.name, old->second);
            entries_.erase(old);
            continue;
        }
        auto e = std::make_shared<entry>(ex_, p);
        next.emplace(p.name, e);
        if (started_ && !stopped_) {
            e->first_fetch_done = true; // READY=1 was decided at start
            asio::co_spawn(ex_, drive(this, e), asio::detached);
        }
    }
    for (auto& [name, e] : entries_) {
        e->stopped = true;
        e->wake.cancel();
        e->done.cancel();
        note_first_fetch_done(*e); // a dropped profile must not hold READY=1 back
    }
    entries_ = std::move(next);
    cfg_ = cfg;
    secrets_stale_ = true;
    if (!cfg_.on_demand.enabled)
        evict_on_demand(0, 0);
    else
        evict_on_demand(cfg_.on_demand.max_entries, cfg_.on_demand.max_bytes);
}

double token_store::draw(double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng_);
}

bool token_store::servable(const entry& e, wall_clock::time_point now) const {
    return e.current && e.current->expires_at - now > cfg_.refresh.min_serve_remaining;
}

bool token_store::start_fetch(entry_ptr e, bool force, std::string identity) {
    if (e->stopped)
        return false;
    // A woken driver counts as in flight: it has not resumed yet, but it will fetch.
    if (e->in_flight || e->kicked)
        return true;
    if (e->on_demand) {
        e->in_flight = true; // claimed now: the coroutine starts later, and only one may
        asio::co_spawn(ex_, fetch_in_background(this, e, std::move(identity)), asio::detached);
        return true;
    }
    // Callers may wake a backing-off driver, but not more often than retry_initial_ms: a burst
    // of requests against a failing upstream must not turn into a burst of upstream calls.
    // Nor before a Retry-After that upstream asked for.
    if (!force && e->last_attempt_end &&
        steady::now() - *e->last_attempt_end < cfg_.refresh.retry_initial)
        return false;
    if (!force && e->not_before && steady::now() < *e->not_before)
        return false;
    e->kicked = true;
    e->wake.cancel();
    return true;
}

asio::awaitable<void> token_store::fetch_in_background(token_store* self, entry_ptr e,
                                                       std::string identity) {
    co_await self->fetch(e, std::move(identity));
}

asio::awaitable<void> token_store::drive(token_store* self, entry_ptr e) {
    unsigned attempt = 0;
    if (e->current) {
        // Restored from the state file: no fetch now, refresh on the token's own schedule.
        const auto lifetime =
            std::chrono::duration_cast<seconds>(e->current->expires_at - e->current->issued_at);
        const auto due = e->current->issued_at +
                         refresh_delay(lifetime, self->cfg_.refresh, self->draw(-1.0, 1.0));
        const auto delay = std::max(
            milliseconds(0), std::chrono::duration_cast<milliseconds>(due - wall_clock::now()));
        e->next_attempt_at = wall_clock::now() + delay;
        self->note_first_fetch_done(*e);
        co_await self->sleep(e, delay);
    }
    while (!e->stopped) {
        const attempt_result r = co_await self->fetch(e);
        if (e->stopped)
            break;
        milliseconds delay{};
        if (r.ok) {
            attempt = 0;
            delay = refresh_delay(r.lifetime, self->cfg_.refresh, self->draw(-1.0, 1.0));
        } else {
            ++attempt;
            delay = backoff_delay(attempt, r.cls, r.retry_after, self->cfg_.refresh,
                                  self->draw(0.0, 1.0));
        }
        e->next_attempt_at = wall_clock::now() + delay;
        if (r.ok)
            log::debug("token_store",
                       "profile " + e->cfg.name + ": next refresh in " + seconds_text(delay));
        co_await self->sleep(e, delay);
    }
}

asio::awaitable<void> token_store::sleep(entry_ptr e, milliseconds delay) {
    const auto due = steady::now() + delay;
    const auto due_wall = wall_clock::now() + delay;
    while (!e->stopped && !e->kicked) {
        const auto now = steady::now();
        if (now >= due || wall_clock::now() >= due_wall)
            break;
        e->wake.expires_after(std::min<steady::duration>(due - now, max_sleep_chunk));
        co_await e->wake.async_wait(use_nothrow);
    }
    e->kicked = false;
}

asio::awaitable<token_store::attempt_result> token_store::fetch(entry_ptr e, std::string identity) {
    e->in_flight = true;
    attempt_result r;
    std::string problem;

    identity_read id;
    if (e->on_demand) {
        id.token = std::move(identity);
    } else {
        id = identity_.get(force_identity_reread_);
        force_identity_reread_ = false;
        if (id.ok() && id.token != identity_copy_) {
            identity_copy_ = id.token;
            secrets_stale_ = true;
        }
    }
    e->last_http_error.reset();
    e->last_reply_unusable = false;
    if (!id.ok()) {
        problem = id.error;
    } else {
        upstream_request req;
        req.method = boost::beast::http::verb::post;
        req.target = "/products/token";
        req.content_type = "application/json";
        req.body = token_request_body(e->cfg, id.token);
        upstream_result res = co_await upstream_.send(std::move(req));
        const auto now = wall_clock::now();
        if (!res.ok()) {
            problem = redact(res.ec.message() + ": " + res.detail, id.token);
        } else if (const unsigned status = res.response.result_int(); status / 100 == 2) {
            auto parsed =
                parse_token_reply(res.response.body(), cfg_.refresh.default_lifetime, now);
            if (!parsed) {
                problem = "HTTP " + std::to_string(status) + ": " + parsed.error().message();
                e->last_reply_unusable = true;
            } else {
                if (parsed->lifetime_defaulted)
                    log::warn("token_store",
                              "profile " + e->cfg.name +
                                  ": upstream gave no usable expiresIn or JWT exp; assuming "
                                  "refresh.default_lifetime_s");
                r.ok = true;
                r.lifetime = parsed->lifetime;
                e->current = token_value{std::move(parsed->token), std::move(parsed->token_type),
                                         now, now + parsed->lifetime};
                secrets_stale_ = true;
            }
        } else {
            r.cls = classify_status(status);
            upstream_http_error http_error{
                status, redact(res.response.reason(), id.token), {}, {}, {}};
            if (auto h = res.response.find(boost::beast::http::field::retry_after);
                h != res.response.end()) {
                r.retry_after = parse_retry_after(h->value(), now);
                if (r.retry_after)
                    http_error.retry_after = std::to_string(r.retry_after->count());
            }
            // For the logs and /status: no secret at all. For a drop-in caller: upstream's body
            // as it came, but for the secrets of anyone else (its own identity token stays).
            problem = describe_upstream_error(status, redact(res.response.body(), id.token));
            http_error.body = redact(res.response.body(), {}, e->on_demand ? id.token : "");
            if (auto ct = res.response.find(boost::beast::http::field::content_type);
                ct != res.response.end())
                http_error.content_type = redact(ct->value(), id.token);
            http_error.body.shrink_to_fit(); // counted by capacity for on_demand.max_bytes
            e->last_http_error = std::move(http_error);
            if (r.cls == failure_class::auth && !e->on_demand) {
                force_identity_reread_ = true;
                problem += " (identity token from " + identity_.describe() +
                           " rejected; it is re-read before the next attempt)";
            }
        }
    }

    const auto now = wall_clock::now();
    const std::string subject =
        e->on_demand ? "on-demand token for product " + e->cfg.product : "profile " + e->cfg.name;
    if (r.ok) {
        if (e->on_demand)
            e->refresh_due = now + refresh_delay(r.lifetime, cfg_.refresh, draw(-1.0, 1.0));
        if (e->forced_pending) {
            e->brought_by_refusal = e->current->token;
            secrets_stale_ = true;
            e->forced_pending = false;
        }
        ++e->refresh_count;
        e->consecutive_failures = 0;
        e->last_refresh_at = now;
        e->last_outcome = fetch_outcome::ok;
        e->last_error.clear();
        if (!e->logged_problem.empty()) {
            log::info("token_store", subject + ": upstream recovered, token " +
                                         "refreshed, valid for " +
                                         std::to_string(r.lifetime.count()) + " s");
            e->logged_problem.clear();
        } else {
            log::debug("token_store", subject + ": token refreshed, valid for " +
                                          std::to_string(r.lifetime.count()) + " s");
        }
    } else {
        ++e->consecutive_failures;
        ++(r.cls == failure_class::rejected ? e->rejections_total : e->failures_total);
        e->last_outcome =
            r.cls == failure_class::rejected ? fetch_outcome::rejected : fetch_outcome::failed;
        e->last_error = problem;
        if (problem != e->logged_problem && !e->on_demand) {
            const char* consequence =
                r.cls == failure_class::rejected
                    ? "profile marked failed; retrying at refresh.retry_max_ms"
                    : (servable(*e, now) ? "serving the current token while it lasts (stale)"
                                         : "no token to serve; retrying with backoff");
            log::write(r.cls == failure_class::transient ? log_level::warn : log_level::error,
                       "token_store",
                       subject + ": token request failed: " + problem + "; " + consequence);
            e->logged_problem = problem;
        }
    }
    if (e->on_demand && !r.ok)
        log::debug("token_store", subject + ": token request failed: " + problem);
    e->in_flight = false;
    e->last_attempt_end = steady::now();
    e->not_before.reset();
    if (r.retry_after)
        e->not_before = *e->last_attempt_end +
                        std::min<steady::duration>(*r.retry_after, cfg_.refresh.retry_max);
    ++e->generation;
    e->done.cancel();
    if (e->on_demand) {
        account_on_demand(*e);
        evict_on_demand(cfg_.on_demand.max_entries, cfg_.on_demand.max_bytes);
    }
    note_first_fetch_done(*e);
    if (!e->on_demand && on_fetch_end_)
        on_fetch_end_();
    if (r.ok && !e->on_demand && cfg_.state.persist)
        persist();
    co_return r;
}

void token_store::note_first_fetch_done(entry& e) {
    if (e.first_fetch_done || e.on_demand)
        return;
    e.first_fetch_done = true;
    if (first_fetches_pending_ > 0 && --first_fetches_pending_ == 0 && first_round_done_)
        first_round_done_();
}

serve_result token_store::failure_of(const entry& e, wall_clock::time_point now) const {
    serve_result out;
    out.outcome = serve_result::status::unavailable;
    const std::string subject =
        e.on_demand ? "on-demand token for product " + e.cfg.product : "profile " + e.cfg.name;
    out.reason = subject + " has no valid token";
    if (!e.last_error.empty())
        out.reason += ": " + e.last_error;
    out.retry_after = seconds(1);
    if (e.next_attempt_at && !e.in_flight && !e.on_demand)
        out.retry_after =
            std::max(out.retry_after, std::chrono::ceil<seconds>(*e.next_attempt_at - now));
    return out;
}

asio::awaitable<serve_result> token_store::wait_for_token(entry_ptr e, bool force_fetch) {
    const std::uint64_t generation_at_start = e->generation;
    const auto deadline = steady::now() + cfg_.upstream.request_timeout;
    asio::steady_timer timeout(ex_, deadline);
    for (;;) {
        const auto now = wall_clock::now();
        if (servable(*e, now) && !force_fetch) {
            serve_result out;
            out.outcome = serve_result::status::ok;
            out.token = *e->current;
            co_return out;
        }
        if (e->generation != generation_at_start) {
            // The fetch this caller waited for has ended without a servable token.
            serve_result out = failure_of(*e, now);
            if (servable(*e, now)) {
                out.outcome = serve_result::status::ok;
                out.token = *e->current;
            } else if (e->on_demand && e->last_http_error) {
                out.outcome = serve_result::status::upstream_error;
                out.upstream = *e->last_http_error;
            } else if (e->on_demand && e->last_reply_unusable) {
                out.outcome = serve_result::status::bad_reply;
            }
            co_return out;
        }
        const bool rejected = e->last_outcome == fetch_outcome::rejected && !e->in_flight;
        if (e->stopped || (rejected && !force_fetch) || steady::now() >= deadline ||
            !start_fetch(e, force_fetch))
            co_return failure_of(*e, now);
        force_fetch = false;
        co_await (e->done.async_wait(use_nothrow) || timeout.async_wait(use_nothrow));
    }
}

const token_value* token_store::servable_now(std::string_view name,
                                             wall_clock::time_point now) const {
    const auto it = entries_.find(name);
    if (it == entries_.end() || !servable(*it->second, now))
        return nullptr;
    return &*it->second->current;
}

asio::awaitable<serve_result> token_store::get(std::string name) {
    const auto it = entries_.find(name);
    if (it == entries_.end()) {
        serve_result out;
        out.outcome = serve_result::status::unknown_profile;
        out.reason = "no token profile named '" + name + "'";
        co_return out;
    }
    co_return co_await wait_for_token(it->second, false);
}

asio::awaitable<serve_result>
token_store::get_replacing(std::string name, std::string rejected_token, unsigned upstream_status) {
    const auto it = entries_.find(name);
    if (it == entries_.end())
        co_return co_await get(std::move(name));
    entry_ptr e = it->second;
    refusal_facts facts;
    facts.status = upstream_status;
    facts.is_current = e->current && e->current->token == rejected_token;
    if (facts.is_current)
        facts.age = std::chrono::duration_cast<seconds>(wall_clock::now() - e->current->issued_at);
    facts.brought_by_refusal =
        !e->brought_by_refusal.empty() && e->brought_by_refusal == rejected_token;
    facts.already_forced_for = !e->forced_for.empty() && e->forced_for == rejected_token;
    facts.in_flight = e->in_flight || e->kicked;
    switch (decide_refusal(facts)) {
    case refusal_step::use_current:
    case refusal_step::pass_on:
        // The current token, without a fetch: the caller retries only if it differs.
        co_return co_await wait_for_token(e, false);
    case refusal_step::join_refresh:
        co_await wait_for_fetch(e);
        co_return co_await wait_for_token(e, false);
    case refusal_step::force_refresh:
        break;
    }
    log::info("token_store", "profile " + e->cfg.name +
                                 ": upstream refused the current token (HTTP " +
                                 std::to_string(upstream_status) +
                                 "); fetching a new one, serving this one until it arrives");
    e->forced_for = std::move(rejected_token);
    e->forced_pending = true;
    e->brought_by_refusal.clear();
    secrets_stale_ = true;
    // A refresh already in flight may be about to bring the replacement: the forced wait joins it
    // rather than starting another. The refused token stays servable meanwhile (GET
    // /v1/tokens/{name} keeps answering with it) and comes back here if the refresh fails.
    co_return co_await wait_for_token(e, true);
}

const profile_config* token_store::profile_for(const token_request& req) {
    const profile_config* match = nullptr;
    for (const auto& p : cfg_.tokens) {
        if (p.product == req.product && p.customer_id == req.customer_id &&
            same_scopes(p.scopes, req.scopes)) {
            match = &p;
            break;
        }
    }
    if (match == nullptr)
        return nullptr;
    const identity_read id = identity_.get();
    return id.ok() && id.token == req.identity_token ? match : nullptr;
}

asio::awaitable<serve_result> token_store::get_on_demand(token_request req) {
    if (req.scopes)
        req.scopes = normalized_scopes(std::move(*req.scopes));
    const std::string key = on_demand_key(req);
    entry_ptr e;
    if (auto it = on_demand_.find(key); it != on_demand_.end()) {
        e = it->second;
    } else {
        evict_on_demand(cfg_.on_demand.max_entries - 1, cfg_.on_demand.max_bytes);
        profile_config pc;
        pc.name = key.substr(0, 12);
        pc.product = std::move(req.product);
        pc.customer_id = std::move(req.customer_id);
        pc.scopes = std::move(req.scopes);
        e = std::make_shared<entry>(ex_, std::move(pc));
        e->on_demand = true;
        on_demand_lru_.push_front(key);
        e->lru_position = on_demand_lru_.begin();
        e->last_used = steady::now();
        e->cached = true;
        on_demand_.emplace(key, e);
        account_on_demand(*e);
    }

    on_demand_facts facts;
    const auto now = wall_clock::now();
    facts.servable = servable(*e, now);
    facts.refresh_due = e->refresh_due && now >= *e->refresh_due;
    facts.in_flight = e->in_flight;
    facts.last_attempt_end = e->last_attempt_end;
    facts.not_before = e->not_before;
    const on_demand_decision d = decide_on_demand(facts, steady::now(), cfg_.refresh.retry_initial);
    switch (d.step) {
    case on_demand_step::serve_and_refresh:
        // In the background, with this request's identity token; this caller gets the current
        // token.
        start_fetch(e, true, std::move(req.identity_token));
        [[fallthrough]];
    case on_demand_step::serve: {
        touch_on_demand(*e);
        serve_result out;
        out.outcome = serve_result::status::ok;
        out.token = *e->current;
        co_return out;
    }
    case on_demand_step::repeat_failure:
        co_return on_demand_failure(*e, d.retry_after, true);
    case on_demand_step::fetch:
        start_fetch(e, true, std::move(req.identity_token));
        break;
    case on_demand_step::wait:
        break;
    }
    co_await wait_for_fetch(e);
    if (servable(*e, wall_clock::now())) {
        touch_on_demand(*e);
        serve_result out;
        out.outcome = serve_result::status::ok;
        out.token = *e->current;
        co_return out;
    }
    if (e->in_flight) {
        serve_result out = failure_of(*e, wall_clock::now());
        out.reason = "on-demand token for product " + e->cfg.product +
                     ": upstream has not answered within upstream.request_timeout_ms";
        co_return out;
    }
    facts = {};
    facts.last_attempt_end = e->last_attempt_end;
    facts.not_before = e->not_before;
    co_return on_demand_failure(
        *e, decide_on_demand(facts, steady::now(), cfg_.refresh.retry_initial).retry_after, false);
}

asio::awaitable<void> token_store::wait_for_fetch(entry_ptr e) {
    const std::uint64_t generation_at_start = e->generation;
    asio::steady_timer timeout(ex_, steady::now() + cfg_.upstream.request_timeout);
    while (!e->stopped && (e->in_flight || e->kicked) && e->generation == generation_at_start) {
        const auto woken =
            co_await (e->done.async_wait(use_nothrow) || timeout.async_wait(use_nothrow));
        if (woken.index() == 1)
            co_return; // timed out
    }
}

serve_result token_store::on_demand_failure(const entry& e, seconds retry_after,
                                            bool repeat) const {
    serve_result out;
    if (e.last_http_error) {
        out.outcome = serve_result::status::upstream_error;
        out.upstream = *e.last_http_error;
        // A repeated answer says when upstream may be asked again; a live one carries upstream's
        // own Retry-After, if it had one.
        if (repeat)
            out.upstream.retry_after = std::to_string(retry_after.count());
    } else if (e.last_reply_unusable) {
        out.outcome = serve_result::status::bad_reply;
    } else {
        out.outcome = serve_result::status::unavailable;
    }
    out.reason = "on-demand token for product " + e.cfg.product + " has no valid token";
    if (!e.last_error.empty())
        out.reason += ": " + e.last_error;
    out.retry_after = std::max(retry_after, seconds(1));
    return out;
}

void token_store::touch_on_demand(entry& e) {
    if (!e.cached)
        return;
    e.last_used = steady::now();
    on_demand_lru_.splice(on_demand_lru_.begin(), on_demand_lru_, e.lru_position);
}

void token_store::account_on_demand(entry& e) {
    if (!e.cached)
        return; // evicted while its fetch was in flight
    std::size_t strings = e.cfg.name.capacity() + e.cfg.product.capacity() +
                          e.cfg.customer_id.capacity() + e.last_error.capacity() +
                          e.logged_problem.capacity() + 2 * e.lru_position->capacity();
    if (e.cfg.scopes)
        for (const auto& scope : *e.cfg.scopes)
            strings += scope.capacity() + sizeof(std::string);
    if (e.current)
        strings += e.current->token.capacity() + e.current->token_type.capacity();
    if (e.last_http_error)
        strings += e.last_http_error->body.capacity() + e.last_http_error->content_type.capacity() +
                   e.last_http_error->reason.capacity() + e.last_http_error->retry_after.capacity();
    const std::size_t bytes = strings + sizeof(entry) + on_demand_entry_overhead;
    on_demand_bytes_ = on_demand_bytes_ - e.accounted_bytes + bytes;
    e.accounted_bytes = bytes;
}

void token_store::erase_on_demand(std::unordered_map<std::string, entry_ptr>::iterator it) {
    entry& e = *it->second;
    on_demand_bytes_ -= e.accounted_bytes;
    e.accounted_bytes = 0;
    e.cached = false;
    on_demand_lru_.erase(e.lru_position);
    on_demand_.erase(it);
    secrets_stale_ = true;
}

void token_store::evict_on_demand(std::size_t max_entries, std::size_t max_bytes) {
    while (!on_demand_lru_.empty() &&
           (on_demand_.size() > max_entries || on_demand_bytes_ > max_bytes))
        erase_on_demand(on_demand_.find(on_demand_lru_.back()));
}

asio::awaitable<void> token_store::sweep_on_demand(token_store* self) {
    while (!self->stopped_) {
        // Read each round: a reload may change it.
        const auto idle = self->cfg_.on_demand.idle_evict;
        const auto interval = std::clamp<steady::duration>(idle / 4, std::chrono::milliseconds(250),
                                                           std::chrono::seconds(60));
        self->sweep_timer_->expires_after(interval);
        auto [ec] = co_await self->sweep_timer_->async_wait(use_nothrow);
        if (ec || self->stopped_)
            co_return;
        const auto cutoff = steady::now() - idle;
        // The LRU list is ordered by last use: the idle entries are at its back.
        while (!self->on_demand_lru_.empty()) {
            auto it = self->on_demand_.find(self->on_demand_lru_.back());
            if (it->second->last_used > cutoff)
                break;
            self->erase_on_demand(it);
        }
    }
}

const redactor& token_store::secrets() {
    if (!secrets_stale_)
        return secrets_;
    secrets_.clear();
    if (identity_copy_.empty()) {
        if (const identity_read id = identity_.get(); id.ok())
            identity_copy_ = id.token;
    }
    secrets_.add(identity_copy_);
    auto add_tokens = [this](const entry& e) {
        if (e.current)
            secrets_.add(e.current->token);
        secrets_.add(e.forced_for);
        secrets_.add(e.brought_by_refusal);
    };
    for (const auto& [name, e] : entries_)
        add_tokens(*e);
    for (const auto& [key, e] : on_demand_)
        add_tokens(*e);
    secrets_stale_ = false;
    return secrets_;
}

std::string token_store::redact(std::string_view text, std::string_view request_secret,
                                std::string_view keep) {
    const std::string_view extra[] = {request_secret};
    return secrets().redact(text,
                            request_secret.empty() ? std::span<const std::string_view>{}
                                                   : std::span<const std::string_view>(extra),
                            keep);
}

profile_view token_store::view(const entry& e, wall_clock::time_point now) const {
    profile_view v;
    v.cfg = e.cfg;
    const profile_config* def = default_profile();
    v.is_default = def != nullptr && def->name == e.cfg.name;
    v.state = derive_state(e.current.has_value(),
                           e.current ? e.current->expires_at : wall_clock::time_point{}, now,
                           cfg_.refresh.min_serve_remaining, e.in_flight, e.last_outcome);
    if (e.current)
        v.expires_at = e.current->expires_at;
    v.refresh_at = e.next_attempt_at;
    v.last_refresh_at = e.last_refresh_at;
    v.last_error = e.last_error;
    v.consecutive_failures = e.consecutive_failures;
    v.refresh_count = e.refresh_count;
    v.failures_total = e.failures_total;
    v.rejections_total = e.rejections_total;
    return v;
}

std::vector<profile_view> token_store::profiles() const {
    std::vector<profile_view> out;
    const auto now = wall_clock::now();
    for (const auto& p : cfg_.tokens)
        out.push_back(view(*entries_.at(p.name), now));
    return out;
}

std::size_t token_store::servable_count() const {
    const auto now = wall_clock::now();
    return static_cast<std::size_t>(
        std::count_if(entries_.begin(), entries_.end(),
                      [&](const auto& kv) { return servable(*kv.second, now); }));
}

std::vector<std::string> token_store::unservable_profiles() const {
    std::vector<std::string> out;
    const auto now = wall_clock::now();
    for (const auto& p : cfg_.tokens)
        if (!servable(*entries_.at(p.name), now))
            out.push_back(p.name);
    return out;
}

const profile_config* token_store::default_profile() const {
    return cfg_.default_profile();
}

} // namespace synergy_tokend
