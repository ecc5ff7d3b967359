// The drop-in POST /v1/products/token and the /v1/info proxy end to end (PRODUCT.md §2, §4, §5):
// the daemon against the mock Auth API over TLS, driven by clients written for upstream's API.
#include <atomic>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include "harness.hpp"

using namespace tokend_test;
namespace json = boost::json;

namespace {

// The identity token the harness writes into the daemon's identity file.
const std::string daemon_identity = "test-identity-token-0001";

const std::string info_paths[] = {"/scopes/authorized", "/scopes/available", "/access/authorized",
                                  "/access/available"};

// A config against `mock`: `tokens_json` is the "tokens" array; `extra_json` an object whose
// sections are added, its "upstream" members merged over the defaults below.
std::string config_for(const mock_upstream& mock, const std::string& tokens_json,
                       const std::string& extra_json = "{}") {
    json::object upstream{
        {"base_url", mock.base_url()}, {"ca_file", mock.ca_file()}, {"request_timeout_ms", 5000}};
    json::object extra = json::parse(extra_json).as_object();
    if (const auto* u = extra.if_contains("upstream"))
        for (const auto& kv : u->as_object())
            upstream[kv.key()] = kv.value();
    extra.erase("upstream");
    json::object cfg{{"upstream", std::move(upstream)}, {"tokens", json::parse(tokens_json)}};
    for (const auto& kv : extra)
        cfg[kv.key()] = kv.value();
    return json::serialize(cfg);
}

const std::string stats_profile =
    R"([{"name":"stats","product":"synergy-stats","customer_id":"345",)"
    R"("scopes":["read:organization","read:games"]}])";

// The body an upstream client sends to POST {base}/products/token.
std::string token_body(const std::string& identity, const std::string& product,
                       const json::value& customer_id,
                       const std::optional<json::array>& scopes = std::nullopt) {
    json::object body{
        {"userIdentityToken", identity}, {"product", product}, {"customerId", customer_id}};
    if (scopes)
        body["scopes"] = *scopes;
    return json::serialize(body);
}

// What a plain upstream client sends: no X-Tokend-Request, nothing daemon-specific.
http_call drop_in(const std::string& body) {
    http_call call;
    call.method = "POST";
    call.target = "/v1/products/token";
    call.headers["Content-Type"] = "application/json";
    call.headers["Accept"] = "application/json";
    call.body = body;
    return call;
}

http_call info_call(const std::string& path, std::map<std::string, std::string> headers = {}) {
    http_call call;
    call.target = "/v1/info" + path;
    call.headers = std::move(headers);
    call.headers["X-Tokend-Request"] = "1";
    return call;
}

// The reply has upstream's token shape and may not be cached by anyone in between.
void check_token_reply(const http_reply& r) {
    BOOST_REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.error << " " << r.body);
    BOOST_CHECK_EQUAL(r.header("cache-control"), "no-store");
    BOOST_CHECK(r.header("content-type").starts_with("application/json"));
    const auto v = r.json();
    BOOST_REQUIRE(v.is_object());
    BOOST_REQUIRE(v.as_object().contains("data") && v.at("data").is_object());
    BOOST_REQUIRE(v.as_object().contains("meta"));
    BOOST_CHECK(v.at("meta").is_object());
    const auto& data = v.at("data").as_object();
    BOOST_REQUIRE(data.contains("token") && data.at("token").is_string());
    BOOST_CHECK(!data.at("token").as_string().empty());
    BOOST_REQUIRE(data.contains("tokenType"));
    BOOST_CHECK_EQUAL(data.at("tokenType").as_string(), "bearer");
    BOOST_REQUIRE(data.contains("expiresIn") && data.at("expiresIn").is_number());
    const auto expires_in = data.at("expiresIn").to_number<long long>();
    BOOST_CHECK_GT(expires_in, 3000);
    BOOST_CHECK_LE(expires_in, 3600);
    // The token itself is the one the mock issued, unexpired.
    BOOST_CHECK_GT(jwt_exp(std::string(data.at("token").as_string())), unix_now() + 3000);
}

// The daemon's own error envelope with `status` in it.
void check_error_envelope(const http_reply& r, unsigned status) {
    BOOST_CHECK_EQUAL(r.status, status);
    const auto v = r.json();
    BOOST_REQUIRE_MESSAGE(v.is_object() && v.as_object().contains("error"), r.body);
    const auto& error = v.at("error");
    BOOST_CHECK_EQUAL(error.at("code").to_number<unsigned>(), status);
    BOOST_CHECK(error.at("message").is_string());
    BOOST_REQUIRE(error.at("errors").is_array() && !error.at("errors").as_array().empty());
    BOOST_CHECK(error.at("errors").at(0).at("reason").is_string());
    BOOST_CHECK_EQUAL(v.at("meta").at("code").to_number<unsigned>(), status);
}

// PRODUCT.md §6: no token, identity token or Authorization value in any log line.
void check_log_has_none_of(const tokend_daemon& daemon, const std::vector<std::string>& secrets) {
    const std::string log = daemon.log();
    for (const auto& secret : secrets) {
        BOOST_TEST_INFO("secret " << secret.substr(0, 12) << "...");
        BOOST_CHECK(!secret.empty());
        BOOST_CHECK(log.find(secret) == std::string::npos);
    }
}

std::int64_t token_requests(mock_upstream& mock) {
    return mock.counter("token_requests");
}

} // namespace

BOOST_AUTO_TEST_SUITE(dropin_proxy)

BOOST_AUTO_TEST_CASE(upstream_client_matching_a_profile_gets_its_cached_token) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, stats_profile));
    const auto profile_reply = daemon.get_token("stats");
    BOOST_REQUIRE_EQUAL(profile_reply.status, 200u);
    const std::string profile_token = token_of(profile_reply);
    BOOST_REQUIRE_EQUAL(token_requests(mock), 1);

    // Scopes in another order, customerId as a number: still the profile's request.
    const auto as_number = drop_in(token_body(daemon_identity, "synergy-stats", 345,
                                              json::array{"read:games", "read:organization"}));
    const auto as_string = drop_in(token_body(daemon_identity, "synergy-stats", "345",
                                              json::array{"read:organization", "read:games"}));
    std::vector<http_reply> replies = http_concurrent(daemon.tcp(), as_number, 50);
    for (int i = 0; i < 50; ++i)
        replies.push_back(http_request(daemon.tcp(), i % 2 ? as_number : as_string));
    BOOST_REQUIRE_EQUAL(replies.size(), 100u);
    for (const auto& r : replies) {
        check_token_reply(r);
        BOOST_REQUIRE_EQUAL(token_of(r), profile_token);
    }
    BOOST_CHECK_EQUAL(token_requests(mock), 1);
}

BOOST_AUTO_TEST_CASE(upstream_client_matching_no_profile_is_fetched_once_on_demand) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, stats_profile));
    const std::string profile_token = token_of(daemon.get_token("stats"));
    BOOST_REQUIRE(!profile_token.empty());
    BOOST_REQUIRE_EQUAL(token_requests(mock), 1);

    // A slow upstream: the 50 concurrent cold requests all arrive while the fetch is in flight.
    mock.settings(R"({"delay_ms":500})");
    const auto call = drop_in(token_body(daemon_identity, "synergy-live", 999,
                                         json::array{"read:games", "read:organization"}));
    std::vector<http_reply> replies = http_concurrent(daemon.tcp(), call, 50);
    mock.settings(R"({"delay_ms":0})");
    for (int i = 0; i < 50; ++i)
        replies.push_back(http_request(daemon.tcp(), call));
    std::set<std::string> tokens;
    for (const auto& r : replies) {
        check_token_reply(r);
        tokens.insert(token_of(r));
    }
    BOOST_CHECK_EQUAL(tokens.size(), 1u);
    BOOST_CHECK(!tokens.contains(profile_token));
    BOOST_CHECK_EQUAL(token_requests(mock), 2);

    // Sent upstream strictly: customerId as a string (the mock refuses a number).
    const auto log = mock.token_requests();
    BOOST_REQUIRE_EQUAL(log.size(), 2u);
    BOOST_CHECK_EQUAL(log[1].at("product").as_string(), "synergy-live");
    BOOST_CHECK_EQUAL(log[1].at("customerId"), json::value("999"));
    BOOST_CHECK_EQUAL(log[1].at("status").to_number<unsigned>(), 200u);
}

BOOST_AUTO_TEST_CASE(different_identity_tokens_never_share_a_token) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, stats_profile));
    const std::string profile_token = token_of(daemon.get_token("stats"));
    BOOST_REQUIRE(!profile_token.empty());

    const auto alice = drop_in(token_body("identity-of-alice", "synergy-live", "77"));
    const auto bob = drop_in(token_body("identity-of-bob", "synergy-live", "77"));
    const auto a1 = http_request(daemon.tcp(), alice);
    const auto b1 = http_request(daemon.tcp(), bob);
    const auto a2 = http_request(daemon.tcp(), alice);
    const auto b2 = http_request(daemon.tcp(), bob);
    for (const auto* r : {&a1, &b1, &a2, &b2})
        check_token_reply(*r);
    BOOST_CHECK_NE(token_of(a1), token_of(b1));
    BOOST_CHECK_EQUAL(token_of(a2), token_of(a1));
    BOOST_CHECK_EQUAL(token_of(b2), token_of(b1));
    BOOST_CHECK_EQUAL(token_requests(mock), 3); // the profile's, alice's, bob's

    // The profile's product and customer with someone else's identity: not the profile's token.
    const auto mallory = http_request(
        daemon.tcp(), drop_in(token_body("identity-of-mallory", "synergy-stats", "345",
                                         json::array{"read:organization", "read:games"})));
    check_token_reply(mallory);
    BOOST_CHECK_NE(token_of(mallory), profile_token);
    BOOST_CHECK_EQUAL(token_requests(mock), 4);
    check_log_has_none_of(daemon, {token_of(a1), token_of(b1), token_of(mallory), profile_token,
                                   "identity-of-alice", "identity-of-bob", "identity-of-mallory"});
}

BOOST_AUTO_TEST_CASE(upstream_errors_come_back_as_upstream_sent_them) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, stats_profile));
    BOOST_REQUIRE_EQUAL(daemon.get_token("stats").status, 200u);

    // The mock's own 422 for a product it does not know.
    const auto invalid =
        http_request(daemon.tcp(), drop_in(token_body("some-identity", "invalid-x", "345")));
    BOOST_CHECK_EQUAL(invalid.status, 422u);
    BOOST_CHECK(invalid.header("content-type").starts_with("application/json"));
    const auto doc = invalid.json();
    BOOST_REQUIRE_MESSAGE(doc.is_object(), invalid.body);
    BOOST_CHECK_EQUAL(doc.at("error").at("code").to_number<unsigned>(), 422u);
    BOOST_CHECK_EQUAL(doc.at("error").at("errors").at(0).at("reason").as_string(), "INVALID_DATA");
    BOOST_CHECK(invalid.body.find("product not available: invalid-x") != std::string::npos);
    // The mock's meta, not the daemon's: the body is upstream's.
    BOOST_CHECK_EQUAL(doc.at("meta").at("codeVersion").as_string(), "mock");

    // Byte for byte, also when it is not JSON.
    const std::string odd_body = "<html><body>Forbidden by upstream &amp; co.</body></html>\r\n";
    mock.fault(json::serialize(json::object{{"mode", "status"},
                                            {"status", 403},
                                            {"body", odd_body},
                                            {"content_type", "text/html; charset=iso-8859-1"}}));
    const auto forbidden =
        http_request(daemon.tcp(), drop_in(token_body("some-identity", "synergy-live", "345")));
    BOOST_CHECK_EQUAL(forbidden.status, 403u);
    BOOST_CHECK_EQUAL(forbidden.body, odd_body);
    BOOST_CHECK_EQUAL(forbidden.header("content-type"), "text/html; charset=iso-8859-1");

    // An identity token upstream does not accept: its 401 passes through.
    mock.settings(json::serialize(
        json::object{{"valid_identity_tokens", json::array{daemon_identity.c_str()}}}));
    const auto unauthorised = http_request(
        daemon.tcp(), drop_in(token_body("identity-upstream-refuses", "synergy-live", "345")));
    BOOST_CHECK_EQUAL(unauthorised.status, 401u);
    const auto u = unauthorised.json();
    BOOST_REQUIRE_MESSAGE(u.is_object(), unauthorised.body);
    BOOST_CHECK_EQUAL(u.at("error").at("errors").at(0).at("reason").as_string(), "NOT_AUTHORISED");
    BOOST_CHECK_EQUAL(u.at("meta").at("codeVersion").as_string(), "mock");
    BOOST_CHECK(unauthorised.body.find("identity-upstream-refuses") == std::string::npos);

    // An upstream 200 without a token is not a token.
    mock.settings(R"({"valid_identity_tokens":null})");
    mock.fault(R"({"mode":"no_token"})");
    const auto no_token =
        http_request(daemon.tcp(), drop_in(token_body("some-identity", "synergy-other", "1")));
    check_error_envelope(no_token, 502);
    BOOST_CHECK(token_of(no_token).empty());
    // Nor is one that has already expired (lifetime <= 0).
    mock.settings(R"({"lifetime_s":-10})");
    const auto expired =
        http_request(daemon.tcp(), drop_in(token_body("some-identity", "synergy-expired", "1")));
    check_error_envelope(expired, 502);
    BOOST_CHECK(token_of(expired).empty());
    mock.settings(R"({"lifetime_s":3600})");

    // Every one of those was one upstream call: the profile's, then one each.
    BOOST_CHECK_EQUAL(token_requests(mock), 6);
    BOOST_CHECK(daemon.proc().running());
    check_log_has_none_of(daemon, {"some-identity", "identity-upstream-refuses", daemon_identity});
}

BOOST_AUTO_TEST_CASE(concurrent_callers_share_one_upstream_refusal) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, stats_profile));
    BOOST_REQUIRE_EQUAL(daemon.get_token("stats").status, 200u);
    // Slow upstream: every caller arrives while the one fetch is in flight.
    mock.settings(R"({"delay_ms":500})");
    const auto replies = http_concurrent(
        daemon.tcp(), drop_in(token_body("some-identity", "invalid-product", "345")), 30);
    for (const auto& r : replies) {
        BOOST_CHECK_MESSAGE(r.status == 422, r.status << " " << r.error << " " << r.body);
        BOOST_CHECK(r.body.find("invalid-product") != std::string::npos);
    }
    BOOST_CHECK_EQUAL(token_requests(mock), 2);
}

BOOST_AUTO_TEST_CASE(malformed_requests_get_400_without_an_upstream_call) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, stats_profile));
    BOOST_REQUIRE_EQUAL(daemon.get_token("stats").status, 200u);
    const std::string secret = "identity-that-must-not-be-echoed";
    const std::string bodies[] = {
        "",
        "{not json",
        R"(["userIdentityToken","product","customerId"])",
        R"({"product":"synergy-live","customerId":"1"})",
        R"({"userIdentityToken":")" + secret + R"(","customerId":"1"})",
        R"({"userIdentityToken":")" + secret + R"(","product":"synergy-live"})",
        R"({"userIdentityToken":")" + secret + R"(","product":"synergy-live","customerId":true})",
        R"({"userIdentityToken":")" + secret + R"(","product":7,"customerId":"1"})",
        R"({"userIdentityToken":")" + secret +
            R"(","product":"synergy-live","customerId":"1","scopes":"read:games"})",
        R"({"userIdentityToken":")" + secret +
            R"(","product":"synergy-live","customerId":"1","scopes":[1]})",
        // An unknown field, as upstream's schema (additionalProperties false) has it.
        R"({"userIdentityToken":")" + secret +
            R"(","product":"synergy-live","customerId":"1","customer":"1"})",
    };
    for (const auto& body : bodies) {
        BOOST_TEST_INFO("body: " << body);
        const auto r = http_request(daemon.tcp(), drop_in(body));
        check_error_envelope(r, 400);
        BOOST_CHECK(r.body.find(secret) == std::string::npos);
    }
    const auto unknown = http_request(
        daemon.tcp(), drop_in(R"({"userIdentityToken":"x","product":"p","customerId":"1",)"
                              R"("colour":"blue"})"));
    check_error_envelope(unknown, 400);
    BOOST_CHECK(unknown.body.find("colour") != std::string::npos); // names the field
    BOOST_CHECK_EQUAL(token_requests(mock), 1);
    BOOST_CHECK(daemon.log().find(secret) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(on_demand_disabled_refuses_requests_matching_no_profile) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, stats_profile, R"({"on_demand":{"enabled":false}})"));
    const std::string profile_token = token_of(daemon.get_token("stats"));
    BOOST_REQUIRE(!profile_token.empty());

    const auto other =
        http_request(daemon.tcp(), drop_in(token_body(daemon_identity, "synergy-live", "345")));
    check_error_envelope(other, 404);
    // Another identity for the profile's product: no match either.
    const auto stranger = http_request(
        daemon.tcp(), drop_in(token_body("identity-of-a-stranger", "synergy-stats", "345",
                                         json::array{"read:organization", "read:games"})));
    check_error_envelope(stranger, 404);
    BOOST_CHECK(token_of(stranger).empty());
    // The profile's own request is still served.
    const auto own = http_request(
        daemon.tcp(), drop_in(token_body(daemon_identity, "synergy-stats", 345,
                                         json::array{"read:games", "read:organization"})));
    check_token_reply(own);
    BOOST_CHECK_EQUAL(token_of(own), profile_token);
    BOOST_CHECK_EQUAL(token_requests(mock), 1);
}

BOOST_AUTO_TEST_CASE(info_calls_are_proxied_byte_for_byte_with_the_profile_token) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(
        mock, R"([{"name":"stats","product":"synergy-stats","customer_id":"345","default":true},)"
              R"({"name":"dc","product":"datacore","customer_id":345}])"));
    const std::string stats_token = token_of(daemon.get_token("stats"));
    const std::string dc_token = token_of(daemon.get_token("dc"));
    BOOST_REQUIRE(!stats_token.empty() && !dc_token.empty());
    const auto fetched = token_requests(mock);

    const std::string query = "sport=basketball&organizationId=b1a23&q=a%20b";
    for (const auto& path : info_paths) {
        BOOST_TEST_INFO("datacore " << path);
        const auto r =
            http_request(daemon.tcp(), info_call(path + "?" + query, {{"X-Token-Name", "dc"}}));
        const auto seen = mock.control("GET", "/control/last-info");
        BOOST_CHECK_EQUAL(r.status, 200u);
        BOOST_CHECK_EQUAL(seen.at("status").to_number<unsigned>(), 200u);
        BOOST_CHECK_EQUAL(r.body, seen.at("body").as_string());
        BOOST_CHECK_EQUAL(r.header("content-type"), "application/json");
        BOOST_CHECK_EQUAL(seen.at("path").as_string(), "/v1/info" + path);
        BOOST_CHECK_EQUAL(seen.at("query").as_string(), query);
        BOOST_CHECK_EQUAL(seen.at("authorization"), json::value("Bearer " + dc_token));
    }

    // The default profile (not DataCore): scopes work, access/* gets upstream's 403 as it came.
    for (const auto& path : info_paths) {
        BOOST_TEST_INFO("default " << path);
        const auto r = http_request(daemon.tcp(), info_call(path));
        const auto seen = mock.control("GET", "/control/last-info");
        const unsigned expected = path.starts_with("/access/") ? 403u : 200u;
        BOOST_CHECK_EQUAL(r.status, expected);
        BOOST_CHECK_EQUAL(seen.at("status").to_number<unsigned>(), expected);
        BOOST_CHECK_EQUAL(r.body, seen.at("body").as_string());
        BOOST_CHECK_EQUAL(r.header("content-type"), "application/json");
        BOOST_CHECK_EQUAL(seen.at("query").as_string(), "");
        const std::string current_stats = token_of(daemon.get_token("stats"));
        BOOST_CHECK_EQUAL(seen.at("authorization"), json::value("Bearer " + current_stats));
        if (expected == 403u)
            BOOST_CHECK(r.body.find("only for datacore tokens") != std::string::npos);
    }
    // An upstream failure with a body that is not JSON: status, Content-Type and body as they came.
    const std::string html = "<html><body>502 Bad Gateway</body></html>\n";
    mock.fault(json::serialize(json::object{{"mode", "status"},
                                            {"endpoint", "info"},
                                            {"status", 502},
                                            {"body", html},
                                            {"content_type", "text/html"}}));
    const auto failing = http_request(daemon.tcp(), info_call("/scopes/available?a=1"));
    BOOST_CHECK_EQUAL(failing.status, 502u);
    BOOST_CHECK_EQUAL(failing.body, html);
    BOOST_CHECK_EQUAL(failing.header("content-type"), "text/html");

    // The DataCore token was not replaced along the way.
    BOOST_CHECK_EQUAL(token_of(daemon.get_token("dc")), dc_token);
    BOOST_CHECK_LE(token_requests(mock), fetched + 2);

    // X-Token-Name naming no profile: 404, and nothing goes upstream.
    const auto infos = mock.counter("info_requests");
    const auto unknown =
        http_request(daemon.tcp(), info_call("/scopes/authorized", {{"X-Token-Name", "nope"}}));
    check_error_envelope(unknown, 404);
    BOOST_CHECK(unknown.body.find("nope") != std::string::npos);

    // Without the request header: 403, and nothing goes upstream.
    http_call bare;
    bare.target = "/v1/info/scopes/authorized";
    const auto refused = http_request(daemon.tcp(), bare);
    check_error_envelope(refused, 403);
    BOOST_CHECK(refused.body.find("X-Tokend-Request") != std::string::npos);
    BOOST_CHECK_EQUAL(mock.counter("info_requests"), infos);
    check_log_has_none_of(daemon, {stats_token, dc_token, daemon_identity});
}

BOOST_AUTO_TEST_CASE(info_without_a_name_and_without_a_default_profile_is_400) {
    mock_upstream mock;
    tokend_daemon daemon(
        config_for(mock, R"([{"name":"stats","product":"synergy-stats","customer_id":"345"},)"
                         R"({"name":"dc","product":"datacore","customer_id":"345"}])"));
    BOOST_REQUIRE_EQUAL(daemon.get_token("stats").status, 200u);
    const auto r = http_request(daemon.tcp(), info_call("/scopes/available"));
    check_error_envelope(r, 400);
    BOOST_CHECK(r.body.find("X-Token-Name") != std::string::npos);
    BOOST_CHECK_EQUAL(mock.counter("info_requests"), 0);
    // Naming one works.
    BOOST_CHECK_EQUAL(
        http_request(daemon.tcp(), info_call("/scopes/available", {{"X-Token-Name", "stats"}}))
            .status,
        200u);
}

BOOST_AUTO_TEST_CASE(caller_authorization_passes_through_untouched_and_needs_no_profile) {
    mock_upstream mock;
    // The only profile is refused upstream: the daemon holds no token at all.
    tokend_daemon daemon(
        config_for(mock, R"([{"name":"broken","product":"invalid-product","customer_id":"1"}])"));
    BOOST_REQUIRE(wait_for_line(daemon.log_path(), "HTTP 422", 10s));
    // Without a caller's own token, the profile's is needed, and there is none to attach.
    const auto no_token = http_request(daemon.tcp(), info_call("/scopes/authorized"));
    check_error_envelope(no_token, 503);
    BOOST_CHECK(!no_token.header("retry-after").empty());
    BOOST_CHECK_EQUAL(mock.counter("info_requests"), 0);

    // A caller's own token, obtained through the drop-in endpoint.
    const auto own =
        http_request(daemon.tcp(), drop_in(token_body("identity-of-a-caller", "datacore", "345")));
    check_token_reply(own);
    const std::string authorization = "Bearer " + token_of(own);
    const auto token_calls = token_requests(mock);

    for (const auto& path : info_paths) {
        BOOST_TEST_INFO(path);
        const auto r = http_request(daemon.tcp(),
                                    info_call(path + "?x=1", {{"Authorization", authorization}}));
        const auto seen = mock.control("GET", "/control/last-info");
        BOOST_CHECK_EQUAL(r.status, 200u);
        BOOST_CHECK_EQUAL(r.body, seen.at("body").as_string());
        BOOST_CHECK_EQUAL(seen.at("authorization"), json::value(authorization));
        BOOST_CHECK_EQUAL(seen.at("query").as_string(), "x=1");
    }

    // Whatever the caller sends is forwarded as it is, and upstream's refusal comes back.
    const std::string odd = "Basic dXNlcjpwYXNzd29yZA==";
    const auto refused =
        http_request(daemon.tcp(), info_call("/scopes/authorized", {{"Authorization", odd}}));
    const auto seen = mock.control("GET", "/control/last-info");
    BOOST_CHECK_EQUAL(refused.status, 401u);
    BOOST_CHECK_EQUAL(refused.body, seen.at("body").as_string());
    BOOST_CHECK_EQUAL(seen.at("authorization"), json::value(odd));
    // The daemon did not try to replace a token that is not its own.
    BOOST_CHECK_EQUAL(token_requests(mock), token_calls);
    check_log_has_none_of(daemon, {token_of(own), odd, "identity-of-a-caller", daemon_identity});
}

BOOST_AUTO_TEST_CASE(revoked_token_is_replaced_once_for_many_concurrent_callers) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, stats_profile, R"({"upstream":{"max_connections":20}})"));
    const std::string first = token_of(daemon.get_token("stats"));
    BOOST_REQUIRE(!first.empty());
    BOOST_REQUIRE_EQUAL(http_request(daemon.tcp(), info_call("/scopes/authorized")).status, 200u);
    BOOST_REQUIRE_EQUAL(token_requests(mock), 1);

    // Slow replies, so all 20 callers have sent the revoked token before the first 401 comes
    // back: one refresh for all of them, and each retries with its token.
    mock.control("POST", "/control/revoke");
    mock.settings(R"({"delay_ms":300})");
    auto replies = http_concurrent(daemon.tcp(), info_call("/scopes/authorized"), 20);
    mock.settings(R"({"delay_ms":0})");
    int failed = 0;
    std::string first_failure;
    for (const auto& r : replies) {
        if (r.status == 200 && r.body.find("read:organization") != std::string::npos)
            continue;
        if (failed++ == 0)
            first_failure = std::to_string(r.status) + " " + r.error + " " + r.body;
    }
    BOOST_CHECK_MESSAGE(failed == 0, failed << " of 20 callers failed; first: " << first_failure);
    BOOST_CHECK_EQUAL(token_requests(mock), 2);
    const std::string second = token_of(daemon.get_token("stats"));
    BOOST_CHECK_NE(second, first);
    BOOST_CHECK_EQUAL(mock.control("GET", "/control/last-info").at("authorization"),
                      json::value("Bearer " + second));

    // Upstream refuses the token that refresh brought as well: the refusal is passed on, and
    // forces no further refresh (PRODUCT.md §4: one token request per lifetime, whatever /info
    // answers). The token stays what GET /v1/tokens/stats serves.
    mock.control("POST", "/control/revoke");
    replies = http_concurrent(daemon.tcp(), info_call("/scopes/authorized"), 20);
    for (const auto& r : replies)
        BOOST_CHECK_MESSAGE(r.status == 401, r.status << " " << r.error << " " << r.body);
    BOOST_CHECK_EQUAL(token_requests(mock), 2);
    BOOST_CHECK_EQUAL(token_of(daemon.get_token("stats")), second);
    check_log_has_none_of(daemon, {first, second, daemon_identity});
}

BOOST_AUTO_TEST_CASE(token_revoked_while_its_refresh_is_in_flight_waits_for_that_refresh) {
    mock_upstream mock;
    mock.settings(R"({"lifetime_s":4})");
    // Refresh due at half-life, 1.5 to 2 s after issue (the JWT's exp counts whole seconds).
    tokend_daemon daemon(config_for(
        mock, stats_profile,
        R"({"refresh":{"refresh_at":0.5,"min_remaining_s":1,"min_serve_remaining_s":0,"jitter":0}})"));
    const std::string first = token_of(daemon.get_token("stats"));
    BOOST_REQUIRE(!first.empty());
    BOOST_REQUIRE_EQUAL(http_request(daemon.tcp(), info_call("/scopes/authorized")).status, 200u);

    // The scheduled refresh reaches upstream and takes 1.2 s to be answered ...
    mock.fault(R"({"mode":"delay","delay_ms":1200,"endpoint":"token"})");
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (mock.token_requests().size() < 2 && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(20ms);
    BOOST_REQUIRE_EQUAL(mock.token_requests().size(), 2u);

    // ... while upstream revokes the current token. The caller's 401 is answered by that
    // refresh: the call succeeds with the new token, and no second token request is made.
    mock.control("POST", "/control/revoke");
    const auto r = http_request(daemon.tcp(), info_call("/scopes/authorized"));
    BOOST_CHECK_MESSAGE(r.status == 200, r.status << " " << r.error << " " << r.body);
    const std::string second = token_of(daemon.get_token("stats"));
    BOOST_CHECK_NE(second, first);
    BOOST_CHECK_EQUAL(mock.control("GET", "/control/last-info").at("authorization"),
                      json::value("Bearer " + second));
    BOOST_CHECK_EQUAL(token_requests(mock), 2);
}

BOOST_AUTO_TEST_CASE(proxying_reuses_at_most_max_connections_upstream) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, stats_profile, R"({"upstream":{"max_connections":4}})"));
    BOOST_REQUIRE_EQUAL(daemon.get_token("stats").status, 200u);

    constexpr int total = 1000;
    constexpr int callers = 16;
    std::atomic<int> ok{0};
    std::mutex failure_mutex;
    std::string first_failure;
    std::vector<std::thread> threads;
    for (int t = 0; t < callers; ++t) {
        threads.emplace_back([&, t] {
            const auto call = info_call(t % 2 ? "/scopes/available" : "/scopes/authorized");
            for (int n = t; n < total; n += callers) {
                const auto r = http_request(daemon.tcp(), call);
                if (r.status == 200) {
                    ++ok;
                } else {
                    std::lock_guard lock(failure_mutex);
                    if (first_failure.empty())
                        first_failure = std::to_string(r.status) + " " + r.error + " " + r.body;
                }
            }
        });
    }
    for (auto& t : threads)
        t.join();
    BOOST_CHECK_MESSAGE(ok == total,
                        ok << " of " << total << " ok; first failure: " << first_failure);
    const auto counters = mock.control("GET", "/control/counters");
    BOOST_TEST_MESSAGE("upstream counters after "
                       << total << " proxied requests: " << json::serialize(counters));
    BOOST_CHECK_EQUAL(counters.at("info_requests").to_number<int>(), total);
    BOOST_CHECK_LE(counters.at("max_open_connections").to_number<int>(), 4);
    BOOST_CHECK_LE(counters.at("tls_handshakes").to_number<int>(), 4);
    BOOST_CHECK_EQUAL(counters.at("token_requests").to_number<int>(), 1);
}

BOOST_AUTO_TEST_CASE(a_pooled_connection_upstream_closed_is_replaced_without_an_error) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, stats_profile));
    BOOST_REQUIRE_EQUAL(daemon.get_token("stats").status, 200u);
    BOOST_REQUIRE_EQUAL(http_request(daemon.tcp(), info_call("/scopes/available")).status, 200u);
    const auto connections = mock.counter("connections");
    // Upstream closes every open connection, the one the daemon keeps in its pool among them, and
    // listens again. The next call finds the pooled connection dead before any reply byte and
    // goes through on a new one.
    mock.control("POST", "/control/down");
    mock.control("POST", "/control/up");
    const auto r = http_request(daemon.tcp(), info_call("/scopes/available"));
    BOOST_CHECK_EQUAL(r.status, 200u);
    BOOST_CHECK_EQUAL(mock.counter("connections"), connections + 1);
    BOOST_CHECK_EQUAL(mock.counter("info_requests"), 2);
}

BOOST_AUTO_TEST_CASE(upstream_unreachable_is_502_and_timeout_is_504) {
    mock_upstream mock;
    tokend_daemon daemon(
        config_for(mock, stats_profile, R"({"upstream":{"request_timeout_ms":500}})"));
    BOOST_REQUIRE_EQUAL(daemon.get_token("stats").status, 200u);
    BOOST_REQUIRE_EQUAL(http_request(daemon.tcp(), info_call("/scopes/available")).status, 200u);

    // The API port goes away: connections are closed, new ones refused.
    mock.control("POST", "/control/down");
    const auto down = http_request(
        daemon.tcp(), info_call("/scopes/available", {{"Authorization", "Bearer anything"}}));
    check_error_envelope(down, 502);
    BOOST_CHECK(down.body.find("anything") == std::string::npos);
    mock.control("POST", "/control/up");
    BOOST_CHECK_EQUAL(http_request(daemon.tcp(), info_call("/scopes/available")).status, 200u);

    // Upstream accepts the request and never answers.
    mock.fault(R"({"mode":"stall","endpoint":"info"})");
    const auto stalled = http_request(daemon.tcp(), info_call("/scopes/available"));
    check_error_envelope(stalled, 504);
    // The stalled connection is given up, and the next call goes through.
    BOOST_CHECK_EQUAL(http_request(daemon.tcp(), info_call("/scopes/available")).status, 200u);
    BOOST_CHECK(daemon.proc().running());
}

BOOST_AUTO_TEST_CASE(on_demand_entries_idle_too_long_are_evicted) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, stats_profile, R"({"on_demand":{"idle_evict_s":1}})"));
    BOOST_REQUIRE_EQUAL(daemon.get_token("stats").status, 200u);
    const auto call = drop_in(token_body("identity-of-a-caller", "synergy-live", "5"));

    const auto first = http_request(daemon.tcp(), call);
    check_token_reply(first);
    check_token_reply(http_request(daemon.tcp(), call));
    BOOST_CHECK_EQUAL(token_requests(mock), 2); // the profile's and one on-demand

    // /status counts the entries without touching them: wait for the eviction, not a fixed time.
    const auto evicted_by = std::chrono::steady_clock::now() + 5s;
    std::int64_t entries = -1;
    do {
        std::this_thread::sleep_for(100ms);
        http_call status;
        status.target = "/status";
        entries = http_request(daemon.tcp(), status)
                      .json()
                      .at("data")
                      .at("onDemandEntries")
                      .to_number<std::int64_t>();
    } while (entries != 0 && std::chrono::steady_clock::now() < evicted_by);
    BOOST_CHECK_EQUAL(entries, 0);
    const auto after_idle = http_request(daemon.tcp(), call);
    check_token_reply(after_idle);
    BOOST_CHECK_EQUAL(token_requests(mock), 3);
    BOOST_CHECK_NE(token_of(after_idle), token_of(first));
}

BOOST_AUTO_TEST_CASE(on_demand_entries_beyond_max_entries_evict_the_least_recently_used) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, stats_profile, R"({"on_demand":{"max_entries":2}})"));
    BOOST_REQUIRE_EQUAL(daemon.get_token("stats").status, 200u);

    struct step {
        const char* key;
        int upstream_calls; // the request makes this many
    };
    // max_entries 2: a third key evicts the key used least recently.
    const step steps[] = {
        {"a", 1}, {"b", 1}, {"c", 1}, // a evicted
        {"a", 1},                     // fetched again; b evicted
        {"c", 0},                     // cached; c is now the most recently used
        {"b", 1},                     // evicts a (least recently used), not c
        {"c", 0},                     // kept because it was used recently
        {"a", 1},
    };
    std::int64_t expected = token_requests(mock);
    int index = 0;
    for (const auto& s : steps) {
        BOOST_TEST_INFO("step " << index++ << ": key " << s.key);
        const auto r = http_request(
            daemon.tcp(),
            drop_in(token_body("identity-of-a-caller", std::string("synergy-") + s.key, "9")));
        check_token_reply(r);
        expected += s.upstream_calls;
        BOOST_CHECK_EQUAL(token_requests(mock), expected);
    }
}

BOOST_AUTO_TEST_SUITE_END()
