#include "synergy_tokend/change_wait.hpp"

#include <optional>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

namespace st = synergy_tokend;
using namespace std::chrono_literals;

namespace {

st::change_wait_parse parse(const std::string& target,
                            std::optional<std::string_view> inm = std::nullopt) {
    return st::parse_change_wait(target, inm);
}

} // namespace

BOOST_AUTO_TEST_SUITE(change_wait)

BOOST_AUTO_TEST_CASE(no_query_and_no_header_waits_for_nothing) {
    const auto r = parse("/v1/tokens/stats");
    BOOST_TEST_REQUIRE(r.ok());
    BOOST_TEST(r.value.etags.empty());
    BOOST_TEST(r.value.wait.count() == 0);
    BOOST_TEST(!r.value.holds());
}

BOOST_AUTO_TEST_CASE(etag_from_the_query_quoted_or_bare_or_weak) {
    for (const std::string q :
         {"etag=%223f2a%22", "etag=3f2a", "etag=W/%223f2a%22", "etag=\"3f2a\""}) {
        const auto r = parse("/v1/tokens/stats?wait=60&" + q);
        BOOST_TEST_REQUIRE(r.ok(), q);
        BOOST_TEST_REQUIRE(r.value.etags.size() == 1u, q);
        BOOST_TEST(r.value.etags[0] == "\"3f2a\"", q);
        BOOST_TEST(r.value.wait == 60s);
        BOOST_TEST(r.value.holds());
        BOOST_TEST(r.value.matches("\"3f2a\""));
        BOOST_TEST(!r.value.matches("\"3f2b\""));
    }
}

BOOST_AUTO_TEST_CASE(an_empty_etag_is_none_and_the_query_wins_over_the_header) {
    const auto empty = parse("/v1/tokens/stats?wait=60&etag=", std::string_view("\"a\""));
    BOOST_TEST_REQUIRE(empty.ok());
    BOOST_TEST(empty.value.etags.empty());
    BOOST_TEST(!empty.value.holds());
    const auto both = parse("/v1/tokens/stats?etag=b", std::string_view("\"a\""));
    BOOST_TEST_REQUIRE(both.ok());
    BOOST_TEST(both.value.etags == std::vector<std::string>{"\"b\""});
}

BOOST_AUTO_TEST_CASE(if_none_match_lists_and_weak_tags) {
    const auto r = parse("/v1/tokens/stats?wait=5", std::string_view(" \"a\" ,W/\"b\",, \"c\" "));
    BOOST_TEST_REQUIRE(r.ok(), r.error);
    BOOST_TEST(r.value.etags == (std::vector<std::string>{"\"a\"", "\"b\"", "\"c\""}));
    BOOST_TEST(r.value.matches("\"b\""));
    BOOST_TEST(r.value.wait == 5s);
}

BOOST_AUTO_TEST_CASE(other_parameters_are_ignored_and_the_bounds_of_wait) {
    const auto r = parse("/v1/tokens/stats?x=1&wait=0&y&etag=a");
    BOOST_TEST_REQUIRE(r.ok());
    BOOST_TEST(!r.value.holds()); // wait=0: answered at once
    BOOST_TEST(parse("/v1/tokens/stats?wait=3600&etag=a").value.wait == 3600s);
    BOOST_TEST(parse("/v1/tokens/stats?wait=00007&etag=a").value.wait == 7s);
}

struct bad_case {
    std::string target;
    std::optional<std::string> if_none_match;
    std::string error;
};

BOOST_AUTO_TEST_CASE(bad_parameters_name_themselves) {
    const std::vector<bad_case> cases = {
        {"?wait=", {}, "wait: expected whole seconds from 0 to 3600"},
        {"?wait", {}, "wait: expected whole seconds from 0 to 3600"},
        {"?wait=3601", {}, "wait: expected whole seconds from 0 to 3600"},
        {"?wait=999999", {}, "wait: expected whole seconds from 0 to 3600"},
        {"?wait=1.5", {}, "wait: expected whole seconds from 0 to 3600"},
        {"?wait=-1", {}, "wait: expected whole seconds from 0 to 3600"},
        {"?wait=%31", {}, "wait: expected whole seconds from 0 to 3600"},
        {"?wait=1&wait=1", {}, "wait: given more than once"},
        {"?etag=a&etag=a", {}, "etag: given more than once"},
        {"?etag=%2", {}, "etag: expected the ETag"},
        {"?etag=%zz", {}, "etag: expected the ETag"},
        {"?etag=a%20b", {}, "etag: expected the ETag"},
        {"?etag=%22a%22b%22", {}, "etag: expected the ETag"},
        {"?etag=" + std::string(300, 'a'), {}, "etag: expected the ETag"},
        {"", "*", "If-None-Match: \"*\" names no version"},
        {"", "", "If-None-Match: expected a list of entity tags"},
        {"", "abc", "If-None-Match: expected a list of entity tags"},
        {"", "\"abc", "If-None-Match: expected a list of entity tags"},
        {"", "\"a\" \"b\"", "If-None-Match: expected a list of entity tags"},
        {"", "\"a b\"", "If-None-Match: expected a list of entity tags"},
        {"", "W/", "If-None-Match: expected a list of entity tags"},
    };
    for (const auto& c : cases) {
        const auto r = parse("/v1/tokens/stats" + c.target,
                             c.if_none_match ? std::optional<std::string_view>(*c.if_none_match)
                                             : std::nullopt);
        BOOST_TEST(!r.ok(), c.target << " " << c.if_none_match.value_or("-"));
        BOOST_TEST(r.error.find(c.error) == 0u, c.target << ": " << r.error);
    }
    std::string many;
    for (int i = 0; i < 17; ++i)
        many += "\"t" + std::to_string(i) + "\",";
    BOOST_TEST(parse("/v1/tokens/stats", std::string_view(many)).error ==
               "If-None-Match: expected at most 16 entity tags");
}

BOOST_AUTO_TEST_SUITE_END()
