#include "synergy_tokend/service.hpp"

#include <csignal>
#include <exception>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "synergy_tokend/identity_source.hpp"
#include "synergy_tokend/local_api.hpp"
#include "synergy_tokend/local_server.hpp"
#include "synergy_tokend/log.hpp"
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

} // namespace

int run_daemon(const config& cfg) {
    log::set_level(cfg.log);
    // A client that disconnects mid-write must not kill the daemon.
    std::signal(SIGPIPE, SIG_IGN);

    asio::io_context io(1);
    std::unique_ptr<upstream_client> upstream;
    try {
        upstream = std::make_unique<upstream_client>(io.get_executor(), cfg.upstream);
    } catch (const std::exception& e) {
        log::error("service", std::string("cannot start: ") + e.what());
        return 1;
    }
    identity_source identity(cfg.identity);
    if (auto id = identity.get(); !id.ok())
        log::warn("service", id.error + "; token requests fail until it is readable");

    token_store store(io.get_executor(), cfg, *upstream, identity);
    local_api api(cfg, store, *upstream);
    local_server server(io.get_executor(), cfg.listen, api);
    if (auto problem = server.open(); !problem.empty()) {
        log::error("service", "cannot start: " + problem);
        return 1;
    }

    asio::signal_set stop_signals(io, SIGTERM, SIGINT);
    asio::signal_set hup(io, SIGHUP);
    asio::steady_timer grace(io);
    bool stopping = false;

    auto finish = [&] {
        store.stop();
        upstream->shutdown();
        io.stop();
    };
    stop_signals.async_wait([&](const error_code& ec, int signo) {
        if (ec || stopping)
            return;
        stopping = true;
        log::info("service", std::string("received ") + (signo == SIGINT ? "SIGINT" : "SIGTERM") +
                                 ", finishing requests in flight");
        hup.cancel();
        server.stop([&] { finish(); });
        grace.expires_after(cfg.service.shutdown_grace);
        grace.async_wait([&](const error_code& gec) {
            if (gec)
                return;
            log::warn("service", "shutdown grace period over; closing remaining connections");
            finish();
        });
    });
    std::function<void()> wait_hup = [&] {
        hup.async_wait([&](const error_code& ec, int) {
            if (ec)
                return;
            log::info("service", "SIGHUP: the identity token is re-read before the next fetch");
            store.reread_identity();
            wait_hup();
        });
    };
    wait_hup();

    store.start([&] {
        log::info("service", "first fetch done: " + std::to_string(store.servable_count()) + "/" +
                                 std::to_string(cfg.tokens.size()) + " tokens servable");
    });
    server.start();
    log::info("service", "synergy-tokend " SYNERGY_TOKEND_VERSION " listening on " +
                             join(server.describe_listeners(), ", ") + "; upstream " +
                             cfg.upstream.base_url);
    io.run();
    log::info("service", "stopped");
    return 0;
}

} // namespace synergy_tokend
