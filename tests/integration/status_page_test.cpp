// The status page (PRODUCT.md §5 GET /) served by the running daemon: its headers, its content
// negotiation on /status, the request policy on it. status_page_browser_test.cpp renders it in a
// real browser.
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.hpp"

using namespace tokend_test;
namespace json = boost::json;

namespace {

// One servable profile and one the mock refuses (422 "product not available").
std::string config_for(const mock_upstream& mock) {
    return R"({"upstream":{"base_url":")" + mock.base_url() + R"(","ca_file":")" + mock.ca_file() +
           R"("},"tokens":[)"
           R"({"name":"stats","product":"synergy-stats","customer_id":"345","default":true},)"
           R"({"name":"broken","product":"invalid-product","customer_id":"345"}]})";
}

constexpr const char* browser_accept =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

http_reply get(const tokend_daemon& d, const std::string& target,
               std::map<std::string, std::string> headers = {}) {
    http_call call;
    call.target = target;
    call.headers = std::move(headers);
    return http_request(d.tcp(), call);
}

// Sends `request` on a fresh TCP connection and reads until the daemon closes it (or 5 s pass).
std::string raw_exchange(unsigned short port, const std::string& request) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE_MESSAGE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0,
                          "cannot connect: " << std::strerror(errno));
    BOOST_REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
                  static_cast<::ssize_t>(request.size()));
    std::string raw;
    char chunk[4096];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 5000) <= 0)
            break;
        const ::ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0)
            break;
        raw.append(chunk, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return raw;
}

} // namespace

BOOST_AUTO_TEST_SUITE(status_page)

BOOST_AUTO_TEST_CASE(the_root_answers_the_page_with_a_strict_policy) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const std::string token =
        daemon.get_token_within("stats", 10s).json().at("data").at("token").as_string().c_str();

    const auto page = get(daemon, "/");
    BOOST_REQUIRE_EQUAL(page.status, 200u);
    BOOST_CHECK_EQUAL(page.header("content-type"), "text/html; charset=utf-8");
    const std::string csp = page.header("content-security-policy");
    BOOST_CHECK(csp.starts_with("default-src 'none'; script-src 'sha256-"));
    BOOST_CHECK(csp.find("; connect-src 'self';") != std::string::npos);
    BOOST_CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
    BOOST_CHECK(csp.find("unsafe") == std::string::npos);
    BOOST_CHECK_EQUAL(page.header("x-content-type-options"), "nosniff");
    BOOST_CHECK_EQUAL(page.header("cache-control"), "no-store");
    BOOST_CHECK(page.body.starts_with("<!DOCTYPE html>"));
    BOOST_CHECK(page.body.find(token) == std::string::npos);
    check_no_secret_in("GET /", page.body);

    // The same bytes over the Unix socket.
    http_call call;
    call.target = "/";
    call.headers["Host"] = "";
    const auto over_unix = http_request(daemon.unix_socket(), call);
    BOOST_CHECK_EQUAL(over_unix.status, 200u);
    BOOST_CHECK(over_unix.body == page.body);

    // HEAD: the header alone, with the GET reply's length.
    const std::string head = raw_exchange(
        daemon.tcp().port, "HEAD / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    BOOST_CHECK(head.starts_with("HTTP/1.1 200 "));
    BOOST_CHECK(head.find("Content-Length: " + std::to_string(page.body.size()) + "\r\n") !=
                std::string::npos);
    BOOST_CHECK(head.ends_with("\r\n\r\n"));

    call.method = "POST";
    call.headers.clear();
    const auto post = http_request(daemon.tcp(), call);
    BOOST_CHECK_EQUAL(post.status, 405u);
    BOOST_CHECK_EQUAL(post.header("allow"), "GET");
}

BOOST_AUTO_TEST_CASE(status_answers_a_browser_with_the_page_and_anyone_else_with_json) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const auto page = get(daemon, "/");

    const auto for_browser = get(daemon, "/status", {{"Accept", browser_accept}});
    BOOST_CHECK_EQUAL(for_browser.status, 200u);
    BOOST_CHECK_EQUAL(for_browser.header("content-type"), "text/html; charset=utf-8");
    BOOST_CHECK_EQUAL(for_browser.header("content-security-policy"),
                      page.header("content-security-policy"));
    BOOST_CHECK_EQUAL(for_browser.header("vary"), "Accept");
    BOOST_CHECK(for_browser.body == page.body);

    for (const char* accept : {"", "*/*", "application/json", "application/json, text/html"}) {
        BOOST_TEST_INFO("Accept: " << accept);
        std::map<std::string, std::string> headers;
        if (*accept != '\0')
            headers["Accept"] = accept;
        const auto r = get(daemon, "/status", headers);
        BOOST_CHECK_EQUAL(r.status, 200u);
        BOOST_CHECK(r.header("content-type").starts_with("application/json"));
        BOOST_CHECK_EQUAL(r.header("vary"), "Accept");
        BOOST_CHECK(r.json().is_object());
    }
}

BOOST_AUTO_TEST_CASE(the_page_obeys_the_host_and_origin_rules_of_every_route) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const std::map<std::string, std::string> refused[] = {
        {{"Host", "attacker.example:8731"}},
        {{"Origin", "http://attacker.example"}},
        {{"Origin", "null"}},
        {{"X-Forwarded-For", "192.0.2.1"}},
        {{"Forwarded", "for=192.0.2.1"}},
    };
    for (const auto& headers : refused) {
        BOOST_TEST_INFO(headers.begin()->first << ": " << headers.begin()->second);
        for (const auto& [target, accept] :
             {std::pair{"/", "*/*"}, std::pair{"/status", browser_accept}}) {
            auto with_accept = headers;
            with_accept["Accept"] = accept;
            const auto r = get(daemon, target, with_accept);
            BOOST_CHECK_EQUAL(r.status, 403u);
            BOOST_CHECK(r.header("content-type").starts_with("application/json"));
            BOOST_CHECK(r.header("content-security-policy").empty());
        }
    }
    // The loopback names a person types are fine.
    for (const char* host : {"127.0.0.1:8731", "localhost:8731", "[::1]:8731", "localhost"})
        BOOST_CHECK_EQUAL(get(daemon, "/", {{"Host", host}}).status, 200u);
}

BOOST_AUTO_TEST_SUITE_END()
