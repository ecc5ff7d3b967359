// Secrets out of upstream's text (PRODUCT.md §6): plain, JSON-escaped, several at once.
#include "synergy_tokend/redact.hpp"

#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

namespace st = synergy_tokend;

namespace {

std::string redact_one(std::string_view text, std::string_view secret) {
    const std::string_view secrets[] = {secret};
    return st::redact(text, secrets);
}

} // namespace

BOOST_AUTO_TEST_SUITE(redact)

BOOST_AUTO_TEST_CASE(every_occurrence_of_a_secret_is_replaced) {
    const std::string secret = "eyJhbGciOiJIUzI1NiJ9.payload.sig";
    BOOST_CHECK_EQUAL(redact_one("token " + secret + " refused; " + secret + secret, secret),
                      "token [redacted] refused; [redacted]");
    BOOST_CHECK_EQUAL(redact_one(secret, secret), "[redacted]");
    BOOST_CHECK_EQUAL(redact_one("nothing here", secret), "nothing here");
    BOOST_CHECK_EQUAL(redact_one("", secret), "");
    // Part of a secret is not the secret.
    BOOST_CHECK_EQUAL(redact_one("eyJhbGciOiJIUzI1NiJ9.payload", secret),
                      "eyJhbGciOiJIUzI1NiJ9.payload");
}

BOOST_AUTO_TEST_CASE(short_strings_are_no_secrets) {
    BOOST_CHECK_EQUAL(redact_one("bearer bearer", "bearer"), "bearer bearer");
    BOOST_CHECK_EQUAL(redact_one("x 12345678 y", "12345678"), "x [redacted] y");
    st::redactor r;
    r.add("1234567");
    BOOST_CHECK_EQUAL(r.size(), 0u);
}

BOOST_AUTO_TEST_CASE(json_escaped_forms_are_found) {
    // PHP's json_encode writes '/' as "\/"; any character may come as \u00XX.
    const std::string secret = "abc/def+ghi/jkl==";
    BOOST_CHECK_EQUAL(redact_one(R"({"message":"bad token abc\/def+ghi\/jkl=="})", secret),
                      R"({"message":"bad token [redacted]"})");
    BOOST_CHECK_EQUAL(redact_one(R"({"m":"\u0061bc/def\u002Bghi\/jkl\u003d="})", secret),
                      R"({"m":"[redacted]"})");
    // Quotes and backslashes inside a secret.
    const std::string quoted = R"(id"with\back)";
    BOOST_CHECK_EQUAL(redact_one(R"({"m":"id\"with\\back!"})", quoted), R"({"m":"[redacted]!"})");
    // The same secret raw, in a text that also has escapes elsewhere.
    BOOST_CHECK_EQUAL(redact_one(R"(a\nb id"with\back)", quoted), R"(a\nb [redacted])");
    // Non-ASCII, escaped as \uXXXX and as a surrogate pair.
    const std::string utf8 = "pässwörd-\xF0\x9F\x94\x91-key";
    BOOST_CHECK_EQUAL(redact_one(R"("p\u00e4ssw\u00F6rd-\ud83d\udd11-key")", utf8),
                      R"("[redacted]")");
    // A backslash that starts no escape stands for itself.
    BOOST_CHECK_EQUAL(redact_one(R"(\q\u12 abcdefgh)", "abcdefgh"), R"(\q\u12 [redacted])");
}

BOOST_AUTO_TEST_CASE(many_secrets_and_overlaps) {
    st::redactor r;
    const std::vector<std::string> secrets = {"identity-token-0001", "identity-token-0001-long",
                                              "product-token-AAAA", "product-token-BBBB"};
    for (const auto& s : secrets)
        r.add(s);
    r.add(secrets[0]); // held once
    BOOST_CHECK_EQUAL(r.size(), 4u);
    BOOST_CHECK_EQUAL(r.redact("a identity-token-0001-long b identity-token-0001 c"),
                      "a [redacted] b [redacted] c");
    BOOST_CHECK_EQUAL(r.redact("product-token-AAAAproduct-token-BBBB"), "[redacted]");
    BOOST_CHECK_EQUAL(r.redact("product-token-CCCC"), "product-token-CCCC");
    // A secret known only to this call, and one held.
    const std::string_view extra[] = {"request-borne-identity"};
    BOOST_CHECK_EQUAL(r.redact("request-borne-identity / product-token-AAAA", extra),
                      "[redacted] / [redacted]");
    BOOST_CHECK_EQUAL(r.redact("request-borne-identity"), "request-borne-identity");
    r.clear();
    BOOST_CHECK_EQUAL(r.redact("product-token-AAAA"), "product-token-AAAA");
}

BOOST_AUTO_TEST_CASE(the_recipients_own_secret_can_be_kept) {
    st::redactor r;
    r.add("configured-identity");
    r.add("someone-elses-token");
    const std::string_view extra[] = {"callers-own-identity"};
    BOOST_CHECK_EQUAL(r.redact("callers-own-identity someone-elses-token configured-identity",
                               extra, "callers-own-identity"),
                      "callers-own-identity [redacted] [redacted]");
    // When the caller's own identity is the configured one, it is kept too.
    BOOST_CHECK_EQUAL(r.redact("configured-identity", {}, "configured-identity"),
                      "configured-identity");
}

BOOST_AUTO_TEST_CASE(a_large_text_with_many_secrets_is_handled) {
    st::redactor r;
    std::vector<std::string> secrets;
    for (int i = 0; i < 10000; ++i)
        secrets.push_back("on-demand-token-" + std::to_string(i) + "-xxxxxxxxxxxx");
    for (const auto& s : secrets)
        r.add(s);
    std::string text(64 * 1024, 'a');
    text += secrets[4242];
    const std::string out = r.redact(text);
    BOOST_CHECK_EQUAL(out.size(), 64 * 1024 + st::redacted_marker.size());
    BOOST_CHECK(out.ends_with("a[redacted]"));
}

BOOST_AUTO_TEST_SUITE_END()
