#include "synergy_tokend/upstream_client.hpp"

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <string_view>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/verb.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "synergy_tokend/authority.hpp"
#include "synergy_tokend/deadline_watchdog.hpp"
#include "synergy_tokend/reply_reader.hpp"
#include "synergy_tokend/tls_client.hpp"

namespace synergy_tokend {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;
using steady = std::chrono::steady_clock;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_upstream_body = 8 * 1024 * 1024;
constexpr std::uint32_t max_upstream_header = 64 * 1024; // per reply, interim ones included

class upstream_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "upstream"; }
    std::string message(int ev) const override {
        switch (static_cast<upstream_errc>(ev)) {
        case upstream_errc::connect_failed:
            return "cannot connect to upstream";
        case upstream_errc::tls_handshake_failed:
            return "TLS handshake with upstream failed";
        case upstream_errc::timeout:
            return "upstream timed out";
        case upstream_errc::connection_lost:
            return "upstream closed the connection before a complete reply";
        case upstream_errc::bad_response:
            return "upstream sent an invalid HTTP reply";
        case upstream_errc::shutting_down:
            return "shutting down";
        }
        return "unknown upstream error";
    }
};

std::string tls_failure_reason(const error_code& ec, SSL* ssl) {
    std::string reason = ec.message();
    if (ssl != nullptr) {
        const long verify = SSL_get_verify_result(ssl);
        if (verify != X509_V_OK) {
            reason += ": ";
            reason += X509_verify_cert_error_string(verify);
        }
    }
    return reason;
}

} // namespace

const boost::system::error_category& upstream_category() {
    static const upstream_category_impl instance;
    return instance;
}

boost::system::error_code make_error_code(upstream_errc e) {
    return {static_cast<int>(e), upstream_category()};
}

std::optional<upstream_url> parse_upstream_url(std::string_view url) {
    upstream_url out;
    if (url.starts_with("https://")) {
        out.tls = true;
        url.remove_prefix(8);
    } else if (url.starts_with("http://")) {
        out.tls = false;
        url.remove_prefix(7);
    } else {
        return std::nullopt;
    }
    const auto slash = url.find('/');
    std::string_view authority = url.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? "" : url.substr(slash);
    while (!path.empty() && path.back() == '/')
        path.remove_suffix(1);
    if (authority.empty())
        return std::nullopt;
    out.host_header = std::string(authority);
    const auto split = split_authority(authority);
    if (!split || split->host.empty())
        return std::nullopt;
    const std::string_view port = split->port.value_or("");
    out.host = std::string(split->host);
    out.port = port.empty() ? (out.tls ? "443" : "80") : std::string(port);
    out.base_path = std::string(path);
    return out;
}

// One upstream connection. Its time limits are kept by a watchdog (deadline_watchdog), not by a
// timer operation per read and write: an exchange arms the deadline it must meet, and the
// watchdog closes the socket once that deadline has passed (which completes the pending
// operation with an error; `timed_out()` tells why). The watchdog's horizon is
// upstream.request_timeout_ms, the deadline of every exchange, so arming one hardly ever touches
// its timer; only an earlier one (after a wait in the queue) does.
struct upstream_client::connection {
    connection(asio::any_io_executor ex, ssl::context* tls_ctx, steady::duration horizon)
        : socket(ex)
        , watchdog(ex, horizon, [this] { close_socket(); }) {
        if (tls_ctx != nullptr)
            tls = std::make_unique<tls_client>(socket, tls_ctx->native_handle());
    }

    tcp::socket socket;
    std::unique_ptr<tls_client> tls; // set when TLS: all traffic goes through it
    beast::flat_buffer buffer;       // bytes of the reply read but not parsed yet
    steady::time_point idle_since{};
    bool reused = false;
    deadline_watchdog watchdog; // after the socket: it closes it, so it goes first

    // Everything from now on must be done by `until`.
    void start(steady::time_point until) { watchdog.arm(until); }
    void finish() { watchdog.disarm(); }
    bool timed_out() const { return watchdog.expired(); }
    // Anything to read on a connection with no request outstanding: bytes buffered by us or by
    // the TLS client, bytes waiting in the socket, or the peer's FIN or reset. One non-blocking
    // peek at the socket, which leaves what it finds in place.
    bool has_unsolicited_input() {
        if (buffer.size() != 0 || (tls && tls->has_buffered_input()))
            return true;
        char byte = 0;
        const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    }
    // Closed by close() or by the watchdog: never to be used or pooled again.
    bool closed() const { return closed_; }
    void close() {
        watchdog.stop();
        close_socket();
    }

private:
    bool closed_ = false;
    void close_socket() {
        closed_ = true;
        error_code ignored;
        socket.close(ignored);
    }
};

upstream_client::upstream_client(asio::any_io_executor ex, const upstream_config& cfg)
    : ex_(ex)
    , cfg_(cfg)
    , tls_ctx_(ssl::context::tls_client)
    , slot_freed_(ex, std::chrono::steady_clock::time_point::max())
    , alive_(std::make_shared<bool>(true)) {
    auto url = parse_upstream_url(cfg_.base_url);
    if (!url)
        throw std::runtime_error("upstream.base_url: not a valid http(s) URL");
    url_ = std::move(*url);
    if (cfg_.max_connections == 0)
        cfg_.max_connections = 1;

    SSL_CTX_set_min_proto_version(tls_ctx_.native_handle(), TLS1_2_VERSION);
    tls_ctx_.set_verify_mode(ssl::verify_peer);
    error_code ec;
    if (cfg_.ca_file.empty())
        tls_ctx_.set_default_verify_paths(ec);
    else
        tls_ctx_.load_verify_file(cfg_.ca_file, ec);
    if (ec) {
        throw std::runtime_error(cfg_.ca_file.empty()
                                     ? "cannot load the system trust store: " + ec.message()
                                     : "upstream.ca_file " + cfg_.ca_file + ": " + ec.message());
    }
}

upstream_client::~upstream_client() {
    *alive_ = false;
    for (auto& c : idle_)
        c->close();
}

upstream_stats upstream_client::stats() const {
    upstream_stats s = stats_;
    s.open_connections = open_;
    s.idle_connections = idle_.size();
    return s;
}

void upstream_client::shutdown() {
    stopping_ = true;
    for (auto& c : idle_)
        c->close();
    open_ -= idle_.size();
    idle_.clear();
    slot_freed_.cancel();
}

void upstream_client::close_expired_idle() {
    const auto now = std::chrono::steady_clock::now();
    while (!idle_.empty() && now - idle_.front()->idle_since >= cfg_.idle_timeout) {
        idle_.front()->close();
        idle_.pop_front();
        --open_;
        slot_freed_.cancel();
    }
}

asio::awaitable<void> upstream_client::reap_idle(upstream_client* self) {
    std::weak_ptr<bool> alive = self->alive_;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
        if (alive.expired() || self->idle_.empty() || self->stopping_)
            break;
        // The oldest idle connection expires first; sleep until then.
        timer.expires_at(self->idle_.front()->idle_since + self->cfg_.idle_timeout);
        co_await timer.async_wait(use_nothrow);
        if (alive.expired())
            co_return;
        self->close_expired_idle();
    }
    if (!alive.expired())
        self->reaper_running_ = false;
}

void upstream_client::release(connection_ptr conn, bool reusable) {
    // A connection its watchdog closed (a reply completed in the same turn as the deadline) has
    // no watchdog left and cannot go back into the pool.
    if (reusable && !stopping_ && !conn->closed()) {
        conn->idle_since = std::chrono::steady_clock::now();
        conn->reused = true;
        idle_.push_back(std::move(conn));
        if (!reaper_running_) {
            reaper_running_ = true;
            asio::co_spawn(ex_, reap_idle(this), asio::detached);
        }
    } else {
        conn->close();
        --open_;
    }
    slot_freed_.cancel();
}

asio::awaitable<upstream_client::connection_ptr>
upstream_client::connect(std::chrono::steady_clock::time_point request_deadline,
                         upstream_result& failure) {
    auto conn =
        std::make_shared<connection>(ex_, url_.tls ? &tls_ctx_ : nullptr, cfg_.request_timeout);
    tcp::resolver resolver(ex_);
    // connect_timeout, but never past the request's own deadline: a request waits for upstream
    // request_timeout in all, queue and connection included.
    asio::steady_timer deadline(
        ex_, std::min(std::chrono::steady_clock::now() + cfg_.connect_timeout, request_deadline));

    auto resolved = co_await (resolver.async_resolve(url_.host, url_.port, use_nothrow) ||
                              deadline.async_wait(use_nothrow));
    if (resolved.index() == 1) {
        failure.ec = upstream_errc::timeout;
        failure.detail = "resolving " + url_.host + " timed out";
        co_return nullptr;
    }
    auto [rec, endpoints] = std::get<0>(resolved);
    if (rec) {
        failure.ec = upstream_errc::connect_failed;
        failure.detail = "resolving " + url_.host + ": " + rec.message();
        co_return nullptr;
    }

    conn->start(deadline.expiry());
    auto [cec, ep] = co_await asio::async_connect(conn->socket, endpoints, use_nothrow);
    // `closed` without an error: the deadline had passed before the connect began (the watchdog
    // ran first and closed nothing yet open), so the connection would have no time limit left.
    if (cec || conn->closed()) {
        failure.ec = conn->timed_out() ? upstream_errc::timeout : upstream_errc::connect_failed;
        failure.detail = "connecting to " + url_.host + ":" + url_.port + ": " +
                         (conn->timed_out() ? "timed out" : cec.message());
        conn->close();
        co_return nullptr;
    }
    conn->socket.set_option(tcp::no_delay(true));
    ++stats_.connects;

    if (conn->tls) {
        if (!conn->tls->expect_peer(url_.host)) {
            failure.ec = upstream_errc::tls_handshake_failed;
            failure.detail = "TLS handshake with " + url_.host + ":" + url_.port +
                             ": OpenSSL does not accept the host name for verification";
            conn->close();
            co_return nullptr;
        }
        const error_code hec = co_await conn->tls->handshake();
        if (hec || conn->closed()) {
            failure.ec =
                conn->timed_out() ? upstream_errc::timeout : upstream_errc::tls_handshake_failed;
            failure.detail =
                "TLS handshake with " + url_.host + ":" + url_.port + ": " +
                (conn->timed_out() ? "timed out"
                                   : tls_failure_reason(hec, conn->tls->native_handle()));
            conn->close();
            co_return nullptr;
        }
        ++stats_.tls_handshakes;
    }
    conn->finish();
    co_return conn;
}

asio::awaitable<upstream_client::connection_ptr>
upstream_client::acquire(std::chrono::steady_clock::time_point deadline, upstream_result& failure) {
    for (;;) {
        if (stopping_) {
            failure.ec = upstream_errc::shutting_down;
            failure.detail = "shutting down";
            co_return nullptr;
        }
        close_expired_idle();
        if (!idle_.empty()) {
            // Most recently used first: it is the least likely to have been closed by upstream.
            auto conn = std::move(idle_.back());
            idle_.pop_back();
            // Bytes that arrived on an idle connection answer no request of ours (a reply
            // longer than its framing said): whatever they are, they must never be read as the
            // next request's reply. A connection upstream closed is dropped here too, before
            // the request is sent into it.
            if (conn->has_unsolicited_input()) {
                ++stats_.discarded_connections;
                conn->close();
                --open_;
                slot_freed_.cancel();
                continue;
            }
            co_return conn;
        }
        if (open_ < cfg_.max_connections) {
            ++open_;
            auto conn = co_await connect(deadline, failure);
            if (!conn) {
                --open_;
                slot_freed_.cancel();
            }
            co_return conn;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            failure.ec = upstream_errc::timeout;
            failure.detail =
                "no upstream connection became free within upstream.request_timeout_ms";
            co_return nullptr;
        }
        asio::steady_timer timeout(ex_, deadline);
        co_await (slot_freed_.async_wait(use_nothrow) || timeout.async_wait(use_nothrow));
    }
}

namespace {

// The request as it goes on the wire, built once per send (and reused by its retry).
std::string serialise_request(const upstream_request& r, const upstream_url& url) {
    std::string out;
    out.reserve(256 + r.authorization.size() + r.body.size());
    out += http::to_string(r.method);
    out += ' ';
    out += url.base_path;
    out += r.target;
    out += " HTTP/1.1\r\nHost: ";
    out += url.host_header;
    out += "\r\nUser-Agent: synergy-tokend/" SYNERGY_TOKEND_VERSION "\r\nAccept: ";
    out += r.accept.empty() ? std::string_view("application/json") : std::string_view(r.accept);
    out += "\r\n";
    if (!r.content_type.empty()) {
        out += "Content-Type: ";
        out += r.content_type;
        out += "\r\n";
    }
    if (!r.authorization.empty()) {
        out += "Authorization: ";
        out += r.authorization;
        out += "\r\n";
    }
    for (const auto& [name, value] : r.fields) {
        out += name;
        out += ": ";
        out += value;
        out += "\r\n";
    }
    if (r.method != http::verb::get || !r.body.empty()) {
        out += "Content-Length: ";
        out += std::to_string(r.body.size());
        out += "\r\n";
    }
    out += "\r\n";
    out += r.body;
    return out;
}

constexpr std::size_t read_chunk = 8 * 1024; // bytes of reply asked for per read

} // namespace

asio::awaitable<error_code> upstream_client::write_request(connection& c, const std::string& wire) {
    // Each co_await in a statement of its own: GCC 12 miscompiles co_await inside ?:.
    if (c.tls) {
        const error_code ec = co_await c.tls->write(asio::buffer(wire));
        co_return ec;
    }
    auto [ec, written] = co_await asio::async_write(c.socket, asio::buffer(wire), use_nothrow);
    co_return ec;
}

// One read of at most read_chunk bytes into c.buffer, not committed.
asio::awaitable<std::pair<error_code, std::size_t>> upstream_client::read_some(connection& c) {
    const auto space = c.buffer.prepare(read_chunk);
    if (c.tls) {
        const std::pair<error_code, std::size_t> got = co_await c.tls->read_some(space);
        co_return got;
    }
    auto [ec, n] = co_await c.socket.async_read_some(space, use_nothrow);
    co_return std::pair{ec, n};
}

// Writes the request and reads until `reader` has a final response or an error, parsing the
// bytes already read first (there are none: a connection with bytes left over is never reused).
asio::awaitable<error_code> upstream_client::exchange(connection& c, const std::string& wire,
                                                      reply_reader& reader) {
    const error_code ec = co_await write_request(c, wire);
    if (ec)
        co_return ec;
    // The reply cannot be there yet. Let the work that is ready run first: by then it often is,
    // and the first read finds it instead of costing a recv that finds nothing and a wait.
    co_await asio::post(c.socket.get_executor(), asio::use_awaitable);
    for (;;) {
        if (reader.feed(c.buffer) != reply_reader::state::need_more)
            co_return reader.error();
        const std::pair<error_code, std::size_t> got = co_await read_some(c);
        if (got.first) {
            // The end of the stream: clean with TLS close_notify (asio::error::eof from the TLS
            // client; a TCP close without it is stream_truncated) or a FIN on plain HTTP. A read
            // error keeps its own code when nothing of a reply had come yet, so that the caller
            // can tell a dead kept-alive connection from a failed exchange.
            const bool clean = got.first == asio::error::eof;
            if (!clean && !reader.got_some())
                co_return got.first;
            reader.end_of_stream(clean);
            co_return reader.error();
        }
        c.buffer.commit(got.second);
    }
}

namespace {

// The connection was closed or reset under the request, as a kept-alive connection that upstream
// closed while it was idle is.
bool connection_level_failure(const error_code& ec) {
    return ec == reply_errc::closed_before_reply || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == ssl::error::stream_truncated || ec == asio::error::connection_aborted ||
           ec == asio::error::not_connected;
}

bool is_parse_failure(const error_code& ec) {
    return ec.category() == http::make_error_code(http::error::bad_version).category() ||
           ec == reply_errc::unexpected_upgrade || ec == reply_errc::too_many_interim ||
           ec == reply_errc::bad_status;
}

// The outcome of a failed exchange: ec the exchange's error, `timed_out` whether the watchdog
// cut it (then `timeout_text` is the detail).
void describe_failure(const error_code& ec, bool timed_out, const char* timeout_text,
                      error_code& out, std::string& detail) {
    if (timed_out) {
        out = upstream_errc::timeout;
        detail = timeout_text;
    } else if (is_parse_failure(ec) || ec == http::error::body_limit ||
               ec == http::error::header_limit) {
        out = upstream_errc::bad_response;
        detail = ec.message();
    } else {
        out = upstream_errc::connection_lost;
        detail = ec ? ec.message() : std::string("no reply");
    }
}

} // namespace

asio::awaitable<upstream_result> upstream_client::send(upstream_request request) {
    const auto started = std::chrono::steady_clock::now();
    const auto deadline = started + cfg_.request_timeout;
    upstream_result result;
    ++stats_.requests;

    const std::string wire = serialise_request(request, url_);
    const bool head = request.method == http::verb::head;

    // Each pass takes one connection. A kept-alive one found dead before any byte of the reply
    // is closed and the request sent again on the next (nothing reached upstream's application:
    // safe for a POST as for a GET). A fresh connection is never retried here, so the loop ends
    // after at most max_connections reused ones and one fresh one, and always with an outcome.
    for (std::size_t pass = 0;; ++pass) {
        if (pass > cfg_.max_connections || std::chrono::steady_clock::now() >= deadline) {
            result.ec = upstream_errc::timeout;
            result.detail = "no complete reply within upstream.request_timeout_ms";
            break;
        }
        auto conn = co_await acquire(deadline, result);
        if (!conn)
            break; // acquire() set the error
        const bool was_reused = conn->reused;
        reply_reader reader(max_upstream_body, max_upstream_header, head);
        conn->start(deadline);
        const error_code ec = co_await exchange(*conn, wire, reader);
        if (!ec && reader.current() == reply_reader::state::done) {
            const bool reusable = reader.reusable(conn->buffer);
            result.response = reader.take();
            result.ec = {};
            result.detail.clear();
            conn->finish();
            release(std::move(conn), reusable);
            break;
        }
        const bool nothing_received = !reader.got_some();
        const bool timed_out = conn->timed_out();
        release(std::move(conn), false);
        if (was_reused && nothing_received && !timed_out && connection_level_failure(ec)) {
            ++stats_.resent;
            continue;
        }
        describe_failure(ec, timed_out, "no complete reply within upstream.request_timeout_ms",
                         result.ec, result.detail);
        break;
    }
    result.latency = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
    latency_.observe(result.latency);
    if (result.ec)
        ++stats_.errors;
    else
        stats_.last_latency = result.latency;
    co_return result;
}

// Writes the request, then reads and passes on: the header to the consumer once, then each
// window of body bytes, before reading more (so upstream is never read faster than the consumer
// takes). The watchdog is armed `idle` ahead after every step of progress.
asio::awaitable<error_code> upstream_client::stream_exchange(connection& c, const std::string& wire,
                                                             reply_stream_reader& reader,
                                                             reply_consumer& consumer,
                                                             steady::duration idle,
                                                             upstream_stream_result& result) {
    const error_code wec = co_await write_request(c, wire);
    if (wec)
        co_return wec;
    c.start(steady::now() + idle);
    bool collect = false;
    for (;;) {
        const reply_stream_reader::state state = reader.feed(c.buffer);
        if (state == reply_stream_reader::state::header) {
            result.header_seen = true;
            const reply_head head{reader.header(), reader.body_length()};
            const reply_consumer::choice choice = co_await consumer.header(head);
            if (choice == reply_consumer::choice::stop) {
                result.stopped = true;
                co_return asio::error::operation_aborted;
            }
            result.response = http::response<http::string_body>(reader.header());
            collect = choice == reply_consumer::choice::collect;
            result.streamed = !collect;
            c.start(steady::now() + idle);
            continue;
        }
        // Body bytes come after the header (a reply that failed in the same read as its header
        // came may have some the consumer never sees).
        const std::string_view bytes = reader.body_bytes();
        if (!bytes.empty() && result.header_seen) {
            if (collect) {
                if (result.response.body().size() + bytes.size() > max_upstream_body)
                    co_return http::error::body_limit;
                result.response.body() += bytes;
            } else {
                const bool more = co_await consumer.body(bytes);
                result.body_bytes += bytes.size();
                if (!more) {
                    result.stopped = true;
                    co_return asio::error::operation_aborted;
                }
            }
            reader.body_taken();
            c.start(steady::now() + idle);
        }
        if (state == reply_stream_reader::state::done ||
            state == reply_stream_reader::state::failed)
            co_return reader.error();
        if (state == reply_stream_reader::state::body)
            continue;
        const std::pair<error_code, std::size_t> got = co_await read_some(c);
        if (got.first) {
            // As exchange(): a clean end may end an EOF-delimited body; a read error keeps its
            // code when nothing of a reply had come yet.
            const bool clean = got.first == asio::error::eof;
            if (!clean && !reader.got_some())
                co_return got.first;
            reader.end_of_stream(clean);
            co_return reader.error();
        }
        c.buffer.commit(got.second);
        c.start(steady::now() + idle);
    }
}

asio::awaitable<upstream_stream_result> upstream_client::stream(upstream_request request,
                                                                reply_consumer& consumer) {
    const auto started = steady::now();
    const auto idle = cfg_.request_timeout;
    const auto deadline = started + idle; // for the queue and the connection
    upstream_stream_result result;
    ++stats_.requests;

    const std::string wire = serialise_request(request, url_);
    const bool head = request.method == http::verb::head;
    // The passes of send(): a kept-alive connection found dead before any byte of the reply
    // (the consumer has seen nothing) is replaced and the request sent again.
    for (std::size_t pass = 0;; ++pass) {
        if (pass > cfg_.max_connections || steady::now() >= deadline) {
            result.ec = upstream_errc::timeout;
            result.detail = "no upstream connection within the timeout";
            break;
        }
        upstream_result failure;
        auto conn = co_await acquire(deadline, failure);
        if (!conn) {
            result.ec = failure.ec;
            result.detail = std::move(failure.detail);
            break;
        }
        const bool was_reused = conn->reused;
        reply_stream_reader reader(max_upstream_header, head);
        conn->start(steady::now() + idle);
        const error_code ec = co_await stream_exchange(*conn, wire, reader, consumer, idle, result);
        if (!ec && reader.current() == reply_stream_reader::state::done) {
            const bool reusable = reader.reusable(conn->buffer);
            result.ec = {};
            result.detail.clear();
            conn->finish();
            release(std::move(conn), reusable);
            break;
        }
        const bool nothing_received = !reader.got_some();
        const bool timed_out = conn->timed_out();
        release(std::move(conn), false);
        if (was_reused && nothing_received && !timed_out && !result.stopped &&
            connection_level_failure(ec)) {
            ++stats_.resent;
            continue;
        }
        if (result.stopped) {
            result.ec = upstream_errc::connection_lost;
            result.detail = "the reply's reader stopped";
        } else {
            describe_failure(ec, timed_out, "upstream idle for longer than the timeout", result.ec,
                             result.detail);
        }
        break;
    }
    result.latency = std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - started);
    latency_.observe(result.latency);
    if (result.ec)
        ++stats_.errors;
    else
        stats_.last_latency = result.latency;
    co_return result;
}

} // namespace synergy_tokend
