// The status page's document and policy (PRODUCT.md §5 GET /): the CSP hashes are those of the
// bytes served, and the document loads nothing from anywhere and inserts nothing as markup.
#include "synergy_tokend/digest.hpp"
#include "synergy_tokend/status_page.hpp"

#include <regex>
#include <string>

#include <boost/test/unit_test.hpp>

namespace st = synergy_tokend;

namespace {

// The text between the only `open` and `close` of `doc` (fails the test when not exactly one).
std::string only_element(const std::string& doc, const std::string& open,
                         const std::string& close) {
    const auto start = doc.find(open);
    BOOST_REQUIRE_MESSAGE(start != std::string::npos, "no " << open);
    BOOST_REQUIRE_MESSAGE(doc.find(open, start + 1) == std::string::npos, "two " << open);
    const auto end = doc.find(close, start);
    BOOST_REQUIRE(end != std::string::npos);
    return doc.substr(start + open.size(), end - start - open.size());
}

std::string header(const st::local_response& res, const char* name) {
    const auto it = res.find(name);
    return it == res.end() ? std::string("(absent)") : std::string(it->value());
}

} // namespace

BOOST_AUTO_TEST_SUITE(status_page)

BOOST_AUTO_TEST_CASE(sha256_base64_is_the_csp_encoding) {
    // FIPS 180-2 "abc" and the empty string, base64 with padding (CSP hash-source), as
    // `openssl dgst -sha256 -binary | base64` prints them.
    BOOST_CHECK_EQUAL(st::sha256_base64("abc"), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    BOOST_CHECK_EQUAL(st::sha256_base64(""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

BOOST_AUTO_TEST_CASE(the_policy_hashes_the_style_and_script_the_document_holds) {
    const std::string& doc = st::status_page_document();
    const std::string style = only_element(doc, "<style>", "</style>");
    const std::string script = only_element(doc, "<script>", "</script>");
    BOOST_CHECK(style == st::status_page_style());
    BOOST_CHECK(script == st::status_page_script());

    const std::string& csp = st::status_page_csp();
    BOOST_TEST_MESSAGE("Content-Security-Policy: " << csp);
    BOOST_CHECK_EQUAL(csp, "default-src 'none'; script-src 'sha256-" + st::sha256_base64(script) +
                               "'; style-src 'sha256-" + st::sha256_base64(style) +
                               "'; connect-src 'self'; img-src data:; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'");
    // Nothing that would let anything else run.
    for (const char* loose : {"unsafe-inline", "unsafe-eval", "unsafe-hashes", "*", "http", "blob"})
        BOOST_CHECK_MESSAGE(csp.find(loose) == std::string::npos, "policy allows " << loose);
}

BOOST_AUTO_TEST_CASE(the_document_loads_nothing_from_anywhere) {
    const std::string& doc = st::status_page_document();
    BOOST_CHECK(doc.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    BOOST_CHECK(doc.find("<meta charset=\"utf-8\">") != std::string::npos);
    // No URL with a scheme or a host, no resource besides the empty data: icon.
    for (const char* external : {"://", "http:", "https:", "//", "url(", "@import", "src=", "<img",
                                 "<iframe", "<object", "<embed", "<form", "<base", "@font-face"})
        BOOST_CHECK_MESSAGE(doc.find(external) == std::string::npos, "the page holds " << external);
    const std::regex href(R"(href=)");
    BOOST_CHECK_EQUAL(
        std::distance(std::sregex_iterator(doc.begin(), doc.end(), href), std::sregex_iterator()),
        1);
    BOOST_CHECK(doc.find(R"(<link rel="icon" href="data:,">)") != std::string::npos);
    // The one connection it makes is to its own origin's /status.
    const std::string script(st::status_page_script());
    BOOST_CHECK(script.find(R"(fetch("/status")") != std::string::npos);
    BOOST_CHECK_EQUAL(script.find("fetch("), script.rfind("fetch("));
}

BOOST_AUTO_TEST_CASE(the_document_never_inserts_text_as_markup) {
    const std::string& doc = st::status_page_document();
    // No inline handlers or style attributes (the policy would block them anyway).
    BOOST_CHECK(!std::regex_search(doc, std::regex(R"(\son[a-z]+\s*=)")));
    BOOST_CHECK(!std::regex_search(doc, std::regex(R"(\sstyle\s*=)")));
    const std::string script(st::status_page_script());
    for (const char* sink : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                             "eval(", "Function(", "setAttribute(\"style\"", "srcdoc"})
        BOOST_CHECK_MESSAGE(script.find(sink) == std::string::npos, "the script uses " << sink);
    BOOST_CHECK(script.find("textContent") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_reply_carries_the_policy_and_is_never_cached_or_sniffed) {
    const st::local_response res = st::status_page_response();
    BOOST_CHECK_EQUAL(res.result_int(), 200u);
    BOOST_CHECK_EQUAL(header(res, "Content-Type"), "text/html; charset=utf-8");
    BOOST_CHECK_EQUAL(header(res, "Content-Security-Policy"), st::status_page_csp());
    BOOST_CHECK_EQUAL(header(res, "X-Content-Type-Options"), "nosniff");
    BOOST_CHECK_EQUAL(header(res, "Cache-Control"), "no-store");
    BOOST_CHECK_EQUAL(header(res, "Referrer-Policy"), "no-referrer");
    BOOST_CHECK_EQUAL(header(res, "X-Frame-Options"), "DENY");
    BOOST_CHECK(res.body() == st::status_page_document());
    // Small enough to read in one sitting.
    BOOST_TEST_MESSAGE("status page: " << res.body().size() << " bytes");
    BOOST_CHECK_LT(res.body().size(), 24u * 1024);
}

BOOST_AUTO_TEST_SUITE_END()
