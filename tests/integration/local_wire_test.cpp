// The local parser on the wire (PRODUCT.md §6, issue 13 item 8): raw bytes to the daemon's
// listeners, and what comes back. A Transfer-Encoding other than the one coding "chunked", a
// second Host, or a /v1/info/... path that upstream could decode or resolve otherwise get 400 and
// the connection closed, and the bytes after the header never run as a request; the 8 KiB header
// limit is exact; listen.request_timeout_s and listen.keepalive_idle_s are the ones configured.
//
// Each table row is checked on its own connection, in its own BOOST_TEST_CONTEXT, with CHECKs:
// one row failing does not hide the others.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/test/unit_test.hpp>

#include "harness.hpp"

using namespace tokend_test;
namespace http = boost::beast::http;
using steady = std::chrono::steady_clock;

namespace {

std::string config_for(const mock_upstream& mock, const std::string& listen_extra = "") {
    return R"({"upstream":{"base_url":")" + mock.base_url() + R"(","ca_file":")" + mock.ca_file() +
           R"("},"listen":{"tcp":["127.0.0.1:0"])" + listen_extra +
           R"(},"tokens":[{"name":"stats","product":"synergy-stats","customer_id":"345"}]})";
}

// A request the way a client would smuggle it: what the daemon must never answer as such.
const std::string smuggled = "GET /v1/tokens/stats HTTP/1.1\r\nHost: localhost\r\n"
                             "X-Tokend-Request: 1\r\n\r\n";

// What came back on one connection.
struct wire_reply {
    std::vector<unsigned> statuses; // each complete reply, in order
    std::vector<std::string> bodies;
    bool closed = false; // the daemon ended the connection (EOF or reset) within the wait
    double closed_after_s = -1;
    std::string raw; // every byte received
    std::string body() const { return bodies.empty() ? std::string() : bodies.front(); }
};

int connect_to(const endpoint& ep) {
    int fd = -1;
    if (!ep.unix_path.empty()) {
        fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", ep.unix_path.c_str());
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(fd);
            return -1;
        }
        return fd;
    }
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(ep.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// The complete replies in `raw`, in order.
void parse_replies(wire_reply& out) {
    std::string_view rest = out.raw;
    while (!rest.empty()) {
        http::response_parser<http::string_body> parser;
        parser.eager(true);
        boost::system::error_code ec;
        const std::size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
        if (ec || !parser.is_done())
            return;
        out.statuses.push_back(parser.get().result_int());
        out.bodies.push_back(parser.get().body());
        rest.remove_prefix(used);
    }
}

// Sends each of `writes` (pausing `pause` between them), then reads until the daemon closes the
// connection or `wait` has passed since the last write. The connection is never half-closed by
// this side: a close seen is the daemon's own.
wire_reply exchange(const endpoint& ep, const std::vector<std::string>& writes,
                    std::chrono::milliseconds wait = 2s,
                    std::chrono::milliseconds pause = std::chrono::milliseconds(0)) {
    wire_reply out;
    const int fd = connect_to(ep);
    BOOST_REQUIRE_MESSAGE(fd >= 0, "cannot connect: " << std::strerror(errno));
    for (std::size_t i = 0; i < writes.size(); ++i) {
        if (i != 0 && pause.count() > 0)
            std::this_thread::sleep_for(pause);
        std::string_view left = writes[i];
        while (!left.empty()) {
            const ::ssize_t n = ::send(fd, left.data(), left.size(), MSG_NOSIGNAL);
            if (n <= 0)
                break; // the daemon closed early: what it said is still read below
            left.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    const auto start = steady::now();
    const auto deadline = start + wait;
    char chunk[4096];
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
        if (left.count() <= 0)
            break;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
            continue;
        const ::ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n > 0) {
            out.raw.append(chunk, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        out.closed = true; // EOF, or a reset
        out.closed_after_s = std::chrono::duration<double>(steady::now() - start).count();
        break;
    }
    ::close(fd);
    parse_replies(out);
    return out;
}

std::string token_of(tokend_daemon& daemon) {
    const auto r = daemon.get_token("stats");
    BOOST_REQUIRE_EQUAL(r.status, 200u);
    return std::string(r.json().at("data").at("token").as_string());
}

// One refused request: a single 400 naming the problem, the connection closed, and no token in
// any byte that came back.
void check_refused(const wire_reply& r, unsigned status, const std::string& names,
                   const std::string& token) {
    BOOST_CHECK_EQUAL(r.statuses.size(), 1u);
    if (!r.statuses.empty())
        BOOST_CHECK_EQUAL(r.statuses.front(), status);
    BOOST_CHECK_MESSAGE(r.body().find(names) != std::string::npos,
                        "the reply should name \"" << names << "\": " << r.body());
    BOOST_CHECK_MESSAGE(r.closed, "the connection should be closed");
    BOOST_CHECK(r.raw.find(token) == std::string::npos);
    BOOST_CHECK(r.raw.find("\"token\"") == std::string::npos);
}

// The API requests the mock has seen (each is one "api #N METHOD PATH -> ..." log line).
std::size_t mock_api_requests(const mock_upstream& mock) {
    const std::string log = read_file(mock.log_path());
    std::size_t n = 0;
    for (auto at = log.find("api #"); at != std::string::npos; at = log.find("api #", at + 1))
        ++n;
    return n;
}

// A GET /healthz whose header block, from the request line to the empty line (its CRLF CRLF
// included), is exactly `size` bytes: padded in the target, in one field, or in many fields.
enum class padding { target, one_field, many_fields };
std::string request_of_header_size(std::size_t size, padding where) {
    const std::string tail = "Host: localhost\r\nConnection: close\r\n";
    std::string head;
    if (where == padding::target) {
        head = "GET /healthz?pad=";
        const std::string line_end = " HTTP/1.1\r\n";
        const std::size_t fixed = head.size() + line_end.size() + tail.size() + 2;
        BOOST_REQUIRE(size > fixed);
        return head + std::string(size - fixed, 'p') + line_end + tail + "\r\n";
    }
    head = "GET /healthz HTTP/1.1\r\n" + tail;
    if (where == padding::many_fields) {
        // Short fields, about 20 bytes each, up to 200 bytes before the end.
        for (int i = 0; head.size() + 220 < size; ++i)
            head += "X-Field-" + std::to_string(100000 + i) + ": v\r\n";
    }
    const std::string name = "X-Pad: ";
    const std::size_t fixed = head.size() + name.size() + 2 + 2;
    BOOST_REQUIRE(size > fixed);
    return head + name + std::string(size - fixed, 'p') + "\r\n\r\n";
}

} // namespace

BOOST_AUTO_TEST_SUITE(local_wire)

BOOST_AUTO_TEST_CASE(transfer_encoding_other_than_chunked_is_refused_and_nothing_is_smuggled) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const std::string token = token_of(daemon);
    struct row {
        const char* what;
        std::string header; // the request up to its empty line
        std::string body;   // what follows: a smuggled request, in a body or not
        const char* names;  // what the 400 must name
    };
    const std::string post = "POST /v1/products/token HTTP/1.1\r\nHost: localhost\r\n";
    const std::string get = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n";
    // Before "0\r\n\r\n" a chunked parser would see an empty body, then the smuggled request.
    const std::string after_last_chunk = "0\r\n\r\n" + smuggled;
    const row rows[] = {
        {"xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n", smuggled, "Transfer-Encoding"},
        {"gzip", post + "Transfer-Encoding: gzip\r\n\r\n", smuggled, "Transfer-Encoding"},
        {"identity", get + "Transfer-Encoding: identity\r\n\r\n", smuggled, "Transfer-Encoding"},
        {"chunked, identity", post + "Transfer-Encoding: chunked, identity\r\n\r\n", smuggled,
         "Transfer-Encoding"},
        {"chunked, chunked", get + "Transfer-Encoding: chunked, chunked\r\n\r\n", smuggled,
         "Transfer-Encoding"},
        {"gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n", after_last_chunk,
         "Transfer-Encoding"},
        {"empty", get + "Transfer-Encoding: \r\n\r\n", smuggled, "Transfer-Encoding"},
        {"gzip then chunked", get + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
         after_last_chunk, "Transfer-Encoding"},
        {"chunked then gzip", get + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
         smuggled, "Transfer-Encoding"},
        {"chunked then identity",
         get + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", smuggled,
         "Transfer-Encoding"},
        {"gzip with Content-Length",
         post + "Transfer-Encoding: gzip\r\nContent-Length: " + std::to_string(smuggled.size()) +
             "\r\n\r\n",
         smuggled, "Transfer-Encoding"},
        // Beast refuses this one itself, at the Content-Length field.
        {"chunked with Content-Length",
         post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", after_last_chunk,
         "Content-Length"},
        {"Content-Length with chunked",
         post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", after_last_chunk,
         "Transfer-Encoding"},
        {"chunked in HTTP/1.0",
         "GET /healthz HTTP/1.0\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n",
         after_last_chunk, "HTTP/1.0"},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("Transfer-Encoding " << r.what) {
            check_refused(exchange(daemon.tcp(), {r.header + r.body}), 400, r.names, token);
        }
    }
    BOOST_CHECK(daemon.proc().running());
}

BOOST_AUTO_TEST_CASE(a_refused_header_is_answered_before_its_body_arrives) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const std::string token = token_of(daemon);
    // A body is announced and never sent: the 400 comes on the header alone, at once, not after
    // listen.request_timeout_s of waiting for the body.
    const char* rows[][2] = {
        {"gzip", "Content-Length: 1000\r\n"},
        {"xchunked", "Content-Length: 1000\r\n"},
        {"gzip, chunked", ""}, // Beast alone would wait for the first chunk
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("Transfer-Encoding: " << r[0]) {
            const auto reply = exchange(daemon.tcp(), {"POST /v1/products/token HTTP/1.1\r\n"
                                                       "Host: localhost\r\nTransfer-Encoding: " +
                                                       std::string(r[0]) + "\r\n" + r[1] + "\r\n"});
            check_refused(reply, 400, "Transfer-Encoding", token);
            BOOST_CHECK_LT(reply.closed_after_s, 1.0);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_final_chunked_coding_is_read_as_such) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    // The control for the refusals above: "chunked" alone (any case, spaces around) frames a
    // body, and what follows its last chunk is the next, pipelined request, answered in turn.
    for (const char* te : {"chunked", "Chunked", " chunked "}) {
        BOOST_TEST_CONTEXT("Transfer-Encoding: [" << te << "]") {
            const auto r = exchange(daemon.tcp(), {"GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                                                   "Transfer-Encoding: " +
                                                   std::string(te) +
                                                   "\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                                                   "GET /v1/tokens HTTP/1.1\r\nHost: localhost\r\n"
                                                   "Connection: close\r\n\r\n"});
            BOOST_REQUIRE_EQUAL(r.statuses.size(), 2u);
            BOOST_CHECK_EQUAL(r.statuses[0], 200u);
            BOOST_CHECK_EQUAL(r.statuses[1], 200u);
            BOOST_CHECK(r.bodies[1].find("\"stats\"") != std::string::npos);
            BOOST_CHECK(r.closed);
        }
    }
}

BOOST_AUTO_TEST_CASE(more_than_one_host_is_refused) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const std::string token = token_of(daemon);
    const char* hosts[][2] = {
        {"localhost", "localhost"},
        {"localhost", "evil.example"},
        {"evil.example", "localhost"},
        {"127.0.0.1:8731", ""},
    };
    for (const auto& h : hosts) {
        BOOST_TEST_CONTEXT("Host: " << h[0] << ", Host: " << h[1]) {
            const auto r = exchange(daemon.tcp(),
                                    {"GET /v1/tokens/stats HTTP/1.1\r\nHost: " + std::string(h[0]) +
                                     "\r\nX-Tokend-Request: 1\r\nHost: " + std::string(h[1]) +
                                     "\r\n\r\n" + smuggled});
            check_refused(r, 400, "Host", token);
        }
    }
}

BOOST_AUTO_TEST_CASE(info_paths_upstream_could_resolve_otherwise_are_refused_and_not_forwarded) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const std::string token = token_of(daemon);
    const auto info = [](const std::string& target) {
        return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nX-Tokend-Request: 1\r\n\r\n";
    };
    // The control: a plain /v1/info call is forwarded, and counted by the mock.
    const auto ok = exchange(daemon.tcp(), {info("/v1/info/scopes/authorized")}, 1s);
    BOOST_REQUIRE_EQUAL(ok.statuses.size(), 1u);
    BOOST_CHECK_EQUAL(ok.statuses[0], 200u);
    BOOST_REQUIRE_EQUAL(mock.counter("info_requests"), 1);
    const std::int64_t token_requests = mock.counter("token_requests");
    const std::size_t api_requests = mock_api_requests(mock);

    struct row {
        std::string target;
        const char* names; // in the 400's message
    };
    const row rows[] = {
        {"/v1/info/..%2fproducts/token", "%2F"},
        {"/v1/info/..%2F..%2Fproducts/token", "%2F"},
        {"/v1/info/%5c..%5cproducts%5ctoken", "%5C"},
        {"/v1/info/..;/products/token", "';'"},
        {"/v1/info/scopes;jsessionid=1/authorized", "';'"},
        {"/v1/info/%252e%252e/products/token", "%25"},
        {"/v1/info/%2e%2e/products/token", "%2E"},
        {"/v1/info/.%2E/products/token", "%2E"},
        {"/v1/info/scopes%3bx", "%3B"},
        {"/v1/info/scopes/authorized%00", "%00"},
        {"/v1/info/../products/token", "'..'"},
        {"/v1/info/scopes/./authorized", "'..'"},
        {"/v1/info/scopes/..?x=1", "'..'"},
        {"/v1/info/%zz", "two hex digits"},
        // Raw bytes Beast's parser may refuse in a target itself: 400 as malformed.
        {"/v1/info/..\\products\\token", "'\\\\'"}, // '\' as JSON writes it
        {std::string("/v1/info/a\0b", 12), "400"},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("GET " << r.target) {
            const auto reply = exchange(daemon.tcp(), {info(r.target)});
            BOOST_CHECK_EQUAL(reply.statuses.size(), 1u);
            if (!reply.statuses.empty())
                BOOST_CHECK_EQUAL(reply.statuses.front(), 400u);
            BOOST_CHECK_MESSAGE(reply.body().find(r.names) != std::string::npos ||
                                    reply.body().find("malformed") != std::string::npos,
                                "the reply should name \"" << r.names << "\": " << reply.body());
            BOOST_CHECK(reply.closed);
            BOOST_CHECK(reply.raw.find(token) == std::string::npos);
        }
    }
    // None reached upstream: no /info call, no token call, no other call.
    BOOST_CHECK_EQUAL(mock.counter("info_requests"), 1);
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), token_requests);
    BOOST_CHECK_EQUAL(mock_api_requests(mock), api_requests);
}

BOOST_AUTO_TEST_CASE(the_8_kib_header_limit_is_exact) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    struct row {
        std::size_t size;
        padding where;
        unsigned status;
    };
    const char* names[] = {"target", "one field", "many fields"};
    std::vector<row> rows;
    for (padding where : {padding::target, padding::one_field, padding::many_fields}) {
        rows.push_back({8191, where, 200});
        rows.push_back({8192, where, 200});
        rows.push_back({8193, where, 431});
        rows.push_back({10 * 1024, where, 431});
        rows.push_back({12 * 1024, where, 431});
        rows.push_back({64 * 1024, where, 431});
    }
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("a header block of " << r.size << " bytes, padded in the "
                                                << names[static_cast<int>(r.where)]) {
            const std::string request = request_of_header_size(r.size, r.where);
            BOOST_REQUIRE_EQUAL(request.size(), r.size);
            // All at once, and in pieces of 1000 bytes that arrive one by one.
            std::vector<std::string> pieces;
            for (std::size_t at = 0; at < request.size(); at += 1000)
                pieces.push_back(request.substr(at, 1000));
            for (const auto& writes : {std::vector<std::string>{request}, pieces}) {
                BOOST_TEST_CONTEXT((writes.size() == 1 ? "in one write" : "in 1000-byte writes")) {
                    const auto reply = exchange(daemon.tcp(), writes, 2s, 2ms);
                    BOOST_CHECK_EQUAL(reply.statuses.size(), 1u);
                    if (!reply.statuses.empty())
                        BOOST_CHECK_EQUAL(reply.statuses.front(), r.status);
                    if (r.status == 431)
                        BOOST_CHECK(reply.body().find("8192 bytes") != std::string::npos);
                    BOOST_CHECK(reply.closed); // Connection: close, or the refusal
                }
            }
        }
    }
    BOOST_CHECK(daemon.proc().running());
}

BOOST_AUTO_TEST_CASE(the_unix_socket_refuses_the_same) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const std::string token = token_of(daemon);
    const endpoint unix_ep = daemon.unix_socket();
    BOOST_TEST_CONTEXT("Transfer-Encoding: xchunked") {
        check_refused(exchange(unix_ep, {"POST /v1/products/token HTTP/1.1\r\nHost: \r\n"
                                         "Transfer-Encoding: xchunked\r\n\r\n" +
                                         smuggled}),
                      400, "Transfer-Encoding", token);
    }
    BOOST_TEST_CONTEXT("two Host fields") {
        check_refused(exchange(unix_ep, {"GET /v1/tokens/stats HTTP/1.1\r\nHost: \r\n"
                                         "Host: localhost\r\nX-Tokend-Request: 1\r\n\r\n"}),
                      400, "Host", token);
    }
    BOOST_TEST_CONTEXT("an encoded '/' in /v1/info") {
        check_refused(exchange(unix_ep, {"GET /v1/info/..%2fproducts/token HTTP/1.1\r\n"
                                         "X-Tokend-Request: 1\r\n\r\n"}),
                      400, "%2F", token);
        BOOST_CHECK_EQUAL(mock.counter("info_requests"), 0);
    }
    BOOST_TEST_CONTEXT("a header block of 8193 bytes") {
        const auto r = exchange(unix_ep, {request_of_header_size(8193, padding::one_field)});
        BOOST_CHECK_EQUAL(r.statuses.size(), 1u);
        if (!r.statuses.empty())
            BOOST_CHECK_EQUAL(r.statuses.front(), 431u);
        BOOST_CHECK(r.closed);
    }
}

BOOST_AUTO_TEST_CASE(request_and_keepalive_timeouts_are_the_configured_ones) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, R"(,"request_timeout_s":1,"keepalive_idle_s":3)"));
    BOOST_TEST_CONTEXT("a connection that sends nothing") {
        const auto r = exchange(daemon.tcp(), {}, 8s);
        BOOST_CHECK(r.closed);
        BOOST_TEST_MESSAGE("silent connection closed after " << r.closed_after_s << " s");
        BOOST_CHECK(r.closed_after_s >= 0.8 && r.closed_after_s <= 2.0);
    }
    BOOST_TEST_CONTEXT("a request that stops halfway") {
        const auto r = exchange(daemon.tcp(), {"GET /healthz HTTP/1.1\r\nHost: loc"}, 8s);
        BOOST_CHECK(r.closed);
        BOOST_CHECK(r.statuses.empty());
        BOOST_CHECK(r.closed_after_s >= 0.8 && r.closed_after_s <= 2.0);
    }
    BOOST_TEST_CONTEXT("a kept-alive connection after one request") {
        const auto r =
            exchange(daemon.tcp(), {"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"}, 8s);
        BOOST_CHECK_EQUAL(r.statuses.size(), 1u);
        BOOST_CHECK(r.closed);
        BOOST_TEST_MESSAGE("idle kept-alive connection closed after " << r.closed_after_s << " s");
        BOOST_CHECK(r.closed_after_s >= 2.7 && r.closed_after_s <= 4.0);
    }
}

BOOST_AUTO_TEST_SUITE_END()
