// Test harness for the integration suite: runs the real synergy-tokend and synergy-auth-mock
// binaries as child processes and talks to them over real sockets (TCP, Unix, TLS to the mock).
//
// Every process is killed when its object goes out of scope; every wait has a deadline, so a
// broken daemon fails a test instead of hanging the suite.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include <boost/json/value.hpp>

namespace tokend_test {

using namespace std::chrono_literals;

// A fresh directory under $TMPDIR (or /tmp), removed with its contents at destruction unless
// TOKEND_TEST_KEEP is set (then its path is printed, for post-mortems).
class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);

// A child process with stdout and stderr going to files.
class process {
public:
    process(const std::vector<std::string>& argv, const std::string& stdout_path,
            const std::string& stderr_path, const std::map<std::string, std::string>& env = {});
    ~process();
    process(const process&) = delete;
    process& operator=(const process&) = delete;

    int pid() const { return pid_; }
    void signal(int signo) const;
    // Exit code (128+signal when killed by one), or nullopt when still running after `timeout`.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);
    bool running();

private:
    int pid_ = -1;
    std::optional<int> status_;
};

// Waits until `path` contains a line containing `needle`; returns that line, or nullopt.
std::optional<std::string> wait_for_line(const std::string& path, const std::string& needle,
                                         std::chrono::milliseconds timeout);

struct http_reply {
    unsigned status = 0; // 0: no reply (connection failed, closed or timed out)
    std::string error;   // why there was no reply
    std::map<std::string, std::string> headers; // lower-case names
    std::string body;
    boost::json::value json() const; // parses body; null on failure
    std::string header(const std::string& lower_name) const;
};

// The token of a token endpoint reply (its data.token), or "" when the reply carries none.
std::string token_of(const http_reply& r);

// A process's resident memory (VmRSS of /proc/<pid>/status) in KiB, or -1 when unreadable.
long resident_kib(int pid);

struct http_call {
    std::string method = "GET";
    std::string target = "/";
    std::map<std::string, std::string> headers;
    std::string body;
    std::chrono::milliseconds timeout = 15s;
};

// Where a server listens: "tcp:127.0.0.1:PORT" or "unix:/path".
struct endpoint {
    std::string host;
    unsigned short port = 0;
    std::string unix_path; // non-empty: Unix socket
    static endpoint tcp(std::string host, unsigned short port) {
        return {std::move(host), port, {}};
    }
    static endpoint unix_socket(std::string path) { return {{}, 0, std::move(path)}; }
};

// One request on a fresh connection (plain HTTP). Sets Host: localhost unless given.
http_reply http_request(const endpoint& ep, http_call call);

// Who a client child process runs as (as root, the suite switches children to other uids and
// groups; numeric ids need no passwd entry), and optionally the network namespace it enters
// first: a descriptor of a /proc/.../ns/net file, -1 for the test's own.
struct as_user {
    unsigned uid;
    unsigned gid;
    std::vector<gid_t> groups;
    int netns = -1;
};

// A client child process that has become `who` and runs `work`, started by the constructor on the
// calling thread. fork() copies only that thread, so start children while the test has no other
// thread of its own (a child forked while another thread holds an allocator lock would hang in
// its first allocation, as it does under ASan); to run a request concurrently with the test, start
// the child here and collect its answer later, instead of forking from a std::thread.
class child_as {
public:
    child_as(const as_user& who, const std::function<std::string()>& work);
    child_as(const child_as&) = delete;
    child_as& operator=(const child_as&) = delete;
    // Kills and reaps a child whose result was never collected (a test that failed early).
    ~child_as();

    // Waits for the child: what `work` returned, or nullopt with the reason in `*error` when the
    // child could not switch or wrote nothing. Once only.
    std::optional<std::string> result(std::string* error);

private:
    pid_t pid_ = -1;
    int out_ = -1;
    unsigned uid_ = 0;
};

// `work` run in a child process that has become `who` (child_as, waited for at once).
std::optional<std::string> run_as(const as_user& who, const std::function<std::string()>& work,
                                  std::string* error);

// A request to `ep` from a child process running as `who`, started now, answered by reply().
class request_in_child {
public:
    request_in_child(const as_user& who, const endpoint& ep, const http_call& call);
    http_reply reply();

private:
    http_call call_;
    child_as child_;
};

// The reply to `call` sent to `ep` (one fresh connection, as http_request) by a child process
// running as `who`.
http_reply request_as(const as_user& who, const endpoint& ep, const http_call& call);

// `request` as raw bytes on a fresh TCP connection to `ep` (127.0.0.1:port), then everything the
// server sends until it closes the connection or is silent for `quiet` (for replies the HTTP
// client cannot read as a client would: HEAD, malformed requests). Fails the test (BOOST_REQUIRE)
// when it cannot connect.
std::string raw_exchange(const endpoint& ep, const std::string& request,
                         std::chrono::milliseconds quiet = 5s);

// `count` identical requests at once, each on its own connection; replies in order.
std::vector<http_reply> http_concurrent(const endpoint& ep, const http_call& call,
                                        std::size_t count);

// The mock Auth API, started on ephemeral ports.
class mock_upstream {
public:
    // `host`: the loopback address both its ports listen on.
    explicit mock_upstream(bool tls = true, std::string host = "127.0.0.1");
    // "https://localhost:PORT/v1" (or http://127.0.0.1:PORT/v1); another host by its address.
    std::string base_url() const;
    const std::string& ca_file() const { return ca_file_; }
    const std::string& untrusted_ca_file() const { return untrusted_ca_file_; }
    unsigned short api_port() const { return api_port_; }

    // Control API calls; they fail the test (BOOST_REQUIRE) when the mock does not answer 200.
    boost::json::value control(const std::string& method, const std::string& path,
                               const std::string& body = "");
    void settings(const std::string& json_object) {
        control("POST", "/control/settings", json_object);
    }
    void fault(const std::string& json_object) { control("POST", "/control/fault", json_object); }
    void clear_faults() { control("POST", "/control/clear-faults"); }
    std::int64_t counter(const std::string& name);
    std::vector<boost::json::value> token_requests();
    const std::string& log_path() const { return log_; }

    // Process-level faults while a daemon holds pooled connections (issue 13). kill: SIGKILL,
    // waited for. freeze/thaw: SIGSTOP/SIGCONT. restart: kills the mock if it runs and starts a
    // new one on the same ports with the same certificates (--reuse-certs), which accepts the
    // tokens the earlier one issued (--accept-earlier-tokens) but starts with fresh counters,
    // settings and faults; waits for it to be ready (BOOST_REQUIRE).
    void kill();
    void freeze();
    void thaw();
    void restart();

private:
    void start(const std::vector<std::string>& extra_args);
    temp_dir dir_;
    std::string log_;
    std::optional<process> proc_;
    bool tls_;
    std::string host_;
    unsigned short api_port_ = 0;
    unsigned short control_port_ = 0;
    std::string ca_file_;
    std::string untrusted_ca_file_;
};

// The daemon, with a config built from `config_json` (a JSON object text). The harness fills in
// listen (ephemeral TCP port and a Unix socket in its temp dir) and identity (a file holding
// `identity_token`) unless the given config sets them.
class tokend_daemon {
public:
    explicit tokend_daemon(const std::string& config_json,
                           const std::string& identity_token = "test-identity-token-0001",
                           bool wait_ready = true);
    ~tokend_daemon();

    endpoint tcp() const { return endpoint::tcp("127.0.0.1", port_); }
    endpoint unix_socket() const { return endpoint::unix_socket(unix_path_); }
    const std::string& log_path() const { return log_; }
    const std::string& config_path() const { return config_path_; }
    const std::string& identity_path() const { return identity_path_; }
    std::string log() const { return read_file(log_); }
    process& proc() { return *proc_; }

    // GET /v1/tokens/{name} with the request header the daemon requires.
    http_reply get_token(const std::string& name, const std::string& accept = "application/json");
    // get_token() every 100 ms until it answers 200 or `within` has passed; the last reply.
    http_reply get_token_within(const std::string& name, std::chrono::milliseconds within);
    // /readyz every 20 ms until it answers 200 (every profile servable); requires it within
    // `within`.
    void wait_ready(std::chrono::milliseconds within = std::chrono::seconds(10));

private:
    temp_dir dir_;
    std::string log_;
    std::string config_path_;
    std::string identity_path_;
    std::string unix_path_;
    unsigned short port_ = 0;
    std::optional<process> proc_;
};

// Fails the current test when `text` (named `what` in the message) contains any secret the suite
// has used so far: identity tokens given to a daemon or sent in drop-in bodies, tokens received,
// callers' Authorization values. Every tokend_daemon checks its log, /status and /metrics with
// it when it goes, so a full run of the suite is a redaction test.
void check_no_secret_in(const std::string& what, const std::string& text);

// The `exp` claim of a JWT issued by the mock (seconds since the epoch), or 0.
long long jwt_exp(const std::string& jwt);
long long unix_now();

// Every file's content under the directories of the logs given, for redaction checks.
// binary_path_daemon: $TOKEND_TEST_DAEMON when set (another build), else the one built here.
std::string binary_path_daemon();
std::string binary_path_mock();

} // namespace tokend_test
