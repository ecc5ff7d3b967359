// redis_client against hostile Redis peers: a loopback fake speaking raw bytes (split replies,
// garbage, early close, silence, unasked bytes), and the real redis-server's AUTH refusal.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>
#include <functional>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.hpp"
#include "synergy_tokend/redis_client.hpp"

using namespace tokend_test;
namespace asio = boost::asio;
namespace st = synergy_tokend;

namespace {

// One connection accepted on a loopback port; `script` gets its descriptor (after the command
// has been read) and writes what it likes.
class fake_redis {
public:
    explicit fake_redis(std::function<void(int)> script) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        BOOST_REQUIRE_EQUAL(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        BOOST_REQUIRE_EQUAL(::listen(fd_, 4), 0);
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this, script = std::move(script)] {
            const int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0)
                return;
            int one = 1;
            ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            char buf[4096];
            (void)::read(c, buf, sizeof buf); // the command
            script(c);
            ::close(c);
        });
    }
    ~fake_redis() {
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
    }
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

private:
    int fd_ = -1;
    unsigned short port_ = 0;
    std::thread thread_;
};

void send_bytes(int fd, std::string_view bytes, std::size_t chunk) {
    for (std::size_t at = 0; at < bytes.size(); at += chunk) {
        (void)::write(fd, bytes.data() + at, std::min(chunk, bytes.size() - at));
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
}

asio::awaitable<st::redis_result> run_one(st::redis_client* client, std::vector<std::string> args,
                                          std::chrono::milliseconds timeout) {
    st::redis_result r =
        co_await client->command(std::move(args), std::chrono::steady_clock::now() + timeout);
    client->close();
    co_return r;
}

st::redis_result ask(const std::string& url, std::chrono::milliseconds timeout = 1000ms,
                     const std::string& ca_file = "") {
    asio::io_context io;
    st::shared_cache_config cfg;
    cfg.url = url;
    cfg.endpoint = st::parse_redis_url(url).endpoint;
    cfg.ca_file = ca_file;
    st::redis_client client(io.get_executor(), cfg, "");
    std::vector<std::string> args{"GET", "tokend:x"};
    auto f = asio::co_spawn(io, run_one(&client, args, timeout), asio::use_future);
    io.run();
    return f.get();
}

} // namespace

BOOST_AUTO_TEST_SUITE(redis_client)

BOOST_AUTO_TEST_CASE(replies_split_at_every_offset_are_read_whole) {
    const std::string reply = "$12\r\nhello\r\nworld\r\n";
    for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}}) {
        fake_redis fake([&](int fd) { send_bytes(fd, reply, chunk); });
        const auto r = ask(fake.url());
        BOOST_TEST_INFO("chunk " << chunk);
        BOOST_REQUIRE_MESSAGE(r.ok(), r.ec.message() << " " << r.detail);
        BOOST_TEST((r.reply.type == st::redis_reply::kind::string));
        BOOST_TEST(r.reply.str == "hello\r\nworld");
    }
    fake_redis nil([](int fd) { send_bytes(fd, "$-1\r\n", 1); });
    BOOST_TEST((ask(nil.url()).reply.type == st::redis_reply::kind::nil));
    fake_redis error([](int fd) { send_bytes(fd, "-ERR unknown\r\n", 1); });
    const auto e = ask(error.url());
    BOOST_TEST((e.ok() && e.reply.type == st::redis_reply::kind::error));
}

BOOST_AUTO_TEST_CASE(broken_peers_give_errors_not_replies) {
    fake_redis garbage([](int fd) { send_bytes(fd, "HTTP/1.1 200 OK\r\n\r\n", 64); });
    BOOST_TEST((ask(garbage.url()).ec == st::redis_errc::protocol_error));
    fake_redis cut([](int fd) { send_bytes(fd, "$11\r\nhello", 64); });
    BOOST_TEST((ask(cut.url()).ec == st::redis_errc::connection_lost));
    fake_redis closed([](int) {});
    BOOST_TEST((ask(closed.url()).ec == st::redis_errc::connection_lost));
    fake_redis extra([](int fd) { send_bytes(fd, "+OK\r\n+OK\r\n", 64); });
    BOOST_TEST((ask(extra.url()).ec == st::redis_errc::protocol_error));
}

// What the fuzz target found hiredis 0.14 alone would take, and the limits it checks.
BOOST_AUTO_TEST_CASE(replies_hiredis_alone_would_take_are_refused) {
    // A bulk string's data not followed by CRLF: hiredis returns "a" and skips "XY" unread.
    fake_redis no_crlf([](int fd) { send_bytes(fd, "$1\r\naXY", 1); });
    const auto r = ask(no_crlf.url());
    BOOST_TEST((r.ec == st::redis_errc::protocol_error));
    BOOST_TEST(r.detail.find("not followed by CRLF") != std::string::npos, r.detail);
    // An array count hiredis would calloc (2^31 pointers): refused at its header, at once.
    fake_redis huge_array([](int fd) { send_bytes(fd, "*2147483647\r\n", 64); });
    const auto a = ask(huge_array.url());
    BOOST_TEST((a.ec == st::redis_errc::protocol_error));
    BOOST_TEST(a.detail.find("elements") != std::string::npos, a.detail);
    // A bulk length of 10 GB, its bytes streaming in: refused after 1 MiB, well before the
    // deadline, not buffered on.
    fake_redis huge_bulk([](int fd) {
        send_bytes(fd, "$10000000000\r\n", 64);
        const std::string block(64 * 1024, 'x');
        for (int i = 0; i < 40; ++i)
            if (::send(fd, block.data(), block.size(), MSG_NOSIGNAL) <= 0)
                break;
    });
    const auto b = ask(huge_bulk.url(), 10000ms);
    BOOST_TEST((b.ec == st::redis_errc::protocol_error));
    BOOST_TEST(b.detail.find("longer than 1048576 bytes") != std::string::npos, b.detail);
}

BOOST_AUTO_TEST_CASE(a_silent_peer_times_out_at_the_deadline) {
    fake_redis silent([](int) { std::this_thread::sleep_for(700ms); });
    const auto start = std::chrono::steady_clock::now();
    const auto r = ask(silent.url(), 200ms);
    const auto took = std::chrono::steady_clock::now() - start;
    BOOST_TEST((r.ec == st::redis_errc::timeout));
    BOOST_TEST(took < 500ms);
    BOOST_TEST(took >= 190ms);
}

BOOST_AUTO_TEST_CASE(nothing_listening_is_a_connect_failure) {
    BOOST_TEST((ask("redis://127.0.0.1:1").ec == st::redis_errc::connect_failed));
}

BOOST_AUTO_TEST_CASE(rediss_verifies_the_peer_against_ca_file) {
    mock_upstream mock; // for its certificates: localhost and 127.0.0.1, signed by ca.pem
    const std::string dir = mock.ca_file().substr(0, mock.ca_file().rfind('/'));
    temp_dir work;
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    const std::string port = std::to_string(ntohs(addr.sin_port));
    const std::string log = work.file("redis.log");
    process redis({"/usr/bin/redis-server", "--port", "0", "--bind", "127.0.0.1", "--tls-port",
                   port, "--tls-cert-file", dir + "/server.pem", "--tls-key-file",
                   dir + "/server-key.pem", "--tls-ca-cert-file", mock.ca_file(),
                   "--tls-auth-clients", "no", "--save", "", "--dir", work.path()},
                  log, log + ".err");
    BOOST_REQUIRE(wait_for_line(log, "Ready to accept connections", 10s));
    const std::string url = "rediss://127.0.0.1:" + port;
    const auto good = ask(url, 2000ms, mock.ca_file());
    BOOST_REQUIRE_MESSAGE(good.ok(), good.ec.message() << " " << good.detail);
    BOOST_TEST((good.reply.type == st::redis_reply::kind::nil));
    const auto wrong = ask(url, 2000ms, mock.untrusted_ca_file());
    BOOST_TEST((wrong.ec == st::redis_errc::tls_failed));
    BOOST_TEST(wrong.detail.find("certificate verify failed") != std::string::npos, wrong.detail);
}

BOOST_AUTO_TEST_SUITE_END()
