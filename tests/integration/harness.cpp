#include "harness.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <grp.h>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <set>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include "synergy_tokend/token_reply.hpp"

extern char** environ;

namespace tokend_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using boost::system::error_code;

temp_dir::temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/tokend-test-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr)
        throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
    path_ = templ;
}

temp_dir::~temp_dir() {
    if (std::getenv("TOKEND_TEST_KEEP") != nullptr) {
        BOOST_TEST_MESSAGE("kept " << path_);
        return;
    }
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

void write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out)
        throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

process::process(const std::vector<std::string>& argv, const std::string& stdout_path,
                 const std::string& stderr_path, const std::map<std::string, std::string>& env) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);

    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string entry(*e);
        const std::string name = entry.substr(0, entry.find('='));
        if (!env.contains(name) && name != "JOURNAL_STREAM" && name != "NOTIFY_SOCKET")
            env_strings.push_back(entry);
    }
    for (const auto& [k, v] : env)
        env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& e : env_strings)
        envp.push_back(e.data());
    envp.push_back(nullptr);

    const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
        throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
}

process::~process() {
    if (pid_ > 0 && !status_) {
        ::kill(pid_, SIGKILL);
        int st = 0;
        ::waitpid(pid_, &st, 0);
    }
}

void process::signal(int signo) const {
    ::kill(pid_, signo);
}

bool process::running() {
    if (status_)
        return false;
    int st = 0;
    const int rc = ::waitpid(pid_, &st, WNOHANG);
    if (rc == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return false;
    }
    return true;
}

std::optional<int> process::wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() >= deadline)
            return std::nullopt;
        std::this_thread::sleep_for(20ms);
    }
    return status_;
}

std::optional<std::string> wait_for_line(const std::string& path, const std::string& needle,
                                         std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        std::istringstream lines(read_file(path));
        for (std::string line; std::getline(lines, line);)
            if (line.find(needle) != std::string::npos)
                return line;
        if (std::chrono::steady_clock::now() >= deadline)
            return std::nullopt;
        std::this_thread::sleep_for(20ms);
    }
}

json::value http_reply::json() const {
    error_code ec;
    auto v = json::parse(body, ec);
    return ec ? json::value() : v;
}

std::string http_reply::header(const std::string& lower_name) const {
    const auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

template <class Protocol>
asio::awaitable<void> exchange(typename Protocol::endpoint ep, http_call call, http_reply* out) {
    beast::basic_stream<Protocol> stream(co_await asio::this_coro::executor);
    stream.expires_after(call.timeout);
    auto [cec] = co_await stream.async_connect(ep, use_nothrow);
    if (cec) {
        out->error = "connect: " + cec.message();
        co_return;
    }
    http::request<http::string_body> req{http::string_to_verb(call.method), call.target, 11};
    if (!call.headers.contains("Host"))
        req.set(http::field::host, "localhost");
    for (const auto& [k, v] : call.headers)
        if (!v.empty())
            req.set(k, v);
        else if (k == "Host")
            req.set(k, "");
    req.body() = call.body;
    if (!call.body.empty() || call.method == "POST")
        req.prepare_payload();
    auto [wec, written] = co_await http::async_write(stream, req, use_nothrow);
    if (wec) {
        out->error = "write: " + wec.message();
        co_return;
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    auto [rec, read] = co_await http::async_read(stream, buffer, parser, use_nothrow);
    if (rec) {
        out->error = "read: " + rec.message();
        co_return;
    }
    auto res = parser.release();
    out->status = res.result_int();
    for (const auto& f : res) {
        std::string name(f.name_string());
        for (auto& c : name)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out->headers[name] = std::string(f.value());
    }
    out->body = std::move(res.body());
}

void spawn_exchange(asio::io_context& io, const endpoint& ep, const http_call& call,
                    http_reply* out) {
    if (!ep.unix_path.empty()) {
        asio::co_spawn(io,
                       exchange<asio::local::stream_protocol>(
                           asio::local::stream_protocol::endpoint(ep.unix_path), call, out),
                       asio::detached);
    } else {
        asio::co_spawn(
            io,
            exchange<asio::ip::tcp>(
                asio::ip::tcp::endpoint(asio::ip::make_address(ep.host), ep.port), call, out),
            asio::detached);
    }
}

// Every secret the suite has handed to or received from a daemon: identity tokens (in configs
// and in drop-in request bodies), product tokens (in replies) and callers' Authorization values.
// Each daemon's log, /status and /metrics are checked against all of them (see ~tokend_daemon),
// so the whole run is one redaction test. Short strings are left out: they would match by chance.
std::mutex secrets_mutex;
std::set<std::string> secrets_seen;

void remember_secret(std::string_view secret) {
    if (secret.size() < 12)
        return;
    const std::lock_guard lock(secrets_mutex);
    secrets_seen.emplace(secret);
}

void note_secrets(const http_call& call, const http_reply& reply) {
    for (const auto& [name, value] : call.headers)
        if (beast::iequals(name, "Authorization"))
            remember_secret(value.rfind("Bearer ", 0) == 0 ? value.substr(7) : value);
    if (call.target.rfind("/v1/products/token", 0) == 0) {
        boost::system::error_code ec;
        const auto body = json::parse(call.body, ec);
        if (!ec && body.is_object())
            if (const auto* id = body.as_object().if_contains("userIdentityToken");
                id && id->is_string())
                remember_secret(id->as_string());
    }
    if (reply.status != 200 || (call.target.rfind("/v1/tokens/", 0) != 0 &&
                                call.target.rfind("/v1/products/token", 0) != 0))
        return;
    if (reply.header("content-type").rfind("text/plain", 0) == 0) {
        remember_secret(reply.body);
        return;
    }
    const auto v = reply.json();
    if (v.is_object())
        if (const auto* data = v.as_object().if_contains("data"); data && data->is_object())
            if (const auto* token = data->as_object().if_contains("token");
                token && token->is_string())
                remember_secret(token->as_string());
}

} // namespace

std::string raw_exchange(const endpoint& ep, const std::string& request,
                         std::chrono::milliseconds quiet) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(ep.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        const int err = errno;
        ::close(fd);
        BOOST_REQUIRE_MESSAGE(false, "cannot connect: " << std::strerror(err));
    }
    std::string_view left = request;
    while (!left.empty()) {
        const ::ssize_t n = ::send(fd, left.data(), left.size(), MSG_NOSIGNAL);
        if (n <= 0)
            break; // closed early: the reply is still read below
        left.remove_prefix(static_cast<std::size_t>(n));
    }
    std::string raw;
    char chunk[4096];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(quiet.count())) <= 0)
            break;
        const ::ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0)
            break;
        raw.append(chunk, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return raw;
}

http_reply http_request(const endpoint& ep, http_call call) {
    asio::io_context io;
    http_reply reply;
    spawn_exchange(io, ep, call, &reply);
    io.run();
    note_secrets(call, reply);
    return reply;
}

std::vector<http_reply> http_concurrent(const endpoint& ep, const http_call& call,
                                        std::size_t count) {
    asio::io_context io;
    std::vector<http_reply> replies(count);
    for (auto& r : replies)
        spawn_exchange(io, ep, call, &r);
    io.run();
    for (const auto& r : replies)
        note_secrets(call, r);
    return replies;
}

std::string token_of(const http_reply& r) {
    const auto v = r.json();
    if (!v.is_object() || !v.as_object().contains("data") || !v.at("data").is_object())
        return {};
    const auto* t = v.at("data").as_object().if_contains("token");
    return t && t->is_string() ? std::string(t->as_string()) : std::string();
}

long resident_kib(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::stol(line.substr(6));
    return -1;
}

child_as::child_as(const as_user& who, const std::function<std::string()>& work) {
    int out[2];
    BOOST_REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(out[0]);
        if (who.netns >= 0 && ::setns(who.netns, CLONE_NEWNET) != 0)
            ::_exit(2);
        if (::setgroups(who.groups.size(), who.groups.data()) != 0 || ::setgid(who.gid) != 0 ||
            ::setuid(who.uid) != 0)
            ::_exit(3);
        const std::string text = work();
        std::size_t done = 0;
        while (done < text.size()) {
            const ssize_t n = ::write(out[1], text.data() + done, text.size() - done);
            if (n <= 0)
                ::_exit(4);
            done += static_cast<std::size_t>(n);
        }
        ::_exit(0);
    }
    ::close(out[1]);
    pid_ = pid;
    out_ = out[0];
    uid_ = who.uid;
}

child_as::~child_as() {
    if (out_ >= 0)
        ::close(out_);
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
}

std::optional<std::string> child_as::result(std::string* error) {
    BOOST_REQUIRE(pid_ > 0);
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(out_, buf, sizeof buf)) > 0;)
        text.append(buf, static_cast<std::size_t>(n));
    ::close(out_);
    out_ = -1;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code != 0 || text.empty()) {
        *error = code == 2   ? "the client process could not enter its network namespace"
                 : code == 3 ? "the client process could not become uid " + std::to_string(uid_)
                             : "the client process wrote nothing (wait status " +
                                   std::to_string(status) + ")";
        return std::nullopt;
    }
    return text;
}

std::optional<std::string> run_as(const as_user& who, const std::function<std::string()>& work,
                                  std::string* error) {
    return child_as(who, work).result(error);
}

request_in_child::request_in_child(const as_user& who, const endpoint& ep, const http_call& call)
    : call_(call)
    , child_(who, [&] {
        const http_reply got = http_request(ep, call);
        return std::to_string(got.status) + "\n" + got.error + "\n" + got.body;
    }) {}

http_reply request_in_child::reply() {
    http_reply r;
    const auto text = child_.result(&r.error);
    if (!text)
        return r;
    const auto first = text->find('\n');
    const auto second = text->find('\n', first + 1);
    r.status = static_cast<unsigned>(std::stoul(text->substr(0, first)));
    r.error = text->substr(first + 1, second - first - 1);
    r.body = text->substr(second + 1);
    note_secrets(call_, r); // what the child received counts for the suite's redaction checks
    return r;
}

http_reply request_as(const as_user& who, const endpoint& ep, const http_call& call) {
    return request_in_child(who, ep, call).reply();
}

void check_no_secret_in(const std::string& what, const std::string& text) {
    std::vector<std::string> found;
    {
        const std::lock_guard lock(secrets_mutex);
        for (const auto& secret : secrets_seen)
            if (text.find(secret) != std::string::npos)
                found.push_back(secret.substr(0, 8) + "...");
    }
    BOOST_CHECK_MESSAGE(found.empty(), what << " contains " << found.size()
                                            << " secret(s) used in the suite, e.g. "
                                            << (found.empty() ? "" : found.front()));
}

std::string binary_path_daemon() {
    // Another build of the daemon against this suite, e.g. an older one to see a test fail.
    if (const char* other = std::getenv("TOKEND_TEST_DAEMON"); other != nullptr && *other != '\0')
        return other;
    return SYNERGY_TOKEND_BINARY;
}
std::string binary_path_mock() {
    return SYNERGY_AUTH_MOCK_BINARY;
}

mock_upstream::mock_upstream(bool tls, std::string host)
    : tls_(tls)
    , host_(std::move(host)) {
    log_ = dir_.file("mock.log");
    start({});
}

void mock_upstream::kill() {
    if (proc_ && proc_->running()) {
        proc_->signal(SIGKILL);
        proc_->wait_exit(10s);
    }
}

void mock_upstream::freeze() {
    proc_->signal(SIGSTOP);
}

void mock_upstream::thaw() {
    proc_->signal(SIGCONT);
}

void mock_upstream::restart() {
    proc_.reset(); // SIGKILL, waited for
    start({"--port", std::to_string(api_port_), "--control-port", std::to_string(control_port_),
           "--reuse-certs", "--accept-earlier-tokens"});
}

void mock_upstream::start(const std::vector<std::string>& extra_args) {
    std::vector<std::string> argv{binary_path_mock(), "--cert-dir", dir_.path()};
    if (!tls_)
        argv.push_back("--plain");
    argv.insert(argv.end(), {"--host", host_});
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    proc_.emplace(argv, dir_.file("mock.out"), log_);
    const auto line = wait_for_line(dir_.file("mock.out"), "ready ", 20s);
    BOOST_REQUIRE_MESSAGE(line, "the mock Auth API did not start: " << read_file(log_));
    std::istringstream words(*line);
    for (std::string word; words >> word;) {
        const auto eq = word.find('=');
        if (eq == std::string::npos)
            continue;
        const std::string key = word.substr(0, eq);
        const std::string value = word.substr(eq + 1);
        const auto port = [&] {
            return static_cast<unsigned short>(std::stoi(value.substr(value.rfind(':') + 1)));
        };
        if (key == "api")
            api_port_ = port();
        else if (key == "control")
            control_port_ = port();
        else if (key == "ca")
            ca_file_ = value;
        else if (key == "untrusted_ca")
            untrusted_ca_file_ = value;
    }
    BOOST_REQUIRE(api_port_ != 0 && control_port_ != 0);
}

std::string mock_upstream::base_url() const {
    // The certificate names localhost; another address is named as itself.
    const std::string host = tls_ && host_ == "127.0.0.1" ? "localhost" : host_;
    return (tls_ ? "https://" : "http://") + host + ":" + std::to_string(api_port_) + "/v1";
}

json::value mock_upstream::control(const std::string& method, const std::string& path,
                                   const std::string& body) {
    http_call call;
    call.method = method;
    call.target = path;
    call.body = body;
    if (!body.empty())
        call.headers["Content-Type"] = "application/json";
    const auto reply = http_request(endpoint::tcp(host_, control_port_), call);
    BOOST_REQUIRE_MESSAGE(reply.status == 200, "mock control " << method << " " << path << " "
                                                               << body << ": " << reply.status
                                                               << " " << reply.error << " "
                                                               << reply.body);
    return reply.json();
}

std::int64_t mock_upstream::counter(const std::string& name) {
    const auto v = control("GET", "/control/counters");
    return v.as_object().at(name).to_number<std::int64_t>();
}

std::vector<json::value> mock_upstream::token_requests() {
    const auto v = control("GET", "/control/token-requests");
    const auto& arr = v.as_object().at("data").as_array();
    return {arr.begin(), arr.end()};
}

tokend_daemon::tokend_daemon(const std::string& config_json, const std::string& identity_token,
                             bool wait_ready) {
    log_ = dir_.file("tokend.log");
    config_path_ = dir_.file("config.json");
    identity_path_ = dir_.file("identity-token");
    unix_path_ = dir_.file("tokend.sock");
    write_file(identity_path_, identity_token + "\n");
    remember_secret(identity_token);

    json::object cfg = json::parse(config_json).as_object();
    if (!cfg.contains("identity"))
        cfg["identity"] = json::object{{"user_identity_token_file", identity_path_}};
    if (!cfg.contains("listen"))
        cfg["listen"] = json::object{{"tcp", json::array{"127.0.0.1:0"}}, {"unix", unix_path_}};
    else if (auto& l = cfg["listen"].as_object(); !l.contains("unix"))
        l["unix"] = unix_path_;
    if (auto* u = cfg["listen"].as_object().if_contains("unix"); u && u->is_string())
        unix_path_ = std::string(u->as_string());
    write_file(config_path_, json::serialize(cfg));

    proc_.emplace(std::vector<std::string>{binary_path_daemon(), "run", "--config", config_path_},
                  dir_.file("tokend.out"), log_);
    if (!wait_ready)
        return;
    const auto line = wait_for_line(log_, "listening on", 15s);
    BOOST_REQUIRE_MESSAGE(line, "the daemon did not start: " << read_file(log_));
    const auto tcp_at = line->find("tcp 127.0.0.1:");
    if (tcp_at != std::string::npos)
        port_ = static_cast<unsigned short>(
            std::stoi(line->substr(tcp_at + std::string("tcp 127.0.0.1:").size())));
}

tokend_daemon::~tokend_daemon() {
    if (proc_ && proc_->running()) {
        if (port_ != 0) {
            for (const char* page : {"/status", "/metrics"}) {
                http_call call;
                call.target = page;
                call.timeout = 5s;
                const auto r = http_request(tcp(), call);
                if (r.status == 200)
                    check_no_secret_in(std::string("GET ") + page, r.body);
            }
        }
        proc_->signal(SIGTERM);
        if (!proc_->wait_exit(10s))
            BOOST_TEST_MESSAGE("daemon did not stop on SIGTERM");
    }
    if (proc_)
        check_no_secret_in("the daemon's log", read_file(log_));
}

http_reply tokend_daemon::get_token_within(const std::string& name,
                                           std::chrono::milliseconds within) {
    const auto give_up = std::chrono::steady_clock::now() + within;
    http_reply r = get_token(name);
    while (r.status != 200 && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(100ms);
        r = get_token(name);
    }
    return r;
}

void tokend_daemon::wait_ready(std::chrono::milliseconds within) {
    http_call readyz;
    readyz.target = "/readyz";
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (http_request(tcp(), readyz).status != 200 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    BOOST_REQUIRE_EQUAL(http_request(tcp(), readyz).status, 200u);
}

http_reply tokend_daemon::get_token(const std::string& name, const std::string& accept) {
    http_call call;
    call.target = "/v1/tokens/" + name;
    call.headers["X-Tokend-Request"] = "1";
    call.headers["Accept"] = accept;
    return http_request(tcp(), call);
}

long long jwt_exp(const std::string& jwt) {
    const auto exp = synergy_tokend::jwt_expiry(jwt);
    return exp ? std::chrono::duration_cast<std::chrono::seconds>(exp->time_since_epoch()).count()
               : 0;
}

long long unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

} // namespace tokend_test
