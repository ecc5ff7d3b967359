// The replies local_server makes itself (PRODUCT.md §5, §6): a refused framing or path (400), a
// header over 8 KiB (431), a body over 64 KiB (413) and a malformed request (400) are counted in
// /metrics like every other reply: by the route of the request once its request line was
// parsed, "other" before that or when it names no route.
#include <boost/test/unit_test.hpp>

#include "harness.hpp"

using namespace tokend_test;

namespace {

std::string config_for(const mock_upstream& mock) {
    return R"({"upstream":{"base_url":")" + mock.base_url() + R"(","ca_file":")" + mock.ca_file() +
           R"("},"listen":{"tcp":["127.0.0.1:0"]},)"
           R"("tokens":[{"name":"stats","product":"synergy-stats","customer_id":"345"}]})";
}

// The status of the first reply to `request` (raw bytes on a fresh connection), 0 for none.
unsigned status_of_raw(const endpoint& ep, const std::string& request) {
    const std::string raw = raw_exchange(ep, request);
    if (!raw.starts_with("HTTP/1.1 ") || raw.size() < 12)
        return 0;
    return static_cast<unsigned>(std::stoul(raw.substr(9, 3)));
}

bool has_line(const std::string& metrics, const std::string& line) {
    return metrics.find("\n" + line + "\n") != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(server_refusals)

BOOST_AUTO_TEST_CASE(the_servers_own_refusals_are_counted_by_route_and_code) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const endpoint ep = daemon.tcp();

    // Framing refused once the header is complete: the request's route.
    BOOST_CHECK_EQUAL(status_of_raw(ep, "GET /v1/tokens/stats HTTP/1.1\r\nHost: localhost\r\n"
                                        "Transfer-Encoding: gzip\r\n\r\n"),
                      400u);
    BOOST_CHECK_EQUAL(status_of_raw(ep, "GET /v1/tokens/stats HTTP/1.1\r\nHost: localhost\r\n"
                                        "Host: localhost\r\n\r\n"),
                      400u);
    // A path that may not be forwarded has no route.
    BOOST_CHECK_EQUAL(
        status_of_raw(ep, "GET /v1/info/%2e%2e/x HTTP/1.1\r\nHost: localhost\r\n\r\n"), 400u);
    // A body over the limit, known from Content-Length with the header.
    BOOST_CHECK_EQUAL(status_of_raw(ep, "POST /v1/products/token HTTP/1.1\r\nHost: localhost\r\n"
                                        "Content-Type: application/json\r\n"
                                        "Content-Length: 70000\r\n\r\n"),
                      413u);
    // Refused after the request line: its route.
    BOOST_CHECK_EQUAL(
        status_of_raw(ep, "GET /healthz HTTP/1.1\r\nX-Pad: " + std::string(9000, 'p') + "\r\n\r\n"),
        431u);
    BOOST_CHECK_EQUAL(status_of_raw(ep, "GET /healthz HTTP/1.1\r\nHost localhost\r\n\r\n"), 400u);
    // No request line: "other".
    BOOST_CHECK_EQUAL(status_of_raw(ep, "GARBAGE\r\n\r\n"), 400u);

    http_call metrics;
    metrics.target = "/metrics";
    const auto m = http_request(ep, metrics);
    BOOST_REQUIRE_EQUAL(m.status, 200u);
    BOOST_CHECK_MESSAGE(
        has_line(m.body,
                 R"(synergy_tokend_http_requests_total{route="/v1/tokens/{name}",code="400"} 2)"),
        m.body);
    BOOST_CHECK_MESSAGE(
        has_line(m.body,
                 R"(synergy_tokend_http_requests_total{route="/v1/products/token",code="413"} 1)"),
        m.body);
    BOOST_CHECK_MESSAGE(
        has_line(m.body, R"(synergy_tokend_http_requests_total{route="other",code="400"} 2)"),
        m.body);
    BOOST_CHECK_MESSAGE(
        has_line(m.body, R"(synergy_tokend_http_requests_total{route="/healthz",code="431"} 1)"),
        m.body);
    BOOST_CHECK_MESSAGE(
        has_line(m.body, R"(synergy_tokend_http_requests_total{route="/healthz",code="400"} 1)"),
        m.body);
}

BOOST_AUTO_TEST_SUITE_END()
