#include "synergy_tokend/service.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <exception>
#include <memory>
#include <sys/resource.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "synergy_tokend/cli.hpp"
#include "synergy_tokend/identity_source.hpp"
#include "synergy_tokend/local_api.hpp"
#include "synergy_tokend/local_server.hpp"
#include "synergy_tokend/log.hpp"
#include "synergy_tokend/reload_plan.hpp"
#include "synergy_tokend/service_notifier.hpp"
#include "synergy_tokend/token_sinks.hpp"
#include "synergy_tokend/token_store.hpp"
#include "synergy_tokend/upstream_client.hpp"

namespace synergy_tokend {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

std::string join(const std::vector<std::string>& items, const char* sep) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty())
            out += sep;
        out += item;
    }
    return out;
}

// Everything the running daemon owns, on one io_context.
class daemon_service {
public:
    daemon_service(const config& cfg, std::string config_path)
        : config_(cfg)
        , config_path_(std::move(config_path))
        , identity_(cfg.identity) {}

    int run();

private:
    void on_ready();
    void update_status();
    std::string servable_summary();
    void wait_stop_signal();
    void wait_hup();
    void reload();
    void wait_watchdog();
    void trim_heap_periodically();
    void finish();

    // One thread runs everything. The resolver's private thread only posts its completions
    // through the scheduler, which stays locked; the reactor's per-socket locks would be pure
    // cost on every read and write.
    asio::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
    config config_; // the running configuration; local_api reads it by reference
    std::string config_path_;
    identity_source identity_;
    service_notifier notifier_;
    std::unique_ptr<upstream_client> upstream_;
    std::unique_ptr<token_store> store_;
    std::unique_ptr<local_api> api_;
    std::unique_ptr<token_sinks> sinks_;
    std::unique_ptr<local_server> server_;
    asio::signal_set stop_signals_{io_, SIGTERM, SIGINT};
    asio::signal_set hup_{io_, SIGHUP};
    asio::steady_timer grace_{io_};
    asio::steady_timer startup_{io_};
    asio::steady_timer watchdog_{io_};
    asio::steady_timer heap_trim_{io_};
    bool ready_ = false;
    bool stopping_ = false;
    std::string last_status_;
};

// Raises the soft file-descriptor limit so that listen.max_connections clients, the upstream
// pool, the listeners and the files the daemon reads fit (the usual soft limit is 1024, below
// the default max_connections plus the rest). Never lowers it; says so when the hard limit is
// too low, as connections beyond it would fail to be accepted.
void raise_descriptor_limit(const config& cfg) {
    const rlim_t wanted = static_cast<rlim_t>(cfg.listen.max_connections) +
                          static_cast<rlim_t>(cfg.upstream.max_connections) + 64;
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= wanted)
        return;
    const rlim_t raised = lim.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, lim.rlim_max);
    const rlim_t before = lim.rlim_cur;
    lim.rlim_cur = raised;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0 || raised < wanted)
        log::warn("service", "file descriptor limit " + std::to_string(before) + " (hard " +
                                 std::to_string(lim.rlim_max) + ") is below the " +
                                 std::to_string(wanted) +
                                 " that listen.max_connections needs; raise LimitNOFILE=");
}

int daemon_service::run() {
    log::set_level(config_.log);
    // A client that disconnects mid-write must not kill the daemon.
    std::signal(SIGPIPE, SIG_IGN);
    raise_descriptor_limit(config_);

    try {
        upstream_ = std::make_unique<upstream_client>(io_.get_executor(), config_.upstream);
    } catch (const std::exception& e) {
        log::error("service", std::string("cannot start: ") + e.what());
        return exit_code::failure;
    }
    if (auto id = identity_.get(); !id.ok())
        log::warn("service", id.error + "; token requests fail until it is readable");

    try {
        store_ = std::make_unique<token_store>(io_.get_executor(), config_, *upstream_, identity_);
    } catch (const std::exception& e) { // shared_cache: an unreadable password or CA file
        log::error("service", std::string("cannot start: ") + e.what());
        return exit_code::failure;
    }
    api_ = std::make_unique<local_api>(config_, *store_, *upstream_);
    sinks_ = std::make_unique<token_sinks>(io_.get_executor(), *store_, config_);
    api_->set_sink_counts([this] {
        std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> out;
        for (const auto& [name, c] : sinks_->counts())
            out[name] = {c.writes, c.failures};
        return out;
    });
    server_ = std::make_unique<local_server>(io_.get_executor(), config_.listen, *api_);
    if (auto problem = server_->open(); !problem.empty()) {
        log::error("service", "cannot start: " + problem);
        return exit_code::failure;
    }
    api_->set_listener_info([this] {
        return local_api::listener_info{server_->describe_listeners(), server_->open_connections()};
    });

    wait_stop_signal();
    wait_hup();
    wait_watchdog();
    trim_heap_periodically();
    store_->on_fetch_end([this] { update_status(); });
    store_->start([this] { on_ready(); });
    sinks_->start();
    startup_.expires_after(config_.service.startup_timeout);
    startup_.async_wait([this](const error_code& ec) {
        if (!ec && !ready_) {
            log::warn("service", "service.startup_timeout_s passed before every profile's first "
                                 "fetch ended; ready anyway");
            on_ready();
        }
    });
    server_->start();
    log::info("service", "synergy-tokend " SYNERGY_TOKEND_VERSION " listening on " +
                             join(server_->describe_listeners(), ", ") + "; upstream " +
                             config_.upstream.base_url);
    io_.run();
    log::info("service", "stopped");
    return exit_code::ok;
}

void daemon_service::on_ready() {
    if (ready_ || stopping_)
        return;
    ready_ = true;
    startup_.cancel();
    log::info("service", "ready: " + servable_summary());
    notifier_.notify("READY=1");
    update_status();
}

// "1/1 tokens servable", with the reason when a missing identity token holds every fetch back
// ("0/1 tokens servable: identity token file /etc/synergy-tokend/identity-token missing"), so that
// `systemctl status` tells an operator who has not put it in place yet what to do.
std::string daemon_service::servable_summary() {
    const std::size_t servable = store_->servable_count();
    std::string summary =
        std::to_string(servable) + "/" + std::to_string(config_.tokens.size()) + " tokens servable";
    if (servable < config_.tokens.size())
        if (const identity_read id = identity_.get(); !id.ok())
            summary += ": " + id.error;
    return summary;
}

void daemon_service::update_status() {
    std::string status = servable_summary();
    if (status == last_status_ || !ready_)
        return;
    last_status_ = status;
    notifier_.notify("STATUS=" + status);
}

void daemon_service::wait_stop_signal() {
    stop_signals_.async_wait([this](const error_code& ec, int signo) {
        if (ec || stopping_)
            return;
        stopping_ = true;
        notifier_.notify("STOPPING=1");
        log::info("service", std::string("received ") + (signo == SIGINT ? "SIGINT" : "SIGTERM") +
                                 ", finishing requests in flight");
        hup_.cancel();
        startup_.cancel();
        heap_trim_.cancel();
        store_->changes().stop(); // held change waits answer now, not at their end
        server_->stop([this] { finish(); });
        grace_.expires_after(config_.service.shutdown_grace);
        grace_.async_wait([this](const error_code& gec) {
            if (gec)
                return;
            log::warn("service", "service.shutdown_grace_s over; closing remaining connections");
            finish();
        });
    });
}

void daemon_service::finish() {
    store_->stop();
    upstream_->shutdown();
    io_.stop();
}

void daemon_service::wait_hup() {
    hup_.async_wait([this](const error_code& ec, int) {
        if (ec || stopping_)
            return;
        reload();
        wait_hup();
    });
}

void daemon_service::reload() {
    notifier_.notify("RELOADING=1\n" + service_notifier::monotonic_usec());
    log::info("service", "SIGHUP: reloading " + config_path_);
    auto parsed = load_config_file(config_path_);
    if (!parsed.ok()) {
        for (const auto& e : parsed.errors)
            log::error("config", e);
        log::error("service", "reload failed: keeping the running configuration");
    } else {
        reload_plan plan = plan_reload(config_, std::move(parsed.value));
        for (const auto& line : plan.restart_needed)
            log::warn("service", line);
        if (plan.identity_changed)
            identity_ = identity_source(plan.apply.identity);
        config next = std::move(plan.apply);
        const auto counts = store_->reload(next);
        config_ = std::move(next);
        sinks_->reload();
        log::set_level(config_.log);
        log::info("service", "configuration reloaded: " + std::to_string(config_.tokens.size()) +
                                 " token profile(s), " + std::to_string(counts.kept) +
                                 " kept with their tokens, " + std::to_string(counts.fetched) +
                                 " to fetch, " + std::to_string(counts.dropped) + " dropped");
    }
    store_->reread_identity();
    api_->accounts().clear(); // user and group changes count from the next connection on
    last_status_.clear();
    notifier_.notify("READY=1");
    update_status();
}

void daemon_service::wait_watchdog() {
    const auto interval = notifier_.watchdog_interval();
    if (!interval || stopping_)
        return;
    notifier_.notify("WATCHDOG=1");
    watchdog_.expires_after(*interval);
    watchdog_.async_wait([this](const error_code& ec) {
        if (!ec)
            wait_watchdog();
    });
}

// glibc keeps the heap that bursts freed (the start-up TLS handshakes, upstream connections closed
// after upstream.idle_timeout_s, a thousand clients gone) inside the process, scattered between
// live blocks where its own trimming at the top of the heap does not reach. malloc_trim hands
// every free page back, so that a quiet daemon's resident memory is what it holds. It costs
// microseconds on a heap this size; every 10 s is often enough to follow the load down.
void daemon_service::trim_heap_periodically() {
#if defined(__GLIBC__)
    heap_trim_.expires_after(std::chrono::seconds(10));
    heap_trim_.async_wait([this](const error_code& ec) {
        if (ec || stopping_)
            return;
        ::malloc_trim(0);
        trim_heap_periodically();
    });
#endif
}

} // namespace

int run_daemon(const config& cfg, const std::string& config_path) {
    daemon_service service(cfg, config_path);
    return service.run();
}

} // namespace synergy_tokend
