// Change notification of GET /v1/tokens/{name} (PRODUCT.md §5, §11): the ETag, 304 for a token
// the caller has, requests held with ?wait= until a refresh or the end of the wait, the limit of
// held requests, their release when the client goes, and what they cost.
#include <algorithm>
#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <csignal>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include "harness.hpp"
#include "synergy_tokend/digest.hpp"

using namespace tokend_test;
namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

// One profile "stats" against `mock`; `extra_json` adds or replaces top-level sections.
std::string config_for(const mock_upstream& mock, const std::string& extra_json = "{}") {
    json::object cfg = json::parse(extra_json).as_object();
    cfg["upstream"] = json::object{
        {"base_url", mock.base_url()}, {"ca_file", mock.ca_file()}, {"request_timeout_ms", 3000}};
    if (!cfg.contains("tokens"))
        cfg["tokens"] =
            json::parse(R"([{"name":"stats","product":"synergy-stats","customer_id":"345"}])");
    return json::serialize(cfg);
}

http_call token_call(const std::string& query = "",
                     const std::map<std::string, std::string>& headers = {}) {
    http_call call;
    call.target = "/v1/tokens/stats" + query;
    call.headers = headers;
    call.headers["X-Tokend-Request"] = "1";
    return call;
}

// The ETag as a query value: its quotes percent-encoded.
std::string etag_query(const std::string& etag) {
    std::string out;
    for (char c : etag)
        out += c == '"' ? std::string("%22") : std::string(1, c);
    return out;
}

double seconds_since(steady::time_point t) {
    return std::chrono::duration<double>(steady::now() - t).count();
}

// A /v1/info call after the mock revoked every token: the daemon's one forced refresh.
http_reply force_refresh(mock_upstream& mock, const tokend_daemon& daemon) {
    mock.control("POST", "/control/revoke");
    http_call call;
    call.target = "/v1/info/scopes/authorized";
    call.headers["X-Tokend-Request"] = "1";
    return http_request(daemon.tcp(), call);
}

// The synergy_tokend_held_requests gauge, or -1.
long held_requests(const tokend_daemon& daemon) {
    http_call call;
    call.target = "/metrics";
    const auto r = http_request(daemon.tcp(), call);
    const std::string name = "\nsynergy_tokend_held_requests ";
    const auto at = r.body.find(name);
    return at == std::string::npos ? -1 : std::stol(r.body.substr(at + name.size()));
}

// Polls the gauge until it says `n` or 10 s have passed.
bool held_becomes(const tokend_daemon& daemon, long n) {
    const auto give_up = steady::now() + 10s;
    while (held_requests(daemon) != n) {
        if (steady::now() > give_up)
            return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

// A raw connection that sends a request and may read its response or just close.
struct client {
    tcp::socket sock;
    client(asio::io_context& ctx, unsigned short port)
        : sock(ctx) {
        sock.connect({asio::ip::make_address("127.0.0.1"), port});
        timeval tv{10, 0};
        ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    void send(const std::string& bytes) { asio::write(sock, asio::buffer(bytes)); }
    unsigned read_status() {
        boost::beast::flat_buffer buf;
        http::response<http::string_body> res;
        boost::system::error_code ec;
        http::read(sock, buf, res, ec);
        return ec ? 0 : res.result_int();
    }
};

std::string wait_request(const std::string& etag, int wait_s) {
    return "GET /v1/tokens/stats?wait=" + std::to_string(wait_s) + "&etag=" + etag_query(etag) +
           " HTTP/1.1\r\nHost: localhost\r\nX-Tokend-Request: 1\r\n\r\n";
}

} // namespace

BOOST_AUTO_TEST_SUITE(change_notification)

BOOST_AUTO_TEST_CASE(the_etag_is_a_keyed_hash_and_a_matching_one_gets_304_at_once) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const auto first = http_request(daemon.tcp(), token_call());
    BOOST_REQUIRE_EQUAL(first.status, 200);
    const std::string token = token_of(first);
    const std::string etag = first.header("etag");
    // Quoted hex, the same on the fast path (kept-alive GET), with Connection: close and for
    // text/plain; neither the token nor its bare SHA-256 (which would confirm a guessed token).
    BOOST_REQUIRE_EQUAL(etag.size(), 34u);
    BOOST_CHECK_EQUAL(etag.front(), '"');
    BOOST_CHECK_EQUAL(etag.back(), '"');
    BOOST_CHECK(etag.find(token) == std::string::npos);
    BOOST_CHECK(synergy_tokend::sha256_hex(token).find(etag.substr(1, 32)) == std::string::npos);
    BOOST_CHECK_EQUAL(http_request(daemon.tcp(), token_call()).header("etag"), etag);
    BOOST_CHECK_EQUAL(
        http_request(daemon.tcp(), token_call("", {{"Connection", "close"}})).header("etag"), etag);
    BOOST_CHECK_EQUAL(daemon.get_token("stats", "text/plain").header("etag"), etag);

    // The token the caller has: 304, no body, the ETag again; by query or by If-None-Match.
    for (const auto& call :
         {token_call("?etag=" + etag_query(etag)), token_call("?etag=" + etag.substr(1, 32)),
          token_call("", {{"If-None-Match", "\"other\", " + etag}}),
          token_call("", {{"If-None-Match", "W/" + etag}})}) {
        const auto r = http_request(daemon.tcp(), call);
        BOOST_CHECK_EQUAL(r.status, 304);
        BOOST_CHECK_EQUAL(r.header("etag"), etag);
        BOOST_CHECK_EQUAL(r.header("cache-control"), "no-store");
        BOOST_CHECK(r.body.empty());
    }

    // Another ETag, or none (the first turn of a shell loop): the token at once, even with wait.
    for (const std::string query : {"?wait=30&etag=%22stale%22", "?wait=30&etag=", "?wait=30"}) {
        const auto start = steady::now();
        const auto r = http_request(daemon.tcp(), token_call(query));
        BOOST_CHECK_EQUAL(r.status, 200);
        BOOST_CHECK_EQUAL(token_of(r), token);
        BOOST_CHECK_EQUAL(r.header("etag"), etag);
        BOOST_CHECK_LT(seconds_since(start), 1.0);
    }
    const auto r = http_request(daemon.tcp(), token_call("?wait=30", {{"If-None-Match", "\"x\""}}));
    BOOST_CHECK_EQUAL(r.status, 200);
}

BOOST_AUTO_TEST_CASE(a_held_request_returns_within_100_ms_of_a_forced_refresh) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const auto first = http_request(daemon.tcp(), token_call());
    BOOST_REQUIRE_EQUAL(first.status, 200);
    const std::string etag = first.header("etag");

    http_reply held;
    steady::time_point held_answered;
    std::thread waiter([&] {
        held = http_request(daemon.tcp(), token_call("?wait=30&etag=" + etag_query(etag)));
        held_answered = steady::now();
    });
    BOOST_REQUIRE(held_becomes(daemon, 1));
    const auto refresh_started = steady::now();
    const auto info = force_refresh(mock, daemon);
    const auto refreshed = steady::now(); // the refresh ended before the retried call's reply
    waiter.join();
    BOOST_CHECK_EQUAL(info.status, 200);
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 2);

    BOOST_REQUIRE_EQUAL(held.status, 200);
    BOOST_CHECK(held_answered > refresh_started);
    const double late_ms =
        std::chrono::duration<double, std::milli>(held_answered - refreshed).count();
    BOOST_TEST_MESSAGE("held request answered " << late_ms << " ms after the refreshing call");
    BOOST_CHECK_LT(late_ms, 100.0);
    const auto now = http_request(daemon.tcp(), token_call());
    BOOST_CHECK_NE(token_of(held), token_of(first));
    BOOST_CHECK_EQUAL(token_of(held), token_of(now));
    BOOST_CHECK_NE(held.header("etag"), etag);
    BOOST_CHECK_EQUAL(held.header("etag"), now.header("etag"));
    BOOST_CHECK_EQUAL(held_requests(daemon), 0);
}

BOOST_AUTO_TEST_CASE(a_held_request_gets_304_after_wait_seconds_beyond_the_request_timeout) {
    mock_upstream mock;
    // listen.request_timeout_s 1: a held request is not a slow client.
    tokend_daemon daemon(
        config_for(mock, R"({"listen":{"tcp":["127.0.0.1:0"],"request_timeout_s":1}})"));
    const auto first = http_request(daemon.tcp(), token_call());
    const std::string etag = first.header("etag");

    http_reply by_query, by_header;
    double query_s = 0, header_s = 0;
    std::thread a([&] {
        const auto start = steady::now();
        by_query = http_request(daemon.tcp(), token_call("?wait=2&etag=" + etag_query(etag)));
        query_s = seconds_since(start);
    });
    std::thread b([&] {
        const auto start = steady::now();
        by_header = http_request(daemon.tcp(), token_call("?wait=1", {{"If-None-Match", etag}}));
        header_s = seconds_since(start);
    });
    a.join();
    b.join();
    BOOST_TEST_MESSAGE("304 after " << query_s << " s (wait=2) and " << header_s << " s (wait=1)");
    for (const auto* r : {&by_query, &by_header}) {
        BOOST_CHECK_EQUAL(r->status, 304);
        BOOST_CHECK_EQUAL(r->header("etag"), etag);
        BOOST_CHECK(r->body.empty());
    }
    BOOST_CHECK_GE(query_s, 2.0);
    BOOST_CHECK_LT(query_s, 3.0);
    BOOST_CHECK_GE(header_s, 1.0);
    BOOST_CHECK_LT(header_s, 2.0);
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 1);
}

BOOST_AUTO_TEST_CASE(bad_wait_parameters_get_400_naming_the_parameter) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const std::vector<std::pair<http_call, std::string>> cases = {
        {token_call("?wait=abc&etag=x"), "wait: expected whole seconds from 0 to 3600"},
        {token_call("?wait=3601&etag=x"), "wait: expected whole seconds from 0 to 3600"},
        {token_call("?wait=-1&etag=x"), "wait: expected whole seconds"},
        {token_call("?wait=1&wait=2&etag=x"), "wait: given more than once"},
        {token_call("?etag=a&etag=b"), "etag: given more than once"},
        {token_call("?etag=%zz"), "etag: expected the ETag"},
        {token_call("?etag=a%20b"), "etag: expected the ETag"},
        {token_call("", {{"If-None-Match", "*"}}), "If-None-Match: \\\"*\\\" names no version"},
        {token_call("", {{"If-None-Match", "abc"}}), "If-None-Match: expected a list"},
    };
    for (const auto& [call, message] : cases) {
        const auto r = http_request(daemon.tcp(), call);
        BOOST_TEST_CONTEXT(call.target) {
            BOOST_CHECK_EQUAL(r.status, 400);
            BOOST_CHECK_MESSAGE(r.body.find(message) != std::string::npos, r.body);
        }
    }
}

BOOST_AUTO_TEST_CASE(access_rules_apply_before_a_wait) {
    mock_upstream mock;
    const std::string other_uid = std::to_string(::getuid() + 4242);
    tokend_daemon daemon(config_for(
        mock, R"({"tokens":[{"name":"stats","product":"synergy-stats","customer_id":"345",)"
              R"("allow":{"users":[)" +
                  other_uid + "]}}]}"));
    const auto start = steady::now();
    const auto r = http_request(daemon.tcp(), token_call("?wait=30&etag=%22x%22"));
    BOOST_CHECK_EQUAL(r.status, 403);
    BOOST_CHECK_LT(seconds_since(start), 1.0);
    BOOST_CHECK(r.header("etag").empty());
}

BOOST_AUTO_TEST_CASE(held_requests_beyond_listen_max_waits_get_503) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, R"({"listen":{"tcp":["127.0.0.1:0"],"max_waits":2}})"));
    const std::string etag = http_request(daemon.tcp(), token_call()).header("etag");
    asio::io_context ctx;
    client a(ctx, daemon.tcp().port), b(ctx, daemon.tcp().port);
    a.send(wait_request(etag, 30));
    b.send(wait_request(etag, 30));
    BOOST_REQUIRE(held_becomes(daemon, 2));
    const auto r = http_request(daemon.tcp(), token_call("?wait=30&etag=" + etag_query(etag)));
    BOOST_CHECK_EQUAL(r.status, 503);
    BOOST_CHECK_EQUAL(r.header("retry-after"), "1");
    BOOST_CHECK_MESSAGE(r.body.find("listen.max_waits (2)") != std::string::npos, r.body);
    // Requests that are not held are served as ever.
    BOOST_CHECK_EQUAL(http_request(daemon.tcp(), token_call()).status, 200);
    BOOST_CHECK_EQUAL(http_request(daemon.tcp(), token_call("?etag=" + etag_query(etag))).status,
                      304);
}

BOOST_AUTO_TEST_CASE(a_client_closing_a_held_request_releases_it) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, R"({"listen":{"tcp":["127.0.0.1:0"],"max_waits":1}})"));
    const std::string etag = http_request(daemon.tcp(), token_call()).header("etag");
    asio::io_context ctx;
    {
        client gone(ctx, daemon.tcp().port);
        gone.send(wait_request(etag, 30));
        BOOST_REQUIRE(held_becomes(daemon, 1));
    } // closed
    BOOST_REQUIRE(held_becomes(daemon, 0));
    // The place is free again: the next held request is held, and answered by a refresh.
    client next(ctx, daemon.tcp().port);
    next.send(wait_request(etag, 30));
    BOOST_REQUIRE(held_becomes(daemon, 1));
    BOOST_CHECK_EQUAL(force_refresh(mock, daemon).status, 200);
    BOOST_CHECK_EQUAL(next.read_status(), 200);
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 2);
}

BOOST_AUTO_TEST_CASE(sigterm_answers_held_requests_at_once) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const std::string etag = http_request(daemon.tcp(), token_call()).header("etag");
    asio::io_context ctx;
    client c(ctx, daemon.tcp().port);
    c.send(wait_request(etag, 30));
    BOOST_REQUIRE(held_becomes(daemon, 1));
    const auto start = steady::now();
    daemon.proc().signal(SIGTERM);
    BOOST_CHECK_EQUAL(c.read_status(), 304);
    BOOST_CHECK_EQUAL(daemon.proc().wait_exit(5s).value_or(-1), 0);
    BOOST_CHECK_LT(seconds_since(start), 2.0);
}

BOOST_AUTO_TEST_CASE(token_watch_prints_a_line_per_new_token_and_exits_on_errors) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const std::string first = token_of(http_request(daemon.tcp(), token_call()));
    BOOST_REQUIRE(!first.empty());
    temp_dir dir;
    const std::string endpoint = "http://127.0.0.1:" + std::to_string(daemon.tcp().port);
    process watch({binary_path_daemon(), "token", "stats", "--watch", "--endpoint", endpoint},
                  dir.file("out"), dir.file("err"));
    BOOST_REQUIRE(wait_for_line(dir.file("out"), first, 10s));
    BOOST_REQUIRE(held_becomes(daemon, 1)); // asking for the next one
    BOOST_REQUIRE_EQUAL(force_refresh(mock, daemon).status, 200);
    const std::string now = token_of(http_request(daemon.tcp(), token_call()));
    BOOST_REQUIRE_NE(now, first);
    BOOST_REQUIRE(wait_for_line(dir.file("out"), now, 10s));
    BOOST_REQUIRE(held_becomes(daemon, 1)); // and asking for the next one again
    // One line per token, each once.
    const std::string out = read_file(dir.file("out"));
    BOOST_CHECK_EQUAL(out, first + "\n" + now + "\n");
    BOOST_CHECK(watch.running());
    watch.signal(SIGTERM);
    watch.wait_exit(5s);

    // An unknown profile: exit 1 with the daemon's message; no daemon: exit 3.
    process unknown({binary_path_daemon(), "token", "nope", "--watch", "--endpoint", endpoint},
                    dir.file("out2"), dir.file("err2"));
    BOOST_CHECK_EQUAL(unknown.wait_exit(10s).value_or(-1), 1);
    BOOST_CHECK(read_file(dir.file("err2")).find("404: no token profile named 'nope'") !=
                std::string::npos);
    process gone({binary_path_daemon(), "token", "stats", "--watch", "--endpoint",
                  "unix:" + dir.file("no.sock")},
                 dir.file("out3"), dir.file("err3"));
    BOOST_CHECK_EQUAL(gone.wait_exit(10s).value_or(-1), 3);
    BOOST_CHECK(read_file(dir.file("err3")).find("daemon unreachable") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_thousand_held_requests_cost_at_most_8_mib_more_than_idle_connections) {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < 4096) {
        lim.rlim_cur = std::min<rlim_t>(4096, lim.rlim_max);
        ::setrlimit(RLIMIT_NOFILE, &lim);
    }
    mock_upstream mock;
    tokend_daemon daemon(config_for(
        mock, R"({"listen":{"tcp":["127.0.0.1:0"],"max_connections":1100,"max_waits":1000}})"));
    const std::string etag = http_request(daemon.tcp(), token_call()).header("etag");
    std::this_thread::sleep_for(200ms); // let the start's allocations settle
    const long idle = resident_kib(daemon.proc().pid());

    // 1,000 kept-alive connections that each got a token: what the waits are measured against.
    asio::io_context ctx;
    std::vector<std::unique_ptr<client>> clients;
    const std::string plain = "GET /v1/tokens/stats HTTP/1.1\r\nHost: localhost\r\n"
                              "X-Tokend-Request: 1\r\n\r\n";
    for (int i = 0; i < 1000; ++i) {
        clients.push_back(std::make_unique<client>(ctx, daemon.tcp().port));
        clients.back()->send(plain);
        BOOST_REQUIRE_EQUAL(clients.back()->read_status(), 200);
    }
    const long connected = resident_kib(daemon.proc().pid());
    // The same connections, each holding a request.
    const std::string request = wait_request(etag, 60);
    for (auto& c : clients)
        c->send(request);
    BOOST_REQUIRE(held_becomes(daemon, 1000));
    const long held = resident_kib(daemon.proc().pid());
    BOOST_TEST_MESSAGE("VmRSS idle " << idle << " KiB, 1,000 idle connections " << connected
                                     << " KiB, holding 1,000 requests " << held << " KiB (+"
                                     << (held - connected) << " KiB)");
#if defined(__SANITIZE_ADDRESS__)
    BOOST_TEST_MESSAGE("resident memory not checked under AddressSanitizer");
#else
    BOOST_CHECK_LE(held - connected, 8 * 1024);
#endif
    // One refresh answers them all.
    BOOST_CHECK_EQUAL(force_refresh(mock, daemon).status, 200);
    int answered = 0;
    for (auto& c : clients)
        answered += c->read_status() == 200;
    BOOST_CHECK_EQUAL(answered, 1000);
    BOOST_CHECK(held_becomes(daemon, 0));
}

BOOST_AUTO_TEST_SUITE_END()
