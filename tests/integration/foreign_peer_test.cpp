// A TCP peer the daemon cannot identify (PRODUCT.md §9), made for real: the daemon runs in a
// network namespace of its own, listening (listen.allow_remote) on one end of a veth pair, and the
// client runs in a second namespace on the other end. The daemon's socket diagnostics, asked in
// its own namespace, cannot know a socket of another one: the case of a container on the host
// or, with allow_remote, of another machine. Such a caller is unknown even when its uid is the one
// a rule names, so it reads only profiles without a rule, and the connection goes on as usual.
//
// Both namespaces are held by descriptors of this process only (no `ip netns add` name, nothing
// under /run/netns), so they and the veth pair vanish with the test however it ends, and the
// host's own network is never touched. Without the rights to make them (CAP_SYS_ADMIN for a
// namespace, CAP_NET_ADMIN for a veth pair) or without iproute2's `ip`, the suite is skipped with
// the reason, and CTest reports it skipped (tests/CMakeLists.txt).
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <netinet/in.h>
#include <sched.h>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <arpa/inet.h>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include "harness.hpp"

using namespace tokend_test;
namespace json = boost::json;

namespace {

constexpr unsigned stats_uid = 54321;            // the uid the rule of "stats" names
const std::string daemon_address = "198.18.0.1"; // RFC 2544's range, in private namespaces only
const std::string client_address = "198.18.0.2";
constexpr unsigned short daemon_port = 8731; // nothing else listens in the daemon's namespace

// Why two network namespaces joined by a veth pair cannot be made here; "" when they can. A child
// process tries, so a failure leaves this one as it was.
std::string why_no_namespaces() {
    int err[2];
    if (::pipe(err) != 0)
        return std::string("pipe: ") + std::strerror(errno);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(err[0]);
        ::dup2(err[1], STDERR_FILENO);
        if (::unshare(CLONE_NEWNET) != 0) {
            ::dprintf(STDERR_FILENO, "unshare(CLONE_NEWNET): %s", std::strerror(errno));
            ::_exit(1);
        }
        ::execlp("ip", "ip", "link", "add", "tkd-probe0", "type", "veth", "peer", "name",
                 "tkd-probe1", static_cast<char*>(nullptr));
        ::dprintf(STDERR_FILENO, "iproute2's ip: %s", std::strerror(errno));
        ::_exit(1);
    }
    ::close(err[1]);
    std::string text;
    char buf[512];
    for (ssize_t n; (n = ::read(err[0], buf, sizeof buf)) > 0;)
        text.append(buf, static_cast<std::size_t>(n));
    ::close(err[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return {};
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    return "cannot make network namespaces joined by a veth pair (that needs root, or "
           "CAP_SYS_ADMIN and CAP_NET_ADMIN, and iproute2): " +
           (text.empty() ? "the probe exited with status " + std::to_string(status) : text);
}

boost::test_tools::assertion_result namespaces_can_be_made(boost::unit_test::test_unit_id) {
    const std::string why = why_no_namespaces();
    if (why.empty())
        return true;
    // Printed as well as returned: Boost.Test reports a skipped unit only below
    // --log_level=message, and this line is what CTest recognises as a skip.
    std::cout << "SKIPPED (no network namespaces): " << why << std::endl;
    boost::test_tools::assertion_result result(false);
    result.message() << why;
    return result;
}

int open_own_netns() {
    return ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

// `ip args...` run in the network namespace `netns`; fails the test when it fails.
void ip(int netns, const std::vector<std::string>& args) {
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        if (::setns(netns, CLONE_NEWNET) != 0)
            ::_exit(126);
        std::vector<char*> argv{const_cast<char*>("ip")};
        for (const auto& a : args)
            argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execvp("ip", argv.data());
        ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    std::string line = "ip";
    for (const auto& a : args)
        line += " " + a;
    BOOST_REQUIRE_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                          line << ": wait status " << status);
}

// The daemon's namespace and the client's, joined by veth tkd0 (daemon_address) - tkd1
// (client_address). This thread enters the daemon's, so the processes the test starts after this
// (the mock, the daemon) run there and the harness reaches them on that namespace's loopback; the
// destructor brings the thread back.
class namespaces {
public:
    namespaces() {
        home_ = open_own_netns();
        BOOST_REQUIRE_MESSAGE(home_ >= 0, "open own netns: " << std::strerror(errno));
        try {
            make();
        } catch (...) {
            back_home();
            throw;
        }
    }
    ~namespaces() { back_home(); }
    namespaces(const namespaces&) = delete;
    namespaces& operator=(const namespaces&) = delete;

    int client() const { return client_; }

private:
    void make() {
        BOOST_REQUIRE_MESSAGE(::unshare(CLONE_NEWNET) == 0, "unshare: " << std::strerror(errno));
        client_ = open_own_netns();
        BOOST_REQUIRE_MESSAGE(::unshare(CLONE_NEWNET) == 0, "unshare: " << std::strerror(errno));
        daemon_ = open_own_netns();
        BOOST_REQUIRE(client_ >= 0 && daemon_ >= 0);
        // ip opens the client's namespace through this process's descriptor of it.
        const std::string client_file =
            "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(client_);
        ip(daemon_, {"link", "set", "lo", "up"});
        ip(daemon_,
           {"link", "add", "tkd0", "type", "veth", "peer", "name", "tkd1", "netns", client_file});
        ip(daemon_, {"addr", "add", daemon_address + "/30", "dev", "tkd0"});
        ip(daemon_, {"link", "set", "tkd0", "up"});
        ip(client_, {"link", "set", "lo", "up"});
        ip(client_, {"addr", "add", client_address + "/30", "dev", "tkd1"});
        ip(client_, {"link", "set", "tkd1", "up"});
    }
    void back_home() {
        if (home_ >= 0 && ::setns(home_, CLONE_NEWNET) != 0)
            BOOST_ERROR("setns back: " << std::strerror(errno));
        for (int fd : {home_, daemon_, client_})
            if (fd >= 0)
                ::close(fd);
        home_ = daemon_ = client_ = -1;
    }

    int home_ = -1;
    int daemon_ = -1;
    int client_ = -1;
};

std::string config(const mock_upstream& mock) {
    json::object cfg;
    cfg["upstream"] = json::object{{"base_url", mock.base_url()}, {"ca_file", mock.ca_file()}};
    cfg["listen"] = json::object{
        {"tcp", json::array{"127.0.0.1:0", daemon_address + ":" + std::to_string(daemon_port)}},
        {"allow_remote", true}};
    cfg["tokens"] = json::parse(R"([
        {"name":"stats","product":"synergy-stats","customer_id":"345","default":true,
         "allow":{"users":[)" + std::to_string(stats_uid) +
                                R"(]}},
        {"name":"open","product":"synergy-stats","customer_id":"347"}])");
    return json::serialize(cfg);
}

// Declared in this order so that the daemon and the mock are gone before the namespaces are.
struct foreign_setup {
    namespaces ns;
    mock_upstream mock;
    tokend_daemon daemon{config(mock)};
    const endpoint veth = endpoint::tcp(daemon_address, daemon_port);
    // The very uid the rule names, once in the daemon's namespace and once in the client's.
    const as_user stats_here{stats_uid, stats_uid, {stats_uid}};
    const as_user stats_abroad{stats_uid, stats_uid, {stats_uid}, ns.client()};
};

http_call get(const std::string& target) {
    http_call call;
    call.target = target;
    call.headers["X-Tokend-Request"] = "1";
    return call;
}

std::string error_message(const http_reply& r) {
    const json::value v = r.json();
    if (!v.is_object() || !v.as_object().contains("error"))
        return {};
    return std::string(v.at("error").at("message").as_string());
}

std::string profile_names(const http_reply& r) {
    std::string out;
    const json::value v = r.json();
    if (v.is_object() && v.as_object().contains("data"))
        for (const auto& p : v.at("data").as_array())
            out += std::string(p.at("name").as_string()) + " ";
    return out;
}

// Sends `requests` (pipelined, the last one with Connection: close) on one connection to the
// daemon's veth address and returns every byte of the replies.
std::string one_connection(const std::string& requests) {
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const timeval limit{10, 0};
    ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(daemon_port);
    ::inet_pton(AF_INET, daemon_address.c_str(), &to.sin_addr);
    std::string replies;
    if (::connect(s, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0 &&
        ::send(s, requests.data(), requests.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(requests.size())) {
        char buf[4096];
        for (ssize_t n; (n = ::recv(s, buf, sizeof buf, 0)) > 0;)
            replies.append(buf, static_cast<std::size_t>(n));
    }
    ::close(s);
    return replies;
}

} // namespace

BOOST_AUTO_TEST_SUITE(foreign_peer, *boost::unit_test::precondition(namespaces_can_be_made))

BOOST_FIXTURE_TEST_CASE(
    a_peer_in_another_network_namespace_is_unknown_and_reads_no_restricted_profile, foreign_setup) {
    // In the daemon's namespace the uid is identified and allowed, over loopback and over the
    // veth address alike: what follows is the namespace's doing, not the address's.
    BOOST_TEST(request_as(stats_here, daemon.tcp(), get("/v1/tokens/stats")).status == 200u);
    const auto here = request_as(stats_here, veth, get("/v1/tokens/stats"));
    BOOST_TEST(here.status == 200u, here.body << here.error);

    const auto refused = request_as(stats_abroad, veth, get("/v1/tokens/stats"));
    BOOST_TEST(refused.status == 403u, refused.body << refused.error);
    const std::string message = error_message(refused);
    BOOST_TEST(message.rfind("an unidentified caller may not read profile \"stats\"", 0) == 0,
               message);
    BOOST_TEST(message.find("another network namespace") != std::string::npos, message);
    BOOST_TEST(refused.body.find("eyJ") == std::string::npos); // no token in it

    const auto open = request_as(stats_abroad, veth, get("/v1/tokens/open"));
    BOOST_TEST(open.status == 200u, open.body << open.error);
    BOOST_TEST(!open.json().at("data").at("token").as_string().empty());

    // /v1/info with the default profile ("stats") would carry its token: refused the same way.
    const auto info = request_as(stats_abroad, veth, get("/v1/info/scopes/authorized"));
    BOOST_TEST(info.status == 403u, info.body << info.error);

    BOOST_TEST(profile_names(request_as(stats_abroad, veth, get("/v1/tokens"))) == "open ");
    BOOST_TEST(profile_names(request_as(stats_here, veth, get("/v1/tokens"))) == "stats open ");

    const auto who = request_as(stats_abroad, veth, get("/v1/whoami"));
    BOOST_REQUIRE_EQUAL(who.status, 200u);
    const json::value data = who.json().at("data");
    BOOST_TEST(std::string(data.at("identifiedBy").as_string()) == "none");
    BOOST_TEST(!data.as_object().contains("uid")); // no uid is made up for it
    BOOST_TEST(std::string(data.at("unknownReason").as_string())
                   .find("the kernel knows no such "
                         "peer socket") == 0u);
    BOOST_TEST(std::string(data.at("listener").as_string()) ==
               "tcp " + daemon_address + ":" + std::to_string(daemon_port));
    BOOST_TEST(json::serialize(data.at("readableProfiles")) == R"(["open"])");
}

BOOST_FIXTURE_TEST_CASE(a_failed_identification_keeps_the_connection_and_is_logged_once,
                        foreign_setup) {
    // On one connection: the refusal, then the list and whoami, all answered (the lookup that
    // failed is neither an error that closes the connection nor asked again).
    const std::string head = " HTTP/1.1\r\nHost: localhost\r\nX-Tokend-Request: 1\r\n";
    std::string error;
    const auto replies = run_as(
        stats_abroad,
        [&] {
            return one_connection("GET /v1/tokens/stats" + head + "\r\n" + "GET /v1/tokens" + head +
                                  "\r\n" + "GET /v1/whoami" + head + "Connection: close\r\n\r\n");
        },
        &error);
    BOOST_REQUIRE_MESSAGE(replies, error);
    std::vector<std::string> statuses;
    for (auto at = replies->find("HTTP/1.1 "); at != std::string::npos;
         at = replies->find("HTTP/1.1 ", at + 1))
        statuses.push_back(replies->substr(at + 9, 3));
    BOOST_TEST((statuses == std::vector<std::string>{"403", "200", "200"}), *replies);
    BOOST_TEST(replies->find(R"("identifiedBy":"none")") != std::string::npos, *replies);

    // More refusals on new connections: counted each, logged once a minute for all unknown
    // callers together, so a flood of them cannot flood the log.
    for (int i = 0; i < 2; ++i)
        BOOST_TEST(request_as(stats_abroad, veth, get("/v1/tokens/stats")).status == 403u);
    const auto metrics = http_request(daemon.tcp(), get("/metrics"));
    BOOST_TEST(metrics.body.find("synergy_tokend_access_denied_total{profile=\"stats\"} 3") !=
                   std::string::npos,
               metrics.body);
    const std::string log = daemon.log();
    std::size_t lines = 0;
    for (auto at = log.find("unidentified caller"); at != std::string::npos;
         at = log.find("unidentified caller", at + 1))
        ++lines;
    BOOST_TEST(lines == 1u, log);
    BOOST_TEST(log.find("another network namespace") != std::string::npos, log);
}

BOOST_AUTO_TEST_SUITE_END()
