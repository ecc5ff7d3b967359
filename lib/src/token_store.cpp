#include "synergy_tokend/token_store.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "synergy_tokend/digest.hpp"
#include "synergy_tokend/log.hpp"
#include "synergy_tokend/shared_cache.hpp"
#include "synergy_tokend/state_file.hpp"
#include "synergy_tokend/store_policy.hpp"
#include "synergy_tokend/token_reply.hpp"
#include "synergy_tokend/upstream_client.hpp"

namespace synergy_tokend {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using namespace asio::experimental::awaitable_operators;
using std::chrono::milliseconds;
using std::chrono::seconds;
using steady = std::chrono::steady_clock;

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

std::string seconds_text(milliseconds d) {
    return std::to_string(std::chrono::duration_cast<seconds>(d).count()) + " s";
}

std::optional<std::string_view> field_of(const http::response<http::string_body>& r,
                                         http::field f) {
    const auto it = r.find(f);
    if (it == r.end())
        return std::nullopt;
    return std::string_view(it->value().data(), it->value().size());
}

} // namespace

// What the waiters of one upstream attempt wait on: a timer that never expires, cancelled when
// the attempt ends (or the store stops), so every waiter wakes at once.
struct attempt_signal {
    explicit attempt_signal(asio::any_io_executor ex)
        : done(ex, steady::time_point::max()) {}
    asio::steady_timer done;
    bool finished = false; // set before `done` is cancelled: a later waiter does not wait
    void finish() {
        finished = true;
        done.cancel();
    }
};

struct token_store::profile {
    profile(asio::any_io_executor ex, profile_config c, refresh_config r, random_source d)
        : cfg(std::move(c))
        , machine(std::move(r), std::move(d))
        , wake(ex) {}
    profile_config cfg;
    profile_machine machine;
    asio::steady_timer wake; // the driver's sleep; cancelled when the schedule changes
    signal_ptr attempt;      // of the attempt in flight (or the last one)
    bool first_fetch_done = false;
};

token_store::token_store(asio::any_io_executor ex, const config& cfg, upstream_client& upstream,
                         identity_source& identity)
    : ex_(ex)
    , cfg_(cfg)
    , upstream_(upstream)
    , identity_(identity)
    , sweep_timer_(std::make_unique<asio::steady_timer>(ex))
    , rng_(std::random_device{}())
    , changes_(ex) {
    if (cfg_.shared_cache)
        shared_ = std::make_shared<shared_cache>(ex_, *cfg_.shared_cache, cfg_.refresh,
                                                 [this] { return draw(); });
    for (const auto& p : cfg_.tokens)
        profiles_.emplace(
            p.name, std::make_shared<profile>(ex_, p, cfg_.refresh, [this] { return draw(); }));
}

token_store::~token_store() {
    stop();
}

moment token_store::now() {
    return {wall_clock::now(), steady::now()};
}

double token_store::draw() {
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

bool token_store::servable(const std::optional<token_value>& t, wall_clock::time_point now) const {
    return t && t->expires_at - now > cfg_.refresh.min_serve_remaining;
}

void token_store::start(std::function<void()> first_round_done) {
    started_ = true;
    first_round_done_ = std::move(first_round_done);
    first_fetches_pending_ = profiles_.size();
    std::map<std::string, token_value> restored;
    if (cfg_.state.persist)
        restored = restore_persisted();
    if (first_fetches_pending_ == 0 && first_round_done_)
        first_round_done_();
    const moment t = now();
    for (auto& [name, p] : profiles_) {
        std::optional<token_value> saved;
        if (auto it = restored.find(name); it != restored.end())
            saved = std::move(it->second);
        if (p->machine.start(t, std::move(saved)))
            begin_attempt(p);
        asio::co_spawn(ex_, drive(this, p), asio::detached);
    }
    asio::co_spawn(ex_, sweep_on_demand(this), asio::detached);
}

void token_store::retire(profile& p) {
    p.machine.retire();
    p.wake.cancel();
    if (p.attempt)
        p.attempt->finish(); // its waiters are refused; the attempt's end is still reported
}

void token_store::stop() {
    if (stopped_)
        return;
    stopped_ = true;
    for (auto& [name, p] : profiles_)
        retire(*p);
    on_demand_.for_each([](on_demand_entry& e) {
        if (e.attempt)
            e.attempt->finish();
    });
    sweep_timer_->cancel();
    changes_.stop();
    if (shared_)
        shared_->close(); // its idle connections' watchdogs would keep the loop running
}

std::map<std::string, token_value> token_store::restore_persisted() {
    std::map<std::string, token_value> out;
    std::vector<persisted_token> saved;
    if (auto problem = read_state_file(cfg_.state.dir, saved); !problem.empty()) {
        log::warn("token_store", "ignoring the state file: " + problem);
        return out;
    }
    const identity_read id = identity_.get();
    if (!id.ok() || saved.empty())
        return out;
    const std::string identity_hash = sha256_hex(id.token);
    const auto t = wall_clock::now();
    for (const auto& s : saved) {
        auto it = profiles_.find(s.profile);
        if (it == profiles_.end())
            continue;
        const profile_config& pc = it->second->cfg;
        if (s.identity_sha256 != identity_hash || s.product != pc.product ||
            s.customer_id != pc.customer_id || !same_scopes(s.scopes, pc.scopes))
            continue;
        token_value v{s.token, s.token_type, s.issued_at, s.issued_at + s.lifetime};
        if (!servable(v, t))
            continue;
        log::info("token_store", "profile " + pc.name + ": using the saved token, valid for " +
                                     std::to_string(whole_seconds_until(v.expires_at, t)) +
                                     " s more; no upstream call");
        out.emplace(s.profile, std::move(v));
        secrets_stale_ = true;
    }
    return out;
}

void token_store::persist() {
    const identity_read id = identity_.get();
    if (!id.ok())
        return;
    const std::string identity_hash = sha256_hex(id.token);
    std::vector<persisted_token> tokens;
    for (const auto& [name, p] : profiles_) {
        const auto& current = p->machine.current();
        if (!current)
            continue;
        persisted_token s;
        s.profile = name;
        s.product = p->cfg.product;
        s.customer_id = p->cfg.customer_id;
        s.scopes = p->cfg.scopes;
        s.identity_sha256 = identity_hash;
        s.token = current->token;
        s.token_type = current->token_type;
        s.issued_at = current->issued_at;
        s.lifetime = std::chrono::duration_cast<seconds>(current->expires_at - current->issued_at);
        tokens.push_back(std::move(s));
    }
    if (auto problem = write_state_file(cfg_.state.dir, tokens); !problem.empty())
        log::warn("token_store", "cannot save tokens: " + problem);
}

token_store::reload_counts token_store::reload(const config& cfg) {
    reload_counts counts;
    const bool same_identity = cfg.identity == cfg_.identity;
    std::map<std::string, profile_ptr, std::less<>> next;
    std::vector<profile_ptr> fresh;
    for (const auto& pc : cfg.tokens) {
        auto old = profiles_.find(pc.name);
        if (same_identity && old != profiles_.end() && same_token(old->second->cfg, pc)) {
            old->second->cfg = pc; // a new rule or default, the same token
            old->second->machine.reload(cfg.refresh);
            next.emplace(pc.name, old->second);
            profiles_.erase(old);
            ++counts.kept;
            continue;
        }
        auto p = std::make_shared<profile>(ex_, pc, cfg.refresh, [this] { return draw(); });
        next.emplace(pc.name, p);
        fresh.push_back(p);
    }
    counts.fetched = fresh.size();
    counts.dropped = profiles_.size();
    std::vector<std::string> dropped;
    for (auto& [name, p] : profiles_) {
        retire(*p);
        note_first_fetch_done(*p); // a dropped profile must not hold READY=1 back
        dropped.push_back(name);
    }
    profiles_ = std::move(next);
    if (cfg.shared_cache != cfg_.shared_cache) {
        shared_.reset(); // attempts in flight keep the one they started with
        if (cfg.shared_cache) {
            try {
                shared_ = std::make_shared<shared_cache>(ex_, *cfg.shared_cache, cfg.refresh,
                                                         [this] { return draw(); });
            } catch (const std::exception& e) {
                log::error("token_store", std::string("shared_cache not used: ") + e.what());
            }
        }
    }
    cfg_ = cfg;
    secrets_stale_ = true;
    for (const auto& name : dropped)
        changes_.changed(name);
    if (started_ && !stopped_) {
        const moment t = now();
        for (auto& p : fresh) {
            p->first_fetch_done = true; // READY=1 was decided at start
            if (p->machine.start(t))
                begin_attempt(p);
            asio::co_spawn(ex_, drive(this, p), asio::detached);
        }
    }
    if (!cfg_.on_demand.enabled)
        on_demand_.evict(0, 0);
    else
        on_demand_.evict(cfg_.on_demand.max_entries, cfg_.on_demand.max_bytes);
    return counts;
}

asio::awaitable<void> token_store::drive(token_store* self, profile_ptr p) {
    if (!p->machine.in_flight())
        self->note_first_fetch_done(*p); // restored from the state file: no first fetch
    while (!p->machine.retired()) {
        const auto at = p->machine.wake_at(now());
        // Nothing scheduled while an attempt is in flight: its end cancels the wait.
        p->wake.expires_at(at ? *at : steady::time_point::max());
        co_await p->wake.async_wait(use_nothrow);
        if (p->machine.retired())
            break;
        if (p->machine.on_timer(now()))
            self->begin_attempt(p);
    }
}

void token_store::begin_attempt(const profile_ptr& p) {
    p->attempt = std::make_shared<attempt_signal>(ex_);
    asio::co_spawn(ex_, run_attempt(this, p, p->attempt), asio::detached);
}

asio::awaitable<token_store::call_result>
token_store::call_upstream(std::string identity, std::string product, std::string customer_id,
                           std::optional<std::vector<std::string>> scopes, bool on_demand) {
    call_result out;
    attempt_result& r = out.attempt;
    const token_call call = build_token_call(identity, product, customer_id, scopes);
    upstream_request req;
    req.method = http::verb::post;
    req.target = call.target;
    req.content_type = call.content_type;
    req.body = call.body;
    upstream_result res = co_await upstream_.send(std::move(req));
    if (!res.ok()) {
        r.problem = redact(res.ec.message() + ": " + res.detail, identity);
        co_return out;
    }
    token_call_reply reply;
    reply.status = res.response.result_int();
    reply.body = res.response.body();
    reply.retry_after = field_of(res.response, http::field::retry_after);
    reply.content_type = field_of(res.response, http::field::content_type);
    token_call_result c =
        classify_token_reply(reply, cfg_.refresh.default_lifetime, wall_clock::now());
    r.cls = c.cls;
    switch (c.outcome) {
    case token_call_outcome::ok:
        r.ok = true;
        r.token = std::move(c.reply.token);
        r.token_type = std::move(c.reply.token_type);
        r.lifetime = c.reply.lifetime;
        out.lifetime_defaulted = c.reply.lifetime_defaulted;
        break;
    case token_call_outcome::bad_reply:
        r.problem = std::move(c.problem);
        out.bad_reply = true;
        break;
    case token_call_outcome::http_error: {
        r.retry_after = c.retry_after;
        upstream_http_error e{reply.status, redact(res.response.reason(), identity), {}, {}, {}};
        if (r.retry_after)
            e.retry_after = std::to_string(r.retry_after->count());
        // For the logs and /status: no secret at all. For a drop-in caller: upstream's body as it
        // came, but for the secrets of anyone else (its own identity token stays).
        r.problem = describe_upstream_error(reply.status, redact(reply.body, identity));
        e.body = redact(reply.body, {}, on_demand ? std::string_view(identity) : "");
        if (reply.content_type)
            e.content_type = redact(*reply.content_type, identity);
        e.body.shrink_to_fit(); // counted by capacity for on_demand.max_bytes
        out.http_error = std::move(e);
        break;
    }
    }
    co_return out;
}

asio::awaitable<void> token_store::run_attempt(token_store* self, profile_ptr p,
                                               signal_ptr signal) {
    const std::string subject = "profile " + p->cfg.name;
    identity_read id = self->identity_.get(self->force_identity_reread_);
    self->force_identity_reread_ = false;
    if (id.ok() && id.token != self->identity_copy_) {
        self->identity_copy_ = id.token;
        self->secrets_stale_ = true;
    }
    call_result c;
    auto publish = std::make_shared<shared_publish>();
    if (!id.ok())
        c.attempt.problem = id.error;
    else if (self->shared_)
        c = co_await fetch_shared(self, p, id.token, publish);
    else
        c = co_await self->call_upstream(id.token, p->cfg.product, p->cfg.customer_id,
                                         p->cfg.scopes, false);
    attempt_result& r = c.attempt;
    if (!r.ok && r.cls == failure_class::auth)
        r.problem += " (identity token from " + self->identity_.describe() +
                     " rejected; it is re-read before the next attempt)";
    if (r.ok && c.lifetime_defaulted)
        log::warn("token_store", subject +
                                     ": upstream gave no usable expiresIn or JWT exp; assuming "
                                     "refresh.default_lifetime_s");
    const bool ok = r.ok;
    const auto lifetime = r.lifetime;
    const std::string problem = r.problem;
    const failure_class cls = r.cls;
    const moment t = now();
    const attempt_end end = p->machine.on_attempt_end(t, std::move(r));
    if (end.reread_identity)
        self->force_identity_reread_ = true;
    if (ok) {
        self->secrets_stale_ = true; // the new token (and the one a forced refresh brought)
        if (end.log == profile_log::recovered)
            log::info("token_store", subject + ": upstream recovered, token refreshed, valid for " +
                                         std::to_string(lifetime.count()) + " s");
        else
            log::debug("token_store", subject + ": token refreshed, valid for " +
                                          std::to_string(lifetime.count()) + " s");
        log::debug("token_store", subject + ": next refresh in " + seconds_text(end.next_in));
    } else if (end.log == profile_log::failed) {
        const char* consequence = "no token to serve; retrying with backoff";
        if (end.consequence == failure_consequence::marked_failed)
            consequence = "profile marked failed; retrying at refresh.retry_max_ms";
        else if (end.consequence == failure_consequence::stale)
            consequence = "serving the current token while it lasts (stale)";
        log::write(cls == failure_class::transient ? log_level::warn : log_level::error,
                   "token_store",
                   subject + ": token request failed: " + problem + "; " + consequence);
    }
    signal->finish();
    p->wake.cancel(); // the driver sleeps until the new schedule
    if (ok && !p->machine.retired())
        self->changes_.changed(p->cfg.name);
    self->note_first_fetch_done(*p);
    if (self->on_fetch_end_)
        self->on_fetch_end_();
    if (ok && self->cfg_.state.persist && !p->machine.retired())
        self->persist();
    if (!publish->owner.empty())
        co_await finish_shared(self, p, publish);
}

void token_store::note_first_fetch_done(profile& p) {
    if (p.first_fetch_done)
        return;
    p.first_fetch_done = true;
    if (first_fetches_pending_ > 0 && --first_fetches_pending_ == 0 && first_round_done_)
        first_round_done_();
}

asio::awaitable<void> token_store::wait_for(signal_ptr signal) {
    if (!signal || signal->finished || stopped_)
        co_return;
    asio::steady_timer timeout(ex_, steady::now() + cfg_.upstream.request_timeout);
    co_await (signal->done.async_wait(use_nothrow) || timeout.async_wait(use_nothrow));
}

serve_result token_store::result_of(const profile& p, const caller_step& step) const {
    serve_result out;
    if (step.action == caller_action::serve && p.machine.current()) {
        out.outcome = serve_result::status::ok;
        out.token = *p.machine.current();
        return out;
    }
    out.outcome = serve_result::status::unavailable;
    out.reason = "profile " + p.cfg.name + " has no valid token";
    if (!p.machine.last_error().empty())
        out.reason += ": " + p.machine.last_error();
    out.retry_after = step.retry_after;
    return out;
}

asio::awaitable<serve_result> token_store::settle(profile_ptr p, caller_step step) {
    if (step.start_attempt)
        begin_attempt(p);
    if (step.action == caller_action::wait) {
        co_await wait_for(p->attempt);
        step = p->machine.after_wait(now());
    }
    co_return result_of(*p, step);
}

const token_value* token_store::servable_now(std::string_view name,
                                             wall_clock::time_point now) const {
    const auto it = profiles_.find(name);
    if (it == profiles_.end() || !it->second->machine.servable(now))
        return nullptr;
    return &*it->second->machine.current();
}

asio::awaitable<serve_result> token_store::get(std::string name) {
    const auto it = profiles_.find(name);
    if (it == profiles_.end()) {
        serve_result out;
        out.outcome = serve_result::status::unknown_profile;
        out.reason = "no token profile named '" + name + "'";
        co_return out;
    }
    profile_ptr p = it->second;
    co_return co_await settle(p, p->machine.on_caller(now()));
}

asio::awaitable<serve_result>
token_store::get_replacing(std::string name, std::string rejected_token, unsigned upstream_status) {
    const auto it = profiles_.find(name);
    if (it == profiles_.end())
        co_return co_await get(std::move(name));
    profile_ptr p = it->second;
    const caller_step step = p->machine.on_refusal(now(), rejected_token, upstream_status);
    if (step.refusal == refusal_step::force_refresh) {
        log::info("token_store", "profile " + p->cfg.name +
                                     ": upstream refused the current token (HTTP " +
                                     std::to_string(upstream_status) +
                                     "); fetching a new one, serving this one until it arrives");
        secrets_stale_ = true; // the refused token is held as forced_for
    }
    co_return co_await settle(p, step);
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
    on_demand_cache::entry_ptr e = on_demand_.find(key);
    if (!e) {
        on_demand_entry fields;
        fields.product = std::move(req.product);
        fields.customer_id = std::move(req.customer_id);
        fields.scopes = std::move(req.scopes);
        e = on_demand_.insert(key, std::move(fields), steady::now(), cfg_.on_demand.max_entries,
                              cfg_.on_demand.max_bytes);
        secrets_stale_ = true; // an eviction may have dropped a token
    }

    on_demand_facts facts;
    const auto wall = wall_clock::now();
    facts.servable = servable(e->current, wall);
    facts.refresh_due = e->refresh_due && wall >= *e->refresh_due;
    facts.in_flight = e->attempt != nullptr;
    facts.last_attempt_end = e->last_attempt_end;
    facts.not_before = e->not_before;
    const on_demand_decision d = decide_on_demand(facts, steady::now(), cfg_.refresh.retry_initial);
    switch (d.step) {
    case on_demand_step::serve_and_refresh:
        // In the background, with this request's identity token; this caller gets the current
        // token.
        begin_on_demand_attempt(e, std::move(req.identity_token));
        [[fallthrough]];
    case on_demand_step::serve: {
        on_demand_.touch(*e, steady::now());
        serve_result out;
        out.outcome = serve_result::status::ok;
        out.token = *e->current;
        co_return out;
    }
    case on_demand_step::repeat_failure:
        co_return on_demand_failure(*e, d.retry_after, true);
    case on_demand_step::fetch:
        begin_on_demand_attempt(e, std::move(req.identity_token));
        break;
    case on_demand_step::wait:
        break;
    }
    co_await wait_for(e->attempt);
    if (servable(e->current, wall_clock::now())) {
        on_demand_.touch(*e, steady::now());
        serve_result out;
        out.outcome = serve_result::status::ok;
        out.token = *e->current;
        co_return out;
    }
    if (e->attempt) {
        serve_result out;
        out.outcome = serve_result::status::unavailable;
        out.retry_after = seconds(1);
        out.reason = "on-demand token for product " + e->product +
                     ": upstream has not answered within upstream.request_timeout_ms";
        co_return out;
    }
    facts = {};
    facts.last_attempt_end = e->last_attempt_end;
    facts.not_before = e->not_before;
    co_return on_demand_failure(
        *e, decide_on_demand(facts, steady::now(), cfg_.refresh.retry_initial).retry_after, false);
}

void token_store::begin_on_demand_attempt(const on_demand_cache::entry_ptr& e,
                                          std::string identity) {
    if (stopped_)
        return;
    e->attempt = std::make_shared<attempt_signal>(ex_); // claimed now: only one may start
    asio::co_spawn(ex_, run_on_demand_attempt(this, e, std::move(identity)), asio::detached);
}

asio::awaitable<void> token_store::run_on_demand_attempt(token_store* self,
                                                         on_demand_cache::entry_ptr e,
                                                         std::string identity) {
    const std::string subject = "on-demand token for product " + e->product;
    call_result c =
        co_await self->call_upstream(identity, e->product, e->customer_id, e->scopes, true);
    const moment t = now();
    attempt_result& r = c.attempt;
    e->last_http_error = std::move(c.http_error);
    e->last_reply_unusable = c.bad_reply;
    if (r.ok) {
        if (c.lifetime_defaulted)
            log::warn("token_store", subject + ": upstream gave no usable expiresIn or JWT exp; "
                                               "assuming refresh.default_lifetime_s");
        e->current =
            token_value{std::move(r.token), std::move(r.token_type), t.wall, t.wall + r.lifetime};
        e->refresh_due =
            t.wall + refresh_delay(r.lifetime, self->cfg_.refresh, 2 * self->draw() - 1);
        e->last_error.clear();
        self->secrets_stale_ = true;
        log::debug("token_store", subject + ": token refreshed, valid for " +
                                      std::to_string(r.lifetime.count()) + " s");
    } else {
        e->last_error = r.problem;
        log::debug("token_store", subject + ": token request failed: " + r.problem);
    }
    e->last_attempt_end = t.mono;
    e->not_before.reset();
    if (r.retry_after)
        e->not_before =
            t.mono + std::min<steady::duration>(*r.retry_after, self->cfg_.refresh.retry_max);
    signal_ptr signal = std::move(e->attempt);
    e->attempt.reset();
    signal->finish();
    self->on_demand_.account(*e);
    self->on_demand_.evict(self->cfg_.on_demand.max_entries, self->cfg_.on_demand.max_bytes);
}

serve_result token_store::on_demand_failure(const on_demand_entry& e, seconds retry_after,
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
    out.reason = "on-demand token for product " + e.product + " has no valid token";
    if (!e.last_error.empty())
        out.reason += ": " + e.last_error;
    out.retry_after = std::max(retry_after, seconds(1));
    return out;
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
        const auto before = self->on_demand_.size();
        self->on_demand_.sweep(steady::now() - idle);
        if (self->on_demand_.size() != before)
            self->secrets_stale_ = true;
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
    for (const auto& [name, p] : profiles_) {
        if (p->machine.current())
            secrets_.add(p->machine.current()->token);
        secrets_.add(p->machine.forced_for());
        secrets_.add(p->machine.brought_by_refusal());
    }
    on_demand_.for_each([this](on_demand_entry& e) {
        if (e.current)
            secrets_.add(e.current->token);
    });
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

profile_view token_store::view(const profile& p, moment t) const {
    const profile_machine& m = p.machine;
    profile_view v;
    v.cfg = p.cfg;
    const profile_config* def = default_profile();
    v.is_default = def != nullptr && def->name == p.cfg.name;
    v.state = m.state(t);
    if (m.current())
        v.expires_at = m.current()->expires_at;
    v.refresh_at = m.next_attempt_at();
    v.last_refresh_at = m.last_refresh_at();
    v.last_error = m.last_error();
    v.consecutive_failures = m.consecutive_failures();
    v.refresh_count = m.refresh_count();
    v.failures_total = m.failures_total();
    v.rejections_total = m.rejections_total();
    return v;
}

std::vector<profile_view> token_store::profiles() const {
    std::vector<profile_view> out;
    const moment t = now();
    for (const auto& pc : cfg_.tokens)
        out.push_back(view(*profiles_.at(pc.name), t));
    return out;
}

std::size_t token_store::servable_count() const {
    const auto t = wall_clock::now();
    return static_cast<std::size_t>(
        std::count_if(profiles_.begin(), profiles_.end(),
                      [&](const auto& kv) { return kv.second->machine.servable(t); }));
}

std::vector<std::string> token_store::unservable_profiles() const {
    std::vector<std::string> out;
    const auto t = wall_clock::now();
    for (const auto& pc : cfg_.tokens)
        if (!profiles_.at(pc.name)->machine.servable(t))
            out.push_back(pc.name);
    return out;
}

const profile_config* token_store::default_profile() const {
    return cfg_.default_profile();
}

// --- attempts with a shared cache (PRODUCT.md §10): the glue that carries out shared_attempt's
// steps (shared_cache_policy.hpp) with shared_cache's Redis operations (shared_cache.hpp) ---------

asio::awaitable<token_store::call_result>
token_store::fetch_shared(token_store* self, profile_ptr p, std::string identity,
                          std::shared_ptr<shared_publish> publish) {
    std::shared_ptr<shared_cache> sc = self->shared_;
    const moment start = now();
    if (!sc || !sc->link().use_redis(start.mono))
        co_return co_await self->call_upstream(identity, p->cfg.product, p->cfg.customer_id,
                                               p->cfg.scopes, false);
    const profile_machine& m = p->machine;
    const shared_cache_config& scfg = sc->config();
    const std::string subject = "profile " + p->cfg.name;
    const std::string name =
        sc->entry_name(identity, profile_key(p->cfg.product, p->cfg.customer_id, p->cfg.scopes));
    const shared_keys keys = sc->keys(identity);
    shared_attempt_config ac;
    ac.lease = scfg.lease;
    ac.poll_interval = shared_poll_interval(scfg.lease);
    ac.wait_limit = self->cfg_.upstream.request_timeout;
    ac.refresh = self->cfg_.refresh;
    shared_attempt attempt(ac, 2 * self->draw() - 1, start);
    // The first read and the first lease share one deadline: a caller with nothing to serve
    // waits on Redis at most timeout_ms before the wait for a holder (or its own fetch) begins.
    const auto first_deadline = steady::now() + scfg.timeout;
    shared_step step = attempt.first();
    std::optional<shared_entry> entry;
    asio::steady_timer timer(self->ex_);
    for (;;) {
        if (m.retired() || self->stopped_) {
            call_result stopped;
            stopped.attempt.problem = "stopped";
            co_return stopped;
        }
        const auto deadline = attempt.waited() ? steady::now() + scfg.timeout : first_deadline;
        switch (step.action) {
        case shared_action::read: {
            shared_read r = co_await sc->read(name, keys, deadline);
            entry = std::move(r.entry);
            std::optional<token_times> times;
            if (entry)
                times = token_times{entry->issued_at, entry->expires_at};
            const moment t = now();
            const bool is_current = entry && m.current() && m.current()->token == entry->token;
            step = attempt.on_read(t, r.outcome, times, is_current, m.servable(t));
            break;
        }
        case shared_action::take_lease: {
            std::string owner = sc->new_owner();
            const lease_outcome l = co_await sc->take_lease(name, owner, deadline);
            if (l == lease_outcome::won) {
                publish->name = name;
                publish->owner = std::move(owner);
                publish->identity = identity;
                log::debug("shared_cache", subject + ": took the lease to refresh for the fleet");
            }
            const moment t = now();
            step = attempt.on_lease(t, l, m.servable(t));
            break;
        }
        case shared_action::sleep:
            timer.expires_after(step.sleep_for);
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
            step = {shared_action::read};
            break;
        case shared_action::adopt: {
            ++sc->link().hits;
            call_result c;
            c.attempt.ok = true;
            c.attempt.token = std::move(entry->token);
            c.attempt.token_type = std::move(entry->token_type);
            c.attempt.issued_at = entry->issued_at;
            c.attempt.lifetime = std::chrono::duration_cast<std::chrono::seconds>(
                entry->expires_at - entry->issued_at);
            log::debug("shared_cache", subject + ": using the fleet's token; no upstream call");
            co_return c;
        }
        case shared_action::fetch_holder: {
            call_result c = co_await self->call_upstream(identity, p->cfg.product,
                                                         p->cfg.customer_id, p->cfg.scopes, false);
            publish->write = c.attempt.ok;
            co_return c;
        }
        case shared_action::fetch_alone:
            if (attempt.waited())
                log::debug("shared_cache",
                           subject + ": no token from the lease holder in time; fetching");
            co_return co_await self->call_upstream(identity, p->cfg.product, p->cfg.customer_id,
                                                   p->cfg.scopes, false);
        }
    }
}

asio::awaitable<void> token_store::finish_shared(token_store* self, profile_ptr p,
                                                 std::shared_ptr<shared_publish> publish) {
    std::shared_ptr<shared_cache> sc = self->shared_;
    if (!sc)
        co_return;
    const profile_machine& m = p->machine;
    if (!publish->write || !m.current()) {
        co_await sc->release(publish->name, publish->owner);
        co_return;
    }
    const token_value& t = *m.current();
    // The entry lives while the token is servable, not a moment longer.
    const auto ttl = std::chrono::duration_cast<milliseconds>(
        t.expires_at - wall_clock::now() - self->cfg_.refresh.min_serve_remaining);
    // Named, then moved: GCC 12 destroys a braced temporary passed to a coroutine twice.
    shared_entry entry{t.token, t.token_type, t.issued_at, t.expires_at};
    shared_keys keys = sc->keys(publish->identity);
    co_await sc->publish(publish->name, keys, std::move(entry), ttl, publish->owner);
}

std::optional<shared_cache_view> token_store::shared_view() const {
    if (!shared_)
        return std::nullopt;
    return shared_->view();
}

} // namespace synergy_tokend
