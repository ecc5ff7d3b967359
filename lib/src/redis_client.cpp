#include "synergy_tokend/redis_client.hpp"

#include <array>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <hiredis/hiredis.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "synergy_tokend/deadline_watchdog.hpp"
#include "synergy_tokend/tls_client.hpp"

namespace synergy_tokend {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_idle = 4;

class redis_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "redis"; }
    std::string message(int ev) const override {
        switch (static_cast<redis_errc>(ev)) {
        case redis_errc::connect_failed:
            return "cannot connect to Redis";
        case redis_errc::tls_failed:
            return "TLS with Redis failed";
        case redis_errc::auth_failed:
            return "Redis refused AUTH or SELECT";
        case redis_errc::timeout:
            return "Redis did not answer within shared_cache.timeout_ms";
        case redis_errc::connection_lost:
            return "Redis closed the connection";
        case redis_errc::protocol_error:
            return "Redis sent bytes that are not RESP";
        }
        return "unknown Redis error";
    }
};

} // namespace

const boost::system::error_category& redis_category() {
    static const redis_category_impl instance;
    return instance;
}

error_code make_error_code(redis_errc e) {
    return {static_cast<int>(e), redis_category()};
}

struct redis_client::connection {
    explicit connection(asio::any_io_executor ex)
        : tcp_socket(ex)
        , unix_sock(ex)
        , watchdog(ex, std::chrono::seconds(30), [this] { close(); }) {}
    void close() {
        error_code ignored;
        tcp_socket.close(ignored);
        unix_sock.close(ignored);
    }
    asio::awaitable<error_code> write(asio::const_buffer b) {
        if (tls)
            co_return co_await tls->write(b);
        if (is_unix) {
            auto [ec, n] = co_await asio::async_write(unix_sock, b, use_nothrow);
            co_return ec;
        }
        auto [ec, n] = co_await asio::async_write(tcp_socket, b, use_nothrow);
        co_return ec;
    }
    asio::awaitable<std::pair<error_code, std::size_t>> read_some(asio::mutable_buffer b) {
        if (tls)
            co_return co_await tls->read_some(b);
        if (is_unix) {
            auto [ec, n] = co_await unix_sock.async_read_some(b, use_nothrow);
            co_return std::pair{ec, n};
        }
        auto [ec, n] = co_await tcp_socket.async_read_some(b, use_nothrow);
        co_return std::pair{ec, n};
    }

    tcp::socket tcp_socket;
    unix_socket::socket unix_sock;
    bool is_unix = false;
    std::unique_ptr<tls_client> tls;
    redis_reply_reader reader;
    deadline_watchdog watchdog;
    std::vector<char> rx = std::vector<char>(4096);
};

redis_client::redis_client(asio::any_io_executor ex, const shared_cache_config& cfg,
                           std::string password)
    : ex_(ex)
    , cfg_(cfg)
    , password_(std::move(password))
    , tls_ctx_(ssl::context::tls_client) {
    SSL_CTX_set_min_proto_version(tls_ctx_.native_handle(), TLS1_2_VERSION);
    tls_ctx_.set_verify_mode(ssl::verify_peer);
    if (cfg_.endpoint.transport == redis_endpoint::kind::tls) {
        error_code ec;
        if (cfg_.ca_file.empty())
            tls_ctx_.set_default_verify_paths(ec);
        else
            tls_ctx_.load_verify_file(cfg_.ca_file, ec);
        if (ec)
            throw std::runtime_error(cfg_.ca_file.empty()
                                         ? "cannot load the system trust store: " + ec.message()
                                         : "shared_cache.ca_file " + cfg_.ca_file + ": " +
                                               ec.message());
    }
}

redis_client::~redis_client() {
    close();
}

void redis_client::close() {
    for (auto& c : idle_)
        c->close();
    idle_.clear();
}

asio::awaitable<redis_result> redis_client::exchange(connection_ptr c,
                                                     std::vector<std::string> args) {
    redis_result out;
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const auto& a : args) {
        argv.push_back(a.data());
        lengths.push_back(a.size());
    }
    char* formatted = nullptr;
    const int len = redisFormatCommandArgv(&formatted, static_cast<int>(argv.size()), argv.data(),
                                           lengths.data());
    if (len < 0 || formatted == nullptr)
        throw std::bad_alloc();
    const std::string wire(formatted, static_cast<std::size_t>(len));
    redisFreeCommand(formatted);
    if (error_code ec = co_await c->write(asio::buffer(wire))) {
        out.ec = c->watchdog.expired() ? make_error_code(redis_errc::timeout)
                                       : make_error_code(redis_errc::connection_lost);
        out.detail = ec.message();
        co_return out;
    }
    for (;;) {
        // Bytes beyond the reply were not asked for: an error, the connection is not trusted.
        redis_reply_reader::result next = c->reader.next_alone();
        if (next.what == redis_reply_reader::status::error) {
            out.ec = make_error_code(redis_errc::protocol_error);
            out.detail = c->reader.error();
            co_return out;
        }
        if (next.what == redis_reply_reader::status::reply) {
            out.reply = std::move(next.reply);
            co_return out;
        }
        auto [ec, n] = co_await c->read_some(asio::buffer(c->rx));
        if (ec) {
            out.ec = c->watchdog.expired() ? make_error_code(redis_errc::timeout)
                                           : make_error_code(redis_errc::connection_lost);
            out.detail = ec.message();
            co_return out;
        }
        c->reader.feed(std::string_view(c->rx.data(), n));
    }
}

// AUTH or SELECT: nullopt when Redis accepted it.
asio::awaitable<std::optional<redis_result>>
redis_client::setup_step(connection_ptr c, std::vector<std::string> args, std::string what) {
    redis_result r = co_await exchange(c, std::move(args));
    if (!r.ok())
        co_return r;
    if (std::string problem = problem_unless_ok(r.reply, what); !problem.empty()) {
        r.ec = make_error_code(redis_errc::auth_failed);
        r.detail = std::move(problem);
        co_return r;
    }
    co_return std::nullopt;
}

asio::awaitable<redis_result> redis_client::connect(connection_ptr c, clock::time_point deadline) {
    redis_result out;
    const redis_endpoint& ep = cfg_.endpoint;
    c->watchdog.arm(deadline);
    auto lost = [&](redis_errc e, std::string detail) {
        out.ec = c->watchdog.expired() ? make_error_code(redis_errc::timeout) : make_error_code(e);
        out.detail = std::move(detail);
        return out;
    };
    if (ep.transport == redis_endpoint::kind::unix_socket) {
        c->is_unix = true;
        auto [ec] =
            co_await c->unix_sock.async_connect(unix_socket::endpoint(ep.path), use_nothrow);
        if (ec)
            co_return lost(redis_errc::connect_failed, ep.path + ": " + ec.message());
    } else {
        tcp::resolver resolver(ex_);
        auto [rec, results] =
            co_await resolver.async_resolve(ep.host, std::to_string(ep.port), use_nothrow);
        if (c->watchdog.expired())
            co_return lost(redis_errc::timeout, "resolving " + ep.host);
        if (rec)
            co_return lost(redis_errc::connect_failed, ep.host + ": " + rec.message());
        auto [ec, endpoint] = co_await asio::async_connect(c->tcp_socket, results, use_nothrow);
        if (ec)
            co_return lost(redis_errc::connect_failed,
                           ep.host + ":" + std::to_string(ep.port) + ": " + ec.message());
        c->tcp_socket.set_option(tcp::no_delay(true), ec);
        if (ep.transport == redis_endpoint::kind::tls) {
            c->tls = std::make_unique<tls_client>(c->tcp_socket, tls_ctx_.native_handle());
            if (!c->tls->expect_peer(ep.host))
                co_return lost(redis_errc::tls_failed, "invalid host name " + ep.host);
            if (error_code hec = co_await c->tls->handshake()) {
                std::string reason = hec.message();
                const long verify = SSL_get_verify_result(c->tls->native_handle());
                if (verify != X509_V_OK) {
                    reason += ": ";
                    reason += X509_verify_cert_error_string(verify);
                }
                co_return lost(redis_errc::tls_failed, reason);
            }
        }
    }
    if (!password_.empty()) {
        std::vector<std::string> auth{"AUTH"};
        if (!cfg_.username.empty())
            auth.push_back(cfg_.username);
        auth.push_back(password_);
        if (auto failed = co_await setup_step(c, std::move(auth), std::string("AUTH")))
            co_return *failed;
    }
    if (ep.db != 0) {
        std::vector<std::string> select{"SELECT", std::to_string(ep.db)};
        if (auto failed = co_await setup_step(c, std::move(select), std::string("SELECT")))
            co_return *failed;
    }
    co_return out;
}

asio::awaitable<redis_result> redis_client::command(std::vector<std::string> args,
                                                    clock::time_point deadline) {
    // A kept connection that Redis has closed meanwhile (its idle timeout, a restart) fails
    // before any reply byte: the command goes again on a new one, within the same deadline.
    for (int round = 0;; ++round) {
        connection_ptr c;
        const bool reused = !idle_.empty() && round == 0;
        if (reused) {
            c = std::move(idle_.back());
            idle_.pop_back();
        } else {
            c = std::make_shared<connection>(ex_);
            redis_result r = co_await connect(c, deadline);
            if (!r.ok()) {
                c->close();
                co_return r;
            }
        }
        c->watchdog.arm(deadline);
        ++commands_sent_;
        redis_result r = co_await exchange(c, args);
        c->watchdog.disarm();
        if (r.ok() && !c->watchdog.expired() && idle_.size() < max_idle) {
            idle_.push_back(std::move(c));
            co_return r;
        }
        c->close();
        if (reused && r.ec == redis_errc::connection_lost && !c->reader.mid_reply() &&
            clock::now() < deadline)
            continue;
        co_return r;
    }
}

} // namespace synergy_tokend
