// Access rules on real sockets (PRODUCT.md §9): the suite, as root, starts client processes that
// switch to other uids and groups, and checks over TCP and over the Unix socket who gets which
// token, what GET /v1/tokens lists, /v1/info and the drop-in path, and a rule changed by SIGHUP.
#include <csignal>
#include <cstdlib>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include "harness.hpp"

using namespace tokend_test;
namespace json = boost::json;

namespace {

constexpr unsigned stats_uid = 54321; // may read "stats"
constexpr unsigned other_uid = 54322; // may read only the open profile
constexpr unsigned team_gid = 54400;  // the group that may read "team"

http_call token_call(const std::string& name) {
    http_call call;
    call.target = "/v1/tokens/" + name;
    call.headers["X-Tokend-Request"] = "1";
    return call;
}

std::string error_message(const http_reply& r) {
    const auto v = r.json();
    if (!v.is_object() || !v.as_object().contains("error"))
        return {};
    return std::string(v.at("error").at("message").as_string());
}

// A daemon whose Unix socket other uids can reach, with three profiles: "stats" for stats_uid,
// "team" for the group team_gid, "open" for anyone.
struct fixture {
    fixture()
        : daemon(config()) {}

    std::string config() {
        ::chmod(socket_dir.path().c_str(), 0755);
        json::object cfg;
        cfg["upstream"] = json::object{{"base_url", mock.base_url()}, {"ca_file", mock.ca_file()}};
        cfg["listen"] = json::object{{"tcp", json::array{"127.0.0.1:0"}},
                                     {"unix", socket_dir.file("tokend.sock")},
                                     {"unix_mode", "0666"}};
        cfg["tokens"] = json::parse(R"([
            {"name":"stats","product":"synergy-stats","customer_id":"345","default":true,
             "allow":{"users":[)" + std::to_string(stats_uid) +
                                    R"(]}},
            {"name":"team","product":"synergy-stats","customer_id":"346",
             "allow":{"groups":[)" + std::to_string(team_gid) +
                                    R"(]}},
            {"name":"open","product":"synergy-stats","customer_id":"347"}])");
        return json::serialize(cfg);
    }

    temp_dir socket_dir;
    mock_upstream mock;
    tokend_daemon daemon;
    const as_user stats_user{stats_uid, stats_uid, {stats_uid}};
    const as_user other_user{other_uid, other_uid, {other_uid}};
    const as_user team_member{other_uid, other_uid, {other_uid, team_gid}};
};

// How many lines of `log` contain `needle`.
std::size_t lines_with(const std::string& log, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1))
        ++n;
    return n;
}

// Writes `cfg` as the daemon's config, sends SIGHUP and waits for the reload to be logged.
void reload_with(tokend_daemon& daemon, const json::object& cfg) {
    const std::size_t before = lines_with(daemon.log(), "configuration reloaded");
    write_file(daemon.config_path(), json::serialize(cfg));
    daemon.proc().signal(SIGHUP);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (lines_with(daemon.log(), "configuration reloaded") == before &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    BOOST_REQUIRE_GT(lines_with(daemon.log(), "configuration reloaded"), before);
}

// Waits until the mock has seen more than `count` token requests.
void wait_for_token_requests(mock_upstream& mock, std::int64_t count) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (mock.counter("token_requests") <= count && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    BOOST_REQUIRE_GT(mock.counter("token_requests"), count);
}

bool skip_unless_root() {
    if (::geteuid() == 0)
        return false;
    BOOST_TEST_MESSAGE("SKIPPED: switching client processes to other uids needs root");
    return true;
}

} // namespace

BOOST_AUTO_TEST_SUITE(access_rules)

BOOST_AUTO_TEST_CASE(the_allowed_uid_gets_its_token_and_another_gets_403_naming_the_rule) {
    if (skip_unless_root())
        return;
    fixture f;
    for (const endpoint& ep : {f.daemon.tcp(), f.daemon.unix_socket()}) {
        BOOST_TEST_CONTEXT((ep.unix_path.empty() ? "over TCP" : "over the Unix socket")) {
            const auto mine = request_as(f.stats_user, ep, token_call("stats"));
            BOOST_TEST(mine.status == 200u, mine.body);
            const json::value body = mine.json();
            BOOST_TEST(!body.at("data").at("token").as_string().empty());

            const auto refused = request_as(f.other_user, ep, token_call("stats"));
            BOOST_TEST(refused.status == 403u, refused.body);
            BOOST_TEST(error_message(refused) == "caller uid 54322 may not read profile \"stats\"");
            BOOST_TEST(refused.body.find("eyJ") == std::string::npos); // no token in it

            // A profile without a rule is anyone's.
            BOOST_TEST(request_as(f.other_user, ep, token_call("open")).status == 200u);
        }
    }
    // This process is root: not in the rule either.
    BOOST_TEST(f.daemon.get_token("stats").status == 403u);
}

BOOST_AUTO_TEST_CASE(membership_of_a_supplementary_group_allows) {
    if (skip_unless_root())
        return;
    fixture f;
    for (const endpoint& ep : {f.daemon.tcp(), f.daemon.unix_socket()}) {
        BOOST_TEST_CONTEXT((ep.unix_path.empty() ? "over TCP" : "over the Unix socket")) {
            if (ep.unix_path.empty()) {
                // Over TCP the kernel names the uid only: its groups are the user database's,
                // and uid 54322 has no entry there, so the process's own groups do not count.
                BOOST_TEST(request_as(f.team_member, ep, token_call("team")).status == 403u);
                continue;
            }
            // Over the Unix socket the primary gid comes with SO_PEERCRED.
            const as_user primary{other_uid, team_gid, {team_gid}};
            BOOST_TEST(request_as(primary, ep, token_call("team")).status == 200u);
            BOOST_TEST(request_as(f.other_user, ep, token_call("team")).status == 403u);
        }
    }
}

// A user and a group made for the test (and removed after), so that names and supplementary
// groups come from the system's user database as they would on a real host.
struct system_account {
    system_account() {
        std::system("userdel tokend-test-user >/dev/null 2>&1; groupdel tokend-test-team "
                    ">/dev/null 2>&1");
        ok = std::system("groupadd -g 54410 tokend-test-team && useradd -M -N -u 54411 -g 100 "
                         "-G tokend-test-team -s /usr/sbin/nologin tokend-test-user") == 0;
    }
    ~system_account() {
        std::system("userdel tokend-test-user >/dev/null 2>&1; groupdel tokend-test-team "
                    ">/dev/null 2>&1");
    }
    bool ok = false;
};

BOOST_AUTO_TEST_CASE(a_supplementary_group_named_in_the_rule_allows_on_both_listeners) {
    if (skip_unless_root())
        return;
    system_account account;
    if (!account.ok) {
        BOOST_TEST_MESSAGE("SKIPPED: groupadd/useradd failed on this machine");
        return;
    }
    temp_dir socket_dir;
    ::chmod(socket_dir.path().c_str(), 0755);
    mock_upstream mock;
    json::object cfg;
    cfg["upstream"] = json::object{{"base_url", mock.base_url()}, {"ca_file", mock.ca_file()}};
    cfg["listen"] = json::object{{"tcp", json::array{"127.0.0.1:0"}},
                                 {"unix", socket_dir.file("tokend.sock")},
                                 {"unix_mode", "0666"}};
    cfg["tokens"] = json::parse(R"([{"name":"team","product":"synergy-stats","customer_id":"346",
        "allow":{"groups":["tokend-test-team"]}}])");
    tokend_daemon daemon(json::serialize(cfg));
    // Over TCP the kernel names the uid only: the membership is the user database's, whatever
    // groups the process holds. Over the Unix socket the groups are those the process holds
    // (SO_PEERGROUPS): a process of the member that dropped the group has dropped the right.
    const as_user member{54411, 100, {100}};
    const as_user member_holding_it{54411, 100, {100, 54410}};
    const as_user stranger{54412, 100, {100}};
    const auto over_tcp = request_as(member, daemon.tcp(), token_call("team"));
    BOOST_TEST(over_tcp.status == 200u, over_tcp.body);
    BOOST_TEST(request_as(stranger, daemon.tcp(), token_call("team")).status == 403u);
    const auto over_unix = request_as(member_holding_it, daemon.unix_socket(), token_call("team"));
    BOOST_TEST(over_unix.status == 200u, over_unix.body);
    BOOST_TEST(request_as(member, daemon.unix_socket(), token_call("team")).status == 403u);
    BOOST_TEST(request_as(stranger, daemon.unix_socket(), token_call("team")).status == 403u);
    http_call whoami;
    whoami.target = "/v1/whoami";
    const json::value who = request_as(member, daemon.tcp(), whoami).json();
    BOOST_TEST(std::string(who.at("data").at("user").as_string()) == "tokend-test-user");
    BOOST_TEST(json::serialize(who.at("data").at("groups")).find("54410") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_unknown_user_name_in_a_rule_is_a_config_error_naming_its_key) {
    temp_dir dir;
    const std::string path = dir.file("config.json");
    write_file(path, R"({"identity":{"user_identity_token_file":"/x"},"listen":{"unix":""},
        "tokens":[{"name":"s","product":"p","customer_id":1,
                   "allow":{"users":["no-such-user-here"]}}]})");
    process check({binary_path_daemon(), "check-config", "--config", path}, dir.file("out"),
                  dir.file("err"));
    BOOST_TEST((check.wait_exit(10s) == std::optional<int>(2)));
    BOOST_TEST(read_file(dir.file("err"))
                       .find("tokens[0].allow.users[0]: no user named "
                             "\"no-such-user-here\"") != std::string::npos,
               read_file(dir.file("err")));
}

BOOST_AUTO_TEST_CASE(the_token_list_shows_only_what_the_caller_may_read) {
    if (skip_unless_root())
        return;
    fixture f;
    http_call list;
    list.target = "/v1/tokens";
    const auto names = [](const http_reply& r) {
        std::string out;
        const json::value v = r.json(); // kept: the loop reads into it
        for (const auto& p : v.at("data").as_array())
            out += std::string(p.at("name").as_string()) + " ";
        return out;
    };
    BOOST_TEST(names(request_as(f.stats_user, f.daemon.unix_socket(), list)) == "stats open ");
    BOOST_TEST(names(request_as(f.other_user, f.daemon.tcp(), list)) == "open ");
}

BOOST_AUTO_TEST_CASE(info_and_the_drop_in_path_obey_the_profile_rule) {
    if (skip_unless_root())
        return;
    fixture f;
    http_call info;
    info.target = "/v1/info/scopes/authorized";
    info.headers["X-Tokend-Request"] = "1"; // no X-Token-Name: the default profile, "stats"
    BOOST_TEST(request_as(f.stats_user, f.daemon.tcp(), info).status == 200u);
    const auto refused = request_as(f.other_user, f.daemon.tcp(), info);
    BOOST_TEST(refused.status == 403u, refused.body);
    BOOST_TEST(error_message(refused).find("profile \"stats\"") != std::string::npos);
    info.headers["X-Token-Name"] = "open";
    BOOST_TEST(request_as(f.other_user, f.daemon.tcp(), info).status == 200u);

    http_call drop_in;
    drop_in.method = "POST";
    drop_in.target = "/v1/products/token";
    drop_in.headers["Content-Type"] = "application/json";
    drop_in.body = R"({"userIdentityToken":"test-identity-token-0001","product":"synergy-stats",)"
                   R"("customerId":"345"})";
    const std::int64_t before = f.mock.counter("token_requests");
    BOOST_TEST(request_as(f.stats_user, f.daemon.unix_socket(), drop_in).status == 200u);
    const auto dropped = request_as(f.other_user, f.daemon.unix_socket(), drop_in);
    BOOST_TEST(dropped.status == 403u, dropped.body);
    BOOST_TEST(f.mock.counter("token_requests") == before); // the profile's cached token
}

BOOST_AUTO_TEST_CASE(refusals_are_counted_logged_once_a_minute_and_whoami_explains) {
    if (skip_unless_root())
        return;
    fixture f;
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(request_as(f.other_user, f.daemon.unix_socket(), token_call("stats")).status ==
                   403u);
    http_call metrics;
    metrics.target = "/metrics";
    const auto m = http_request(f.daemon.tcp(), metrics);
    BOOST_TEST(m.body.find("synergy_tokend_access_denied_total{profile=\"stats\"} 3") !=
               std::string::npos);
    const std::string log = f.daemon.log();
    std::size_t lines = 0;
    for (auto at = log.find("uid 54322 may not read profile"); at != std::string::npos;
         at = log.find("uid 54322 may not read profile", at + 1))
        ++lines;
    BOOST_TEST(lines == 1u, log);
    BOOST_TEST(log.find("pid ") != std::string::npos); // the Unix socket names the process

    http_call whoami;
    whoami.target = "/v1/whoami";
    const auto who = request_as(f.stats_user, f.daemon.unix_socket(), whoami);
    BOOST_REQUIRE_EQUAL(who.status, 200u);
    const json::value data = who.json().at("data");
    BOOST_TEST(data.at("uid").as_int64() == stats_uid);
    BOOST_TEST(std::string(data.at("identifiedBy").as_string()) == "SO_PEERCRED");
    BOOST_TEST(json::serialize(data.at("readableProfiles")) == R"(["stats","open"])");
    const json::value tcp_who = request_as(f.other_user, f.daemon.tcp(), whoami).json();
    BOOST_TEST(std::string(tcp_who.at("data").at("identifiedBy").as_string()) == "sock_diag");
    BOOST_TEST(tcp_who.at("data").at("uid").as_int64() == other_uid);
}

BOOST_AUTO_TEST_CASE(a_rule_changed_by_sighup_applies_to_new_connections) {
    if (skip_unless_root())
        return;
    fixture f;
    BOOST_TEST(request_as(f.other_user, f.daemon.tcp(), token_call("stats")).status == 403u);
    auto cfg = json::parse(read_file(f.daemon.config_path())).as_object();
    cfg["tokens"].as_array()[0].as_object()["allow"] =
        json::parse(R"({"users":[)" + std::to_string(other_uid) + "]}");
    write_file(f.daemon.config_path(), json::serialize(cfg));
    // Every profile's first fetch done (readyz 200), so that the count below moves only if the
    // reload fetches again.
    http_call readyz;
    readyz.target = "/readyz";
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (http_request(f.daemon.tcp(), readyz).status != 200 &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    BOOST_REQUIRE_EQUAL(http_request(f.daemon.tcp(), readyz).status, 200u);
    const std::int64_t before = f.mock.counter("token_requests");
    f.daemon.proc().signal(SIGHUP);
    BOOST_REQUIRE(wait_for_line(f.daemon.log_path(), "configuration reloaded", 5s));
    BOOST_TEST(request_as(f.other_user, f.daemon.tcp(), token_call("stats")).status == 200u);
    BOOST_TEST(request_as(f.stats_user, f.daemon.tcp(), token_call("stats")).status == 403u);
    BOOST_TEST(f.mock.counter("token_requests") == before); // same token: no new fetch
}

// The rule is checked again after every wait: a reload during a drop-in request's upstream fetch
// that gives on_demand a rule refuses the caller the token fetched for it.
BOOST_AUTO_TEST_CASE(a_rule_added_while_a_drop_in_request_waits_refuses_it) {
    if (skip_unless_root())
        return;
    fixture f;
    f.daemon.wait_ready();
    auto cfg = json::parse(read_file(f.daemon.config_path())).as_object();
    cfg["on_demand"] = json::object{{"enabled", true}};
    reload_with(f.daemon, cfg);

    const std::int64_t before = f.mock.counter("token_requests");
    f.mock.fault(R"({"mode":"delay","delay_ms":1500,"endpoint":"token","count":1})");
    http_call drop_in;
    drop_in.method = "POST";
    drop_in.target = "/v1/products/token";
    drop_in.headers["Content-Type"] = "application/json";
    drop_in.body = R"({"userIdentityToken":"test-identity-token-0001","product":"synergy-stats",)"
                   R"("customerId":"999"})";                        // no profile: on demand
    request_in_child caller(f.other_user, f.daemon.tcp(), drop_in); // forked before any thread
    wait_for_token_requests(f.mock, before);                        // the fetch for it is under way
    cfg["on_demand"].as_object()["allow"] =
        json::parse(R"({"users":[)" + std::to_string(stats_uid) + "]}");
    reload_with(f.daemon, cfg);
    const http_reply reply = caller.reply();
    BOOST_TEST(reply.status == 403u); // the body is not printed: it may hold a token
    BOOST_TEST(error_message(reply).find("on_demand") != std::string::npos);
    BOOST_TEST(reply.body.find("token\":") == std::string::npos);
}

// The same for /v1/info's retry: upstream refuses the token, the daemon waits for its
// replacement, a reload meanwhile gives the profile a rule that excludes the caller: 403, and the
// request is not sent again with the new token.
BOOST_AUTO_TEST_CASE(a_rule_added_while_info_waits_for_a_replacement_refuses_the_retry) {
    if (skip_unless_root())
        return;
    fixture f;
    f.daemon.wait_ready();
    http_call info;
    info.target = "/v1/info/scopes/authorized";
    info.headers["X-Tokend-Request"] = "1";
    info.headers["X-Token-Name"] = "open";
    BOOST_REQUIRE_EQUAL(request_as(f.other_user, f.daemon.tcp(), info).status, 200u);

    f.mock.control("POST", "/control/revoke"); // the next /info answers 401
    const std::int64_t before = f.mock.counter("token_requests");
    f.mock.fault(R"({"mode":"delay","delay_ms":1500,"endpoint":"token","count":1})");
    request_in_child caller(f.other_user, f.daemon.tcp(), info); // forked before any thread
    wait_for_token_requests(f.mock, before);                     // the replacement is being fetched
    auto cfg = json::parse(read_file(f.daemon.config_path())).as_object();
    cfg["tokens"].as_array()[2].as_object()["allow"] =
        json::parse(R"({"users":[)" + std::to_string(stats_uid) + "]}");
    reload_with(f.daemon, cfg);
    const http_reply reply = caller.reply();
    BOOST_TEST(reply.status == 403u, reply.body);
    BOOST_TEST(error_message(reply).find("profile \"open\"") != std::string::npos, reply.body);
}

BOOST_AUTO_TEST_SUITE_END()
