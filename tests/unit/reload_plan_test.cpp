// plan_reload: what a SIGHUP applies live and what waits for a restart, decided without I/O.
#include <boost/test/unit_test.hpp>

#include <string>

#include "synergy_tokend/config.hpp"
#include "synergy_tokend/reload_plan.hpp"

using namespace synergy_tokend;
using namespace std::chrono_literals;

namespace {

config sample() {
    auto parsed = parse_config(R"({
        "upstream": {"base_url": "https://auth.example.com/v1"},
        "identity": {"user_identity_token_file": "/etc/synergy-tokend/identity-token"},
        "listen": {"tcp": ["127.0.0.1:8731"], "unix": ""},
        "tokens": [{"name": "stats", "product": "synergy-stats", "customer_id": "345"}]
    })");
    BOOST_REQUIRE(parsed.ok());
    return parsed.value;
}

bool mentions(const reload_plan& p, const std::string& what) {
    for (const auto& line : p.restart_needed)
        if (line.find(what) != std::string::npos)
            return true;
    return false;
}

} // namespace

BOOST_AUTO_TEST_SUITE(reload_plan_rules)

BOOST_AUTO_TEST_CASE(an_unchanged_config_applies_as_it_is_with_no_warning) {
    const config running = sample();
    const reload_plan p = plan_reload(running, sample());
    BOOST_TEST(p.restart_needed.empty());
    BOOST_TEST(!p.identity_changed);
    BOOST_TEST((p.apply.tokens == running.tokens));
}

BOOST_AUTO_TEST_CASE(profiles_refresh_on_demand_and_log_settings_apply_live) {
    config next = sample();
    next.tokens[0].product = "synergy-other";
    next.refresh.retry_initial = 2500ms;
    next.on_demand.enabled = !next.on_demand.enabled;
    next.log = log_level::debug;
    const reload_plan p = plan_reload(sample(), next);
    BOOST_TEST(p.restart_needed.empty());
    BOOST_TEST(p.apply.tokens[0].product == "synergy-other");
    BOOST_TEST(p.apply.refresh.retry_initial.count() == 2500);
    BOOST_TEST(p.apply.on_demand.enabled == next.on_demand.enabled);
    BOOST_TEST((p.apply.log == log_level::debug));
}

BOOST_AUTO_TEST_CASE(upstream_changes_wait_for_a_restart) {
    config next = sample();
    next.upstream.base_url = "https://other.example.com/v1";
    next.upstream.max_connections = 3;
    const config running = sample();
    const reload_plan p = plan_reload(running, next);
    BOOST_TEST(mentions(p, "upstream.*"));
    BOOST_TEST(p.apply.upstream.base_url == running.upstream.base_url);
    BOOST_TEST(p.apply.upstream.max_connections == running.upstream.max_connections);
}

BOOST_AUTO_TEST_CASE(listen_changes_wait_except_the_request_header_rule) {
    config next = sample();
    next.listen.tcp.clear();
    next.listen.keepalive_idle = 5s;
    next.listen.require_request_header = !next.listen.require_request_header;
    const config running = sample();
    const reload_plan p = plan_reload(running, next);
    BOOST_TEST(mentions(p, "listen.*"));
    BOOST_TEST((p.apply.listen.tcp == running.listen.tcp));
    BOOST_TEST((p.apply.listen.keepalive_idle == running.listen.keepalive_idle));
    BOOST_TEST(p.apply.listen.require_request_header == next.listen.require_request_header);
}

BOOST_AUTO_TEST_CASE(only_the_require_request_header_change_needs_no_restart) {
    config next = sample();
    next.listen.require_request_header = !next.listen.require_request_header;
    BOOST_TEST(plan_reload(sample(), next).restart_needed.empty());
}

BOOST_AUTO_TEST_CASE(state_and_startup_timeout_wait_for_a_restart) {
    config next = sample();
    next.state.persist = !next.state.persist;
    next.service.startup_timeout = 3s;
    next.service.shutdown_grace = 9s;
    const config running = sample();
    const reload_plan p = plan_reload(running, next);
    BOOST_TEST(mentions(p, "state.*"));
    BOOST_TEST(p.apply.state.persist == running.state.persist);
    BOOST_TEST((p.apply.service.startup_timeout == running.service.startup_timeout));
    BOOST_TEST((p.apply.service.shutdown_grace == next.service.shutdown_grace)); // live
}

BOOST_AUTO_TEST_CASE(a_new_identity_source_is_reported) {
    config next = sample();
    next.identity.token_file = "/etc/synergy-tokend/other-token";
    const reload_plan p = plan_reload(sample(), next);
    BOOST_TEST(p.identity_changed);
    BOOST_TEST((p.apply.identity == next.identity));
    BOOST_TEST(p.restart_needed.empty());
}

BOOST_AUTO_TEST_CASE(routes_change_live) {
    config next = sample();
    route_config r;
    r.prefix = "/stats/";
    r.upstream = "https://api.example.com/v2";
    r.token = next.tokens[0].name;
    next.routes.push_back(r);
    const reload_plan p = plan_reload(sample(), next);
    BOOST_TEST(p.restart_needed.empty());
    BOOST_TEST_REQUIRE(p.apply.routes.size() == 1u);
    BOOST_TEST((p.apply.routes[0] == r));
}

BOOST_AUTO_TEST_CASE(a_new_rule_or_default_is_still_the_same_token) {
    profile_config a = sample().tokens[0];
    profile_config b = a;
    b.allow = access_rule{{1001}, {}};
    b.is_default = !a.is_default;
    BOOST_TEST(same_token(a, b));
    b.scopes = std::vector<std::string>{"x", "y"};
    a.scopes = std::vector<std::string>{"y", "x", "x"};
    BOOST_TEST(same_token(a, b));
    b.product = "other";
    BOOST_TEST(!same_token(a, b));
}

BOOST_AUTO_TEST_SUITE_END()
