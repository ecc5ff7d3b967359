// The drop-in POST /v1/products/token body and the on-demand cache key (PRODUCT.md §2, §5).
#include "synergy_tokend/digest.hpp"
#include "synergy_tokend/token_request.hpp"

#include <set>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

namespace st = synergy_tokend;

namespace {

const std::string secret = "eyJ-identity-secret-0123456789";

st::token_request request(std::string identity, std::string product, std::string customer,
                          std::optional<std::vector<std::string>> scopes = std::nullopt) {
    return {std::move(identity), std::move(product), std::move(customer), std::move(scopes)};
}

} // namespace

BOOST_AUTO_TEST_SUITE(token_request)

BOOST_AUTO_TEST_CASE(the_documented_body_is_accepted) {
    const auto parsed = st::parse_token_request(
        R"({"userIdentityToken":"id-1","product":"synergy-stats","customerId":"345",)"
        R"("scopes":["read:organization","read:games"]})");
    BOOST_REQUIRE_MESSAGE(parsed.ok(), parsed.error);
    BOOST_CHECK_EQUAL(parsed.value.identity_token, "id-1");
    BOOST_CHECK_EQUAL(parsed.value.product, "synergy-stats");
    BOOST_CHECK_EQUAL(parsed.value.customer_id, "345");
    BOOST_REQUIRE(parsed.value.scopes);
    const std::vector<std::string> expected{"read:organization", "read:games"};
    BOOST_CHECK_EQUAL_COLLECTIONS(parsed.value.scopes->begin(), parsed.value.scopes->end(),
                                  expected.begin(), expected.end());
}

BOOST_AUTO_TEST_CASE(scopes_are_optional_and_absent_means_all) {
    const auto parsed = st::parse_token_request(
        R"({"userIdentityToken":"id-1","product":"synergy-stats","customerId":"345"})");
    BOOST_REQUIRE_MESSAGE(parsed.ok(), parsed.error);
    BOOST_CHECK(!parsed.value.scopes);

    const auto empty = st::parse_token_request(
        R"({"userIdentityToken":"id-1","product":"p","customerId":"345","scopes":[]})");
    BOOST_REQUIRE_MESSAGE(empty.ok(), empty.error);
    BOOST_REQUIRE(empty.value.scopes);
    BOOST_CHECK(empty.value.scopes->empty());
}

BOOST_AUTO_TEST_CASE(customer_id_may_be_a_number_as_in_upstreams_examples) {
    struct form {
        const char* json;
        const char* text;
    };
    const form forms[] = {
        {"345", "345"},
        {R"("345")", "345"},
        {"0", "0"},
        {"18446744073709551615", "18446744073709551615"},
        {R"("cust-abc")", "cust-abc"},
    };
    for (const auto& f : forms) {
        BOOST_TEST_INFO("customerId " << f.json);
        const auto parsed = st::parse_token_request(
            std::string(R"({"userIdentityToken":"id","product":"p","customerId":)") + f.json + "}");
        BOOST_REQUIRE_MESSAGE(parsed.ok(), parsed.error);
        BOOST_CHECK_EQUAL(parsed.value.customer_id, f.text);
    }
}

BOOST_AUTO_TEST_CASE(malformed_bodies_are_errors_naming_the_field) {
    struct bad {
        std::string body;
        const char* named; // the error names this
    };
    const std::string id = R"("userIdentityToken":")" + secret + R"(",)";
    const bad bads[] = {
        {"", "JSON object"},
        {"{", "JSON object"},
        {"not json", "JSON object"},
        {"[]", "JSON object"},
        {R"("text")", "JSON object"},
        {"null", "JSON object"},
        {R"({"product":"p","customerId":"1"})", "userIdentityToken"},
        {R"({"userIdentityToken":"","product":"p","customerId":"1"})", "userIdentityToken"},
        {R"({"userIdentityToken":42,"product":"p","customerId":"1"})", "userIdentityToken"},
        {"{" + id + R"("customerId":"1"})", "product"},
        {"{" + id + R"("product":"","customerId":"1"})", "product"},
        {"{" + id + R"("product":["p"],"customerId":"1"})", "product"},
        {"{" + id + R"("product":"p"})", "customerId"},
        {"{" + id + R"("product":"p","customerId":true})", "customerId"},
        {"{" + id + R"("product":"p","customerId":null})", "customerId"},
        {"{" + id + R"("product":"p","customerId":""})", "customerId"},
        {"{" + id + R"("product":"p","customerId":{"id":1}})", "customerId"},
        {"{" + id + R"("product":"p","customerId":"1","scopes":"read:games"})", "scopes"},
        {"{" + id + R"("product":"p","customerId":"1","scopes":[1]})", "scopes"},
        {"{" + id + R"("product":"p","customerId":"1","scopes":{"a":"b"}})", "scopes"},
        // Upstream's schema has additionalProperties false: a typo must not pass silently.
        {"{" + id + R"("product":"p","customerId":"1","customer":"1"})", "customer"},
        {"{" + id + R"("product":"p","customerId":"1","Scopes":[]})", "Scopes"},
    };
    for (const auto& b : bads) {
        BOOST_TEST_INFO("body " << b.body);
        const auto parsed = st::parse_token_request(b.body);
        BOOST_CHECK(!parsed.ok());
        BOOST_CHECK_MESSAGE(parsed.error.find(b.named) != std::string::npos, parsed.error);
        // The error goes back to the caller and into logs: never the identity token.
        BOOST_CHECK(parsed.error.find(secret) == std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(same_scopes_ignores_order_and_duplicates) {
    using scopes = std::optional<std::vector<std::string>>;
    BOOST_CHECK(st::same_scopes(std::nullopt, std::nullopt));
    BOOST_CHECK(st::same_scopes(scopes{{"a", "b"}}, scopes{{"b", "a"}}));
    BOOST_CHECK(st::same_scopes(scopes{{"a", "b", "a"}}, scopes{{"b", "a"}}));
    BOOST_CHECK(
        st::same_scopes(scopes{std::vector<std::string>{}}, scopes{std::vector<std::string>{}}));
    BOOST_CHECK(!st::same_scopes(scopes{{"a"}}, scopes{{"a", "b"}}));
    BOOST_CHECK(!st::same_scopes(scopes{{"a"}}, scopes{{"A"}}));
    // "All the user may have" is not "none".
    BOOST_CHECK(!st::same_scopes(std::nullopt, scopes{std::vector<std::string>{}}));
    BOOST_CHECK(!st::same_scopes(scopes{{"a"}}, std::nullopt));
}

BOOST_AUTO_TEST_CASE(on_demand_key_separates_every_field) {
    const auto base = request("id-1", "synergy-stats", "345", {{"read:games", "read:org"}});
    const std::string key = st::on_demand_key(base);
    BOOST_CHECK_EQUAL(key.size(), 64u);
    BOOST_CHECK(key.find_first_not_of("0123456789abcdef") == std::string::npos);

    const st::token_request others[] = {
        request("id-2", "synergy-stats", "345", {{"read:games", "read:org"}}),
        request("id-1", "synergy-live", "345", {{"read:games", "read:org"}}),
        request("id-1", "synergy-stats", "346", {{"read:games", "read:org"}}),
        request("id-1", "synergy-stats", "345", {{"read:games"}}),
        request("id-1", "synergy-stats", "345", std::vector<std::string>{}),
        request("id-1", "synergy-stats", "345"),
        // Field boundaries: the same characters split differently.
        request("id-1", "synergy-stats3", "45", {{"read:games", "read:org"}}),
        request("id-1", "synergy-stats", "345", {{"read:gamesread:org"}}),
    };
    std::set<std::string> keys{key};
    for (const auto& other : others)
        keys.insert(st::on_demand_key(other));
    BOOST_CHECK_EQUAL(keys.size(), std::size(others) + 1);
}

BOOST_AUTO_TEST_CASE(on_demand_key_is_the_same_for_the_same_request_in_any_form) {
    const auto a = st::parse_token_request(
        R"({"userIdentityToken":"id-1","product":"p","customerId":345,"scopes":["b","a"]})");
    const auto b = st::parse_token_request(
        R"({"scopes":["a","b"],"customerId":"345","product":"p","userIdentityToken":"id-1"})");
    BOOST_REQUIRE(a.ok() && b.ok());
    BOOST_CHECK_EQUAL(st::on_demand_key(a.value), st::on_demand_key(b.value));
    BOOST_CHECK_EQUAL(st::on_demand_key(a.value), st::on_demand_key(a.value));
}

BOOST_AUTO_TEST_CASE(scopes_go_upstream_sorted_and_once_each) {
    using scopes = std::vector<std::string>;
    BOOST_CHECK(st::normalized_scopes({"a", "a"}) == scopes{"a"});
    BOOST_CHECK(st::normalized_scopes({"b", "a", "b", "c", "a"}) == (scopes{"a", "b", "c"}));
    BOOST_CHECK(st::normalized_scopes({}).empty());
    // ["a","a"] and ["a"] are one key.
    BOOST_CHECK_EQUAL(st::on_demand_key(request("id-1", "p", "1", scopes{"a", "a"})),
                      st::on_demand_key(request("id-1", "p", "1", scopes{"a"})));
}

BOOST_AUTO_TEST_CASE(on_demand_key_does_not_reveal_the_identity_token) {
    const auto key = st::on_demand_key(request(secret, "p", "1"));
    BOOST_CHECK(key.find(secret) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(sha256_hex_matches_the_standard_vectors) {
    BOOST_CHECK_EQUAL(st::sha256_hex(""),
                      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    BOOST_CHECK_EQUAL(st::sha256_hex("abc"),
                      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

BOOST_AUTO_TEST_SUITE_END()
