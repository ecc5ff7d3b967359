// Caller identification from the kernel (peer_identity.hpp) on real sockets: SO_PEERCRED on a
// Unix socket, socket diagnostics on TCP loopback, for this process and, as root, for child
// processes that switched to other uids.
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <grp.h>
#include <netinet/in.h>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>

#include "harness.hpp"
#include "synergy_tokend/peer_identity.hpp"

namespace st = synergy_tokend;
using boost::asio::ip::tcp;

namespace {

struct fd_closer {
    int fd;
    ~fd_closer() {
        if (fd >= 0)
            ::close(fd);
    }
};

// A listening loopback TCP socket on an ephemeral port.
int tcp_listener(std::uint16_t& port) {
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    BOOST_REQUIRE(::listen(s, 8) == 0);
    socklen_t len = sizeof a;
    ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    return s;
}

tcp::endpoint endpoint_of(int fd, bool peer) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    if (peer)
        ::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len);
    else
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return {boost::asio::ip::address_v4(ntohl(a.sin_addr.s_addr)), ntohs(a.sin_port)};
}

// A child process that takes uid/gid (and no supplementary groups) and connects to the
// listener, then waits to be killed. Returns its pid.
pid_t connect_as(std::uint32_t uid, std::uint32_t gid, const sockaddr* to, socklen_t to_len,
                 int domain) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)
            ::_exit(3);
        const int s = ::socket(domain, SOCK_STREAM, 0);
        if (::connect(s, to, to_len) != 0)
            ::_exit(4);
        ::pause();
        ::_exit(0);
    }
    return pid;
}

void reap(pid_t pid) {
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
}

} // namespace

BOOST_AUTO_TEST_SUITE(peer_identity)

BOOST_AUTO_TEST_CASE(a_unix_peer_is_identified_by_its_credentials) {
    int pair[2];
    BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    fd_closer a{pair[0]}, b{pair[1]};
    st::account_cache accounts;
    const auto c = st::identify_unix_peer(pair[0], accounts);
    BOOST_TEST(c.known());
    BOOST_TEST(c.uid == ::getuid());
    BOOST_TEST((c.gid == std::optional<std::uint32_t>(::getgid())));
    BOOST_TEST((c.pid == std::optional<std::int64_t>(::getpid())));
    BOOST_TEST(std::string(st::to_string(c.how)) == "SO_PEERCRED");
}

BOOST_AUTO_TEST_CASE(a_tcp_loopback_peer_is_identified_by_socket_diagnostics) {
    std::uint16_t port = 0;
    fd_closer listener{tcp_listener(port)};
    fd_closer client{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(port);
    BOOST_REQUIRE(::connect(client.fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
    fd_closer accepted{::accept(listener.fd, nullptr, nullptr)};
    st::account_cache accounts;
    const auto c = st::identify_tcp_peer(endpoint_of(accepted.fd, false),
                                         endpoint_of(accepted.fd, true), accounts);
    BOOST_TEST_MESSAGE("tcp peer: " << st::describe_caller(c) << " " << c.unknown_reason);
    BOOST_TEST(c.known());
    BOOST_TEST(c.uid == ::getuid());
    BOOST_TEST(std::string(st::to_string(c.how)) == "sock_diag");
}

BOOST_AUTO_TEST_CASE(a_tcp_peer_the_kernel_does_not_know_is_unknown_with_a_reason) {
    st::account_cache accounts;
    const tcp::endpoint nowhere(boost::asio::ip::make_address("127.0.0.1"), 9);
    const tcp::endpoint gone(boost::asio::ip::make_address("127.0.0.1"), 1);
    const auto c = st::identify_tcp_peer(nowhere, gone, accounts);
    BOOST_TEST(!c.known());
    BOOST_TEST(!c.unknown_reason.empty());
}

BOOST_AUTO_TEST_CASE(processes_of_other_uids_are_told_apart_on_both_kinds_of_socket) {
    if (::geteuid() != 0) {
        BOOST_TEST_MESSAGE("SKIPPED: switching a child to other uids needs root");
        return;
    }
    st::account_cache accounts;
    // TCP
    std::uint16_t port = 0;
    fd_closer listener{tcp_listener(port)};
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(port);
    const pid_t tcp_child =
        connect_as(54321, 54322, reinterpret_cast<sockaddr*>(&to), sizeof to, AF_INET);
    fd_closer accepted{::accept(listener.fd, nullptr, nullptr)};
    const auto t = st::identify_tcp_peer(endpoint_of(accepted.fd, false),
                                         endpoint_of(accepted.fd, true), accounts);
    reap(tcp_child);
    BOOST_TEST(t.known());
    BOOST_TEST(t.uid == 54321u);

    // Unix
    tokend_test::temp_dir dir;
    const std::string path = dir.file("s.sock");
    fd_closer ul{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    std::strncpy(un.sun_path, path.c_str(), sizeof un.sun_path - 1);
    BOOST_REQUIRE(::bind(ul.fd, reinterpret_cast<sockaddr*>(&un), sizeof un) == 0);
    ::chmod(path.c_str(), 0666);
    ::chmod(dir.path().c_str(), 0755);
    BOOST_REQUIRE(::listen(ul.fd, 8) == 0);
    const pid_t unix_child =
        connect_as(54323, 54324, reinterpret_cast<sockaddr*>(&un), sizeof un, AF_UNIX);
    fd_closer ua{::accept(ul.fd, nullptr, nullptr)};
    const auto u = st::identify_unix_peer(ua.fd, accounts);
    reap(unix_child);
    BOOST_TEST(u.known());
    BOOST_TEST(u.uid == 54323u);
    BOOST_TEST((u.gid == std::optional<std::uint32_t>(54324)));
    BOOST_TEST((u.pid == std::optional<std::int64_t>(unix_child)));
}

BOOST_AUTO_TEST_SUITE_END()
