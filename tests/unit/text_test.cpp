// The one case-insensitive compare and the one trim of the code base.
#include <boost/test/unit_test.hpp>

#include "synergy_tokend/text.hpp"

using namespace synergy_tokend;

BOOST_AUTO_TEST_SUITE(text)

BOOST_AUTO_TEST_CASE(iequals_ignores_ascii_case_only) {
    BOOST_TEST(iequals("Chunked", "chunked"));
    BOOST_TEST(iequals("LOCALHOST", "localhost"));
    BOOST_TEST(iequals("", ""));
    BOOST_TEST(!iequals("chunked", "chunke"));
    BOOST_TEST(!iequals("xchunked", "chunked"));
    BOOST_TEST(!iequals("\xc3\x89", "\xc3\xa9")); // not Unicode case folding
}

BOOST_AUTO_TEST_CASE(trim_removes_only_the_given_characters_at_both_ends) {
    BOOST_TEST(trim("  token\r\n") == "token");
    BOOST_TEST(trim("\t 120 \t", http_whitespace) == "120");
    BOOST_TEST(trim("120\r\n", http_whitespace) == "120\r\n");
    BOOST_TEST(trim(" a b ") == "a b");
    BOOST_TEST(trim(" \t\r\n").empty());
    BOOST_TEST(trim("").empty());
}

BOOST_AUTO_TEST_SUITE_END()
