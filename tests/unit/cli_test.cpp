// The command line (PRODUCT.md §7): argument parsing, client endpoints and the status table.
// Pure functions only; the commands against a running daemon are in the integration suite.
#include "synergy_tokend/cli.hpp"
#include "synergy_tokend/cli_client.hpp"

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

using namespace synergy_tokend;
using namespace std::chrono_literals;

namespace {

cli_command parse(std::vector<std::string> args) {
    return parse_command_line(args);
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

// "HOST PORT", "unix PATH", or "none": printable in a failed assertion.
std::string endpoint_text(std::string_view text) {
    const auto ep = parse_client_endpoint(text);
    if (!ep)
        return "none";
    if (!ep->unix_path.empty())
        return "unix " + ep->unix_path;
    return ep->host + " " + ep->port;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cli)

BOOST_AUTO_TEST_CASE(no_arguments_run_the_daemon_with_the_default_config) {
    const auto cmd = parse({});
    BOOST_TEST(cmd.error.empty());
    BOOST_TEST((cmd.action == cli_action::run));
    BOOST_TEST(cmd.config_path == "/etc/synergy-tokend/config.json");
}

BOOST_AUTO_TEST_CASE(options_may_stand_anywhere_and_take_equals_values) {
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"run", "--config", "/x.json"},
             {"--config", "/x.json", "run"},
             {"--config=/x.json"},
             {"run", "-c", "/x.json"},
         }) {
        const auto cmd = parse(args);
        BOOST_TEST_INFO("args[0] " << args[0]);
        BOOST_TEST(cmd.error.empty());
        BOOST_TEST((cmd.action == cli_action::run));
        BOOST_TEST(cmd.config_path == "/x.json");
    }
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"token", "stats", "--endpoint", "unix:/s.sock"},
             {"--endpoint", "unix:/s.sock", "token", "stats"},
             {"token", "--endpoint=unix:/s.sock", "stats"},
         }) {
        const auto cmd = parse(args);
        BOOST_TEST_INFO("args[0] " << args[0] << ", args[1] " << args[1]);
        BOOST_TEST(cmd.error.empty());
        BOOST_TEST((cmd.action == cli_action::token));
        BOOST_TEST(cmd.token_name == "stats");
        BOOST_TEST(cmd.endpoint == "unix:/s.sock");
    }
    const auto check = parse({"check-config", "--config", "/c.json"});
    BOOST_TEST(check.error.empty());
    BOOST_TEST((check.action == cli_action::check_config));
    BOOST_TEST(check.config_path == "/c.json");

    const auto status = parse({"--endpoint", "http://127.0.0.1:8731", "status"});
    BOOST_TEST(status.error.empty());
    BOOST_TEST((status.action == cli_action::status));
    BOOST_TEST(status.endpoint == "http://127.0.0.1:8731");

    // No --endpoint: the client falls back to $SYNERGY_TOKEND_ENDPOINT or the default socket.
    BOOST_TEST(parse({"status"}).endpoint.empty());

    const auto whoami = parse({"whoami", "--endpoint", "unix:/s.sock"});
    BOOST_TEST(whoami.error.empty());
    BOOST_TEST((whoami.action == cli_action::whoami));
    BOOST_TEST(whoami.endpoint == "unix:/s.sock");
    BOOST_TEST(!parse({"whoami", "extra"}).error.empty());
}

BOOST_AUTO_TEST_CASE(token_watch_before_or_after_the_name) {
    for (const auto& args : {std::vector<std::string>{"token", "stats", "--watch"},
                             std::vector<std::string>{"--watch", "token", "stats"}}) {
        const auto cmd = parse(args);
        BOOST_TEST(cmd.error.empty(), cmd.error);
        BOOST_TEST((cmd.action == cli_action::token));
        BOOST_TEST(cmd.token_name == "stats");
        BOOST_TEST(cmd.watch);
    }
    BOOST_TEST(!parse({"token", "stats"}).watch);
}

BOOST_AUTO_TEST_CASE(help_and_version_win_over_everything_else) {
    BOOST_TEST((parse({"--help"}).action == cli_action::help));
    BOOST_TEST((parse({"-h"}).action == cli_action::help));
    BOOST_TEST((parse({"token", "--help"}).action == cli_action::help));
    BOOST_TEST((parse({"--version"}).action == cli_action::version));
    BOOST_TEST(parse({"--version"}).error.empty());
    const std::string usage = usage_text();
    for (const char* word :
         {"check-config", "token NAME", "status", "whoami", "--endpoint", "--config"})
        BOOST_TEST(usage.find(word) != std::string::npos, "usage mentions " << word);
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_errors_that_name_the_problem) {
    struct bad {
        std::vector<std::string> args;
        std::string says;
    };
    const std::vector<bad> cases{
        {{"--config"}, "--config"},
        {{"run", "--config="}, "--config"},
        {{"token", "stats", "--endpoint"}, "--endpoint"},
        {{"--bogus"}, "--bogus"},
        {{"token", "stats", "--bogus=1"}, "--bogus"},
        {{"-x"}, "-x"},
        {{"frobnicate"}, "frobnicate"},
        {{"token"}, "NAME"},
        {{"token", "a", "b"}, "'b'"},
        {{"status", "extra"}, "'extra'"},
        {{"run", "extra"}, "'extra'"},
        {{"check-config", "x.json"}, "'x.json'"},
        {{"run", "--endpoint", "unix:/s.sock"}, "--endpoint"},
        {{"check-config", "--endpoint=unix:/s.sock"}, "--endpoint"},
        {{"status", "--watch"}, "--watch is for the token command"},
        {{"--watch"}, "--watch is for the token command"},
        {{"token", "stats", "--watch=1"}, "--watch takes no value"},
    };
    for (const auto& c : cases) {
        std::string joined;
        for (const auto& a : c.args)
            joined += a + " ";
        const auto cmd = parse(c.args);
        BOOST_TEST_INFO("args: " << joined);
        BOOST_TEST(!cmd.error.empty());
        BOOST_TEST_INFO("args: " << joined << "error: " << cmd.error);
        BOOST_TEST(cmd.error.find(c.says) != std::string::npos);
        // One line: main prints it followed by the usage.
        BOOST_TEST(cmd.error.find('\n') == std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(client_endpoints_parse) {
    BOOST_TEST(endpoint_text("http://127.0.0.1:8731") == "127.0.0.1 8731");
    BOOST_TEST(endpoint_text("http://127.0.0.1:8731/") == "127.0.0.1 8731");
    BOOST_TEST(endpoint_text("http://localhost:9000") == "localhost 9000");
    BOOST_TEST(endpoint_text("http://[::1]:8731") == "::1 8731");
    BOOST_TEST(endpoint_text("http://127.0.0.1") == "127.0.0.1 80");
    BOOST_TEST(endpoint_text("unix:/run/x.sock") == "unix /run/x.sock");
    BOOST_TEST(endpoint_text("unix:/run/synergy-tokend/tokend.sock") ==
               "unix /run/synergy-tokend/tokend.sock");
}

BOOST_AUTO_TEST_CASE(bad_client_endpoints_are_refused) {
    for (const char* bad : {
             "",
             "unix:",
             "127.0.0.1:8731",
             "localhost",
             "/run/x.sock",
             "tcp:127.0.0.1:8731",
             "https://127.0.0.1:8731",
             "http://",
             "http://:8731",
             "http://127.0.0.1:",
             "http://127.0.0.1:port",
             "http://127.0.0.1:87a1",
             "http://[::1",
             "http://[::1]8731",
             "http://[]:8731",
             "http://127.0.0.1:8731/v1/tokens",
             // Not a port: must be a bad endpoint (exit 2), not an unreachable daemon (exit 3).
             "http://127.0.0.1:99999",
         }) {
        BOOST_TEST(endpoint_text(bad) == "none", "endpoint '" << bad << "'");
    }
}

BOOST_AUTO_TEST_CASE(status_table_has_a_header_and_a_row_per_profile) {
    const auto now = std::chrono::sys_days{std::chrono::year{2026} / 11 / 23} + 8h + 43min + 41s;
    const auto data = boost::json::parse(R"({
        "version": "1.2.3", "startTime": "2026-11-23T07:43:41Z", "uptime": 3600,
        "upstream": {"baseUrl": "https://token.example.test/v1", "requests": 4},
        "profiles": [
            {"name": "stats", "default": true, "state": "fresh",
             "expiresAt": "2026-11-23T09:43:41Z", "refreshAt": "2026-11-23T09:28:41Z",
             "lastRefreshAt": "2026-11-23T08:42:41Z", "lastError": null,
             "consecutiveFailures": 0, "refreshCount": 1},
            {"name": "basketball-long-name", "default": false, "state": "failed",
             "expiresAt": null, "refreshAt": "2026-11-23T08:48:41Z", "lastRefreshAt": null,
             "lastError": "HTTP 422: unknown product", "consecutiveFailures": 3,
             "refreshCount": 0}
        ],
        "onDemandEntries": 2, "listeners": ["tcp 127.0.0.1:8731"]
    })");
    const std::string table = format_status_table(data, now);
    BOOST_TEST_MESSAGE(table);
    const auto lines = lines_of(table);

    BOOST_TEST(table.find("1.2.3") != std::string::npos);
    BOOST_TEST(table.find("https://token.example.test/v1") != std::string::npos);
    std::size_t header = lines.size();
    for (std::size_t i = 0; i < lines.size(); ++i)
        if (lines[i].find("NAME") != std::string::npos &&
            lines[i].find("STATE") != std::string::npos)
            header = i;
    BOOST_REQUIRE_LT(header + 2, lines.size());
    const std::string& head = lines[header];
    const std::string& stats = lines[header + 1];
    const std::string& basketball = lines[header + 2];
    BOOST_TEST(stats.starts_with("stats *")); // the default profile is marked
    BOOST_TEST(basketball.starts_with("basketball-long-name"));

    // Columns line up under their headings.
    const auto state_col = head.find("STATE");
    BOOST_TEST(stats.substr(state_col, 5) == "fresh");
    BOOST_TEST(basketball.substr(state_col, 6) == "failed");
    const auto expires_col = head.find("EXPIRES");
    BOOST_TEST(stats.substr(expires_col).starts_with("in 1h0m"));
    BOOST_TEST(basketball.substr(expires_col).starts_with("-"));
    const auto refresh_col = head.find("LAST REFRESH");
    BOOST_TEST(stats.substr(refresh_col).starts_with("1m0s ago"));
    const auto error_col = head.find("LAST ERROR");
    BOOST_TEST(basketball.substr(error_col) == "HTTP 422: unknown product");
    BOOST_TEST(table.find("on-demand entries: 2") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(status_table_survives_an_unexpected_document) {
    const auto now = std::chrono::system_clock::now();
    BOOST_TEST(!format_status_table(boost::json::value(nullptr), now).empty());
    const std::string sparse =
        format_status_table(boost::json::parse(R"({"profiles":[{"name":"x"},7]})"), now);
    BOOST_TEST(sparse.find("NAME") != std::string::npos);
    BOOST_TEST(sparse.find("x") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(whoami_prints_the_caller_and_what_it_may_read) {
    const auto data = boost::json::parse(R"({"listener":"unix /run/synergy-tokend/tokend.sock",
        "identifiedBy":"SO_PEERCRED","uid":1001,"user":"bob","gid":1001,"groups":[1001,2001],
        "pid":4242,"readableProfiles":["stats","other"]})");
    const std::string text = format_whoami(data);
    BOOST_TEST(text.find("uid:         1001 (bob)") != std::string::npos, text);
    BOOST_TEST(text.find("SO_PEERCRED") != std::string::npos);
    BOOST_TEST(text.find("[1001,2001]") != std::string::npos);
    BOOST_TEST(text.find("may read:    stats other") != std::string::npos, text);
    const std::string unknown = format_whoami(boost::json::parse(
        R"({"identifiedBy":"none","unknownReason":"no such socket","readableProfiles":[]})"));
    BOOST_TEST(unknown.find("why unknown: no such socket") != std::string::npos, unknown);
    BOOST_TEST(unknown.find("(no profile)") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
