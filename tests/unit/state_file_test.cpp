#include <boost/test/unit_test.hpp>

#include "synergy_tokend/state_file.hpp"

namespace st = synergy_tokend;

BOOST_AUTO_TEST_SUITE(state_file)

BOOST_AUTO_TEST_CASE(round_trip_keeps_every_field) {
    st::persisted_token t;
    t.profile = "stats";
    t.product = "synergy-stats";
    t.customer_id = "345";
    t.scopes = std::vector<std::string>{"read:organization", "read:games"};
    t.identity_sha256 = std::string(64, 'a');
    t.token = "eyJ.x.y";
    t.token_type = "bearer";
    t.issued_at = st::wall_clock::time_point(std::chrono::seconds(1795430000));
    t.lifetime = std::chrono::seconds(3600);
    st::persisted_token no_scopes = t;
    no_scopes.profile = "all";
    no_scopes.scopes.reset();

    std::string error;
    const auto parsed = st::parse_state(st::serialize_state({t, no_scopes}), error);
    BOOST_TEST_REQUIRE(parsed.has_value(), error);
    BOOST_TEST_REQUIRE(parsed->size() == 2u);
    const auto& a = (*parsed)[0];
    BOOST_TEST(a.profile == "stats");
    BOOST_TEST(a.customer_id == "345");
    BOOST_TEST(a.scopes.has_value());
    BOOST_TEST(a.scopes->size() == 2u);
    BOOST_TEST(a.token == "eyJ.x.y");
    BOOST_TEST(a.lifetime.count() == 3600);
    BOOST_TEST((a.issued_at == t.issued_at));
    BOOST_TEST(!(*parsed)[1].scopes.has_value());
}

BOOST_AUTO_TEST_CASE(every_truncation_is_rejected_not_misread) {
    st::persisted_token t;
    t.profile = "stats";
    t.product = "p";
    t.customer_id = "1";
    t.identity_sha256 = "h";
    t.token = "tok";
    t.token_type = "bearer";
    t.issued_at = st::wall_clock::time_point(std::chrono::seconds(1000));
    t.lifetime = std::chrono::seconds(60);
    const std::string full = st::serialize_state({t});
    for (std::size_t n = 0; n < full.size(); ++n) {
        std::string error;
        BOOST_TEST(!st::parse_state(full.substr(0, n), error).has_value(), "prefix " << n);
        BOOST_TEST(!error.empty());
    }
}

BOOST_AUTO_TEST_CASE(wrong_version_and_bad_entries_are_rejected) {
    std::string error;
    BOOST_TEST(!st::parse_state(R"({"version":2,"tokens":[]})", error).has_value());
    BOOST_TEST(error.find("version") != std::string::npos);
    BOOST_TEST(!st::parse_state(R"({"version":1})", error).has_value());
    BOOST_TEST(
        !st::parse_state(R"({"version":1,"tokens":[{"profile":"a","product":"p","customerId":"1",)"
                         R"("identitySha256":"h","token":"t","tokenType":"bearer","issuedAt":1,)"
                         R"("lifetime":0}]})",
                         error)
             .has_value());
    BOOST_TEST(st::parse_state(R"({"version":1,"tokens":[]})", error).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
