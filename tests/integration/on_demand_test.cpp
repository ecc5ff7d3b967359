// The on-demand cache of drop-in POST /v1/products/token (PRODUCT.md §4, §5, §8): upstream
// errors answered as they came and tried again later, scopes sent once each and sorted, the
// identity token of the request used and never kept, and memory bounded in bytes.
#include <fstream>
#include <string>
#include <thread>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include "harness.hpp"
#include "synergy_tokend/token_reply.hpp"

using namespace tokend_test;
namespace json = boost::json;

namespace {

const std::string daemon_identity = "test-identity-token-0001";

std::string config_for(const mock_upstream& mock, const std::string& extra_json = "{}") {
    json::object cfg = json::parse(extra_json).as_object();
    cfg["upstream"] = json::object{
        {"base_url", mock.base_url()}, {"ca_file", mock.ca_file()}, {"request_timeout_ms", 5000}};
    cfg["tokens"] =
        json::parse(R"([{"name":"stats","product":"synergy-stats","customer_id":"345"}])");
    return json::serialize(cfg);
}

http_call drop_in(const std::string& identity, const std::string& product,
                  const std::optional<json::array>& scopes = std::nullopt) {
    json::object body{{"userIdentityToken", identity}, {"product", product}, {"customerId", "7"}};
    if (scopes)
        body["scopes"] = *scopes;
    http_call call;
    call.method = "POST";
    call.target = "/v1/products/token";
    call.headers["Content-Type"] = "application/json";
    call.body = json::serialize(body);
    return call;
}

// The scopes claim of a token the mock issued.
json::value scopes_claim(const std::string& jwt) {
    const auto first = jwt.find('.');
    const auto second = jwt.find('.', first + 1);
    const auto payload = synergy_tokend::base64url_decode(
        std::string_view(jwt).substr(first + 1, second - first - 1));
    if (!payload)
        return nullptr;
    const auto claims = json::parse(*payload);
    const auto* scopes = claims.as_object().if_contains("scopes");
    return scopes ? *scopes : json::value(nullptr);
}

std::int64_t token_requests(mock_upstream& mock) {
    return mock.counter("token_requests");
}

std::int64_t on_demand_entries(const tokend_daemon& daemon) {
    http_call call;
    call.target = "/status";
    const auto v = http_request(daemon.tcp(), call).json();
    return v.at("data").at("onDemandEntries").to_number<std::int64_t>();
}

} // namespace

BOOST_AUTO_TEST_SUITE(on_demand)

BOOST_AUTO_TEST_CASE(an_upstream_4xx_is_answered_as_it_came_and_tried_again_after_retry_initial) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, R"({"refresh":{"retry_initial_ms":700}})"));
    BOOST_REQUIRE_EQUAL(daemon.get_token("stats").status, 200u);
    const auto call = drop_in("identity-of-a-caller-0001", "synergy-live");

    const std::string body =
        R"({"error":{"code":409,"message":"try later","errors":[{"code":409,)"
        R"("message":"try later","reason":"ERROR"}]},"meta":{"codeVersion":"x"}})";
    mock.fault(json::serialize(json::object{{"mode", "status"}, {"status", 409}, {"body", body}}));
    const auto first = http_request(daemon.tcp(), call);
    BOOST_CHECK_EQUAL(first.status, 409u);
    BOOST_CHECK_EQUAL(first.body, body);
    BOOST_CHECK_EQUAL(token_requests(mock), 2);

    // Within retry_initial_ms: the same answer again, saying when to ask again, and no upstream
    // call.
    const auto repeated = http_request(daemon.tcp(), call);
    BOOST_CHECK_EQUAL(repeated.status, 409u);
    BOOST_CHECK_EQUAL(repeated.body, body);
    BOOST_CHECK_EQUAL(repeated.header("retry-after"), "1");
    BOOST_CHECK_EQUAL(token_requests(mock), 2);

    // After it: upstream is asked again (the fault is spent), and the key is served from then on.
    std::this_thread::sleep_for(800ms);
    const auto later = http_request(daemon.tcp(), call);
    BOOST_CHECK_MESSAGE(later.status == 200, later.status << " " << later.body);
    BOOST_CHECK(!token_of(later).empty());
    BOOST_CHECK_EQUAL(token_requests(mock), 3);
    BOOST_CHECK_EQUAL(token_of(http_request(daemon.tcp(), call)), token_of(later));
    BOOST_CHECK_EQUAL(token_requests(mock), 3);

    // A product upstream refuses (422) is not refused forever either.
    const auto invalid = drop_in("identity-of-a-caller-0001", "invalid-product");
    BOOST_CHECK_EQUAL(http_request(daemon.tcp(), invalid).status, 422u);
    BOOST_CHECK_EQUAL(token_requests(mock), 4);
    std::this_thread::sleep_for(800ms);
    BOOST_CHECK_EQUAL(http_request(daemon.tcp(), invalid).status, 422u);
    BOOST_CHECK_EQUAL(token_requests(mock), 5);
}

BOOST_AUTO_TEST_CASE(scopes_go_upstream_once_each_and_sorted) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    BOOST_REQUIRE_EQUAL(daemon.get_token("stats").status, 200u);
    const auto base = token_requests(mock);

    // The mock, like upstream's schema, refuses duplicate scopes with 422.
    const auto twice = http_request(
        daemon.tcp(), drop_in("identity-of-a-caller-0002", "synergy-live", json::array{"a", "a"}));
    BOOST_REQUIRE_MESSAGE(twice.status == 200, twice.status << " " << twice.body);
    BOOST_CHECK_EQUAL(json::serialize(scopes_claim(token_of(twice))), R"(["a"])");
    // ["a"] shares its key: served from cache.
    const auto once = http_request(
        daemon.tcp(), drop_in("identity-of-a-caller-0002", "synergy-live", json::array{"a"}));
    BOOST_CHECK_EQUAL(token_of(once), token_of(twice));
    BOOST_CHECK_EQUAL(token_requests(mock), base + 1);

    const auto unsorted =
        http_request(daemon.tcp(), drop_in("identity-of-a-caller-0002", "synergy-live",
                                           json::array{"c", "a", "b", "a"}));
    BOOST_REQUIRE_MESSAGE(unsorted.status == 200, unsorted.status << " " << unsorted.body);
    BOOST_CHECK_EQUAL(json::serialize(scopes_claim(token_of(unsorted))), R"(["a","b","c"])");
    BOOST_CHECK_EQUAL(token_requests(mock), base + 2);
}

BOOST_AUTO_TEST_CASE(a_refresh_uses_the_identity_token_of_the_request_that_triggers_it) {
    mock_upstream mock;
    // Upstream accepts only these identity tokens: a refresh sent with anything else fails.
    const std::string caller = "identity-of-a-caller-0003";
    mock.settings(json::serialize(json::object{
        {"valid_identity_tokens", json::array{daemon_identity.c_str(), caller.c_str()}},
        {"lifetime_s", 4}}));
    tokend_daemon daemon(config_for(
        mock,
        R"({"refresh":{"refresh_at":0.5,"min_remaining_s":1,"min_serve_remaining_s":0,"jitter":0}})"));
    BOOST_REQUIRE_EQUAL(daemon.get_token("stats").status, 200u);
    const auto call = drop_in(caller, "synergy-live");
    const std::string first = token_of(http_request(daemon.tcp(), call));
    BOOST_REQUIRE(!first.empty());
    const auto after_first = token_requests(mock);

    // Before the refresh point (half the 4 s lifetime, which its whole-second exp may make 3 s)
    // every request gets the first token; the first one past it gets it too and starts the
    // refresh with its own identity token; one after that gets the new token.
    const auto start = std::chrono::steady_clock::now();
    std::string second = first;
    int served_first = 0;
    while (second == first && std::chrono::steady_clock::now() < start + 5s) {
        std::this_thread::sleep_for(50ms);
        second = token_of(http_request(daemon.tcp(), call));
        served_first += second == first;
    }
    const double changed_after_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    BOOST_TEST_MESSAGE("new token after " << changed_after_s << " s");
    BOOST_CHECK_NE(second, first);
    BOOST_CHECK(!second.empty());
    BOOST_CHECK_GE(changed_after_s, 1.2);
    BOOST_CHECK_GE(served_first, 2);
    BOOST_CHECK_GE(token_requests(mock), after_first + 1);
    const auto records = mock.token_requests();
    BOOST_REQUIRE(!records.empty());
    BOOST_CHECK_EQUAL(records.back().at("status").to_number<int>(), 200);
}

BOOST_AUTO_TEST_CASE(requests_for_a_failing_key_do_not_keep_it_from_eviction) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(
        mock, R"({"on_demand":{"max_entries":3},"refresh":{"retry_initial_ms":60000}})"));
    BOOST_REQUIRE_EQUAL(daemon.get_token("stats").status, 200u);
    const std::string id = "identity-of-a-caller-0004";
    auto post = [&](const std::string& product) {
        return http_request(daemon.tcp(), drop_in(id, product));
    };
    BOOST_CHECK_EQUAL(post("invalid-a").status, 422u); // the least recently used from now on
    BOOST_CHECK_EQUAL(post("synergy-b").status, 200u);
    BOOST_CHECK_EQUAL(post("synergy-c").status, 200u);
    auto calls = token_requests(mock);
    for (int i = 0; i < 5; ++i)
        BOOST_CHECK_EQUAL(post("invalid-a").status, 422u); // repeated, within the window
    BOOST_CHECK_EQUAL(token_requests(mock), calls);
    // A fourth key evicts the failing one, not b, though b was asked for less recently.
    BOOST_CHECK_EQUAL(post("synergy-d").status, 200u);
    BOOST_CHECK_EQUAL(token_requests(mock), calls + 1);
    BOOST_CHECK_EQUAL(post("synergy-b").status, 200u);
    BOOST_CHECK_EQUAL(post("synergy-c").status, 200u);
    BOOST_CHECK_EQUAL(token_requests(mock), calls + 1);
    // Evicted, the failing key is asked for afresh.
    BOOST_CHECK_EQUAL(post("invalid-a").status, 422u);
    BOOST_CHECK_EQUAL(token_requests(mock), calls + 2);
}

BOOST_AUTO_TEST_CASE(the_cache_is_bounded_in_bytes) {
    mock_upstream mock;
    // 64 KiB of cache, and upstream errors of 20 KB each: about three fit.
    tokend_daemon daemon(config_for(mock, R"({"on_demand":{"max_bytes":65536}})"));
    BOOST_REQUIRE_EQUAL(daemon.get_token("stats").status, 200u);
    const std::string big(20000, 'x');
    mock.fault(json::serialize(
        json::object{{"mode", "status"}, {"status", 400}, {"count", -1}, {"body", big}}));
    for (int i = 0; i < 20; ++i) {
        const auto r = http_request(
            daemon.tcp(), drop_in("identity-of-a-caller-1" + std::to_string(i), "synergy-x"));
        BOOST_CHECK_EQUAL(r.status, 400u);
        BOOST_CHECK_EQUAL(r.body.size(), big.size());
    }
    const auto entries = on_demand_entries(daemon);
    BOOST_TEST_MESSAGE("on-demand entries with max_bytes 65536 and 20 KB errors: " << entries);
    BOOST_CHECK_GE(entries, 1);
    BOOST_CHECK_LE(entries, 3);
}

BOOST_AUTO_TEST_CASE(many_large_unknown_identity_tokens_do_not_blow_memory) {
    mock_upstream mock;
    // Upstream knows only the daemon's identity token: every other one gets 401.
    mock.settings(json::serialize(
        json::object{{"valid_identity_tokens", json::array{daemon_identity.c_str()}}}));
    tokend_daemon daemon(config_for(mock));
    BOOST_REQUIRE_EQUAL(daemon.get_token("stats").status, 200u);
    const long before = resident_kib(daemon.proc().pid());

    // 600 of the tokens held would be 37 MB, more than twice the bound below.
    constexpr int callers = 600;
    std::string identity(62 * 1024, 'k');
    int refused = 0;
    for (int i = 0; i < callers; ++i) {
        const std::string n = std::to_string(i);
        identity.replace(0, n.size(), n);
        identity[n.size()] = '-';
        if (http_request(daemon.tcp(), drop_in(identity, "synergy-live")).status == 401)
            ++refused;
    }
    BOOST_CHECK_EQUAL(refused, callers);
    const long after = resident_kib(daemon.proc().pid());
    const auto entries = on_demand_entries(daemon);
    BOOST_TEST_MESSAGE(
        "VmRSS " << before << " KiB before, " << after << " KiB after " << callers
                 << " drop-in requests with 62 KB identity tokens; on-demand entries " << entries);
    BOOST_CHECK_EQUAL(entries, callers);
    // The entries hold hashes, not the 62 KB tokens. Under AddressSanitizer freed memory is held
    // in its quarantine, so resident memory says nothing there: the plain build checks it.
#if defined(__SANITIZE_ADDRESS__)
    BOOST_TEST_MESSAGE("resident memory not checked under AddressSanitizer (its quarantine)");
#else
    BOOST_CHECK_LT(after - before, 16 * 1024);
#endif
}

BOOST_AUTO_TEST_SUITE_END()
