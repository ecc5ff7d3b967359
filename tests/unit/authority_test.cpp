// split_authority: host and port text of a URL authority, IPv6 literals in brackets.
#include <boost/test/unit_test.hpp>

#include "synergy_tokend/authority.hpp"

using namespace synergy_tokend;

namespace {

// "HOST|PORT" ("HOST|-" without a port), or "none": printable in a failed assertion.
std::string split(std::string_view authority) {
    const auto r = split_authority(authority);
    if (!r)
        return "none";
    return std::string(r->host) + "|" + (r->port ? std::string(*r->port) : "-");
}

} // namespace

BOOST_AUTO_TEST_SUITE(authority)

BOOST_AUTO_TEST_CASE(names_and_ipv4_with_and_without_a_port) {
    BOOST_TEST(split("localhost") == "localhost|-");
    BOOST_TEST(split("localhost:8731") == "localhost|8731");
    BOOST_TEST(split("127.0.0.1:443") == "127.0.0.1|443");
    BOOST_TEST(split("example.com:") == "example.com|");
    BOOST_TEST(split("") == "|-");
}

BOOST_AUTO_TEST_CASE(ipv6_literals_lose_their_brackets) {
    BOOST_TEST(split("[::1]") == "::1|-");
    BOOST_TEST(split("[::1]:8731") == "::1|8731");
    BOOST_TEST(split("[fe80::1%25eth0]:80") == "fe80::1%25eth0|80");
}

BOOST_AUTO_TEST_CASE(brackets_are_remembered_and_the_last_colon_splits) {
    BOOST_TEST(split_authority("[::1]:80")->bracketed);
    BOOST_TEST(!split_authority("localhost:80")->bracketed);
    BOOST_TEST(split("a:b:80") == "a:b|80"); // an unbracketed IPv6 host is the caller's to refuse
}

BOOST_AUTO_TEST_CASE(malformed_brackets_are_refused) {
    BOOST_TEST(split("[::1") == "none");
    BOOST_TEST(split("[::1]8731") == "none");
    BOOST_TEST(split("[::1]x:1") == "none");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(url_rest)

BOOST_AUTO_TEST_CASE(splits_at_the_first_slash_and_refuses_query_fragment_and_user) {
    const url_parts p = split_url_rest("host:6379/0/x");
    BOOST_TEST(p.authority == "host:6379");
    BOOST_TEST(p.path == "/0/x");
    BOOST_TEST((p.problem == url_parts::problem::none));
    const url_parts bare = split_url_rest("[::1]:443");
    BOOST_TEST(bare.authority == "[::1]:443");
    BOOST_TEST(bare.path.empty());
    BOOST_TEST((split_url_rest("h/p?q=1").problem == url_parts::problem::query_or_fragment));
    BOOST_TEST((split_url_rest("h/p#f").problem == url_parts::problem::query_or_fragment));
    BOOST_TEST((split_url_rest("u:pw@h/p").problem == url_parts::problem::user_info));
    BOOST_TEST((split_url_rest("h/a@b").problem == url_parts::problem::none)); // '@' in the path
}

BOOST_AUTO_TEST_SUITE_END()
