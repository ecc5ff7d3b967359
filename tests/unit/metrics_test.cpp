// /status and /metrics rendering (PRODUCT.md §5), from hand-built snapshots: no daemon, no sockets.
#include "synergy_tokend/metrics.hpp"

#include <array>
#include <chrono>
#include <cstring>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include "synergy_tokend/token_store.hpp"

using namespace synergy_tokend;
using namespace std::chrono_literals;
using std::chrono::microseconds;

namespace {

// 2026-11-23T08:43:41Z
const wall_clock::time_point start_time =
    std::chrono::sys_days{std::chrono::year{2026} / 11 / 23} + 8h + 43min + 41s;

profile_view profile(std::string name, token_state state) {
    profile_view v;
    v.cfg.name = std::move(name);
    v.cfg.product = "synergy-stats";
    v.cfg.customer_id = "345";
    v.state = state;
    return v;
}

// A snapshot as the daemon would gather it: one fresh default profile, one that upstream refused.
struct sample_snapshot {
    request_counters counters;
    status_snapshot s;

    sample_snapshot() {
        s.version = "1.2.3";
        s.started_at = start_time;
        s.now = start_time + 90s + 700ms;
        s.upstream_base_url = "https://token.example.test/v1";
        s.upstream.requests = 7;
        s.upstream.errors = 1;
        s.upstream.open_connections = 2;
        s.upstream.idle_connections = 1;
        s.upstream.tls_handshakes = 2;
        s.upstream.last_latency = 12500us;
        s.upstream_latency.observe(3ms);
        s.upstream_latency.observe(40ms);

        profile_view fresh = profile("stats", token_state::fresh);
        fresh.is_default = true;
        fresh.expires_at = start_time + 3600s;
        fresh.refresh_at = start_time + 2700s;
        fresh.last_refresh_at = start_time;
        fresh.refresh_count = 3;
        fresh.failures_total = 1;
        s.profiles.push_back(fresh);

        profile_view failed = profile("basketball", token_state::failed);
        failed.cfg.product = "invalid-product";
        failed.last_error = "HTTP 422: product \"invalid-product\" unknown \\ see docs\nline 2";
        failed.consecutive_failures = 4;
        failed.rejections_total = 4;
        s.profiles.push_back(failed);

        s.on_demand_entries = 5;
        s.listeners = {"tcp 127.0.0.1:8731", "unix /run/synergy-tokend/tokend.sock"};
        s.open_connections = 3;
        counters.by_route_code[{"/v1/tokens/{name}", 200}] = 42;
        counters.by_route_code[{"other", 404}] = 1;
        counters.proxy_outcomes["ok"] = 6;
        counters.access_denied["stats"] = 2;
        s.requests = &counters;
    }
};

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

// The value of the sample line starting with `series` ("name{labels}" exactly), or "" if none.
std::string sample_value(const std::string& text, const std::string& series) {
    for (const auto& line : lines_of(text))
        if (line.starts_with(series + " "))
            return line.substr(series.size() + 1);
    return {};
}

// Sample lines of the text format: name, optional {labels} with the three escapes, a value.
const std::regex sample_line(
    R"re(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")re"
    R"re((?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? )re"
    R"re(([-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|Inf|NaN)))re");

// Problems with the exposition format: sample syntax, and # HELP and # TYPE before each family's
// samples (a histogram's family owns its _bucket, _sum and _count series).
std::vector<std::string> format_problems(const std::string& text) {
    std::vector<std::string> problems;
    if (!text.ends_with('\n'))
        problems.push_back("the text does not end with a newline");
    std::map<std::string, std::string> types;
    std::set<std::string> helped;
    for (const auto& line : lines_of(text)) {
        if (line.starts_with("# HELP ")) {
            helped.insert(line.substr(7, line.find(' ', 7) - 7));
            continue;
        }
        if (line.starts_with("# TYPE ")) {
            std::istringstream words(line.substr(7));
            std::string name, type;
            words >> name >> type;
            types[name] = type;
            continue;
        }
        std::smatch m;
        if (!std::regex_match(line, m, sample_line)) {
            problems.push_back("not a sample line: " + line);
            continue;
        }
        std::string family = m[1];
        for (const char* suffix : {"_bucket", "_sum", "_count"})
            if (family.ends_with(suffix)) {
                const auto base = family.substr(0, family.size() - std::strlen(suffix));
                if (types.contains(base) && types[base] == "histogram")
                    family = base;
            }
        if (!types.contains(family) || !helped.contains(family))
            problems.push_back("no # HELP and # TYPE before " + line);
    }
    return problems;
}

} // namespace

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(latency_histogram_puts_each_duration_in_its_first_bucket) {
    latency_histogram h;
    h.observe(1ms);
    h.observe(5ms); // on a bound: "le" means less than or equal
    h.observe(5001us);
    h.observe(100ms);
    h.observe(45s); // beyond the last bound: only in +Inf, i.e. count
    const std::array<std::uint64_t, 12> expected{2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    BOOST_TEST(h.bucket_counts == expected, boost::test_tools::per_element());
    BOOST_TEST(h.count == 5u);
    BOOST_TEST(h.sum_s == 45.111001, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(histogram_renders_cumulative_buckets_with_plain_le_labels) {
    status_snapshot s;
    s.started_at = s.now = start_time;
    for (auto d : {1ms, 5ms, 7ms, 100ms, 45000ms})
        s.upstream_latency.observe(d);
    const std::string text = render_metrics(s);

    std::vector<std::string> les;
    std::vector<std::string> counts;
    const std::string prefix = "synergy_tokend_upstream_request_duration_seconds_bucket{le=\"";
    for (const auto& line : lines_of(text)) {
        if (!line.starts_with(prefix))
            continue;
        const auto close = line.find("\"} ");
        les.push_back(line.substr(prefix.size(), close - prefix.size()));
        counts.push_back(line.substr(close + 3));
    }
    // The label values a user writes in a query, e.g. rate(..._bucket{le="0.1"}[5m]): they must
    // be the bounds' shortest decimal forms, not 17-digit renderings such as 0.10000000000000001.
    const std::vector<std::string> expected_les{"0.005", "0.01", "0.025", "0.05", "0.1",
                                                "0.25",  "0.5",  "1",     "2.5",  "5",
                                                "10",    "30",   "+Inf"};
    BOOST_TEST(les == expected_les, boost::test_tools::per_element());
    const std::vector<std::string> expected_counts{"2", "3", "3", "3", "4", "4", "4",
                                                   "4", "4", "4", "4", "4", "5"};
    BOOST_TEST(counts == expected_counts, boost::test_tools::per_element());
    BOOST_TEST(sample_value(text, "synergy_tokend_upstream_request_duration_seconds_count") == "5");
    BOOST_TEST(std::stod(sample_value(
                   text, "synergy_tokend_upstream_request_duration_seconds_sum")) == 45.113,
               boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(metrics_text_has_the_documented_series) {
    const sample_snapshot snap;
    const std::string text = render_metrics(snap.s);
    for (const auto& p : format_problems(text))
        BOOST_ERROR(p);

    BOOST_TEST(sample_value(text, R"(synergy_tokend_token_state{profile="stats",state="fresh"})") ==
               "1");
    BOOST_TEST(sample_value(text, R"(synergy_tokend_token_state{profile="stats",state="stale"})") ==
               "0");
    BOOST_TEST(
        sample_value(text, R"(synergy_tokend_token_state{profile="basketball",state="failed"})") ==
        "1");
    // Exactly one state is 1 per profile.
    int ones = 0;
    for (const auto& line : lines_of(text))
        if (line.starts_with("synergy_tokend_token_state{profile=\"stats\"") &&
            line.ends_with(" 1"))
            ++ones;
    BOOST_TEST(ones == 1);

    const auto expiry =
        std::chrono::duration_cast<std::chrono::seconds>((start_time + 3600s).time_since_epoch())
            .count();
    BOOST_TEST(std::stod(sample_value(
                   text, R"(synergy_tokend_token_expiry_timestamp_seconds{profile="stats"})")) ==
               static_cast<double>(expiry));
    // No token yet: 0, not a missing series.
    BOOST_TEST(
        sample_value(
            text, R"(synergy_tokend_token_expiry_timestamp_seconds{profile="basketball"})") == "0");
    BOOST_TEST(sample_value(
                   text, R"(synergy_tokend_token_refreshes_total{profile="stats",outcome="ok"})") ==
               "3");
    BOOST_TEST(
        sample_value(text,
                     R"(synergy_tokend_token_refreshes_total{profile="stats",outcome="failed"})") ==
        "1");
    BOOST_TEST(
        sample_value(
            text,
            R"(synergy_tokend_token_refreshes_total{profile="basketball",outcome="rejected"})") ==
        "4");
    BOOST_TEST(
        sample_value(
            text, R"(synergy_tokend_http_requests_total{route="/v1/tokens/{name}",code="200"})") ==
        "42");
    BOOST_TEST(sample_value(
                   text, R"(synergy_tokend_http_requests_total{route="other",code="404"})") == "1");
    BOOST_TEST(sample_value(text, R"(synergy_tokend_proxy_requests_total{outcome="ok"})") == "6");
    BOOST_TEST(sample_value(text, R"(synergy_tokend_access_denied_total{profile="stats"})") == "2");
    BOOST_TEST(sample_value(text, "synergy_tokend_on_demand_entries") == "5");
    BOOST_TEST(sample_value(text, "synergy_tokend_open_connections") == "3");
    BOOST_TEST(sample_value(text, R"(synergy_tokend_upstream_connections{state="idle"})") == "1");
    BOOST_TEST(sample_value(text, R"(synergy_tokend_upstream_connections{state="busy"})") == "1");
    BOOST_TEST(sample_value(text, "synergy_tokend_upstream_errors_total") == "1");
    BOOST_TEST(sample_value(text, "synergy_tokend_upstream_request_duration_seconds_count") == "2");
    BOOST_TEST(sample_value(text, R"(synergy_tokend_build_info{version="1.2.3"})") == "1");
    // An error message is /status material, never a label.
    BOOST_TEST(text.find("invalid-product\\\" unknown") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(label_values_are_escaped) {
    status_snapshot s;
    s.started_at = s.now = start_time;
    // Config forbids such names; the renderer must not rely on it.
    s.profiles.push_back(profile("we\"ird\\name\nx", token_state::pending));
    s.version = "1.0\"beta";
    const std::string text = render_metrics(s);
    for (const auto& p : format_problems(text))
        BOOST_ERROR(p);
    BOOST_TEST(
        sample_value(text,
                     R"(synergy_tokend_token_state{profile="we\"ird\\name\nx",state="pending"})") ==
        "1");
    BOOST_TEST(sample_value(text, R"(synergy_tokend_build_info{version="1.0\"beta"})") == "1");
}

BOOST_AUTO_TEST_CASE(without_request_counters_no_empty_families_dangle) {
    status_snapshot s;
    s.started_at = s.now = start_time;
    const std::string text = render_metrics(s);
    for (const auto& p : format_problems(text))
        BOOST_ERROR(p);
    BOOST_TEST(text.find("synergy_tokend_http_requests_total") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_shared_cache_is_shown_only_when_configured) {
    sample_snapshot snap;
    BOOST_TEST(render_metrics(snap.s).find("shared_cache") == std::string::npos);
    BOOST_TEST(boost::json::parse(render_status_json(snap.s)).at("sharedCache").is_null());

    shared_cache_view c;
    c.url = "rediss://redis.internal:6380/0";
    c.state = shared_state::fallback;
    c.last_error = "connect: Connection refused";
    c.hits = 12;
    c.lease_wins = 3;
    c.fallbacks = 1;
    c.errors = 2;
    c.rejected_entries = 4;
    c.commands = 40;
    snap.s.shared_cache = c;
    const std::string text = render_metrics(snap.s);
    for (const auto& p : format_problems(text))
        BOOST_ERROR(p);
    BOOST_TEST(sample_value(text, "synergy_tokend_shared_cache_up") == "0");
    BOOST_TEST(sample_value(text, "synergy_tokend_shared_cache_hits_total") == "12");
    BOOST_TEST(sample_value(text, "synergy_tokend_shared_cache_lease_wins_total") == "3");
    BOOST_TEST(sample_value(text, "synergy_tokend_shared_cache_fallbacks_total") == "1");
    BOOST_TEST(sample_value(text, "synergy_tokend_shared_cache_errors_total") == "2");
    BOOST_TEST(sample_value(text, "synergy_tokend_shared_cache_rejected_entries_total") == "4");
    BOOST_TEST(sample_value(text, "synergy_tokend_shared_cache_commands_total") == "40");

    const auto shared = boost::json::parse(render_status_json(snap.s)).at("sharedCache");
    BOOST_TEST(shared.at("url").as_string() == "rediss://redis.internal:6380/0");
    BOOST_TEST(shared.at("state").as_string() == "fallback");
    BOOST_TEST(shared.at("lastError").as_string() == "connect: Connection refused");
    BOOST_TEST(shared.at("hits").to_number<long long>() == 12);
    BOOST_TEST(shared.at("leaseWins").to_number<long long>() == 3);
    BOOST_TEST(shared.at("fallbacks").to_number<long long>() == 1);
    BOOST_TEST(shared.at("rejectedEntries").to_number<long long>() == 4);
}

BOOST_AUTO_TEST_CASE(status_json_is_valid_and_complete) {
    const sample_snapshot snap;
    const std::string text = render_status_json(snap.s);
    boost::system::error_code ec;
    const boost::json::value doc = boost::json::parse(text, ec);
    BOOST_REQUIRE_MESSAGE(!ec, "not JSON: " << ec.message() << ": " << text);
    BOOST_REQUIRE(doc.is_object());
    const auto& d = doc.as_object();

    BOOST_TEST(d.at("version").as_string() == "1.2.3");
    BOOST_TEST(d.at("startTime").as_string() == "2026-11-23T08:43:41Z");
    BOOST_TEST(d.at("uptime").to_number<long long>() == 90); // whole seconds, rounded down
    const auto& up = d.at("upstream").as_object();
    BOOST_TEST(up.at("baseUrl").as_string() == "https://token.example.test/v1");
    BOOST_TEST(up.at("requests").to_number<long long>() == 7);
    BOOST_TEST(up.at("errors").to_number<long long>() == 1);
    BOOST_TEST(up.at("idleConnections").to_number<long long>() == 1);
    BOOST_TEST(up.at("lastLatencyMs").to_number<double>() == 12.5);

    const auto& profiles = d.at("profiles").as_array();
    BOOST_REQUIRE_EQUAL(profiles.size(), 2u);
    const auto& fresh = profiles.at(0).as_object();
    BOOST_TEST(fresh.at("name").as_string() == "stats");
    BOOST_TEST(fresh.at("state").as_string() == "fresh");
    BOOST_TEST(fresh.at("default").as_bool());
    BOOST_TEST(fresh.at("expiresAt").as_string() == "2026-11-23T09:43:41Z");
    BOOST_TEST(fresh.at("refreshAt").as_string() == "2026-11-23T09:28:41Z");
    BOOST_TEST(fresh.at("lastRefreshAt").as_string() == "2026-11-23T08:43:41Z");
    BOOST_TEST(fresh.at("lastError").is_null());
    BOOST_TEST(fresh.at("consecutiveFailures").to_number<long long>() == 0);
    BOOST_TEST(fresh.at("refreshCount").to_number<long long>() == 3);

    const auto& failed = profiles.at(1).as_object();
    BOOST_TEST(failed.at("state").as_string() == "failed");
    BOOST_TEST(failed.at("expiresAt").is_null());
    BOOST_TEST(failed.at("refreshAt").is_null());
    BOOST_TEST(failed.at("lastRefreshAt").is_null());
    // Quotes, backslashes and newlines of an upstream message survive a JSON round trip.
    BOOST_TEST(failed.at("lastError").as_string() ==
               "HTTP 422: product \"invalid-product\" unknown \\ see docs\nline 2");
    BOOST_TEST(failed.at("consecutiveFailures").to_number<long long>() == 4);

    BOOST_TEST(d.at("onDemandEntries").to_number<long long>() == 5);
    const auto& listeners = d.at("listeners").as_array();
    BOOST_REQUIRE_EQUAL(listeners.size(), 2u);
    BOOST_TEST(listeners.at(0).as_string() == "tcp 127.0.0.1:8731");
    BOOST_TEST(listeners.at(1).as_string() == "unix /run/synergy-tokend/tokend.sock");
    BOOST_TEST(text.find("\"token\"") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
