// Connection limits on the wire (PRODUCT.md §6, issue 5): slow clients are cut off after
// listen.request_timeout_s (10 s by default, shortened here so the suite does not wait for it),
// connections beyond listen.max_connections are closed at once, pipelined requests are answered
// in order, and 1,000 concurrent connections of which 100 are slowloris leave every well-behaved
// client served, memory bounded and no file descriptor behind.
#include <algorithm>
#include <atomic>
#include <dirent.h>
#include <fstream>
#include <random>
#include <sys/resource.h>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/test/unit_test.hpp>

#include "harness.hpp"

using namespace tokend_test;
namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

namespace {

std::string config_for(const mock_upstream& mock, const std::string& listen_extra = "") {
    return R"({"upstream":{"base_url":")" + mock.base_url() + R"(","ca_file":")" + mock.ca_file() +
           R"("},"listen":{"tcp":["127.0.0.1:0"])" + listen_extra +
           R"(},"tokens":[{"name":"stats","product":"synergy-stats","customer_id":"345"}]})";
}

const std::string token_request = "GET /v1/tokens/stats HTTP/1.1\r\nHost: localhost\r\n"
                                  "X-Tokend-Request: 1\r\n\r\n";

// Lets this process (and the daemon it starts) hold a few thousand sockets.
void raise_own_descriptor_limit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < 8192) {
        lim.rlim_cur = std::min<rlim_t>(8192, lim.rlim_max);
        ::setrlimit(RLIMIT_NOFILE, &lim);
    }
}

std::size_t open_descriptors(int pid) {
    std::size_t n = 0;
    if (DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
        while (const dirent* e = ::readdir(d))
            n += e->d_name[0] != '.';
        ::closedir(d);
    }
    return n;
}

// A blocking connection for the small tests, with a receive timeout.
struct client {
    asio::io_context ctx;
    tcp::socket sock{ctx};
    explicit client(unsigned short port) {
        sock.connect({asio::ip::make_address("127.0.0.1"), port});
        timeval tv{20, 0};
        ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    void send(const std::string& bytes) { asio::write(sock, asio::buffer(bytes)); }
    // Reads one response; status 0 when the connection was closed (or timed out) instead.
    unsigned read_response(boost::beast::flat_buffer& buf, std::string* body = nullptr) {
        http::response<http::string_body> res;
        boost::system::error_code ec;
        http::read(sock, buf, res, ec);
        if (ec)
            return 0;
        if (body)
            *body = res.body();
        return res.result_int();
    }
    // Slowloris: sends `first_line`, then one more header byte every 250 ms. Returns the
    // seconds from the first byte until a write fails (the daemon cut the connection), or -1
    // when it still takes bytes after `limit`.
    double dribble_until_cut(const std::string& first_line, std::chrono::seconds limit) {
        const auto start = steady::now();
        send(first_line);
        while (steady::now() - start < limit) {
            std::this_thread::sleep_for(250ms);
            boost::system::error_code ec;
            asio::write(sock, asio::buffer("X", 1), ec);
            if (ec)
                return std::chrono::duration<double>(steady::now() - start).count();
        }
        return -1;
    }
    // Seconds until the peer closes the connection (reads and discards), or -1 after `limit`.
    double seconds_until_closed(std::chrono::seconds limit) {
        const auto start = steady::now();
        char scratch[512];
        while (steady::now() - start < limit) {
            boost::system::error_code ec;
            sock.read_some(asio::buffer(scratch), ec);
            if (ec == asio::error::eof || ec == asio::error::connection_reset)
                return std::chrono::duration<double>(steady::now() - start).count();
        }
        return -1;
    }
};

} // namespace

BOOST_AUTO_TEST_SUITE(limits)

// The limits are listen.request_timeout_s and listen.keepalive_idle_s; a test at their defaults
// (10 s, 60 s) would wait as long, so they are 1 s and 3 s here (2 s for the soak below): what
// is checked is which limit applies when, and that a connection still sending bytes is cut all
// the same.
constexpr double request_timeout_s = 1;
constexpr double soak_request_timeout_s = 2;

BOOST_AUTO_TEST_CASE(slow_clients_are_cut_off_after_the_request_timeout_while_others_are_served) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, R"(,"request_timeout_s":1,"keepalive_idle_s":3)"));
    const unsigned short port = daemon.tcp().port;

    // Silent: connects and sends nothing.
    double silent_closed_after = -1;
    std::atomic<bool> silent_closed{false};
    std::thread silent([&] {
        client c(port);
        silent_closed_after = c.seconds_until_closed(20s);
        silent_closed = true;
    });
    // Slowloris: a request line, then one header byte every 250 ms, forever.
    double dribbler_closed_after = -1;
    std::thread dribbler([&] {
        client c(port);
        dribbler_closed_after = c.dribble_until_cut("GET /healthz HTTP/1.1\r\n", 20s);
    });
    // Kept alive after one request, idle longer than the request timeout (but within the 3 s
    // allowed for idling), then a slow second request: cut 1 s after that request's first byte.
    double second_request_cut_after = -1;
    std::thread idler([&] {
        client c(port);
        c.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
        boost::beast::flat_buffer buf;
        if (c.read_response(buf) != 200)
            return;
        // Idle until the silent connection, opened with this one, is cut: past the request
        // timeout for sure, then a little more.
        const auto by = steady::now() + 5s;
        while (!silent_closed && steady::now() < by)
            std::this_thread::sleep_for(20ms);
        std::this_thread::sleep_for(300ms);
        second_request_cut_after = c.dribble_until_cut("GET /healthz HTTP/1.1\r\n", 20s);
    });
    // Meanwhile others are served at once, while the three above are held open.
    std::this_thread::sleep_for(500ms);
    for (int i = 0; i < 5; ++i)
        BOOST_CHECK_EQUAL(daemon.get_token("stats").status, 200u);
    silent.join();
    dribbler.join();
    idler.join();
    BOOST_TEST_MESSAGE("kept-alive connection's slow second request cut after "
                       << second_request_cut_after << " s");
    BOOST_CHECK(second_request_cut_after >= request_timeout_s - 0.2 &&
                second_request_cut_after <= request_timeout_s + 1.5);
    BOOST_TEST_MESSAGE("silent connection closed after "
                       << silent_closed_after << " s, slowloris cut after " << dribbler_closed_after
                       << " s");
    BOOST_CHECK(silent_closed_after >= request_timeout_s - 0.2 &&
                silent_closed_after <= request_timeout_s + 1.0);
    // The write that fails comes at most 250 ms after the close, and a reset takes one more.
    BOOST_CHECK(dribbler_closed_after >= request_timeout_s - 0.2 &&
                dribbler_closed_after <= request_timeout_s + 1.5);
    BOOST_CHECK(daemon.proc().running());
}

BOOST_AUTO_TEST_CASE(connections_beyond_max_connections_are_closed_at_once) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, R"(,"max_connections":4)"));
    const unsigned short port = daemon.tcp().port;
    std::vector<std::unique_ptr<client>> held;
    for (int i = 0; i < 4; ++i) {
        held.push_back(std::make_unique<client>(port));
        held.back()->send(token_request);
        boost::beast::flat_buffer buf;
        BOOST_REQUIRE_EQUAL(held.back()->read_response(buf), 200u);
    }
    // The fifth is accepted by the kernel and closed by the daemon without a reply.
    {
        client extra(port);
        const double closed_after = extra.seconds_until_closed(5s);
        BOOST_TEST_MESSAGE("fifth connection closed after " << closed_after << " s");
        BOOST_CHECK(closed_after >= 0 && closed_after < 1.0);
    }
    // The four kept-alive ones still work; after one leaves, a newcomer is served.
    for (auto& c : held) {
        c->send(token_request);
        boost::beast::flat_buffer buf;
        BOOST_CHECK_EQUAL(c->read_response(buf), 200u);
    }
    held.pop_back();
    std::this_thread::sleep_for(200ms);
    client newcomer(port);
    newcomer.send(token_request);
    boost::beast::flat_buffer buf;
    BOOST_CHECK_EQUAL(newcomer.read_response(buf), 200u);
}

BOOST_AUTO_TEST_CASE(pipelined_requests_are_answered_in_order) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    client c(daemon.tcp().port);
    // Three requests in one write; the last asks the daemon to close after answering.
    c.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n" + token_request +
           "GET /nope HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    boost::beast::flat_buffer buf;
    std::string body;
    BOOST_CHECK_EQUAL(c.read_response(buf, &body), 200u);
    BOOST_CHECK(body.find("\"ok\"") != std::string::npos || body.find("data") != std::string::npos);
    BOOST_CHECK_EQUAL(c.read_response(buf, &body), 200u);
    BOOST_CHECK(body.find("\"token\"") != std::string::npos);
    BOOST_CHECK_EQUAL(c.read_response(buf, &body), 404u);
    BOOST_CHECK_GE(c.seconds_until_closed(5s), 0.0);
}

// 900 well-behaved keep-alive clients asking for a token about once a second, and 100 slowloris
// clients dribbling one header line every 500 ms (and reconnecting when cut off), for 8 s. The
// request timeout is 2 s (listen.request_timeout_s), so in those 8 s every slowloris client is
// cut and reconnects three times or so: the same churn of cut connections, memory under load and
// descriptors given back that a 30 s run at the default 10 s showed, in a quarter of the time.
BOOST_AUTO_TEST_CASE(thousand_connections_with_a_hundred_slowloris) {
    raise_own_descriptor_limit();
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, R"(,"request_timeout_s":2)"));
    BOOST_REQUIRE_EQUAL(daemon.get_token("stats").status, 200u);
    const int pid = daemon.proc().pid();
    std::this_thread::sleep_for(300ms);
    const std::size_t fds_before = open_descriptors(pid);
    const long rss_before = resident_kib(pid);

    constexpr int good_clients = 900;
    constexpr int slow_clients = 100;
    constexpr auto run_for = 8s;
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), daemon.tcp().port);
    asio::io_context ctx;
    const auto end = steady::now() + run_for;
    std::uint64_t served = 0, failed = 0, cut_off = 0, slow_served = 0;
    double longest_slow_connection_s = 0; // from its first byte to noticing the cut
    long rss_peak = rss_before;
    std::size_t open_at_peak = 0;

    auto good = [&](int index) -> asio::awaitable<void> {
        tcp::socket sock(ctx);
        auto [cec] = co_await sock.async_connect(ep, nothrow);
        if (cec) {
            ++failed;
            co_return;
        }
        boost::beast::flat_buffer buf;
        asio::steady_timer pause(ctx);
        std::minstd_rand rng(static_cast<unsigned>(index));
        pause.expires_after(std::chrono::milliseconds(rng() % 1000));
        co_await pause.async_wait(nothrow);
        while (steady::now() < end) {
            auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(token_request), nothrow);
            http::response<http::string_body> res;
            auto [rec, rn] = co_await http::async_read(sock, buf, res, nothrow);
            if (wec || rec || res.result_int() != 200) {
                ++failed;
                co_return;
            }
            ++served;
            pause.expires_after(std::chrono::milliseconds(900 + rng() % 200));
            co_await pause.async_wait(nothrow);
        }
    };
    auto slow = [&]() -> asio::awaitable<void> {
        asio::steady_timer pause(ctx);
        while (steady::now() < end) {
            tcp::socket sock(ctx);
            auto [cec] = co_await sock.async_connect(ep, nothrow);
            if (cec)
                co_return;
            const auto first_byte = steady::now();
            std::string next = "GET /v1/tokens/stats HTTP/1.1\r\n";
            for (int line = 0; steady::now() < end; ++line) {
                auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(next), nothrow);
                if (wec)
                    break;
                next = "X-Slow-" + std::to_string(line) + ": 1\r\n";
                pause.expires_after(500ms);
                co_await pause.async_wait(nothrow);
                // Cut off: the daemon closed its end; a read sees it at once.
                if (sock.available() > 0) {
                    ++slow_served; // must never happen: the request is never complete
                    break;
                }
                char probe;
                ::ssize_t got = ::recv(sock.native_handle(), &probe, 1, MSG_DONTWAIT | MSG_PEEK);
                if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
                    break;
            }
            if (steady::now() < end) {
                ++cut_off;
                longest_slow_connection_s =
                    std::max(longest_slow_connection_s,
                             std::chrono::duration<double>(steady::now() - first_byte).count());
            }
        }
    };
    for (int i = 0; i < good_clients; ++i)
        asio::co_spawn(ctx, good(i), asio::detached);
    for (int i = 0; i < slow_clients; ++i)
        asio::co_spawn(ctx, slow(), asio::detached);
    // Memory and connection samples while the load runs.
    asio::steady_timer sampler(ctx);
    std::function<void()> sample = [&] {
        const long rss = resident_kib(pid);
        if (rss > rss_peak) {
            rss_peak = rss;
            open_at_peak = open_descriptors(pid);
        }
        if (steady::now() + 1s < end) {
            sampler.expires_after(1s);
            sampler.async_wait([&](const boost::system::error_code&) { sample(); });
        }
    };
    sampler.expires_after(1s);
    sampler.async_wait([&](const boost::system::error_code&) { sample(); });
    ctx.run();

    BOOST_TEST_MESSAGE(served << " requests served to " << good_clients << " clients, " << failed
                              << " failed; slowloris connections cut off " << cut_off
                              << " times (longest lived " << longest_slow_connection_s
                              << " s); VmRSS " << rss_before << " KiB before, peak " << rss_peak
                              << " KiB with " << open_at_peak << " descriptors open");
    BOOST_CHECK_EQUAL(failed, 0u);
    // About one request a second each after a start spread over the first second.
    BOOST_CHECK_GE(served, good_clients * 6u);
    BOOST_CHECK_EQUAL(slow_served, 0u);
    // Each slowloris connection is cut 2 s after its first byte (noticed at its next 500 ms
    // tick), and reconnects: two cuts each at least in 8 s.
    BOOST_CHECK_GE(cut_off, slow_clients * 2u);
    BOOST_CHECK_LE(longest_slow_connection_s, soak_request_timeout_s + 1.5);
#ifndef __SANITIZE_ADDRESS__
    BOOST_CHECK_LE(rss_peak, 64 * 1024);
#else
    // Under AddressSanitizer (shadow memory, quarantine) the figure is not the daemon's own.
    BOOST_TEST_MESSAGE("built with AddressSanitizer: memory bound not checked");
#endif
    BOOST_CHECK(daemon.proc().running());
    BOOST_CHECK_EQUAL(daemon.get_token("stats").status, 200u);

    // Every connection gone: the daemon holds no more descriptors than before.
    std::size_t fds_after = 0;
    const auto settle_by = steady::now() + 5s;
    do {
        std::this_thread::sleep_for(200ms);
        fds_after = open_descriptors(pid);
    } while (fds_after > fds_before && steady::now() < settle_by);
    BOOST_CHECK_LE(fds_after, fds_before);
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 1);
}

BOOST_AUTO_TEST_SUITE_END()
