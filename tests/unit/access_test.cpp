// Access rules (PRODUCT.md §9): the decision, the refusal message, and the rules in the config.
#include <boost/test/unit_test.hpp>

#include <map>
#include <string>

#include "synergy_tokend/access.hpp"
#include "synergy_tokend/config.hpp"

using namespace synergy_tokend;

namespace {

caller_identity caller(std::uint32_t uid, std::uint32_t gid, std::vector<std::uint32_t> groups,
                       std::string user = "") {
    caller_identity c;
    c.how = identified_by::peer_credentials;
    c.uid = uid;
    c.gid = gid;
    c.groups = std::move(groups);
    c.user = std::move(user);
    return c;
}

class fake_accounts final : public account_lookup {
public:
    std::optional<std::uint32_t> uid_of(const std::string& user) const override {
        const auto it = users.find(user);
        return it == users.end() ? std::nullopt : std::optional<std::uint32_t>(it->second);
    }
    std::optional<std::uint32_t> gid_of(const std::string& group) const override {
        const auto it = groups.find(group);
        return it == groups.end() ? std::nullopt : std::optional<std::uint32_t>(it->second);
    }
    std::map<std::string, std::uint32_t> users{{"stats-app", 1001}, {"bob", 1002}};
    std::map<std::string, std::uint32_t> groups{{"stats", 2001}};
};

const fake_accounts accounts;

config_parse_result parse_with_allow(const std::string& allow, const std::string& on_demand = "") {
    const std::string text =
        R"({"identity": {"user_identity_token_file": "/x"},
        "listen": {"tcp": ["127.0.0.1:0"], "unix": ""},)" +
        (on_demand.empty() ? "" : R"("on_demand": {"allow": )" + on_demand + "},") +
        R"("tokens": [{"name": "stats", "product": "p", "customer_id": 1,
                                   "allow": )" +
        allow + "}]}";
    return parse_config(text, "config.json", accounts);
}

std::string first_error(const config_parse_result& r) {
    return r.errors.empty() ? "" : r.errors.front();
}

} // namespace

BOOST_AUTO_TEST_SUITE(access_rules)

BOOST_AUTO_TEST_CASE(no_rule_lets_anyone_read_even_an_unidentified_caller) {
    BOOST_TEST(may_read(std::nullopt, caller(1001, 1001, {1001})));
    BOOST_TEST(may_read(std::nullopt, caller_identity{}));
}

BOOST_AUTO_TEST_CASE(a_rule_admits_the_listed_uid_or_a_listed_group) {
    const access_rule rule{{1001}, {2001}};
    BOOST_TEST(may_read(rule, caller(1001, 1001, {1001})));        // the uid
    BOOST_TEST(may_read(rule, caller(1003, 2001, {2001})));        // the primary group
    BOOST_TEST(may_read(rule, caller(1004, 1004, {1004, 2001})));  // a supplementary group
    BOOST_TEST(!may_read(rule, caller(1002, 1002, {1002, 3000}))); // none of them
    BOOST_TEST(!may_read(rule, caller(0, 0, {0})));                // root is not special
}

BOOST_AUTO_TEST_CASE(an_unidentified_caller_matches_no_rule) {
    caller_identity unknown;
    unknown.uid = 1001; // left over: must not count
    BOOST_TEST(!may_read(access_rule{{1001}, {}}, unknown));
    BOOST_TEST(!may_read(access_rule{{}, {}}, unknown));
}

BOOST_AUTO_TEST_CASE(an_empty_rule_admits_nobody) {
    BOOST_TEST(!may_read(access_rule{}, caller(1001, 1001, {1001})));
}

BOOST_AUTO_TEST_CASE(the_refusal_names_caller_and_profile) {
    BOOST_TEST(refusal_message(caller(1001, 1001, {}, "bob"), "stats") ==
               "caller uid 1001 (bob) may not read profile \"stats\"");
    BOOST_TEST(refusal_message(caller(1005, 1005, {}), "stats") ==
               "caller uid 1005 may not read profile \"stats\"");
    caller_identity unknown;
    unknown.unknown_reason = "the kernel knows no such peer socket";
    BOOST_TEST(refusal_message(unknown, "stats") ==
               "an unidentified caller may not read profile \"stats\" (the kernel knows no such "
               "peer socket)");
}

BOOST_AUTO_TEST_CASE(config_rules_take_names_and_numeric_ids) {
    const auto r =
        parse_with_allow(R"({"users": ["stats-app", 1005, "1006"], "groups": ["stats", 3000]})");
    BOOST_REQUIRE_MESSAGE(r.ok(), first_error(r));
    BOOST_REQUIRE(r.value.tokens[0].allow.has_value());
    BOOST_TEST((r.value.tokens[0].allow->uids == std::vector<std::uint32_t>{1001, 1005, 1006}));
    BOOST_TEST((r.value.tokens[0].allow->gids == std::vector<std::uint32_t>{2001, 3000}));
}

BOOST_AUTO_TEST_CASE(an_unknown_name_is_an_error_naming_its_key) {
    const auto r = parse_with_allow(R"({"users": ["stats-app", "nobody-here"]})");
    BOOST_TEST(!r.ok());
    BOOST_TEST(first_error(r) == "config.json: tokens[0].allow.users[1]: no user named "
                                 "\"nobody-here\" on this host; expected a user name or a "
                                 "numeric id");
    const auto g = parse_with_allow(R"({"groups": ["no-such-group"]})");
    BOOST_TEST(first_error(g).find("tokens[0].allow.groups[0]: no group named") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(malformed_rules_are_errors) {
    BOOST_TEST(first_error(parse_with_allow("[]")).find("tokens[0].allow: expected") !=
               std::string::npos);
    BOOST_TEST(first_error(parse_with_allow(R"({"users": "bob"})"))
                   .find("tokens[0].allow.users: expected an array") != std::string::npos);
    BOOST_TEST(first_error(parse_with_allow(R"({"users": [-1]})"))
                   .find("tokens[0].allow.users[0]: expected a user name") != std::string::npos);
    BOOST_TEST(first_error(parse_with_allow(R"({"user": []})")).find("tokens[0].allow.user") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(absent_or_null_means_anyone_and_on_demand_has_its_own_rule) {
    const auto r = parse_with_allow("null", R"({"users": ["bob"]})");
    BOOST_REQUIRE_MESSAGE(r.ok(), first_error(r));
    BOOST_TEST(!r.value.tokens[0].allow.has_value());
    BOOST_REQUIRE(r.value.on_demand.allow.has_value());
    BOOST_TEST((r.value.on_demand.allow->uids == std::vector<std::uint32_t>{1002}));
}

BOOST_AUTO_TEST_SUITE_END()
