// A fleet sharing its tokens through Redis (PRODUCT.md §10): daemons, the mock Auth API and a real
// redis-server (Debian's) started here on a free loopback port.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include <arpa/inet.h>
#include <csignal>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.hpp"
#include "synergy_tokend/redis_client.hpp"

using namespace tokend_test;
namespace json = boost::json;
namespace asio = boost::asio;
namespace st = synergy_tokend;

namespace {

unsigned short free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    BOOST_REQUIRE_EQUAL(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    BOOST_REQUIRE_EQUAL(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    ::close(fd);
    return ntohs(addr.sin_port);
}

// redis-server on 127.0.0.1, no persistence; restart() on the same port.
class redis_server {
public:
    explicit redis_server(std::vector<std::string> extra = {})
        : port_(free_port())
        , extra_(std::move(extra)) {
        start();
    }
    unsigned short port() const { return port_; }
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
    void kill() {
        if (proc_) {
            proc_->signal(SIGKILL);
            proc_->wait_exit(5s);
            proc_.reset();
        }
    }
    void restart() {
        kill();
        start();
    }
    const std::string& log_path() const { return log_; }

private:
    void start() {
        log_ = dir_.file("redis-" + std::to_string(++starts_) + ".log");
        std::vector<std::string> argv{"/usr/bin/redis-server",
                                      "--bind",
                                      "127.0.0.1",
                                      "--port",
                                      std::to_string(port_),
                                      "--save",
                                      "",
                                      "--appendonly",
                                      "no",
                                      "--dir",
                                      dir_.path()};
        argv.insert(argv.end(), extra_.begin(), extra_.end());
        proc_.emplace(argv, log_, log_ + ".err");
        BOOST_REQUIRE_MESSAGE(wait_for_line(log_, "Ready to accept connections", 10s),
                              "redis-server did not start: " << read_file(log_));
    }
    temp_dir dir_;
    unsigned short port_;
    std::vector<std::string> extra_;
    int starts_ = 0;
    std::string log_;
    std::optional<process> proc_;
};

// One command to Redis with the daemon's own client, run to completion here.
asio::awaitable<st::redis_result> run_command(st::redis_client* client,
                                              std::vector<std::string> args) {
    st::redis_result r =
        co_await client->command(std::move(args), std::chrono::steady_clock::now() + 2s);
    client->close(); // its idle connection would keep the io_context running
    co_return r;
}

st::redis_reply redis_do(const std::string& url, std::vector<std::string> args) {
    asio::io_context io;
    st::shared_cache_config cfg;
    cfg.url = url;
    cfg.endpoint = st::parse_redis_url(url).endpoint;
    cfg.timeout = 2000ms;
    st::redis_client client(io.get_executor(), cfg, "");
    auto f = asio::co_spawn(io, run_command(&client, std::move(args)), asio::use_future);
    io.run();
    const st::redis_result r = f.get();
    BOOST_REQUIRE_MESSAGE(r.ok(), r.ec.message() << " " << r.detail);
    return r.reply;
}

std::vector<std::string> entry_keys(const redis_server& redis) {
    std::vector<std::string> out;
    for (const auto& e : redis_do(redis.url(), {"KEYS", "tokend:*"}).elements)
        if (e.str.find(":lease") == std::string::npos && e.str.rfind("tokend:", 0) == 0)
            out.push_back(e.str);
    return out;
}

const std::string short_lived_refresh =
    R"({"min_remaining_s":1,"min_serve_remaining_s":0,"retry_initial_ms":100,"retry_max_ms":400})";

std::string profiles(int n) {
    std::string out = "[";
    for (int i = 0; i < n; ++i) {
        if (i)
            out += ",";
        out += R"({"name":"p)" + std::to_string(i) + R"(","product":"synergy-p)" +
               std::to_string(i) + R"(","customer_id":"345"})";
    }
    return out + "]";
}

std::string config_for(const mock_upstream& mock, const std::string& shared, int n_profiles = 1,
                       const std::string& refresh = short_lived_refresh,
                       const std::string& log_level = "info", int request_timeout_ms = 2000) {
    std::string cfg = R"({"upstream":{"base_url":")" + mock.base_url() + R"(","ca_file":")" +
                      mock.ca_file() + R"(","request_timeout_ms":)" +
                      std::to_string(request_timeout_ms) + R"(},"tokens":)" + profiles(n_profiles) +
                      R"(,"refresh":)" + refresh + R"(,"log":{"level":")" + log_level + R"("})";
    if (!shared.empty())
        cfg += R"(,"shared_cache":)" + shared;
    return cfg + "}";
}

std::string shared_section(const redis_server& redis, const std::string& extra = "",
                           int timeout_ms = 200) {
    return R"({"url":")" + redis.url() + R"(","timeout_ms":)" + std::to_string(timeout_ms) +
           R"(,"lease_ms":1000)" + extra + "}";
}

// Asks every daemon for every profile until `duration` has passed; every answer must be a 200
// with a token that has not expired. Returns the number of requests.
int serve_all(std::vector<std::unique_ptr<tokend_daemon>>& daemons, int n_profiles,
              std::chrono::milliseconds duration) {
    int served = 0;
    const auto end = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < end) {
        for (auto& d : daemons) {
            for (int i = 0; i < n_profiles; ++i) {
                const auto r = d->get_token("p" + std::to_string(i));
                BOOST_REQUIRE_MESSAGE(r.status == 200, "status " << r.status << " " << r.body);
                BOOST_REQUIRE_GE(jwt_exp(token_of(r)), unix_now());
                ++served;
            }
        }
        std::this_thread::sleep_for(20ms);
    }
    return served;
}

std::size_t count_in(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
        ++n;
    return n;
}

} // namespace

BOOST_AUTO_TEST_SUITE(shared_cache)

BOOST_AUTO_TEST_CASE(twenty_daemons_make_one_upstream_call_per_profile_per_lifetime) {
    redis_server redis;
    mock_upstream mock;
    // The cold start on 10 s tokens: none is refreshed (at 75 %, 6.5 s at the earliest) before
    // the 20 hosts, started at once, all serve, however slowly a loaded machine starts them.
    // Counted on 3 s tokens, a slow start also counted their first refresh (once seen: cold 7
    // for 3 profiles).
    mock.settings(R"({"lifetime_s":10})");
    constexpr int hosts = 20;
    constexpr int n_profiles = 3;
    // This test counts upstream calls, not deadlines: generous ones (Redis 2 s, the wait for a
    // lease holder 10 s) keep a loaded machine (the suites side by side, ASan) from adding a
    // host's own fetches; every extra call is then a failure to share.
    const std::string shared = shared_section(redis, "", 2000);
    std::vector<std::unique_ptr<tokend_daemon>> fleet;
    for (int i = 0; i < hosts; ++i)
        fleet.push_back(std::make_unique<tokend_daemon>(
            config_for(mock, shared, n_profiles, short_lived_refresh, "info", 10000)));
    // One fetch per profile, the other 19 hosts take the fleet's entry.
    for (auto& d : fleet)
        d->wait_ready(20s);
    const auto cold = mock.counter("token_requests");
    BOOST_TEST_MESSAGE("cold start: " << cold << " upstream token requests for " << hosts
                                      << " hosts");
    BOOST_CHECK_LE(cold, n_profiles + 1);
    BOOST_CHECK_EQUAL(entry_keys(redis).size(), static_cast<std::size_t>(n_profiles));

    // From the first refresh on, 3 s tokens: wait for it (one per profile), serving meanwhile.
    mock.settings(R"({"lifetime_s":3})");
    const auto give_up = std::chrono::steady_clock::now() + 15s;
    while (mock.counter("token_requests") < cold + n_profiles &&
           std::chrono::steady_clock::now() < give_up)
        serve_all(fleet, n_profiles, 100ms);
    BOOST_REQUIRE_GE(mock.counter("token_requests"), cold + n_profiles);
    serve_all(fleet, n_profiles, 500ms); // the refresh of every profile done

    // Four lifetimes of a 3 s token. Its exp counts whole seconds, so it looks 2-3 s long, and
    // it is refreshed min_remaining_s (1 s) before its end: each token lives about a second
    // before the next is fetched, on every host alike.
    const auto before = mock.counter("token_requests");
    const int served = serve_all(fleet, n_profiles, 12s);
    const auto shared_calls = mock.counter("token_requests") - before;
    BOOST_TEST_MESSAGE("shared: " << served << " local requests served, " << shared_calls
                                  << " upstream token requests in 12 s");
    for (auto& d : fleet)
        BOOST_CHECK_EQUAL(count_in(d->log(), "falling back"), 0u);
    fleet.clear();

    // The same fleet without shared_cache, for half the time: every host fetches for itself.
    for (int i = 0; i < hosts; ++i)
        fleet.push_back(std::make_unique<tokend_daemon>(config_for(mock, "", n_profiles)));
    const auto before_alone = mock.counter("token_requests");
    serve_all(fleet, n_profiles, 6s);
    const auto alone_calls = mock.counter("token_requests") - before_alone;
    // How many tokens one host fetches per profile in 12 s: the token generations of the run.
    const double generations = 2.0 * static_cast<double>(alone_calls) / (hosts * n_profiles);
    BOOST_TEST_MESSAGE("alone: " << alone_calls << " upstream token requests in 6 s; "
                                 << generations << " token generations in 12 s; shared: "
                                 << static_cast<double>(shared_calls) / n_profiles
                                 << " upstream requests per profile in 12 s");
    // Shared: one request per profile per generation, fleet-wide (+-1 at the edges) ...
    BOOST_CHECK_LE(static_cast<double>(shared_calls), n_profiles * (generations + 1));
    BOOST_CHECK_GE(static_cast<double>(shared_calls), n_profiles * (generations - 1));
    // ... alone, one per host: 20 times as many.
    BOOST_CHECK_GE(2 * alone_calls, 18 * shared_calls);
}

BOOST_AUTO_TEST_CASE(redis_killed_mid_run_falls_back_once_and_sharing_resumes) {
    redis_server redis;
    mock_upstream mock;
    mock.settings(R"({"lifetime_s":3})");
    constexpr int hosts = 5;
    std::vector<std::unique_ptr<tokend_daemon>> fleet;
    for (int i = 0; i < hosts; ++i)
        fleet.push_back(std::make_unique<tokend_daemon>(config_for(mock, shared_section(redis))));
    serve_all(fleet, 1, 2s);
    redis.kill();
    // Without Redis every host fetches for itself; no local request fails.
    serve_all(fleet, 1, 4s);
    for (auto& d : fleet)
        BOOST_CHECK_EQUAL(count_in(d->log(), "falling back to per-host fetches"), 1u);
    // /status and /metrics say so, and name Redis without a password.
    http_call status;
    status.target = "/status";
    const auto down = http_request(fleet[0]->tcp(), status).json().at("data").at("sharedCache");
    BOOST_TEST(std::string(down.at("state").as_string()) == "fallback");
    BOOST_TEST(down.at("fallbacks").to_number<long long>() == 1);
    BOOST_TEST(!down.at("lastError").is_null());
    BOOST_TEST(std::string(down.at("url").as_string()).rfind("redis://", 0) == 0);
    http_call metrics;
    metrics.target = "/metrics";
    BOOST_TEST(
        http_request(fleet[0]->tcp(), metrics).body.find("synergy_tokend_shared_cache_up 0") !=
        std::string::npos);
    redis.restart();
    for (auto& d : fleet)
        BOOST_CHECK(wait_for_line(d->log_path(), "answers again; sharing tokens", 5s));
    serve_all(fleet, 1, 1s); // the first round after the restart writes the entry again
    const auto before = mock.counter("token_requests");
    serve_all(fleet, 1, 4s);
    const auto shared_calls = mock.counter("token_requests") - before;
    BOOST_TEST_MESSAGE("after the restart: " << shared_calls << " upstream requests in 4 s");
    // About one per second fleet-wide again, not one per host per second.
    BOOST_CHECK_LE(shared_calls, 7);
    for (auto& d : fleet)
        BOOST_CHECK_EQUAL(count_in(d->log(), "falling back to per-host fetches"), 1u);
    long long hits = 0;
    for (auto& d : fleet) {
        const auto up = http_request(d->tcp(), status).json().at("data").at("sharedCache");
        BOOST_TEST(std::string(up.at("state").as_string()) == "sharing");
        hits += up.at("hits").to_number<long long>();
    }
    BOOST_TEST(hits > 0); // hosts served the fleet's entries
}

BOOST_AUTO_TEST_CASE(another_identity_gets_its_own_token_and_an_altered_entry_is_refused) {
    redis_server redis;
    mock_upstream mock;
    const std::string refresh = R"({"min_remaining_s":60})";
    tokend_daemon a(config_for(mock, shared_section(redis), 1, refresh), "identity-token-A-0001");
    tokend_daemon b(config_for(mock, shared_section(redis), 1, refresh), "identity-token-B-0002");
    const auto ta = token_of(a.get_token("p0"));
    const auto tb = token_of(b.get_token("p0"));
    BOOST_CHECK(!ta.empty() && !tb.empty());
    BOOST_CHECK_NE(ta, tb); // the mock's token names the identity it was issued to
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 2);
    const auto keys = entry_keys(redis);
    BOOST_REQUIRE_EQUAL(keys.size(), 2u);
    for (const auto& k : keys) {
        const std::string value = redis_do(redis.url(), {"GET", k}).str;
        BOOST_CHECK(value.find(ta) == std::string::npos && value.find(tb) == std::string::npos);
        BOOST_CHECK(value.find("synergy-p0") == std::string::npos);
        BOOST_CHECK(k.find("synergy-p0") == std::string::npos);
    }
    // A third host with A's identity takes A's entry: no upstream call.
    {
        tokend_daemon a2(config_for(mock, shared_section(redis), 1, refresh),
                         "identity-token-A-0001");
        BOOST_CHECK_EQUAL(token_of(a2.get_token("p0")), ta);
        BOOST_CHECK_EQUAL(mock.counter("token_requests"), 2);
    }
    // One byte of each entry altered: a new host refuses it, says so, and fetches its own.
    for (const auto& k : keys) {
        std::string value = redis_do(redis.url(), {"GET", k}).str;
        value[value.size() / 2] = static_cast<char>(value[value.size() / 2] ^ 0x20);
        redis_do(redis.url(), {"SET", k, value, "KEEPTTL"});
    }
    tokend_daemon a3(config_for(mock, shared_section(redis), 1, refresh), "identity-token-A-0001");
    const auto t3 = token_of(a3.get_token("p0"));
    BOOST_CHECK(!t3.empty());
    BOOST_CHECK_NE(t3, ta);
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 3);
    BOOST_CHECK(a3.log().find("failed authentication") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_lease_holder_killed_is_overtaken_within_lease_ms) {
    redis_server redis;
    mock_upstream mock;
    mock.settings(R"({"lifetime_s":6})");
    const std::string refresh =
        R"({"min_remaining_s":2,"min_serve_remaining_s":0,"retry_initial_ms":100})";
    std::vector<std::unique_ptr<tokend_daemon>> fleet;
    for (int i = 0; i < 3; ++i)
        fleet.push_back(std::make_unique<tokend_daemon>(
            config_for(mock, shared_section(redis), 1, refresh, "debug")));
    std::vector<std::size_t> leases;
    for (auto& d : fleet)
        leases.push_back(count_in(d->log(), "took the lease"));
    // The next refresh's holder hangs in its upstream call ...
    mock.fault(R"({"mode":"stall","count":1,"endpoint":"token"})");
    const auto before = mock.counter("token_requests");
    std::optional<std::size_t> holder;
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (!holder && std::chrono::steady_clock::now() < give_up) {
        for (std::size_t i = 0; i < fleet.size() && !holder; ++i)
            if (count_in(fleet[i]->log(), "took the lease") > leases[i] &&
                mock.counter("token_requests") > before)
                holder = i;
        std::this_thread::sleep_for(20ms);
    }
    BOOST_REQUIRE(holder.has_value());
    // ... and is killed while it holds the lease.
    fleet[*holder]->proc().signal(SIGKILL);
    const auto killed_at = std::chrono::steady_clock::now();
    const auto stalled = mock.counter("token_requests");
    fleet.erase(fleet.begin() + static_cast<std::ptrdiff_t>(*holder));
    // Another host fetches within lease_ms + 1 s, and no local request fails meanwhile.
    std::optional<std::chrono::milliseconds> overtaken;
    while (!overtaken && std::chrono::steady_clock::now() < killed_at + 2s) {
        serve_all(fleet, 1, 50ms);
        if (mock.counter("token_requests") > stalled)
            overtaken = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - killed_at);
    }
    BOOST_REQUIRE(overtaken.has_value());
    BOOST_TEST_MESSAGE("overtaken " << overtaken->count() << " ms after the holder's kill");
    serve_all(fleet, 1, 1s);
}

BOOST_AUTO_TEST_SUITE_END()
