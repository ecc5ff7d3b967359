// The local listeners, the request policy and the command line, over real sockets
// (PRODUCT.md §5, §6, §7).
#include <boost/test/unit_test.hpp>
#include <csignal>
#include <cstdlib>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

#include "harness.hpp"

using namespace tokend_test;

namespace {

std::string config_for(const mock_upstream& mock, const std::string& listen = "") {
    return R"({"upstream":{"base_url":")" + mock.base_url() + R"(","ca_file":")" + mock.ca_file() +
           R"("},)" + (listen.empty() ? "" : R"("listen":)" + listen + ",") +
           R"("tokens":[{"name":"stats","product":"synergy-stats","customer_id":345,)"
           R"("scopes":["read:organization"]}]})";
}

struct command_result {
    int exit_code;
    std::string out;
    std::string err;
};

command_result run_command(const std::vector<std::string>& args) {
    temp_dir dir;
    std::vector<std::string> argv{binary_path_daemon()};
    argv.insert(argv.end(), args.begin(), args.end());
    process p(argv, dir.file("out"), dir.file("err"));
    const auto code = p.wait_exit(20s);
    BOOST_REQUIRE(code);
    return {*code, read_file(dir.file("out")), read_file(dir.file("err"))};
}

} // namespace

BOOST_AUTO_TEST_SUITE(local_api)

BOOST_AUTO_TEST_CASE(unix_socket_serves_the_same_api_with_the_configured_mode) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    struct stat st {};
    BOOST_REQUIRE_EQUAL(::stat(daemon.unix_socket().unix_path.c_str(), &st), 0);
    BOOST_CHECK(S_ISSOCK(st.st_mode));
    BOOST_CHECK_EQUAL(st.st_mode & 0777, 0660u);

    http_call call;
    call.target = "/v1/tokens/stats";
    call.headers["X-Tokend-Request"] = "1";
    call.headers["Host"] = ""; // what many Unix-socket clients send
    const auto over_unix = http_request(daemon.unix_socket(), call);
    const auto over_tcp = daemon.get_token("stats");
    BOOST_REQUIRE_EQUAL(over_unix.status, 200u);
    BOOST_CHECK_EQUAL(over_unix.json().at("data").at("token"),
                      over_tcp.json().at("data").at("token"));
}

BOOST_AUTO_TEST_CASE(stale_socket_file_is_replaced_and_live_one_refused) {
    mock_upstream mock;
    temp_dir dir;
    const std::string path = dir.file("stale.sock");
    {
        // A socket file left behind by a process that is gone.
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
        BOOST_REQUIRE_EQUAL(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        ::close(fd);
    }
    const std::string listen =
        R"({"tcp":["127.0.0.1:0"],"unix":")" + path + R"(","unix_mode":"0600"})";
    tokend_daemon first(config_for(mock, listen));
    http_call health;
    health.target = "/healthz";
    BOOST_CHECK_EQUAL(http_request(endpoint::unix_socket(path), health).status, 200u);
    struct stat st {};
    BOOST_REQUIRE_EQUAL(::stat(path.c_str(), &st), 0);
    BOOST_CHECK_EQUAL(st.st_mode & 0777, 0600u);

    // A second daemon on the same, live socket: refuses to start, exit 1, says why.
    tokend_daemon second(config_for(mock, listen), "test-identity-token-0001", false);
    const auto code = second.proc().wait_exit(10s);
    BOOST_REQUIRE(code);
    BOOST_CHECK_EQUAL(*code, 1);
    BOOST_CHECK(second.log().find("another process is listening") != std::string::npos);
    BOOST_CHECK_EQUAL(http_request(endpoint::unix_socket(path), health).status, 200u);
}

BOOST_AUTO_TEST_CASE(tcp_port_in_use_exits_1_naming_the_listener) {
    mock_upstream mock;
    tokend_daemon first(config_for(mock));
    const std::string taken = "127.0.0.1:" + std::to_string(first.tcp().port);
    tokend_daemon second(config_for(mock, R"({"tcp":[")" + taken + R"("]})"),
                         "test-identity-token-0001", false);
    const auto code = second.proc().wait_exit(10s);
    BOOST_REQUIRE(code);
    BOOST_CHECK_EQUAL(*code, 1);
    BOOST_CHECK(second.log().find("listen.tcp " + taken) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(request_policy_is_applied_on_the_wire) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    auto get = [&](std::map<std::string, std::string> headers, std::string target) {
        http_call call;
        call.target = std::move(target);
        call.headers = std::move(headers);
        return http_request(daemon.tcp(), call).status;
    };
    const std::string token = "/v1/tokens/stats";
    BOOST_CHECK_EQUAL(get({{"X-Tokend-Request", "1"}}, token), 200u);
    BOOST_CHECK_EQUAL(get({{"X-Tokend-Request", "1"}, {"Host", "127.0.0.1:8731"}}, token), 200u);
    BOOST_CHECK_EQUAL(get({{"X-Tokend-Request", "1"}, {"Host", "[::1]:8731"}}, token), 200u);
    BOOST_CHECK_EQUAL(get({}, token), 403u);
    BOOST_CHECK_EQUAL(get({{"X-Tokend-Request", "yes"}}, token), 403u);
    BOOST_CHECK_EQUAL(get({{"X-Tokend-Request", "1"}, {"Host", "evil.example:8731"}}, token), 403u);
    BOOST_CHECK_EQUAL(get({{"X-Tokend-Request", "1"}, {"Origin", "http://evil.example"}}, token),
                      403u);
    BOOST_CHECK_EQUAL(get({{"X-Tokend-Request", "1"}, {"X-Forwarded-For", "10.1.1.1"}}, token),
                      403u);
    BOOST_CHECK_EQUAL(get({{"X-Tokend-Request", "1"}, {"Forwarded", "for=10.1.1.1"}}, token), 403u);
    // Endpoints without secrets need no request header.
    BOOST_CHECK_EQUAL(get({}, "/v1/tokens"), 200u);
    BOOST_CHECK_EQUAL(get({}, "/healthz"), 200u);
    BOOST_CHECK_EQUAL(get({{"Host", "evil.example"}}, "/healthz"), 403u);
    BOOST_CHECK_EQUAL(get({}, "/nope"), 404u);

    http_call post;
    post.method = "POST";
    post.target = "/v1/tokens";
    const auto r = http_request(daemon.tcp(), post);
    BOOST_CHECK_EQUAL(r.status, 405u);
    BOOST_CHECK_EQUAL(r.header("allow"), "GET");
}

BOOST_AUTO_TEST_CASE(oversized_requests_get_431_and_413) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    http_call big_header;
    big_header.target = "/healthz";
    big_header.headers["X-Filler"] = std::string(9000, 'a');
    BOOST_CHECK_EQUAL(http_request(daemon.tcp(), big_header).status, 431u);

    http_call big_body;
    big_body.method = "POST";
    big_body.target = "/v1/products/token";
    big_body.body = std::string(70 * 1024, 'x');
    BOOST_CHECK_EQUAL(http_request(daemon.tcp(), big_body).status, 413u);
    // The daemon is unaffected.
    big_header.headers.clear();
    BOOST_CHECK_EQUAL(http_request(daemon.tcp(), big_header).status, 200u);
}

// Keep-alive HTTP/1.1 token requests are answered from pre-serialised bytes (local_api::
// try_cached); HTTP/1.0 and "Connection: close" ones take the full path. Both must say the same,
// and the cached bytes must never outlive the second of their time or their expiresIn.
BOOST_AUTO_TEST_CASE(cached_token_replies_match_the_full_path_and_stay_current) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const auto cached = daemon.get_token("stats");
    http_call closing;
    closing.target = "/v1/tokens/stats";
    closing.headers = {{"X-Tokend-Request", "1"}, {"Connection", "close"}};
    const auto full = http_request(daemon.tcp(), closing);
    BOOST_REQUIRE_EQUAL(cached.status, 200u);
    BOOST_REQUIRE_EQUAL(full.status, 200u);
    for (const auto* r : {&cached, &full}) {
        BOOST_CHECK_EQUAL(r->header("content-type"), "application/json");
        BOOST_CHECK_EQUAL(r->header("cache-control"), "no-store");
    }
    const auto a = cached.json().at("data");
    const auto b = full.json().at("data");
    BOOST_CHECK_EQUAL(a.at("token"), b.at("token"));
    BOOST_CHECK_EQUAL(a.at("tokenType"), b.at("tokenType"));
    BOOST_CHECK_EQUAL(a.at("expiresAt"), b.at("expiresAt"));
    BOOST_CHECK_LE(std::llabs(a.at("expiresIn").to_number<long long>() -
                              b.at("expiresIn").to_number<long long>()),
                   1);

    // Asked again until the reply has moved on a second (polled, with a deadline): a cached
    // reply stuck on its first expiresIn or meta.time never does.
    http_reply later;
    int asked_again = 0;
    const auto moved_on_by = std::chrono::steady_clock::now() + 4s;
    do {
        std::this_thread::sleep_for(100ms);
        later = daemon.get_token("stats");
        ++asked_again;
        BOOST_REQUIRE_EQUAL(later.status, 200u);
    } while ((later.json().at("data").at("expiresIn").to_number<long long>() >
                  a.at("expiresIn").to_number<long long>() - 1 ||
              later.json().at("meta").at("time") == cached.json().at("meta").at("time")) &&
             std::chrono::steady_clock::now() < moved_on_by);
    BOOST_CHECK_LE(later.json().at("data").at("expiresIn").to_number<long long>(),
                   a.at("expiresIn").to_number<long long>() - 1);
    BOOST_CHECK_NE(later.json().at("meta").at("time"), cached.json().at("meta").at("time"));

    const auto plain = daemon.get_token("stats", "text/plain");
    BOOST_CHECK_EQUAL(plain.header("content-type"), "text/plain; charset=utf-8");
    BOOST_CHECK_EQUAL(plain.body, a.at("token").as_string());

    // The cached path counts its requests like the full one.
    http_call metrics;
    metrics.target = "/metrics";
    const auto m = http_request(daemon.tcp(), metrics);
    const std::string counted = R"(synergy_tokend_http_requests_total{route="/v1/tokens/{name}",)"
                                R"(code="200"} )" +
                                std::to_string(3 + asked_again) + "\n";
    BOOST_CHECK_MESSAGE(m.body.find(counted) != std::string::npos, m.body);
}

BOOST_AUTO_TEST_CASE(readyz_follows_the_tokens) {
    mock_upstream mock;
    mock.fault(R"({"mode":"status","status":422,"count":-1})");
    tokend_daemon daemon(config_for(mock));
    http_call ready;
    ready.target = "/readyz";
    BOOST_CHECK(wait_for_line(daemon.log_path(), "HTTP 422", 5s));
    auto r = http_request(daemon.tcp(), ready);
    BOOST_CHECK_EQUAL(r.status, 503u);
    BOOST_CHECK(r.body.find("stats") != std::string::npos);
    // A rejected profile is `failed`, and a caller is not kept waiting for it.
    const auto t0 = std::chrono::steady_clock::now();
    BOOST_CHECK_EQUAL(daemon.get_token("stats").status, 503u);
    BOOST_CHECK_LT(std::chrono::steady_clock::now() - t0, 2s);
    http_call list;
    list.target = "/v1/tokens";
    BOOST_CHECK(http_request(daemon.tcp(), list).body.find(R"("state":"failed")") !=
                std::string::npos);
}

BOOST_AUTO_TEST_CASE(sigterm_stops_with_exit_0) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    daemon.proc().signal(SIGTERM);
    const auto code = daemon.proc().wait_exit(10s);
    BOOST_REQUIRE(code);
    BOOST_CHECK_EQUAL(*code, 0);
    struct stat st {};
    BOOST_CHECK_NE(::stat(daemon.unix_socket().unix_path.c_str(), &st), 0); // socket removed
}

BOOST_AUTO_TEST_CASE(command_line) {
    BOOST_CHECK_EQUAL(run_command({"--version"}).exit_code, 0);
    const auto help = run_command({"--help"});
    BOOST_CHECK_EQUAL(help.exit_code, 0);
    BOOST_CHECK(help.out.find("check-config") != std::string::npos);

    const auto bad = run_command({"--bogus"});
    BOOST_CHECK_EQUAL(bad.exit_code, 2);
    BOOST_CHECK(bad.err.find("unknown option --bogus") != std::string::npos);
    BOOST_CHECK(bad.err.find("usage:") != std::string::npos);

    temp_dir dir;
    write_file(dir.file("bad.json"),
               R"({"tokens":[{"name":"a","product":"p","customer_id":true}],"upstream":{"x":1}})");
    const auto invalid = run_command({"check-config", "--config", dir.file("bad.json")});
    BOOST_CHECK_EQUAL(invalid.exit_code, 2);
    BOOST_CHECK(invalid.err.find("tokens[0].customer_id: expected a string or a number") !=
                std::string::npos);
    BOOST_CHECK(invalid.err.find("upstream.x") != std::string::npos);
    // Options may follow the command's arguments; `run` with an invalid config exits 2 too.
    BOOST_CHECK_EQUAL(run_command({"--config", dir.file("bad.json"), "run"}).exit_code, 2);

    write_file(dir.file("good.json"),
               R"({"tokens":[{"name":"a","product":"p","customer_id":"1"}], // comment
               })");
    BOOST_CHECK_EQUAL(run_command({"check-config", "--config", dir.file("good.json")}).exit_code,
                      0);
    BOOST_CHECK_EQUAL(run_command({"check-config", "--config", dir.file("missing.json")}).exit_code,
                      2);
}

BOOST_AUTO_TEST_SUITE_END()
