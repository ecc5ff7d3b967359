// state.persist (PRODUCT.md §6): a restart reuses saved tokens without an upstream call, and a
// bad state file never stops the daemon.
#include <boost/test/unit_test.hpp>
#include <csignal>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "harness.hpp"

using namespace tokend_test;

namespace {

std::string config_for(const mock_upstream& mock, const std::string& state_dir) {
    return R"({"upstream":{"base_url":")" + mock.base_url() + R"(","ca_file":")" + mock.ca_file() +
           R"("},"state":{"persist":true,"dir":")" + state_dir +
           R"("},"tokens":[{"name":"stats","product":"synergy-stats","customer_id":"345"}]})";
}

void stop(tokend_daemon& d) {
    d.proc().signal(SIGTERM);
    BOOST_REQUIRE(d.proc().wait_exit(10s));
}

} // namespace

BOOST_AUTO_TEST_SUITE(persistence)

BOOST_AUTO_TEST_CASE(restart_reuses_the_saved_token_without_an_upstream_call) {
    mock_upstream mock;
    temp_dir state;
    std::string first;
    {
        tokend_daemon d(config_for(mock, state.path()));
        first = token_of(d.get_token("stats"));
        BOOST_REQUIRE(!first.empty());
        stop(d);
    }
    struct stat st {};
    BOOST_REQUIRE_EQUAL(::stat((state.path() + "/tokens.json").c_str(), &st), 0);
    BOOST_CHECK_EQUAL(st.st_mode & 0777, 0600u);
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 1);

    tokend_daemon again(config_for(mock, state.path()));
    BOOST_CHECK_EQUAL(token_of(again.get_token("stats")), first);
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 1);
    BOOST_CHECK(again.log().find("using the saved token") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(saved_token_of_another_identity_is_not_used) {
    mock_upstream mock;
    temp_dir state;
    {
        tokend_daemon d(config_for(mock, state.path()), "identity-one-0001");
        BOOST_REQUIRE_EQUAL(d.get_token("stats").status, 200u);
        stop(d);
    }
    tokend_daemon other(config_for(mock, state.path()), "identity-two-0002");
    BOOST_CHECK_EQUAL(other.get_token("stats").status, 200u);
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 2);
}

BOOST_AUTO_TEST_CASE(bad_state_files_are_logged_and_ignored) {
    struct bad_file {
        const char* what;
        std::string content;
        unsigned mode;
        bool foreign_owner;
    };
    const bad_file cases[] = {
        {"not JSON", "{\"version\":1,\"tok", 0600, false},
        {"truncated to nothing", "", 0600, false},
        {"wrong shape", R"({"version":1,"tokens":[{"profile":"stats"}]})", 0600, false},
        {"world-readable", R"({"version":1,"tokens":[]})", 0644, false},
        {"owned by someone else", R"({"version":1,"tokens":[]})", 0600, true},
    };
    for (const auto& c : cases) {
        BOOST_TEST_INFO(c.what);
        if (c.foreign_owner && ::geteuid() != 0)
            continue; // only root can give a file away
        mock_upstream mock;
        temp_dir state;
        const std::string path = state.path() + "/tokens.json";
        write_file(path, c.content);
        ::chmod(path.c_str(), c.mode);
        if (c.foreign_owner)
            BOOST_REQUIRE_EQUAL(::chown(path.c_str(), 12345, 12345), 0);
        tokend_daemon d(config_for(mock, state.path()));
        BOOST_CHECK_EQUAL(d.get_token("stats").status, 200u);
        BOOST_CHECK(d.log().find("ignoring the state file") != std::string::npos);
        BOOST_CHECK_EQUAL(mock.counter("token_requests"), 1);
    }
}

BOOST_AUTO_TEST_CASE(kill_9_never_leaves_a_file_that_stops_the_next_start) {
    mock_upstream mock;
    // 3 s: a 2 s token whose whole-second JWT exp leaves under a second would be refused.
    mock.settings(R"({"lifetime_s":3})");
    temp_dir state;
    const std::string cfg =
        R"({"upstream":{"base_url":")" + mock.base_url() + R"(","ca_file":")" + mock.ca_file() +
        R"("},"state":{"persist":true,"dir":")" + state.path() +
        R"("},"refresh":{"refresh_at":0.3,"min_remaining_s":1,"min_serve_remaining_s":0},)"
        R"("tokens":[{"name":"stats","product":"synergy-stats","customer_id":"345"}]})";
    // Refreshing at 30 % of a 2 to 3 s lifetime, every 0.6 to 0.9 s, the daemon writes the file
    // constantly; kill it at moments spread over its first fetch and first refreshes and check
    // the next start is always clean.
    for (int round = 0; round < 5; ++round) {
        tokend_daemon d(cfg);
        std::this_thread::sleep_for(std::chrono::milliseconds(250 + 180 * round));
        d.proc().signal(SIGKILL);
        d.proc().wait_exit(5s);
        tokend_daemon next(cfg);
        BOOST_CHECK_EQUAL(next.get_token("stats").status, 200u);
        BOOST_CHECK(next.log().find("ignoring the state file") == std::string::npos);
        next.proc().signal(SIGKILL);
        next.proc().wait_exit(5s);
    }
}

BOOST_AUTO_TEST_SUITE_END()
