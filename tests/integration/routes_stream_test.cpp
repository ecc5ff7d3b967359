// Product API routes stream both ways' replies (PRODUCT.md §11): a reply of any length passes
// through with the daemon's memory bounded, a slow one completes while bytes keep coming, an idle
// or broken one is cut so that the client cannot mistake it for complete. Against the mock's
// /product/stream (a generated body: size, piece, interval, framing, cut) and against a raw-byte
// fake product API on loopback (interim replies, a reply split at every offset, EOF-delimited
// bodies, early closes, unknown status codes).
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include "harness.hpp"

using namespace tokend_test;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

namespace {

// A daemon whose route "stats" goes to `upstream` (the mock's /product/ or a fake's), its token
// from the mock.
std::string config_for(const mock_upstream& mock, const std::string& upstream, long timeout_ms) {
    json::object cfg;
    cfg["upstream"] = json::object{{"base_url", mock.base_url()},
                                   {"ca_file", mock.ca_file()},
                                   {"request_timeout_ms", 3000},
                                   {"allow_insecure_http", true}};
    cfg["tokens"] =
        json::parse(R"([{"name":"stats","product":"synergy-stats","customer_id":"345"}])");
    cfg["routes"] = json::array{json::object{{"prefix", "/stats/"},
                                             {"upstream", upstream},
                                             {"token", "stats"},
                                             {"ca_file", mock.ca_file()},
                                             {"timeout_ms", timeout_ms},
                                             {"max_body_bytes", 1048576}}};
    return json::serialize(cfg);
}

std::string product_root(const mock_upstream& mock) {
    const std::string url = mock.base_url();
    return url.substr(0, url.rfind("/v1")) + "/product/";
}

// What a client reading a reply as it comes saw.
struct streamed {
    unsigned status = 0;
    std::string reason;
    std::map<std::string, std::string> headers; // lower-case names
    std::uint64_t bytes = 0;
    std::string body;       // kept when asked (small replies)
    bool pattern_ok = true; // byte i was 'a' + i % 26 (the mock's generated body)
    bool complete = false;  // the framing said the reply had ended
    std::string error;      // why not
    std::string header(const std::string& name) const {
        const auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

// GET `target` on the daemon as a client that reads the reply as it comes and checks its framing
// (Beast's parser: chunked, Content-Length or the end of the stream), keeping the body if `keep`.
streamed stream_get(const endpoint& ep, const std::string& target, bool keep,
                    std::chrono::seconds limit = 120s, int version = 11) {
    streamed out;
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    boost::system::error_code ec;
    socket.connect({asio::ip::make_address("127.0.0.1"), ep.port}, ec);
    if (ec) {
        out.error = "connect: " + ec.message();
        return out;
    }
    timeval tv{static_cast<long>(limit.count()), 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    http::request<http::string_body> req{http::verb::get, target, version};
    req.set(http::field::host, "localhost");
    req.set("X-Tokend-Request", "1");
    http::write(socket, req, ec);
    if (ec) {
        out.error = "write: " + ec.message();
        return out;
    }
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    http::read_header(socket, buffer, parser, ec);
    if (ec) {
        out.error = "header: " + ec.message();
        return out;
    }
    out.status = parser.get().result_int();
    out.reason = std::string(parser.get().reason());
    for (const auto& f : parser.get()) {
        std::string name(f.name_string());
        for (auto& c : name)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out.headers[name] = std::string(f.value());
    }
    std::vector<char> window(64 * 1024);
    while (!parser.is_done()) {
        parser.get().body().data = window.data();
        parser.get().body().size = window.size();
        http::read(socket, buffer, parser, ec);
        if (ec == http::error::need_buffer)
            ec = {};
        const std::size_t n = window.size() - parser.get().body().size;
        for (std::size_t i = 0; i < n; ++i)
            if (window[i] != static_cast<char>('a' + (out.bytes + i) % 26))
                out.pattern_ok = false;
        if (keep)
            out.body.append(window.data(), n);
        out.bytes += n;
        if (ec) {
            out.error = ec.message();
            return out;
        }
    }
    out.complete = true;
    return out;
}

// The value of a /metrics line starting with `prefix` (a name and labels), -1 when absent.
long long metric(const tokend_daemon& daemon, const std::string& prefix) {
    http_call call;
    call.target = "/metrics";
    const auto r = http_request(daemon.tcp(), call);
    const auto at = r.body.find("\n" + prefix + " ");
    if (at == std::string::npos)
        return -1;
    return std::stoll(r.body.substr(at + prefix.size() + 2));
}

const std::string truncated_metric = R"(synergy_tokend_route_truncated_total{route="stats"})";

// A product API speaking raw bytes on loopback, one thread per connection: each request (read to
// its blank line; the suite's requests have no body) goes to `script` with its target and the
// connection's descriptor, which writes what it likes and says whether to read the next request.
class fake_product {
public:
    using script = std::function<bool(const std::string& target, int fd)>;

    explicit fake_product(script s)
        : script_(std::move(s)) {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        BOOST_REQUIRE_EQUAL(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        BOOST_REQUIRE_EQUAL(::listen(listen_fd_, 16), 0);
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        acceptor_ = std::thread([this] {
            for (;;) {
                const int fd = ::accept(listen_fd_, nullptr, nullptr);
                if (fd < 0)
                    return;
                int one = 1;
                ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                const std::lock_guard lock(mutex_);
                fds_.push_back(fd);
                connections_.emplace_back([this, fd] { serve(fd); });
            }
        });
    }
    ~fake_product() {
        ::shutdown(listen_fd_, SHUT_RDWR);
        acceptor_.join();
        ::close(listen_fd_);
        const std::lock_guard lock(mutex_);
        for (const int fd : fds_)
            ::shutdown(fd, SHUT_RDWR);
        for (auto& t : connections_)
            t.join();
        for (const int fd : fds_)
            ::close(fd);
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
    int connections() {
        const std::lock_guard lock(mutex_);
        return static_cast<int>(fds_.size());
    }

private:
    void serve(int fd) {
        std::string in;
        char buf[4096];
        for (;;) {
            std::size_t end;
            while ((end = in.find("\r\n\r\n")) == std::string::npos) {
                const ::ssize_t n = ::recv(fd, buf, sizeof buf, 0);
                if (n <= 0)
                    return;
                in.append(buf, static_cast<std::size_t>(n));
            }
            const std::string head = in.substr(0, end);
            in.erase(0, end + 4);
            const auto sp = head.find(' ');
            const std::string target = head.substr(sp + 1, head.find(' ', sp + 1) - sp - 1);
            if (!script_(target, fd))
                return; // the destructor closes the descriptor; shutdown ends the connection
        }
    }

    script script_;
    int listen_fd_ = -1;
    unsigned short port_ = 0;
    std::thread acceptor_;
    std::mutex mutex_;
    std::vector<int> fds_;
    std::vector<std::thread> connections_;
};

void send_text(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ::ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0)
            return;
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

// Ends the connection at once (the script then returns false).
bool close_now(int fd) {
    ::shutdown(fd, SHUT_RDWR);
    return false;
}

// The replies the hostile suite splits: one chunked (with a chunk extension and a trailer), one
// with Content-Length; both with the body "hello, world".
const std::string chunked_reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
                                  "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n";
const std::string length_reply =
    "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-A: 1\r\n\r\nhello, world";

// The hostile product API's behaviour by target (see each case).
bool hostile_script(const std::string& target, int fd) {
    if (target.starts_with("/split/")) { // /split/<chunked|length>/<offset>
        const bool chunked = target.find("/chunked/") != std::string::npos;
        const std::string& reply = chunked ? chunked_reply : length_reply;
        const std::size_t at = std::stoul(target.substr(target.rfind('/') + 1));
        send_text(fd, std::string_view(reply).substr(0, at));
        std::this_thread::sleep_for(3ms);
        send_text(fd, std::string_view(reply).substr(at));
        return true;
    }
    if (target == "/interim") {
        send_text(fd, "HTTP/1.1 100 Continue\r\n\r\n");
        std::this_thread::sleep_for(3ms);
        send_text(fd, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n"
                      "Link: </b.js>; rel=preload\r\n\r\n");
        std::this_thread::sleep_for(3ms);
        send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Final: yes\r\n\r\nfinal");
        return true;
    }
    if (target == "/eof") {
        send_text(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody to ");
        std::this_thread::sleep_for(3ms);
        send_text(fd, "the end of the stream");
        ::shutdown(fd, SHUT_WR);
        return false;
    }
    if (target == "/short-length") {
        send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(50, 'x'));
        return close_now(fd);
    }
    if (target == "/short-chunked") {
        send_text(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
        return close_now(fd);
    }
    if (target == "/half-header") {
        send_text(fd, "HTTP/1.1 200 OK\r\nContent-Le");
        return close_now(fd);
    }
    if (target == "/nothing")
        return close_now(fd);
    if (target == "/status-299")
        send_text(fd, "HTTP/1.1 299 Odd Thing\r\nContent-Length: 2\r\n\r\nok");
    else if (target == "/status-999")
        send_text(fd, "HTTP/1.1 999 \r\nContent-Length: 4\r\n\r\nnine");
    else
        send_text(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    return true;
}

} // namespace

BOOST_AUTO_TEST_SUITE(routes_stream)

BOOST_AUTO_TEST_CASE(a_200_mib_reply_streams_through_with_resident_memory_under_32_mib) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, product_root(mock), 3000));
    const int pid = daemon.proc().pid();
    const long before = resident_kib(pid);
    std::atomic<bool> done{false};
    std::atomic<long> peak{0};
    std::thread sampler([&] {
        while (!done) {
            peak = std::max(peak.load(), resident_kib(pid));
            std::this_thread::sleep_for(20ms);
        }
    });
    const std::uint64_t size = 200ull << 20;
    const streamed r =
        stream_get(daemon.tcp(),
                   "/v1/routes/stats/stream?size=" + std::to_string(size) + "&piece=65536", false);
    done = true;
    sampler.join();
    BOOST_TEST_MESSAGE("VmRSS before " << before << " KiB, peak during the download " << peak
                                       << " KiB");
    BOOST_REQUIRE_EQUAL(r.status, 200u);
    BOOST_TEST(r.error == "");
    BOOST_TEST(r.complete);
    BOOST_TEST(r.bytes == size);
    BOOST_TEST(r.pattern_ok);
    BOOST_TEST(r.header("content-length") == std::to_string(size));
    BOOST_TEST(peak > 0);
    // Under AddressSanitizer every freed buffer waits in its quarantine (up to 256 MiB), so
    // resident memory says nothing about what the daemon holds: the plain build checks it.
#if defined(__SANITIZE_ADDRESS__)
    BOOST_TEST_MESSAGE("resident memory not checked under AddressSanitizer (its quarantine)");
#else
    BOOST_TEST(peak < 32 * 1024);
#endif
    BOOST_TEST(metric(daemon, truncated_metric) == 0);
}

BOOST_AUTO_TEST_CASE(chunked_length_and_eof_framed_replies_pass_byte_for_byte) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, product_root(mock), 3000));
    // Over the 8 MiB a buffered reply could have; in pieces that are not a multiple of anything.
    const std::uint64_t size = 9 * 1024 * 1024 + 17;
    for (const char* framing : {"length", "chunked", "eof"}) {
        BOOST_TEST_CONTEXT(framing) {
            const streamed r = stream_get(daemon.tcp(),
                                          "/v1/routes/stats/stream?size=" + std::to_string(size) +
                                              "&piece=40001&framing=" + framing,
                                          false);
            BOOST_REQUIRE_EQUAL(r.status, 200u);
            BOOST_TEST(r.complete);
            BOOST_TEST(r.error == "");
            BOOST_TEST(r.bytes == size);
            BOOST_TEST(r.pattern_ok);
            BOOST_TEST(r.header("content-type") == "application/octet-stream");
            BOOST_TEST(r.header("x-mock-request-id") != "");
            if (std::string(framing) == "length") {
                BOOST_TEST(r.header("content-length") == std::to_string(size));
                BOOST_TEST(r.headers.count("transfer-encoding") == 0u);
            } else {
                BOOST_TEST(r.header("transfer-encoding") == "chunked");
                BOOST_TEST(r.headers.count("content-length") == 0u);
            }
        }
    }
    // An HTTP/1.0 client cannot take chunks: the body ends with the connection.
    const streamed old = stream_get(daemon.tcp(), "/v1/routes/stats/stream?size=100000&framing=eof",
                                    false, 120s, 10);
    BOOST_TEST(old.status == 200u);
    BOOST_TEST(old.complete);
    BOOST_TEST(old.bytes == 100000u);
    BOOST_TEST(old.headers.count("transfer-encoding") == 0u);
    BOOST_TEST(metric(daemon, truncated_metric) == 0);
}

BOOST_AUTO_TEST_CASE(a_reply_upstream_cuts_short_reaches_the_client_cut_short_and_is_counted) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, product_root(mock), 3000));
    long long expected = 0;
    for (const char* framing : {"length", "chunked", "eof"}) {
        BOOST_TEST_CONTEXT(framing) {
            const streamed r = stream_get(
                daemon.tcp(),
                "/v1/routes/stats/stream?size=1000000&cut=300000&framing=" + std::string(framing),
                false);
            BOOST_TEST(r.status == 200u); // the header had gone out before the cut
            BOOST_TEST(!r.complete);
            BOOST_TEST(r.error != "");
            BOOST_TEST(r.bytes <= 300000u);
            BOOST_TEST(r.pattern_ok);
            ++expected;
            BOOST_TEST(metric(daemon, truncated_metric) == expected);
        }
    }
    BOOST_TEST(wait_for_line(daemon.log_path(), "was cut short after", 5s).has_value());
    // The route still works.
    const streamed after = stream_get(daemon.tcp(), "/v1/routes/stats/stream?size=1000", false);
    BOOST_TEST(after.complete);
    BOOST_TEST(after.bytes == 1000u);
}

BOOST_AUTO_TEST_CASE(a_reply_idle_longer_than_timeout_ms_is_cut_and_counted) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, product_root(mock), 1000));
    // Two bytes 2.5 s apart with timeout_ms 1000: the header and the first byte arrive, then the
    // wait for the second is cut.
    const auto start = std::chrono::steady_clock::now();
    const streamed r = stream_get(
        daemon.tcp(), "/v1/routes/stats/stream?size=2&piece=1&interval_ms=2500&framing=chunked",
        false);
    const auto took = std::chrono::steady_clock::now() - start;
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(!r.complete);
    BOOST_TEST(r.bytes == 1u);
    BOOST_TEST(took < 2500ms);
    BOOST_TEST(metric(daemon, truncated_metric) == 1);
    BOOST_TEST(
        wait_for_line(daemon.log_path(), "idle for longer than the timeout", 5s).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// Routes against a raw-byte product API: legal but unkind replies are passed on whole, broken
// ones reach the client cut short (never complete-looking) or as 502 before any header.
BOOST_AUTO_TEST_SUITE(routes_hostile)

BOOST_AUTO_TEST_CASE(a_reply_split_at_every_offset_arrives_whole) {
    mock_upstream mock;
    fake_product fake(hostile_script);
    tokend_daemon daemon(config_for(mock, fake.url(), 3000));
    for (const auto* reply : {&chunked_reply, &length_reply}) {
        const bool chunked = reply == &chunked_reply;
        for (std::size_t at = 1; at < reply->size(); ++at) {
            BOOST_TEST_CONTEXT((chunked ? "chunked" : "length") << " split at " << at) {
                const streamed r =
                    stream_get(daemon.tcp(),
                               std::string("/v1/routes/stats/split/") +
                                   (chunked ? "chunked/" : "length/") + std::to_string(at),
                               true, 10s);
                BOOST_REQUIRE_EQUAL(r.status, 200u);
                BOOST_TEST(r.complete);
                BOOST_TEST(r.body == "hello, world");
                BOOST_TEST(r.header("x-a") == "1");
                BOOST_TEST(r.header(chunked ? "transfer-encoding" : "content-length") ==
                           (chunked ? "chunked" : "12"));
            }
        }
    }
    // Kept-alive connections were reused: far fewer than one per request.
    BOOST_TEST(fake.connections() < 20);
    BOOST_TEST(metric(daemon, truncated_metric) == 0);
}

BOOST_AUTO_TEST_CASE(interim_replies_are_skipped_and_eof_bodies_and_unknown_statuses_pass) {
    mock_upstream mock;
    fake_product fake(hostile_script);
    tokend_daemon daemon(config_for(mock, fake.url(), 3000));
    const std::string raw =
        raw_exchange(daemon.tcp(), "GET /v1/routes/stats/interim HTTP/1.1\r\nHost: localhost\r\n"
                                   "X-Tokend-Request: 1\r\nConnection: close\r\n\r\n");
    BOOST_TEST(raw.starts_with("HTTP/1.1 200 OK\r\n"), raw);
    BOOST_TEST(raw.find("100 Continue") == std::string::npos);
    BOOST_TEST(raw.find("103") == std::string::npos);
    BOOST_TEST(raw.find("Link:") == std::string::npos);
    BOOST_TEST(raw.find("X-Final: yes\r\n") != std::string::npos);
    BOOST_TEST(raw.ends_with("\r\n\r\nfinal"), raw);

    const streamed eof = stream_get(daemon.tcp(), "/v1/routes/stats/eof", true, 10s);
    BOOST_TEST(eof.status == 200u);
    BOOST_TEST(eof.complete);
    BOOST_TEST(eof.body == "body to the end of the stream");
    BOOST_TEST(eof.header("transfer-encoding") == "chunked");

    const streamed odd = stream_get(daemon.tcp(), "/v1/routes/stats/status-299", true, 10s);
    BOOST_TEST(odd.status == 299u);
    BOOST_TEST(odd.reason == "Odd Thing");
    BOOST_TEST(odd.body == "ok");
    const std::string nine =
        raw_exchange(daemon.tcp(), "GET /v1/routes/stats/status-999 HTTP/1.1\r\nHost: localhost\r\n"
                                   "X-Tokend-Request: 1\r\nConnection: close\r\n\r\n");
    BOOST_TEST(nine.starts_with("HTTP/1.1 999 \r\n"), nine);
    BOOST_TEST(nine.ends_with("\r\n\r\nnine"), nine);
    BOOST_TEST(metric(daemon, truncated_metric) == 0);
}

BOOST_AUTO_TEST_CASE(an_early_close_is_a_cut_reply_after_the_header_and_502_before_it) {
    mock_upstream mock;
    fake_product fake(hostile_script);
    tokend_daemon daemon(config_for(mock, fake.url(), 3000));
    // After the header: the client sees the reply end before its framing does.
    const std::string cut = raw_exchange(
        daemon.tcp(), "GET /v1/routes/stats/short-length HTTP/1.1\r\nHost: localhost\r\n"
                      "X-Tokend-Request: 1\r\n\r\n");
    BOOST_TEST(cut.find("Content-Length: 100\r\n") != std::string::npos, cut);
    BOOST_TEST(cut.ends_with("\r\n\r\n" + std::string(50, 'x')), cut);
    const streamed short_length = stream_get(daemon.tcp(), "/v1/routes/stats/short-length", true);
    BOOST_TEST(short_length.status == 200u);
    BOOST_TEST(!short_length.complete);
    BOOST_TEST(short_length.body == std::string(50, 'x'));
    const std::string chunks =
        raw_exchange(daemon.tcp(), "GET /v1/routes/stats/short-chunked HTTP/1.1\r\n"
                                   "Host: localhost\r\nX-Tokend-Request: 1\r\n\r\n");
    BOOST_TEST(chunks.find("Transfer-Encoding: chunked\r\n") != std::string::npos, chunks);
    BOOST_TEST(chunks.ends_with("\r\n\r\n5\r\nhello\r\n"), chunks); // no terminating 0 chunk
    BOOST_TEST(metric(daemon, truncated_metric) == 3);
    // Before the header: the daemon's own 502, counted as an error, not a cut reply.
    for (const char* target : {"/v1/routes/stats/half-header", "/v1/routes/stats/nothing"}) {
        BOOST_TEST_CONTEXT(target) {
            const streamed r = stream_get(daemon.tcp(), target, true, 10s);
            BOOST_TEST(r.status == 502u);
            BOOST_TEST(r.complete);
        }
    }
    BOOST_TEST(metric(daemon, truncated_metric) == 3);
    BOOST_TEST(metric(daemon, R"(synergy_tokend_route_errors_total{route="stats"})") == 2);
}

BOOST_AUTO_TEST_SUITE_END()

// Its own suite, so that CTest runs its minute beside the others.
BOOST_AUTO_TEST_SUITE(routes_trickle)

BOOST_AUTO_TEST_CASE(a_reply_trickling_for_60_s_completes_with_timeout_ms_3000) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock, product_root(mock), 3000));
    const auto start = std::chrono::steady_clock::now();
    const streamed r = stream_get(
        daemon.tcp(), "/v1/routes/stats/stream?size=60&piece=1&interval_ms=1000&framing=chunked",
        true);
    const auto took =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
    BOOST_TEST_MESSAGE("60 bytes one a second took " << took.count() << " s");
    BOOST_REQUIRE_EQUAL(r.status, 200u);
    BOOST_TEST(r.complete);
    BOOST_TEST(r.error == "");
    BOOST_TEST(r.bytes == 60u);
    BOOST_TEST(r.pattern_ok);
    BOOST_TEST(took >= 55s); // it did trickle: far longer than timeout_ms
    BOOST_TEST(metric(daemon, truncated_metric) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
