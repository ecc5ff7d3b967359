// The upstream token call: its body, and what upstream's reply means.
#include "synergy_tokend/token_exchange.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

namespace st = synergy_tokend;
using namespace std::chrono_literals;

namespace {
const std::chrono::system_clock::time_point now{std::chrono::seconds{1'800'000'000}};
}

BOOST_AUTO_TEST_SUITE(token_exchange)

BOOST_AUTO_TEST_CASE(the_call_carries_sorted_unique_scopes) {
    const auto call = st::build_token_call("id-token", "synergy-stats", "345",
                                           std::vector<std::string>{"b", "a", "b"});
    BOOST_TEST(call.target == "/products/token");
    BOOST_TEST(call.content_type == "application/json");
    const auto body = boost::json::parse(call.body).as_object();
    BOOST_TEST(body.at("userIdentityToken").as_string() == "id-token");
    BOOST_TEST(body.at("product").as_string() == "synergy-stats");
    BOOST_TEST(body.at("customerId").as_string() == "345");
    BOOST_TEST(boost::json::serialize(body.at("scopes")) == R"(["a","b"])");
    // No scopes: the key is absent (all the user may have), not an empty list.
    const auto bare =
        boost::json::parse(st::build_token_call("i", "p", "c", std::nullopt).body).as_object();
    BOOST_TEST(!bare.contains("scopes"));
}

BOOST_AUTO_TEST_CASE(a_2xx_with_a_token_is_ok) {
    st::token_call_reply reply;
    reply.status = 200;
    reply.body = R"({"data":{"token":"abc","tokenType":"bearer","expiresIn":120}})";
    const auto r = st::classify_token_reply(reply, 3600s, now);
    BOOST_TEST((r.outcome == st::token_call_outcome::ok));
    BOOST_TEST(r.reply.token == "abc");
    BOOST_TEST(r.reply.lifetime.count() == 120);
}

BOOST_AUTO_TEST_CASE(a_2xx_without_a_token_is_a_bad_reply) {
    st::token_call_reply reply;
    reply.status = 200;
    reply.body = R"({"data":{}})";
    const auto r = st::classify_token_reply(reply, 3600s, now);
    BOOST_TEST((r.outcome == st::token_call_outcome::bad_reply));
    BOOST_TEST((r.cls == st::failure_class::transient));
    BOOST_TEST(r.problem.rfind("HTTP 200: ", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(error_statuses_are_classified_with_retry_after) {
    struct row {
        unsigned status;
        st::failure_class cls;
    };
    for (const row& c :
         {row{401, st::failure_class::auth}, row{403, st::failure_class::auth},
          row{400, st::failure_class::rejected}, row{404, st::failure_class::rejected},
          row{422, st::failure_class::rejected}, row{429, st::failure_class::transient},
          row{503, st::failure_class::transient}}) {
        st::token_call_reply reply;
        reply.status = c.status;
        reply.body = R"({"error":{"code":"X","message":"no"}})";
        const auto r = st::classify_token_reply(reply, 3600s, now);
        BOOST_TEST((r.outcome == st::token_call_outcome::http_error));
        BOOST_TEST((r.cls == c.cls), "status " << c.status);
        BOOST_TEST(!r.retry_after);
    }
    st::token_call_reply reply;
    reply.status = 503;
    reply.retry_after = "7";
    BOOST_TEST(st::classify_token_reply(reply, 3600s, now).retry_after->count() == 7);
    reply.retry_after = "soon";
    BOOST_TEST(!st::classify_token_reply(reply, 3600s, now).retry_after);
}

BOOST_AUTO_TEST_SUITE_END()
