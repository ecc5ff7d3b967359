// File sinks (PRODUCT.md §11): tokens[].sink gets the profile's token after every refresh,
// atomically and with its mode, in the token endpoint's JSON when asked, and goes away with the
// profile or when its token expires unrefreshed.
#include <atomic>
#include <csignal>
#include <set>
#include <string>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include "harness.hpp"

using namespace tokend_test;
namespace json = boost::json;
using steady = std::chrono::steady_clock;

namespace {

// Profiles "stats" (sink `sink_json`) against `mock`, the Unix socket in `dir` (a directory the
// daemon writes, so sinks may go there).
std::string config_for(const mock_upstream& mock, const temp_dir& dir, const std::string& sink_json,
                       const std::string& refresh = "{}") {
    json::object cfg;
    cfg["upstream"] = json::object{
        {"base_url", mock.base_url()}, {"ca_file", mock.ca_file()}, {"request_timeout_ms", 3000}};
    cfg["listen"] =
        json::object{{"tcp", json::array{"127.0.0.1:0"}}, {"unix", dir.file("tokend.sock")}};
    cfg["tokens"] =
        json::parse(R"([{"name":"stats","product":"synergy-stats","customer_id":"345","sink":)" +
                    sink_json + "}]");
    cfg["refresh"] = json::parse(refresh);
    return json::serialize(cfg);
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

unsigned mode_of(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

bool becomes(const std::function<bool()>& cond, std::chrono::milliseconds within) {
    const auto give_up = steady::now() + within;
    while (!cond()) {
        if (steady::now() > give_up)
            return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

http_reply force_refresh(mock_upstream& mock, const tokend_daemon& daemon) {
    mock.control("POST", "/control/revoke");
    http_call call;
    call.target = "/v1/info/scopes/authorized";
    call.headers["X-Tokend-Request"] = "1";
    return http_request(daemon.tcp(), call);
}

} // namespace

BOOST_AUTO_TEST_SUITE(file_sink)

BOOST_AUTO_TEST_CASE(the_sink_holds_the_token_with_its_mode_and_changes_atomically) {
    mock_upstream mock;
    temp_dir dir;
    const std::string path = dir.file("stats.token");
    tokend_daemon daemon(config_for(mock, dir, R"({"path":")" + path + R"(","mode":"0604"})"));
    const std::string first = token_of(daemon.get_token("stats"));
    BOOST_REQUIRE(!first.empty());
    BOOST_REQUIRE(becomes([&] { return exists(path); }, 5s));
    BOOST_CHECK_EQUAL(read_file(path), first);
    BOOST_CHECK_EQUAL(mode_of(path), 0604u);

    // A reader polling the file never sees anything but a whole token.
    std::atomic<bool> stop{false};
    std::set<std::string> seen;
    std::thread reader([&] {
        while (!stop)
            seen.insert(read_file(path));
    });
    BOOST_CHECK_EQUAL(force_refresh(mock, daemon).status, 200);
    const std::string second = token_of(daemon.get_token("stats"));
    BOOST_CHECK_NE(second, first);
    BOOST_CHECK(becomes([&] { return read_file(path) == second; }, 2s));
    std::this_thread::sleep_for(50ms);
    stop = true;
    reader.join();
    std::string what; // the sizes of what the reader saw, not the tokens
    for (const auto& v : seen)
        what += (v == first ? "first " : v == second ? "second " : std::to_string(v.size()) + "B ");
    BOOST_CHECK_MESSAGE(seen == (std::set<std::string>{first, second}), "the reader saw: " << what);
    BOOST_CHECK_EQUAL(mode_of(path), 0604u);
    BOOST_CHECK(wait_for_line(daemon.log_path(), path + " written", 2s));
}

BOOST_AUTO_TEST_CASE(
    the_json_format_is_the_token_endpoints_and_a_sighup_removing_the_profile_removes_it) {
    mock_upstream mock;
    temp_dir dir;
    const std::string path = dir.file("stats.json");
    tokend_daemon daemon(config_for(mock, dir, R"({"path":")" + path + R"(","format":"json"})"));
    const auto reply = daemon.get_token("stats");
    BOOST_REQUIRE(becomes([&] { return exists(path); }, 5s));
    BOOST_CHECK_EQUAL(mode_of(path), 0640u);
    const json::value file = json::parse(read_file(path));
    const json::value served = reply.json();
    for (const char* key : {"token", "tokenType", "expiresAt"})
        BOOST_CHECK_EQUAL(json::serialize(file.at("data").at(key)),
                          json::serialize(served.at("data").at(key)));
    BOOST_CHECK(file.at("data").at("expiresIn").is_int64());
    BOOST_CHECK_EQUAL(file.at("meta").at("code").as_int64(), 200);

    auto cfg = json::parse(read_file(daemon.config_path())).as_object();
    cfg["tokens"].as_array()[0].as_object()["name"] = "other";
    cfg["tokens"].as_array()[0].as_object().erase("sink");
    write_file(daemon.config_path(), json::serialize(cfg));
    daemon.proc().signal(SIGHUP);
    BOOST_CHECK(becomes([&] { return !exists(path); }, 5s));
}

BOOST_AUTO_TEST_CASE(the_sink_goes_away_when_its_token_expires_unrefreshed) {
    mock_upstream mock;
    mock.settings(R"({"lifetime_s":3})");
    temp_dir dir;
    const std::string path = dir.file("stats.token");
    tokend_daemon daemon(config_for(
        mock, dir, R"({"path":")" + path + R"("})",
        R"({"min_remaining_s":1,"min_serve_remaining_s":0,"retry_initial_ms":100,"retry_max_ms":400})"));
    BOOST_REQUIRE(becomes([&] { return exists(path); }, 5s));
    mock.fault(R"({"mode":"status","status":500,"endpoint":"token","count":-1})");
    BOOST_CHECK(becomes([&] { return !exists(path); }, 6s));
    BOOST_CHECK(wait_for_line(daemon.log_path(), path + " removed", 2s));
    // Back when upstream is.
    mock.clear_faults();
    BOOST_CHECK(becomes([&] { return exists(path); }, 5s));
}

BOOST_AUTO_TEST_SUITE_END()
