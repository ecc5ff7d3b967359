// Running the daemon as an operator does (PRODUCT.md §5 /status and /metrics, §6 redaction, §7):
// systemd notifications, SIGHUP reload, SIGTERM with requests in flight, the Prometheus text,
// the token/status client commands and the journald log format. Real processes, real sockets,
// the mock Auth API over TLS.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <poll.h>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>
#include <netinet/in.h>

#include "harness.hpp"

using namespace tokend_test;
namespace json = boost::json;
using steady = std::chrono::steady_clock;

namespace {

// The upstream section for `mock`; `extra` is spliced in (",\"key\":value...").
std::string upstream_for(const mock_upstream& mock, const std::string& extra = "") {
    return R"("upstream":{"base_url":")" + mock.base_url() + R"(","ca_file":")" + mock.ca_file() +
           R"(","request_timeout_ms":5000)" + extra + "}";
}

std::string profile(const std::string& name, const std::string& product,
                    const std::string& customer = "345") {
    return R"({"name":")" + name + R"(","product":")" + product + R"(","customer_id":")" +
           customer + R"("})";
}

http_reply get(const endpoint& ep, const std::string& target,
               std::map<std::string, std::string> headers = {}) {
    http_call call;
    call.target = target;
    call.headers = std::move(headers);
    return http_request(ep, call);
}

// Upstream token requests the mock saw for `product`.
std::size_t token_requests_for(mock_upstream& mock, const std::string& product) {
    std::size_t n = 0;
    for (const auto& r : mock.token_requests())
        if (const auto* p = r.as_object().if_contains("product");
            p && p->is_string() && p->as_string() == product)
            ++n;
    return n;
}

long long monotonic_usec_now() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty())
            out.push_back(line);
    return out;
}

// An unused loopback TCP port: bound, then released.
unsigned short free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    BOOST_REQUIRE_EQUAL(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    BOOST_REQUIRE_EQUAL(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    ::close(fd);
    return ntohs(addr.sin_port);
}

// systemd's end of sd_notify: an AF_UNIX datagram socket the test reads in its own thread.
class notify_socket {
public:
    explicit notify_socket(std::string path)
        : path_(std::move(path)) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        BOOST_REQUIRE(fd_ >= 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        BOOST_REQUIRE_LT(path_.size(), sizeof addr.sun_path);
        std::memcpy(addr.sun_path, path_.data(), path_.size());
        BOOST_REQUIRE_MESSAGE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0,
                              "bind " << path_ << ": " << std::strerror(errno));
    }
    ~notify_socket() { ::close(fd_); }
    notify_socket(const notify_socket&) = delete;
    notify_socket& operator=(const notify_socket&) = delete;

    const std::string& path() const { return path_; }

    // The next datagram, or nullopt after `timeout`.
    std::optional<std::string> next(std::chrono::milliseconds timeout) {
        const auto deadline = steady::now() + timeout;
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
            if (left.count() < 0)
                return std::nullopt;
            pollfd p{fd_, POLLIN, 0};
            const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
            if (rc == 0)
                return std::nullopt;
            if (rc < 0)
                continue;
            char buf[4096];
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n < 0)
                continue;
            std::string datagram(buf, static_cast<std::size_t>(n));
            received_.push_back(datagram);
            return datagram;
        }
    }

    // Receives until a datagram holds the line `assignment` ("READY=1") or starts with it
    // ("STATUS="); returns that datagram, or nullopt after `timeout`.
    std::optional<std::string> wait_for(const std::string& assignment,
                                        std::chrono::milliseconds timeout) {
        const auto deadline = steady::now() + timeout;
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
            const auto d = next(std::max(left, std::chrono::milliseconds(0)));
            if (!d)
                return std::nullopt;
            for (const auto& line : lines_of(*d))
                if (line.starts_with(assignment))
                    return d;
        }
    }

    // Everything received so far, oldest first.
    const std::vector<std::string>& received() const { return received_; }

private:
    int fd_ = -1;
    std::string path_;
    std::vector<std::string> received_;
};

// The daemon with extra environment variables (NOTIFY_SOCKET, WATCHDOG_USEC, JOURNAL_STREAM),
// which tokend_daemon does not pass. `config_json` is an object text without identity and listen:
// an identity file and listeners (ephemeral TCP port, a Unix socket) are added here. With an
// empty `identity_token`, neither: the configuration takes the default identity source (the
// credential "identity-token", then the file of that name beside config.json).
class daemon_with_env {
public:
    daemon_with_env(const std::string& config_json, const std::map<std::string, std::string>& env,
                    const std::string& identity_token = "test-identity-token-0001") {
        log_ = dir_.file("tokend.log");
        unix_path_ = dir_.file("tokend.sock");
        json::object cfg = json::parse(config_json).as_object();
        if (!identity_token.empty()) {
            write_file(dir_.file("identity-token"), identity_token + "\n");
            cfg["identity"] =
                json::object{{"user_identity_token_file", dir_.file("identity-token")}};
        }
        cfg["listen"] = json::object{{"tcp", json::array{"127.0.0.1:0"}}, {"unix", unix_path_}};
        write_file(dir_.file("config.json"), json::serialize(cfg));
        proc_.emplace(std::vector<std::string>{binary_path_daemon(), "run", "--config",
                                               dir_.file("config.json")},
                      dir_.file("tokend.out"), log_, env);
    }
    ~daemon_with_env() {
        if (proc_->running()) {
            proc_->signal(SIGTERM);
            if (!proc_->wait_exit(10s))
                BOOST_TEST_MESSAGE("daemon did not stop on SIGTERM");
        }
    }

    // The TCP listener, once the daemon has said where it listens.
    endpoint tcp() {
        if (port_ == 0) {
            const auto line = wait_for_line(log_, "listening on", 15s);
            BOOST_REQUIRE_MESSAGE(line, "the daemon did not start: " << log());
            const std::string marker = "tcp 127.0.0.1:";
            const auto at = line->find(marker);
            BOOST_REQUIRE(at != std::string::npos);
            port_ = static_cast<unsigned short>(std::stoi(line->substr(at + marker.size())));
        }
        return endpoint::tcp("127.0.0.1", port_);
    }
    const std::string& log_path() const { return log_; }
    std::string log() const { return read_file(log_); }
    process& proc() { return *proc_; }
    std::string file(const std::string& name) const { return dir_.file(name); }

private:
    temp_dir dir_;
    std::string log_;
    std::string unix_path_;
    unsigned short port_ = 0;
    std::optional<process> proc_;
};

struct cli_result {
    int code = -1;
    std::string out;
    std::string err;
};

// `synergy-tokend ARGS...` as a client, with extra environment variables.
cli_result run_cli(const std::vector<std::string>& args,
                   const std::map<std::string, std::string>& env = {}) {
    temp_dir dir;
    std::vector<std::string> argv{binary_path_daemon()};
    argv.insert(argv.end(), args.begin(), args.end());
    process p(argv, dir.file("out"), dir.file("err"), env);
    const auto code = p.wait_exit(20s);
    BOOST_REQUIRE_MESSAGE(code, "the client did not exit");
    return {*code, read_file(dir.file("out")), read_file(dir.file("err"))};
}

// ---- The Prometheus text format (version 0.0.4), checked strictly ----

struct prom_sample {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
};

struct prom_family {
    std::string type; // counter, gauge, histogram, summary, untyped
    bool has_help = false;
    std::vector<prom_sample> samples;
};

struct prom_text {
    std::map<std::string, prom_family> families;
    std::vector<std::string> problems;

    // The value of the series `name` with exactly `labels`, or nullopt.
    std::optional<double> value(const std::string& name,
                                const std::map<std::string, std::string>& labels = {}) const {
        for (const auto& [fname, f] : families)
            for (const auto& s : f.samples)
                if (s.name == name && s.labels == labels)
                    return s.value;
        return std::nullopt;
    }
};

bool valid_name(std::string_view n, bool metric) {
    if (n.empty())
        return false;
    for (std::size_t i = 0; i < n.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(n[i]);
        const bool ok =
            std::isalpha(c) || c == '_' || (metric && c == ':') || (i > 0 && std::isdigit(c));
        if (!ok)
            return false;
    }
    return true;
}

std::optional<double> parse_float(const std::string& t) {
    if (t == "+Inf" || t == "Inf")
        return std::numeric_limits<double>::infinity();
    if (t == "-Inf")
        return -std::numeric_limits<double>::infinity();
    if (t == "NaN")
        return std::numeric_limits<double>::quiet_NaN();
    if (t.empty())
        return std::nullopt;
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    if (end != t.c_str() + t.size())
        return std::nullopt;
    return v;
}

prom_text parse_prometheus(const std::string& text) {
    prom_text out;
    auto problem = [&](const std::string& what, const std::string& line) {
        out.problems.push_back(what + ": " + line);
    };
    if (!text.ends_with('\n'))
        out.problems.push_back("the text does not end with a newline");

    std::string current_family;
    std::set<std::string> finished_families; // families whose samples have ended
    std::set<std::string> series_seen;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.empty())
            continue;
        if (line[0] == '#') {
            std::istringstream words(line.substr(1));
            std::string keyword, name;
            words >> keyword >> name;
            if (keyword != "HELP" && keyword != "TYPE")
                continue; // a plain comment
            if (!valid_name(name, true)) {
                problem("bad metric name in " + keyword, line);
                continue;
            }
            prom_family& f = out.families[name];
            if (!f.samples.empty())
                problem("# " + keyword + " after the family's samples", line);
            if (keyword == "HELP") {
                if (f.has_help)
                    problem("second # HELP", line);
                f.has_help = true;
            } else {
                std::string type, rest;
                words >> type;
                if (!f.type.empty())
                    problem("second # TYPE", line);
                static const std::set<std::string> types{"counter", "gauge", "histogram", "summary",
                                                         "untyped"};
                if (!types.contains(type) || (words >> rest))
                    problem("bad # TYPE", line);
                f.type = type;
            }
            continue;
        }

        prom_sample s;
        std::size_t i = 0;
        while (i < line.size() && line[i] != '{' && line[i] != ' ')
            ++i;
        s.name = line.substr(0, i);
        if (!valid_name(s.name, true)) {
            problem("bad metric name", line);
            continue;
        }
        bool ok = true;
        if (i < line.size() && line[i] == '{') {
            ++i;
            while (ok && i < line.size() && line[i] != '}') {
                const auto eq = line.find('=', i);
                if (eq == std::string::npos) {
                    ok = false;
                    break;
                }
                const std::string label = line.substr(i, eq - i);
                if (!valid_name(label, false) || eq + 1 >= line.size() || line[eq + 1] != '"') {
                    ok = false;
                    break;
                }
                std::string value;
                std::size_t j = eq + 2;
                bool closed = false;
                for (; j < line.size(); ++j) {
                    if (line[j] == '\\') {
                        if (j + 1 >= line.size()) {
                            ok = false;
                            break;
                        }
                        const char e = line[++j];
                        if (e == '\\' || e == '"')
                            value += e;
                        else if (e == 'n')
                            value += '\n';
                        else
                            ok = false;
                    } else if (line[j] == '"') {
                        closed = true;
                        break;
                    } else {
                        value += line[j];
                    }
                }
                if (!ok || !closed) {
                    ok = false;
                    break;
                }
                if (!s.labels.emplace(label, value).second)
                    problem("label " + label + " twice", line);
                i = j + 1;
                if (i < line.size() && line[i] == ',')
                    ++i;
                else if (i >= line.size() || line[i] != '}')
                    ok = false;
            }
            if (!ok || i >= line.size() || line[i] != '}') {
                problem("bad label set", line);
                continue;
            }
            ++i;
        }
        if (i >= line.size() || line[i] != ' ') {
            problem("no value", line);
            continue;
        }
        std::istringstream rest(line.substr(i));
        std::string value_text, timestamp, extra;
        rest >> value_text >> timestamp >> extra;
        const auto value = parse_float(value_text);
        if (!value || !extra.empty() ||
            (!timestamp.empty() &&
             timestamp.find_first_not_of("-0123456789") != std::string::npos)) {
            problem("bad value or timestamp", line);
            continue;
        }
        s.value = *value;

        // The family: a histogram's _bucket, _sum and _count series belong to it.
        std::string family = s.name;
        for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
            if (!s.name.ends_with(suffix))
                continue;
            const std::string base = s.name.substr(0, s.name.size() - suffix.size());
            const auto it = out.families.find(base);
            if (it != out.families.end() && (it->second.type == "histogram" ||
                                             (it->second.type == "summary" && suffix != "_bucket")))
                family = base;
        }
        prom_family& f = out.families[family];
        if (f.type.empty() || !f.has_help)
            problem("sample before its family's # HELP and # TYPE", line);
        if (family != current_family) {
            if (finished_families.contains(family))
                problem("the samples of family " + family + " are not together", line);
            if (!current_family.empty())
                finished_families.insert(current_family);
            current_family = family;
        }
        std::string series = s.name + "{";
        for (const auto& [k, v] : s.labels)
            series += k + "=" + v + ",";
        if (!series_seen.insert(series).second)
            problem("the same series twice", line);
        if (f.type == "counter" && !(s.value >= 0))
            problem("a counter below 0", line);
        f.samples.push_back(std::move(s));
    }

    // Histograms: per label set, le ascending, counts cumulative, ending with +Inf = _count.
    for (const auto& [name, f] : out.families) {
        if (f.type != "histogram")
            continue;
        std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>>
            buckets;
        std::map<std::map<std::string, std::string>, double> counts;
        std::set<std::map<std::string, std::string>> sums;
        for (const auto& s : f.samples) {
            auto labels = s.labels;
            if (s.name == name + "_bucket") {
                const auto le = labels.find("le");
                if (le == labels.end()) {
                    out.problems.push_back(name + ": a bucket without le");
                    continue;
                }
                const auto bound = parse_float(le->second);
                if (!bound) {
                    out.problems.push_back(name + ": le=\"" + le->second + "\" is not a number");
                    continue;
                }
                labels.erase(le);
                buckets[labels].emplace_back(*bound, s.value);
            } else if (s.name == name + "_count") {
                counts[labels] = s.value;
            } else if (s.name == name + "_sum") {
                sums.insert(labels);
            } else {
                out.problems.push_back(name + ": unexpected series " + s.name);
            }
        }
        if (buckets.empty())
            out.problems.push_back(name + ": a histogram without buckets");
        for (const auto& [labels, list] : buckets) {
            for (std::size_t k = 1; k < list.size(); ++k) {
                if (!(list[k].first > list[k - 1].first))
                    out.problems.push_back(name + ": le bounds not ascending");
                if (list[k].second < list[k - 1].second)
                    out.problems.push_back(name + ": bucket counts not cumulative");
            }
            if (!std::isinf(list.back().first))
                out.problems.push_back(name + ": the last bucket is not le=\"+Inf\"");
            const auto count = counts.find(labels);
            if (count == counts.end())
                out.problems.push_back(name + ": no _count");
            else if (count->second != list.back().second)
                out.problems.push_back(name + ": +Inf bucket differs from _count");
            if (!sums.contains(labels))
                out.problems.push_back(name + ": no _sum");
        }
    }
    return out;
}

const std::regex rfc3339_utc(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)");

} // namespace

BOOST_AUTO_TEST_SUITE(operation)

// ---- §7 systemd: Type=notify ----

BOOST_AUTO_TEST_CASE(sd_notify_ready_status_watchdog_reload_and_stopping) {
    mock_upstream mock;
    mock.settings(R"({"delay_ms":800})"); // every token reply comes 800 ms late
    temp_dir dir;
    notify_socket systemd(dir.file("notify.sock"));

    const auto spawned = steady::now();
    daemon_with_env daemon("{" + upstream_for(mock) + R"(,"tokens":[)" +
                               profile("stats", "synergy-stats") + "," +
                               profile("games", "synergy-games") + "]}",
                           {{"NOTIFY_SOCKET", systemd.path()}, {"WATCHDOG_USEC", "400000"}});

    // READY=1 once both first fetches have ended, not before.
    const auto ready = systemd.wait_for("READY=1", 15s);
    const auto ready_after = steady::now() - spawned;
    BOOST_REQUIRE_MESSAGE(ready, "no READY=1; log: " << daemon.log());
    BOOST_CHECK_GE(ready_after, 600ms);
    const auto requests = mock.token_requests();
    BOOST_CHECK_EQUAL(requests.size(), 2u);
    for (const auto& r : requests)
        BOOST_CHECK_EQUAL(r.at("status").to_number<int>(), 200); // replied before READY=1
    // The watchdog was already kept alive during the slow start.
    int early_watchdogs = 0;
    for (const auto& d : systemd.received())
        early_watchdogs += d == "WATCHDOG=1";
    BOOST_CHECK_GE(early_watchdogs, 1);

    const auto status = systemd.wait_for("STATUS=", 5s);
    BOOST_REQUIRE(status);
    BOOST_CHECK_EQUAL(*status, "STATUS=2/2 tokens servable");

    // WATCHDOG=1 at half of WATCHDOG_USEC: about 7 in 1.5 s.
    int watchdogs = 0;
    const auto window_end = steady::now() + 1500ms;
    while (steady::now() < window_end) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(window_end - steady::now());
        if (const auto d = systemd.next(left); d && *d == "WATCHDOG=1")
            ++watchdogs;
    }
    BOOST_CHECK_GE(watchdogs, 3);
    BOOST_CHECK_LE(watchdogs, 15);

    // SIGHUP: RELOADING=1 with MONOTONIC_USEC= in one datagram, then READY=1.
    daemon.proc().signal(SIGHUP);
    const auto reloading = systemd.wait_for("RELOADING=1", 5s);
    BOOST_REQUIRE_MESSAGE(reloading, "no RELOADING=1; log: " << daemon.log());
    std::smatch m;
    BOOST_REQUIRE_MESSAGE(std::regex_search(*reloading, m, std::regex(R"(MONOTONIC_USEC=(\d+))")),
                          "datagram: " << *reloading);
    const long long usec = std::stoll(m[1]);
    BOOST_CHECK_LT(std::llabs(monotonic_usec_now() - usec), 10'000'000LL);
    BOOST_CHECK(systemd.wait_for("READY=1", 5s));
    const auto status_after = systemd.wait_for("STATUS=", 5s);
    BOOST_CHECK(status_after && *status_after == "STATUS=2/2 tokens servable");

    // SIGTERM: STOPPING=1, exit 0.
    daemon.proc().signal(SIGTERM);
    BOOST_CHECK(systemd.wait_for("STOPPING=1", 5s));
    const auto code = daemon.proc().wait_exit(10s);
    BOOST_REQUIRE(code);
    BOOST_CHECK_EQUAL(*code, 0);
}

BOOST_AUTO_TEST_CASE(ready_after_startup_timeout_when_upstream_stalls) {
    mock_upstream mock;
    mock.fault(R"({"mode":"stall","count":-1,"endpoint":"token"})");
    temp_dir dir;
    notify_socket systemd(dir.file("notify.sock"));

    const auto spawned = steady::now();
    daemon_with_env daemon("{" + upstream_for(mock, R"(,"request_timeout_ms":8000)") +
                               R"(,"service":{"startup_timeout_s":1},"tokens":[)" +
                               profile("stats", "synergy-stats") + "]}",
                           {{"NOTIFY_SOCKET", systemd.path()}});
    const auto ready = systemd.wait_for("READY=1", 10s);
    const auto ready_after = steady::now() - spawned;
    BOOST_REQUIRE_MESSAGE(ready, "no READY=1; log: " << daemon.log());
    // After service.startup_timeout_s, long before the 8 s upstream timeout ends the fetch.
    BOOST_CHECK_GE(ready_after, 800ms);
    BOOST_CHECK_LT(ready_after, 5s);
    const auto status = systemd.wait_for("STATUS=", 3s);
    BOOST_CHECK(status && *status == "STATUS=0/1 tokens servable");
    BOOST_CHECK(daemon.log().find("startup_timeout_s") != std::string::npos);

    // A stalled upstream connection does not hold up the stop.
    daemon.proc().signal(SIGTERM);
    const auto code = daemon.proc().wait_exit(8s);
    BOOST_REQUIRE(code);
    BOOST_CHECK_EQUAL(*code, 0);
}

// ---- §3 identity default, §7 STATUS=: the shipped unit's first start, before the token is there

BOOST_AUTO_TEST_CASE(default_identity_is_the_credential_and_status_says_when_it_is_missing) {
    mock_upstream mock;
    temp_dir dir;
    notify_socket systemd(dir.file("notify.sock"));
    // What the unit hands over while /etc/synergy-tokend/identity-token does not exist: the
    // fallback of LoadCredential=, SetCredential=identity-token:\n.
    const std::string credentials = dir.file("credentials");
    std::filesystem::create_directories(credentials);
    write_file(credentials + "/identity-token", "\n");

    daemon_with_env daemon(
        "{" + upstream_for(mock) +
            R"(,"refresh":{"retry_initial_ms":100,"retry_max_ms":200},"tokens":[)" +
            profile("stats", "synergy-stats") + "]}",
        {{"NOTIFY_SOCKET", systemd.path()}, {"CREDENTIALS_DIRECTORY", credentials}}, "");
    BOOST_REQUIRE_MESSAGE(systemd.wait_for("READY=1", 10s), "no READY=1; log: " << daemon.log());
    const auto status = systemd.wait_for("STATUS=", 5s);
    BOOST_REQUIRE(status);
    BOOST_CHECK_EQUAL(*status, "STATUS=0/1 tokens servable: identity token file " +
                                   daemon.file("identity-token") + " missing");
    BOOST_CHECK(daemon.proc().running());
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 0);

    // Put in place beside the configuration file: the next retry uses it.
    write_file(daemon.file("identity-token"), "test-identity-token-0001\n");
    const auto servable = systemd.wait_for("STATUS=1/1", 10s);
    BOOST_REQUIRE_MESSAGE(servable, "log: " << daemon.log());
    BOOST_CHECK_EQUAL(*servable, "STATUS=1/1 tokens servable");
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 1);
}

BOOST_AUTO_TEST_CASE(a_delivered_credential_comes_before_the_file_beside_the_config) {
    mock_upstream mock;
    mock.settings(R"({"valid_identity_tokens":["credential-identity-token"]})");
    temp_dir dir;
    const std::string credentials = dir.file("credentials");
    std::filesystem::create_directories(credentials);
    write_file(credentials + "/identity-token", "credential-identity-token\n");

    daemon_with_env daemon("{" + upstream_for(mock) + R"(,"tokens":[)" +
                               profile("stats", "synergy-stats") + "]}",
                           {{"CREDENTIALS_DIRECTORY", credentials}}, "");
    write_file(daemon.file("identity-token"), "file-identity-token\n");
    const auto reply = get(daemon.tcp(), "/v1/tokens/stats", {{"X-Tokend-Request", "1"}});
    BOOST_CHECK_EQUAL(reply.status, 200u);
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), 1);
    BOOST_CHECK(daemon.log().find("credential-identity-token") == std::string::npos);
}

// ---- §7 SIGHUP ----

BOOST_AUTO_TEST_CASE(sighup_keeps_unchanged_profiles_drops_removed_fetches_new) {
    mock_upstream mock;
    tokend_daemon daemon("{" + upstream_for(mock) + R"(,"tokens":[)" + profile("a", "synergy-a") +
                         "," + profile("b", "synergy-b") + "]}");
    const std::string token_a = token_of(daemon.get_token("a"));
    BOOST_REQUIRE(!token_a.empty());
    BOOST_REQUIRE_EQUAL(daemon.get_token("b").status, 200u);
    BOOST_REQUIRE_EQUAL(token_requests_for(mock, "synergy-a"), 1u);

    json::object cfg = json::parse(read_file(daemon.config_path())).as_object();
    cfg["tokens"] =
        json::parse("[" + profile("a", "synergy-a") + "," + profile("c", "synergy-c") + "]");
    write_file(daemon.config_path(), json::serialize(cfg));
    daemon.proc().signal(SIGHUP);
    BOOST_REQUIRE_MESSAGE(wait_for_line(daemon.log_path(), "configuration reloaded", 5s),
                          daemon.log());

    const auto a = daemon.get_token("a");
    BOOST_CHECK_EQUAL(a.status, 200u);
    BOOST_CHECK_EQUAL(token_of(a), token_a); // kept, not fetched again
    BOOST_CHECK_EQUAL(daemon.get_token("b").status, 404u);
    const auto c = daemon.get_token("c");
    BOOST_CHECK_EQUAL(c.status, 200u);
    BOOST_CHECK(!token_of(c).empty());
    BOOST_CHECK_EQUAL(token_requests_for(mock, "synergy-a"), 1u);
    BOOST_CHECK_EQUAL(token_requests_for(mock, "synergy-b"), 1u);
    BOOST_CHECK_EQUAL(token_requests_for(mock, "synergy-c"), 1u);
    const auto list = get(daemon.tcp(), "/v1/tokens").json();
    std::set<std::string> names;
    for (const auto& p : list.at("data").as_array())
        names.insert(std::string(p.at("name").as_string()));
    BOOST_CHECK((names == std::set<std::string>{"a", "c"}));

    // An invalid file: reported with its key path, the running configuration kept.
    const auto requests_before = mock.counter("token_requests");
    cfg["tokens"].as_array().at(1).as_object()["customer_id"] = true;
    write_file(daemon.config_path(), json::serialize(cfg));
    daemon.proc().signal(SIGHUP);
    BOOST_REQUIRE_MESSAGE(wait_for_line(daemon.log_path(), "keeping the running configuration", 5s),
                          daemon.log());
    BOOST_CHECK(daemon.log().find("tokens[1].customer_id: expected a string or a number") !=
                std::string::npos);
    BOOST_CHECK(daemon.proc().running());
    BOOST_CHECK_EQUAL(token_of(daemon.get_token("a")), token_a);
    BOOST_CHECK_EQUAL(daemon.get_token("c").status, 200u);
    BOOST_CHECK_EQUAL(daemon.get_token("b").status, 404u);
    BOOST_CHECK_EQUAL(mock.counter("token_requests"), requests_before);
    BOOST_CHECK(daemon.proc().running());
}

// ---- §7 SIGTERM ----

BOOST_AUTO_TEST_CASE(sigterm_lets_requests_in_flight_finish_and_refuses_new_ones) {
    mock_upstream mock;
    tokend_daemon daemon("{" + upstream_for(mock) + R"(,"tokens":[)" +
                         profile("stats", "synergy-stats") + "]}");
    BOOST_REQUIRE_EQUAL(daemon.get_token("stats").status, 200u);
    mock.settings(R"({"delay_ms":2000})"); // the token is cached: only /info is slow

    http_call info;
    info.target = "/v1/info/scopes/authorized";
    info.headers["X-Tokend-Request"] = "1";
    std::vector<http_reply> replies;
    std::atomic<bool> replied{false};
    std::thread clients([&] {
        replies = http_concurrent(daemon.tcp(), info, 5);
        replied = true;
    });
    // All five are upstream, in flight, before the signal.
    const auto in_flight_by = steady::now() + 5s;
    while (mock.counter("info_requests") < 5 && steady::now() < in_flight_by)
        std::this_thread::sleep_for(10ms);
    BOOST_CHECK_EQUAL(mock.counter("info_requests"), 5);
    daemon.proc().signal(SIGTERM);

    // New connections are refused while those requests finish.
    http_call health;
    health.target = "/healthz";
    health.timeout = 2s;
    http_reply after;
    const auto refused_by = steady::now() + 1s;
    do {
        after = http_request(daemon.tcp(), health);
        if (after.status == 0)
            break;
        std::this_thread::sleep_for(10ms);
    } while (steady::now() < refused_by);
    BOOST_CHECK_EQUAL(after.status, 0u);
    after = http_request(daemon.tcp(), health);
    BOOST_CHECK_EQUAL(after.status, 0u);
    BOOST_CHECK_MESSAGE(after.error.starts_with("connect"), after.error);
    const auto over_unix = http_request(daemon.unix_socket(), health);
    BOOST_CHECK_EQUAL(over_unix.status, 0u);
    BOOST_CHECK_MESSAGE(!replied, "the slow requests ended before the refusal was checked");

    clients.join();
    BOOST_REQUIRE_EQUAL(replies.size(), 5u);
    for (const auto& r : replies) {
        BOOST_CHECK_MESSAGE(r.status == 200, r.status << " " << r.error << " " << r.body);
        BOOST_CHECK(r.body.find("read:organization") != std::string::npos);
    }
    const auto code = daemon.proc().wait_exit(10s);
    BOOST_REQUIRE_MESSAGE(code, "still running after the requests finished");
    BOOST_CHECK_EQUAL(*code, 0);
    BOOST_CHECK(daemon.log().find("received SIGTERM") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(sigterm_gives_up_on_a_stalled_request_after_the_grace_period) {
    mock_upstream mock;
    tokend_daemon daemon("{" + upstream_for(mock, R"(,"request_timeout_ms":10000)") +
                         R"(,"service":{"shutdown_grace_s":1},"tokens":[)" +
                         profile("stats", "synergy-stats") + "]}");
    BOOST_REQUIRE_EQUAL(daemon.get_token("stats").status, 200u);
    mock.fault(R"({"mode":"stall","count":-1,"endpoint":"info"})");

    http_call info;
    info.target = "/v1/info/scopes/authorized";
    info.headers["X-Tokend-Request"] = "1";
    http_reply stalled;
    std::thread client([&] { stalled = http_request(daemon.tcp(), info); });
    const auto in_flight_by = steady::now() + 5s;
    while (mock.counter("info_requests") < 1 && steady::now() < in_flight_by)
        std::this_thread::sleep_for(10ms);
    BOOST_CHECK_EQUAL(mock.counter("info_requests"), 1);

    const auto signalled = steady::now();
    daemon.proc().signal(SIGTERM);
    const auto code = daemon.proc().wait_exit(8s);
    const auto took = steady::now() - signalled;
    client.join();
    BOOST_REQUIRE_MESSAGE(code, "did not exit; log: " << daemon.log());
    BOOST_CHECK_EQUAL(*code, 0);
    BOOST_CHECK_GE(took, 800ms); // the grace period was granted ...
    BOOST_CHECK_LT(took, 3s);    // ... and not more
    BOOST_CHECK(daemon.log().find("shutdown_grace_s over") != std::string::npos);
    BOOST_CHECK_NE(stalled.status, 200u);
}

// ---- §5 /metrics ----

BOOST_AUTO_TEST_CASE(metrics_follow_the_prometheus_text_format_and_count_requests) {
    mock_upstream mock;
    tokend_daemon daemon("{" + upstream_for(mock) + R"(,"tokens":[)" +
                         profile("stats", "synergy-stats") + "]}");
    std::string token;
    for (int i = 0; i < 3; ++i) {
        const auto r = daemon.get_token("stats");
        BOOST_REQUIRE_EQUAL(r.status, 200u);
        token = token_of(r);
    }
    BOOST_CHECK_EQUAL(get(daemon.tcp(), "/no/such/route").status, 404u);

    const auto reply = get(daemon.tcp(), "/metrics");
    BOOST_REQUIRE_EQUAL(reply.status, 200u);
    BOOST_CHECK(reply.header("content-type").starts_with("text/plain; version=0.0.4"));
    const prom_text m = parse_prometheus(reply.body);
    for (const auto& p : m.problems)
        BOOST_ERROR("metrics text: " << p);
    for (const auto& [name, f] : m.families)
        BOOST_CHECK_MESSAGE(!f.type.empty() && f.has_help, name << " lacks # HELP or # TYPE");

    BOOST_CHECK(m.value("synergy_tokend_http_requests_total",
                        {{"route", "/v1/tokens/{name}"}, {"code", "200"}}) == 3.0);
    BOOST_CHECK(m.value("synergy_tokend_http_requests_total",
                        {{"route", "other"}, {"code", "404"}}) == 1.0);
    BOOST_CHECK(m.value("synergy_tokend_token_state", {{"profile", "stats"}, {"state", "fresh"}}) ==
                1.0);
    BOOST_CHECK(
        m.value("synergy_tokend_token_state", {{"profile", "stats"}, {"state", "pending"}}) == 0.0);
    const auto refreshes =
        m.value("synergy_tokend_token_refreshes_total", {{"profile", "stats"}, {"outcome", "ok"}});
    BOOST_CHECK(refreshes && *refreshes >= 1);
    const auto upstream_count = m.value("synergy_tokend_upstream_request_duration_seconds_count");
    BOOST_CHECK(upstream_count && *upstream_count >= 1);
    const auto expiry =
        m.value("synergy_tokend_token_expiry_timestamp_seconds", {{"profile", "stats"}});
    BOOST_REQUIRE(expiry);
    BOOST_CHECK_LE(std::abs(*expiry - static_cast<double>(jwt_exp(token))), 5.0);
    BOOST_CHECK(reply.body.find(token) == std::string::npos);

    // The scrape itself is counted, for the next one.
    const prom_text again = parse_prometheus(get(daemon.tcp(), "/metrics").body);
    BOOST_CHECK(again.value("synergy_tokend_http_requests_total",
                            {{"route", "/metrics"}, {"code", "200"}}) == 1.0);

    // Prometheus's own linter, when the Debian package is installed.
    if (std::system("command -v promtool >/dev/null 2>&1") == 0) {
        temp_dir dir;
        write_file(dir.file("metrics.txt"), reply.body);
        const std::string cmd = "promtool check metrics < " + dir.file("metrics.txt") + " > " +
                                dir.file("promtool.out") + " 2>&1";
        const int rc = std::system(cmd.c_str());
        BOOST_CHECK_MESSAGE(rc == 0,
                            "promtool check metrics: " << read_file(dir.file("promtool.out")));
    } else {
        BOOST_TEST_MESSAGE("promtool not installed: skipping promtool check metrics");
    }
}

// ---- §5 /status, §6 redaction ----

BOOST_AUTO_TEST_CASE(status_reports_everything_and_no_secret_appears_anywhere) {
    const std::string identity = "ops-identity-secret-4b9e0c71d2";
    const std::string other_identity = "ops-other-identity-8d1f02aa77";
    const std::string refused_identity = "ops-refused-identity-55aa9e3c1b";
    mock_upstream mock;
    tokend_daemon daemon("{" + upstream_for(mock) + R"(,"log":{"level":"debug"},"tokens":[)" +
                             R"({"name":"stats","product":"synergy-stats","customer_id":"345",)"
                             R"("default":true},)" +
                             profile("games", "synergy-games", "346") + "]}",
                         identity);
    std::set<std::string> tokens;
    auto collect = [&](const http_reply& r) {
        BOOST_CHECK_MESSAGE(r.status == 200, r.status << " " << r.body);
        const std::string t = token_of(r);
        BOOST_CHECK(!t.empty());
        tokens.insert(t);
    };
    collect(daemon.get_token("stats"));
    collect(daemon.get_token("games"));
    auto drop_in = [&](const std::string& id, const std::string& product) {
        http_call call;
        call.method = "POST";
        call.target = "/v1/products/token";
        call.headers["Content-Type"] = "application/json";
        call.body = R"({"userIdentityToken":")" + id + R"(","product":")" + product +
                    R"(","customerId":"345"})";
        return http_request(daemon.tcp(), call);
    };
    collect(drop_in(identity, "synergy-stats"));       // the profile's token
    collect(drop_in(identity, "synergy-on-demand"));   // on demand
    collect(drop_in(other_identity, "synergy-stats")); // on demand: another identity
    // Proxied with the profile's token; then revoked upstream, refreshed, retried.
    http_call info;
    info.target = "/v1/info/scopes/authorized";
    info.headers["X-Tokend-Request"] = "1";
    BOOST_CHECK_EQUAL(http_request(daemon.tcp(), info).status, 200u);
    mock.control("POST", "/control/revoke");
    BOOST_CHECK_EQUAL(http_request(daemon.tcp(), info).status, 200u);
    const auto attached = mock.control("GET", "/control/last-info").at("authorization");
    BOOST_REQUIRE(attached.is_string());
    BOOST_REQUIRE(attached.as_string().starts_with("Bearer "));
    tokens.insert(std::string(attached.as_string()).substr(7));
    collect(daemon.get_token("stats"));
    // An identity upstream refuses: its error passes through; the daemon logs about it.
    mock.settings(R"({"valid_identity_tokens":[")" + identity + R"(",")" + other_identity +
                  R"("]})");
    BOOST_CHECK_EQUAL(drop_in(refused_identity, "synergy-refused").status, 401u);
    BOOST_CHECK_GE(tokens.size(), 5u); // stats (twice), games, on-demand (twice)

    // /status: every documented field.
    const auto status = get(daemon.tcp(), "/status");
    BOOST_REQUIRE_EQUAL(status.status, 200u);
    const auto doc = status.json();
    BOOST_REQUIRE_MESSAGE(doc.is_object() && doc.as_object().contains("data"), status.body);
    BOOST_CHECK(doc.as_object().contains("meta"));
    const auto& d = doc.at("data").as_object();
    BOOST_CHECK(d.at("version").is_string() && !d.at("version").as_string().empty());
    BOOST_CHECK(std::regex_match(std::string(d.at("startTime").as_string()), rfc3339_utc));
    BOOST_CHECK(d.at("uptime").is_number() && d.at("uptime").to_number<double>() >= 0);
    const auto& up = d.at("upstream").as_object();
    BOOST_CHECK_EQUAL(up.at("baseUrl").as_string(), mock.base_url());
    BOOST_CHECK_GE(up.at("requests").to_number<long long>(), 5);
    BOOST_CHECK(up.contains("errors") && up.contains("idleConnections") &&
                up.contains("lastLatencyMs"));
    const auto& profiles = d.at("profiles").as_array();
    BOOST_REQUIRE_EQUAL(profiles.size(), 2u);
    for (const auto& pv : profiles) {
        const auto& p = pv.as_object();
        const std::string name(p.at("name").as_string());
        BOOST_TEST_INFO("profile " << name);
        BOOST_CHECK_EQUAL(p.at("state").as_string(), "fresh");
        for (const char* key : {"expiresAt", "refreshAt", "lastRefreshAt"})
            BOOST_CHECK(p.at(key).is_string() &&
                        std::regex_match(std::string(p.at(key).as_string()), rfc3339_utc));
        BOOST_CHECK(p.at("lastError").is_null());
        BOOST_CHECK_EQUAL(p.at("consecutiveFailures").to_number<long long>(), 0);
        BOOST_CHECK_EQUAL(p.at("refreshCount").to_number<long long>(), name == "stats" ? 2 : 1);
    }
    BOOST_CHECK_GE(d.at("onDemandEntries").to_number<long long>(), 2);
    std::set<std::string> listeners;
    for (const auto& l : d.at("listeners").as_array())
        listeners.insert(std::string(l.as_string()));
    BOOST_CHECK(listeners.contains("tcp 127.0.0.1:" + std::to_string(daemon.tcp().port)));
    BOOST_CHECK(listeners.contains("unix " + daemon.unix_socket().unix_path));

    // Redaction: no token served and no identity token, anywhere an operator looks.
    const std::string metrics = get(daemon.tcp(), "/metrics").body;
    const std::string list = get(daemon.tcp(), "/v1/tokens").body;
    const std::string readyz = get(daemon.tcp(), "/readyz").body;
    daemon.proc().signal(SIGHUP); // the reload path logs too
    BOOST_CHECK(wait_for_line(daemon.log_path(), "configuration reloaded", 5s));
    daemon.proc().signal(SIGTERM);
    BOOST_CHECK(daemon.proc().wait_exit(10s) == 0);
    const std::string log = daemon.log();
    BOOST_CHECK(log.find("debug") != std::string::npos); // debug lines were written and checked
    std::vector<std::string> secrets(tokens.begin(), tokens.end());
    secrets.insert(secrets.end(), {identity, other_identity, refused_identity});
    for (const auto& secret : secrets) {
        BOOST_REQUIRE_GT(secret.size(), 20u);
        BOOST_TEST_INFO("secret " << secret.substr(0, 12) << "...");
        BOOST_CHECK(status.body.find(secret) == std::string::npos);
        BOOST_CHECK(metrics.find(secret) == std::string::npos);
        BOOST_CHECK(list.find(secret) == std::string::npos);
        BOOST_CHECK(readyz.find(secret) == std::string::npos);
        BOOST_CHECK(log.find(secret) == std::string::npos);
    }
}

// ---- §7 the client commands ----

BOOST_AUTO_TEST_CASE(token_and_status_commands_against_a_running_daemon) {
    mock_upstream mock;
    tokend_daemon daemon("{" + upstream_for(mock) + R"(,"tokens":[)" +
                         profile("stats", "synergy-stats") + "," +
                         profile("broken", "invalid-product") + "]}");
    const auto plain = daemon.get_token("stats", "text/plain");
    BOOST_REQUIRE_EQUAL(plain.status, 200u);
    const std::string token = plain.body;
    BOOST_REQUIRE(!token.empty());
    const std::string on_unix = "unix:" + daemon.unix_socket().unix_path;
    const std::string on_tcp = "http://127.0.0.1:" + std::to_string(daemon.tcp().port);

    // The bare token and one newline, for $(...).
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"token", "stats", "--endpoint", on_unix},
             {"token", "stats", "--endpoint", on_tcp},
             {"--endpoint", on_unix, "token", "stats"},
             {"token", "--endpoint=" + on_tcp, "stats"},
         }) {
        const auto r = run_cli(args);
        BOOST_TEST_INFO("endpoint " << (args[1] == "stats" ? args[3] : args[1]));
        BOOST_CHECK_EQUAL(r.code, 0);
        BOOST_CHECK_EQUAL(r.out, token + "\n");
        BOOST_CHECK_EQUAL(r.err, "");
    }
    const auto from_env = run_cli({"token", "stats"}, {{"SYNERGY_TOKEND_ENDPOINT", on_unix}});
    BOOST_CHECK_EQUAL(from_env.code, 0);
    BOOST_CHECK_EQUAL(from_env.out, token + "\n");
    // --endpoint wins over the environment.
    const auto both = run_cli({"token", "stats", "--endpoint", on_tcp},
                              {{"SYNERGY_TOKEND_ENDPOINT", "unix:/nonexistent/tokend.sock"}});
    BOOST_CHECK_EQUAL(both.code, 0);
    BOOST_CHECK_EQUAL(both.out, token + "\n");

    // The daemon answered an error: exit 1, its message on stderr, nothing on stdout.
    const auto unknown = run_cli({"token", "nope", "--endpoint", on_unix});
    BOOST_CHECK_EQUAL(unknown.code, 1);
    BOOST_CHECK_EQUAL(unknown.out, "");
    BOOST_CHECK_MESSAGE(unknown.err.find("no token profile named 'nope'") != std::string::npos,
                        unknown.err);
    const auto failed = run_cli({"token", "broken", "--endpoint", on_unix});
    BOOST_CHECK_EQUAL(failed.code, 1);
    BOOST_CHECK_EQUAL(failed.out, "");
    BOOST_CHECK_MESSAGE(failed.err.find("broken") != std::string::npos, failed.err);

    // Nobody listening: exit 3.
    temp_dir nowhere;
    const auto no_socket = run_cli({"token", "stats", "--endpoint", "unix:" + nowhere.file("x")});
    BOOST_CHECK_EQUAL(no_socket.code, 3);
    BOOST_CHECK_EQUAL(no_socket.out, "");
    BOOST_CHECK(!no_socket.err.empty());
    const auto no_port =
        run_cli({"status", "--endpoint", "http://127.0.0.1:" + std::to_string(free_port())});
    BOOST_CHECK_EQUAL(no_port.code, 3);
    // Not an endpoint at all: a usage error.
    BOOST_CHECK_EQUAL(run_cli({"token", "stats", "--endpoint", "ftp://x"}).code, 2);

    // status: a table, one row per profile with its state.
    for (const auto& ep : {on_unix, on_tcp}) {
        const auto st = run_cli({"status", "--endpoint", ep});
        BOOST_TEST_INFO("endpoint " << ep << "\n" << st.out << st.err);
        BOOST_CHECK_EQUAL(st.code, 0);
        const auto lines = lines_of(st.out);
        const auto header = std::find_if(lines.begin(), lines.end(), [](const std::string& l) {
            return l.find("NAME") != std::string::npos && l.find("STATE") != std::string::npos;
        });
        BOOST_REQUIRE(header != lines.end());
        std::map<std::string, std::string> rows;
        for (auto it = std::next(header); it != lines.end(); ++it) {
            std::istringstream words(*it);
            std::string name, word;
            words >> name;
            std::string rest;
            std::getline(words, rest);
            rows[name] = rest;
        }
        BOOST_CHECK(rows.contains("stats") && rows["stats"].find("fresh") != std::string::npos);
        BOOST_CHECK(rows.contains("broken") && rows["broken"].find("failed") != std::string::npos);
        BOOST_CHECK(st.out.find(token) == std::string::npos);
    }
}

// ---- §7 log format ----

BOOST_AUTO_TEST_CASE(journald_lines_carry_priorities_and_plain_lines_timestamps) {
    const std::string config_tail =
        R"(,"refresh":{"retry_initial_ms":100,"retry_max_ms":400},"tokens":[)" +
        profile("stats", "synergy-stats") + "]}";
    // One 503 first: a warning, then an info line when upstream recovers.
    const auto exercise = [](mock_upstream& mock, const endpoint& ep, process& proc) {
        http_call call;
        call.target = "/v1/tokens/stats";
        call.headers["X-Tokend-Request"] = "1";
        http_reply r;
        const auto by = steady::now() + 10s;
        do {
            r = http_request(ep, call);
            if (r.status == 200)
                break;
            std::this_thread::sleep_for(50ms);
        } while (steady::now() < by);
        BOOST_CHECK_EQUAL(r.status, 200u);
        BOOST_CHECK_GE(mock.counter("token_requests"), 2);
        proc.signal(SIGTERM);
        BOOST_CHECK(proc.wait_exit(10s) == 0);
    };

    {
        mock_upstream mock;
        mock.fault(R"({"mode":"status","status":503,"count":1})");
        daemon_with_env daemon("{" + upstream_for(mock) + config_tail, {{"JOURNAL_STREAM", "1:2"}});
        exercise(mock, daemon.tcp(), daemon.proc());
        const auto lines = lines_of(daemon.log());
        BOOST_REQUIRE(!lines.empty());
        bool info = false;
        bool warn = false;
        for (const auto& line : lines) {
            BOOST_CHECK_MESSAGE(std::regex_search(line, std::regex(R"(^<[0-7]>[a-z_]+: )")), line);
            info = info || line.starts_with("<6>");
            warn = warn || line.starts_with("<4>");
        }
        BOOST_CHECK(info);
        BOOST_CHECK(warn);
    }
    {
        mock_upstream mock;
        mock.fault(R"({"mode":"status","status":503,"count":1})");
        tokend_daemon daemon("{" + upstream_for(mock) + config_tail);
        exercise(mock, daemon.tcp(), daemon.proc());
        const auto lines = lines_of(daemon.log());
        BOOST_REQUIRE(!lines.empty());
        bool warn = false;
        const std::regex plain(
            R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (error|warn|info|debug) [a-z_]+: )");
        for (const auto& line : lines) {
            BOOST_CHECK_MESSAGE(std::regex_search(line, plain), line);
            warn = warn || line.find(" warn ") != std::string::npos;
        }
        BOOST_CHECK(warn);
        BOOST_CHECK(daemon.log().find("<6>") == std::string::npos);
    }
}

BOOST_AUTO_TEST_SUITE_END()
