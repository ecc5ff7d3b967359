#include "mock_server.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "control_api.hpp"
#include "log.hpp"
#include "mock_api.hpp"

namespace synergy_auth_mock {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds tls_shutdown_timeout{5000};
// Long enough for close_notify to be written, too short for a client to answer it.
constexpr std::chrono::milliseconds notify_close_wait{50};

using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

// The completion handler of every co_spawn: one failing coroutine is logged, the rest go on.
// `what` must be a string literal.
auto log_exception(const char* what) {
    return [what](std::exception_ptr failure) {
        if (!failure)
            return;
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            log_line(std::string(what) + " failed: " + e.what());
        }
    };
}

std::string_view path_of(const request& req) {
    const std::string_view target = req.target();
    return target.substr(0, target.find('?'));
}

// The read's error as a reply to send before closing, if it is the client's fault.
std::optional<std::pair<unsigned, std::string>> read_error_reply(const beast::error_code& ec) {
    if (ec == http::error::body_limit)
        return std::pair{413u, "request body too large"};
    if (ec == http::error::header_limit)
        return std::pair{431u, "request header too large"};
    if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message)
        return std::pair{400u, "malformed HTTP request: " + ec.message()};
    return std::nullopt;
}

// A wait for the next request on a kept-alive connection, cut short by a keep-alive timeout
// (settings keepalive_idle). Shared with the timer's handler, which may outlive the wait.
struct idle_watch {
    beast::tcp_stream* stream; // null once the wait is over
    bool fired = false;
};

// Counts a connection as open for the object's lifetime.
class open_connection {
public:
    explicit open_connection(counters& count)
        : count_(count) {
        ++count_.open_connections;
        count_.max_open_connections =
            std::max(count_.max_open_connections, count_.open_connections);
    }
    ~open_connection() { --count_.open_connections; }
    open_connection(const open_connection&) = delete;
    open_connection& operator=(const open_connection&) = delete;

private:
    counters& count_;
};

// One API connection: optional TLS handshake, then requests until the client leaves, an error,
// a timeout, "Connection: close", or a fault says otherwise.
//
// GCC 12 miscompiled a first version of this class (SIGILL, then SIGSEGV, on entering the
// plain-HTTP instantiation's coroutines). That version had co_await inside `if constexpr`, `?:`,
// `&&` and `switch` conditions, and both session types as locals of one coroutine; no single one
// of these reproduced the crash alone. Hence the shape here: every co_await in a statement of its
// own, tag dispatch on TLS, one connection coroutine per stream type.
template <class Stream>
class api_session {
public:
    api_session(Stream stream, mock_state& state, connection_registry& registry,
                const server_options& options)
        : stream_(std::move(stream))
        , timer_(stream_.get_executor())
        , state_(state)
        , options_(options)
        , open_(state.count)
        , membership_(registry, beast::get_lowest_layer(stream_), &timer_) {}

    asio::awaitable<void> run() {
        const bool secured = co_await handshake(uses_tls{});
        if (!secured)
            co_return;
        for (;;) {
            const next what_next = co_await serve_one();
            switch (what_next) {
            case next::read_again:
                break;
            case next::close:
                co_await close_gracefully(uses_tls{}, tls_shutdown_timeout);
                co_return;
            case next::notify_close:
                co_await close_gracefully(uses_tls{}, notify_close_wait);
                co_return;
            case next::close_now:
                co_return; // the destructor closes the socket, without TLS close_notify
            case next::hold:
                co_await hold();
                co_return;
            }
        }
    }

private:
    using uses_tls = std::bool_constant<std::is_same_v<Stream, tls_stream>>;

    enum class next {
        read_again,
        close,        // close_notify, wait (a while) for the client's, close
        notify_close, // close_notify, close at once (as servers do on a keep-alive timeout)
        close_now,    // close, no close_notify
        hold,
    };

    beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(stream_); }

    asio::awaitable<next> serve_one() {
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(options_.header_limit));
        parser.body_limit(options_.body_limit);

        beast::error_code ec;
        std::size_t bytes = 0;
        const std::shared_ptr<idle_watch> watch = watch_idle();
        tcp_layer().expires_after(options_.idle_timeout);
        std::tie(ec, bytes) = co_await http::async_read_header(stream_, buffer_, parser, use_tuple);
        if (watch) {
            watch->stream = nullptr;
            timer_.cancel();
            if (watch->fired && ec && !membership_.closed()) {
                log_line("api: keep-alive connection idle for " +
                         std::to_string(
                             state_.config.keepalive_idle.value_or(std::chrono::milliseconds{})
                                 .count()) +
                         " ms: closing");
                co_return next::notify_close;
            }
        }
        if (!ec && beast::iequals(parser.get()[http::field::expect], "100-continue")) {
            http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
            tcp_layer().expires_after(options_.idle_timeout);
            std::tie(ec, bytes) = co_await http::async_write(stream_, go_on, use_tuple);
        }
        if (!ec && !parser.is_done()) {
            tcp_layer().expires_after(options_.idle_timeout);
            std::tie(ec, bytes) = co_await http::async_read(stream_, buffer_, parser, use_tuple);
        }
        if (membership_.closed())
            co_return next::close_now;
        if (ec == http::error::end_of_stream)
            co_return next::close;
        if (ec) {
            const auto reply = read_error_reply(ec);
            if (!reply)
                co_return next::close_now;
            response res = unparsable_request_reply(state_, reply->first, reply->second);
            log_line("api: " + std::to_string(reply->first) + " " + reply->second);
            const bool sent = co_await write(std::move(res));
            co_return sent ? next::close : next::close_now;
        }

        const request req = parser.release();
        const api_ticket ticket = begin_api_request(state_, req);
        if (ticket.delay.count() > 0) {
            const bool still_open = co_await pause(ticket.delay);
            if (!still_open)
                co_return next::close_now;
        }
        api_outcome outcome = finish_api_request(state_, ticket, req);
        log_exchange(ticket, req, outcome);

        switch (outcome.action) {
        case api_action::reply: {
            const bool keep_alive = outcome.res.keep_alive();
            const bool sent = co_await write(std::move(outcome.res));
            if (!sent)
                co_return next::close_now;
            ++served_;
            co_return keep_alive ? next::read_again : next::close;
        }
        case api_action::raw: {
            const raw_end end = outcome.raw.end;
            const bool sent = co_await write_raw(std::move(outcome.raw));
            if (!sent)
                co_return next::close_now;
            ++served_;
            if (end == raw_end::keep_alive)
                co_return next::read_again;
            if (end == raw_end::close_notify)
                co_return next::notify_close;
            co_return next::close_now;
        }
        case api_action::stream: {
            const stream_reply spec = outcome.stream;
            const bool sent = co_await write_stream(std::move(outcome.res), spec);
            if (!sent || spec.cut)
                co_return next::close_now;
            ++served_;
            co_return spec.framing == stream_framing::eof ? next::notify_close : next::read_again;
        }
        case api_action::truncate:
            co_await write_half(std::move(outcome.res));
            co_return next::close_now;
        case api_action::drop:
            co_return next::close_now;
        case api_action::stall:
            co_return next::hold;
        case api_action::stall_body:
            co_await write_half(std::move(outcome.res));
            co_return next::hold;
        }
        co_return next::close_now;
    }

    void log_exchange(const api_ticket& ticket, const request& req, const api_outcome& outcome) {
        std::string line = "api #" + std::to_string(ticket.request_id) + " " +
                           std::string(req.method_string()) + " " + std::string(path_of(req)) +
                           " -> ";
        if (outcome.action == api_action::reply || outcome.action == api_action::truncate ||
            outcome.action == api_action::stall_body || outcome.action == api_action::raw ||
            outcome.action == api_action::stream)
            line += std::to_string(outcome.res.result_int());
        else
            line += "no reply";
        if (!outcome.log_note.empty())
            line += " (" + outcome.log_note + ")";
        log_line(line);
    }

    // Arms the keep-alive timeout when the settings have one and this connection waits for its
    // second or later request; null otherwise. On expiry the pending read is cancelled.
    std::shared_ptr<idle_watch> watch_idle() {
        if (served_ == 0 || !state_.config.keepalive_idle || buffer_.size() > 0)
            return nullptr;
        auto watch = std::make_shared<idle_watch>(idle_watch{&tcp_layer()});
        timer_.expires_after(*state_.config.keepalive_idle);
        timer_.async_wait([watch](const beast::error_code& ec) {
            if (ec || watch->stream == nullptr)
                return;
            watch->fired = true;
            watch->stream->cancel();
        });
        return watch;
    }

    // False if the connection was closed meanwhile, or a write failed.
    asio::awaitable<bool> write_raw(raw_reply raw) {
        if (raw.byte_records) {
            // One TLS record per byte is not enough: each must leave at once, not coalesced.
            beast::error_code ignored;
            tcp_layer().socket().set_option(tcp::no_delay(true), ignored);
        }
        for (std::size_t i = 0; i < raw.writes.size(); ++i) {
            if (i > 0 && raw.gap.count() > 0) {
                const bool still_open = co_await pause(raw.gap);
                if (!still_open)
                    co_return false;
            }
            const bool sent = co_await write_bytes(std::move(raw.writes[i]), raw.byte_records);
            if (!sent)
                co_return false;
        }
        co_return true;
    }

    // `bytes` in one write, or one write per byte.
    asio::awaitable<bool> write_bytes(std::string bytes, bool byte_by_byte) {
        const std::size_t step = byte_by_byte ? 1 : std::max<std::size_t>(bytes.size(), 1);
        for (std::size_t at = 0; at < bytes.size(); at += step) {
            tcp_layer().expires_after(options_.idle_timeout);
            const auto [ec, written] = co_await asio::async_write(
                stream_, asio::buffer(bytes.data() + at, std::min(step, bytes.size() - at)),
                use_tuple);
            if (ec || membership_.closed())
                co_return false;
        }
        co_return true;
    }

    // False if the connection was closed meanwhile.
    asio::awaitable<bool> pause(std::chrono::milliseconds duration) {
        timer_.expires_after(duration);
        const auto [ec] = co_await timer_.async_wait(use_tuple);
        co_return !ec && !membership_.closed();
    }

    asio::awaitable<bool> write(response res) {
        tcp_layer().expires_after(options_.idle_timeout);
        const auto [ec, bytes] = co_await http::async_write(stream_, res, use_tuple);
        co_return !ec;
    }

    // The header of `res` framed as `spec` says, then the generated body (mock_api.hpp). False if
    // the connection was closed meanwhile or a write failed.
    asio::awaitable<bool> write_stream(response res, stream_reply spec) {
        if (spec.framing == stream_framing::length)
            res.content_length(spec.size);
        else if (spec.framing == stream_framing::chunked)
            res.set(http::field::transfer_encoding, "chunked");
        else
            res.keep_alive(false);
        http::response_serializer<http::string_body> serializer{res};
        tcp_layer().expires_after(options_.idle_timeout);
        const auto [ec, bytes] = co_await http::async_write_header(stream_, serializer, use_tuple);
        if (ec || membership_.closed())
            co_return false;
        const std::uint64_t total = spec.cut ? std::min(*spec.cut, spec.size) : spec.size;
        std::string piece;
        for (std::uint64_t at = 0; at < total;) {
            if (at > 0 && spec.interval.count() > 0) {
                const bool still_open = co_await pause(spec.interval);
                if (!still_open)
                    co_return false;
            }
            const std::size_t n =
                static_cast<std::size_t>(std::min<std::uint64_t>(spec.piece, total - at));
            piece.clear();
            if (spec.framing == stream_framing::chunked) {
                char line[24];
                piece += std::string_view(
                    line, static_cast<std::size_t>(std::snprintf(line, sizeof line, "%zx\r\n", n)));
            }
            for (std::size_t i = 0; i < n; ++i)
                piece += static_cast<char>('a' + (at + i) % 26);
            if (spec.framing == stream_framing::chunked)
                piece += "\r\n";
            at += n;
            if (spec.framing == stream_framing::chunked && at == spec.size)
                piece += "0\r\n\r\n";
            const bool sent = co_await write_bytes(std::move(piece), false);
            if (!sent)
                co_return false;
            piece = std::string();
        }
        if (spec.framing == stream_framing::chunked && spec.size == 0) {
            const bool sent = co_await write_bytes("0\r\n\r\n", false);
            co_return sent;
        }
        co_return true;
    }

    // The headers as for the whole body (Content-Length included), then half of the body.
    asio::awaitable<void> write_half(response res) {
        http::response_serializer<http::string_body> serializer{res};
        tcp_layer().expires_after(options_.idle_timeout);
        const auto [ec, bytes] = co_await http::async_write_header(stream_, serializer, use_tuple);
        if (ec)
            co_return;
        const std::string& body = res.body();
        co_await asio::async_write(stream_, asio::buffer(body.data(), body.size() / 2), use_tuple);
    }

    // Reads and discards until the client closes (or stop()/down closes the connection).
    asio::awaitable<void> hold() {
        tcp_layer().expires_never();
        std::array<char, 4096> discard;
        for (;;) {
            const auto [ec, bytes] =
                co_await stream_.async_read_some(asio::buffer(discard), use_tuple);
            if (ec)
                co_return;
        }
    }

    // False if the TLS handshake failed.
    asio::awaitable<bool> handshake(std::true_type /*tls*/) {
        tcp_layer().expires_after(options_.idle_timeout);
        const auto [ec] = co_await stream_.async_handshake(ssl::stream_base::server, use_tuple);
        if (ec) {
            if (!membership_.closed())
                log_line("api: TLS handshake failed: " + ec.message());
            co_return false;
        }
        ++state_.count.tls_handshakes;
        co_return true;
    }
    asio::awaitable<bool> handshake(std::false_type /*tls*/) { co_return true; }

    // `wait`: for the client's close_notify; the TCP connection is closed when it has passed.
    asio::awaitable<void> close_gracefully(std::true_type /*tls*/, std::chrono::milliseconds wait) {
        if (membership_.closed())
            co_return;
        tcp_layer().expires_after(wait);
        co_await stream_.async_shutdown(use_tuple);
    }
    asio::awaitable<void> close_gracefully(std::false_type /*tls*/, std::chrono::milliseconds) {
        beast::error_code ignored;
        tcp_layer().socket().shutdown(tcp::socket::shutdown_send, ignored);
        co_return;
    }

    Stream stream_;
    asio::steady_timer timer_; // delays before a reply
    beast::flat_buffer buffer_;
    std::uint64_t served_ = 0; // replies sent on this connection
    mock_state& state_;
    const server_options& options_;
    open_connection open_;
    connection_registry::member membership_;
};

} // namespace

std::string format_endpoint(const tcp::endpoint& endpoint) {
    const std::string address = endpoint.address().to_string();
    const std::string port = std::to_string(endpoint.port());
    return endpoint.address().is_v6() ? "[" + address + "]:" + port : address + ":" + port;
}

// ---- connection_registry ----

connection_registry::member::member(connection_registry& registry, beast::tcp_stream& stream,
                                    asio::steady_timer* timer)
    : registry_(registry)
    , stream_(stream)
    , timer_(timer) {
    registry_.members_.insert(this);
}

connection_registry::member::~member() {
    registry_.members_.erase(this);
}

void connection_registry::close_all() {
    // Closing only queues the completions of pending operations, so members_ stays unchanged.
    for (member* m : members_) {
        m->closed_ = true;
        m->stream_.close();
        if (m->timer_ != nullptr)
            m->timer_->cancel();
    }
}

// ---- mock_server ----

mock_server::mock_server(asio::any_io_executor executor, server_options options, ssl::context* tls,
                         mock_state& state)
    : executor_(std::move(executor))
    , options_(std::move(options))
    , tls_(tls)
    , state_(state)
    , api_acceptor_(executor_)
    , control_acceptor_(executor_)
    , reopen_timer_(executor_) {
    beast::error_code bad_host;
    const auto address = asio::ip::make_address(options_.host, bad_host);
    if (bad_host)
        throw std::runtime_error("--host " + options_.host + ": not an IP address");
    for (auto [acceptor, port] : {std::pair{&api_acceptor_, options_.api_port},
                                  std::pair{&control_acceptor_, options_.control_port}}) {
        const tcp::endpoint endpoint{address, port};
        beast::error_code ec;
        acceptor->open(endpoint.protocol(), ec);
        // Lets /control/up rebind the port while old connections linger in TIME_WAIT.
        if (!ec)
            acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec)
            acceptor->bind(endpoint, ec);
        if (!ec)
            acceptor->listen(asio::socket_base::max_listen_connections, ec);
        if (ec)
            throw std::runtime_error("cannot listen on " + format_endpoint(endpoint) + ": " +
                                     ec.message());
    }
    api_endpoint_ = api_acceptor_.local_endpoint();
    control_endpoint_ = control_acceptor_.local_endpoint();
}

void mock_server::start() {
    asio::co_spawn(executor_, accept_api(api_generation_), log_exception("api accept loop"));
    asio::co_spawn(executor_, accept_control(), log_exception("control accept loop"));
}

void mock_server::stop() {
    stopping_ = true;
    close_api_acceptor();
    beast::error_code ignored;
    control_acceptor_.close(ignored);
    reopen_timer_.cancel();
    api_connections_.close_all();
    control_connections_.close_all();
}

template <class Stream>
asio::awaitable<void> mock_server::run_api_connection(Stream stream, std::uint64_t generation) {
    // /control/down (or stop) may have come between the accept and now.
    if (generation != api_generation_)
        co_return;
    api_session<Stream> session{std::move(stream), state_, api_connections_, options_};
    co_await session.run();
}

asio::awaitable<void> mock_server::accept_api(std::uint64_t generation) {
    for (;;) {
        auto [ec, socket] = co_await api_acceptor_.async_accept(use_tuple);
        if (generation != api_generation_)
            co_return; // this acceptor was closed (down or stop), and maybe reopened since
        if (ec) {
            // Such as EMFILE: wait a little rather than spin.
            log_line("api: accept failed: " + ec.message());
            asio::steady_timer backoff{executor_, std::chrono::milliseconds(50)};
            co_await backoff.async_wait(use_tuple);
            continue;
        }
        ++state_.count.connections;
        if (tls_ != nullptr) {
            tls_stream stream{std::move(socket), *tls_};
            asio::co_spawn(executor_, run_api_connection(std::move(stream), generation),
                           log_exception("api connection"));
        } else {
            plain_stream stream{std::move(socket)};
            asio::co_spawn(executor_, run_api_connection(std::move(stream), generation),
                           log_exception("api connection"));
        }
    }
}

asio::awaitable<void> mock_server::accept_control() {
    for (;;) {
        auto [ec, socket] = co_await control_acceptor_.async_accept(use_tuple);
        if (stopping_)
            co_return;
        if (ec) {
            log_line("control: accept failed: " + ec.message());
            asio::steady_timer backoff{executor_, std::chrono::milliseconds(50)};
            co_await backoff.async_wait(use_tuple);
            continue;
        }
        asio::co_spawn(executor_, run_control_connection(std::move(socket)),
                       log_exception("control connection"));
    }
}

asio::awaitable<void> mock_server::run_control_connection(tcp::socket socket) {
    if (stopping_)
        co_return;
    beast::tcp_stream stream{std::move(socket)};
    const connection_registry::member membership{control_connections_, stream};
    beast::flat_buffer buffer;

    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(options_.header_limit));
        parser.body_limit(options_.body_limit);
        stream.expires_after(options_.idle_timeout);
        const auto [read_error, read_bytes] =
            co_await http::async_read(stream, buffer, parser, use_tuple);
        if (read_error || membership.closed())
            break;

        const request req = parser.release();
        control_result result = handle_control(state_, req);
        if (result.down)
            take_api_down(result.down->duration);
        if (result.up) {
            if (auto failure = bring_api_up()) {
                result.res.result(http::status::internal_server_error);
                result.res.body() =
                    R"({"ok":false,"error":"cannot listen again: )" + *failure + R"("})";
                result.res.prepare_payload();
            }
        }
        log_line("control " + std::string(req.method_string()) + " " + std::string(path_of(req)) +
                 " -> " + std::to_string(result.res.result_int()));

        const bool keep_alive = result.res.keep_alive();
        stream.expires_after(options_.idle_timeout);
        const auto [write_error, written] =
            co_await http::async_write(stream, result.res, use_tuple);
        if (write_error || !keep_alive)
            break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

// ---- down and up ----

void mock_server::close_api_acceptor() {
    beast::error_code ignored;
    api_acceptor_.close(ignored);
    ++api_generation_;
}

void mock_server::take_api_down(std::optional<std::chrono::milliseconds> duration) {
    close_api_acceptor();
    api_connections_.close_all();
    ++down_generation_;
    reopen_timer_.cancel();
    if (duration)
        schedule_reopen(*duration);
    log_line(duration ? "api: down for " + std::to_string(duration->count()) + " ms"
                      : std::string("api: down until /control/up"));
}

void mock_server::schedule_reopen(std::chrono::milliseconds delay) {
    reopen_timer_.expires_after(delay);
    reopen_timer_.async_wait([this, generation = down_generation_](beast::error_code ec) {
        if (!ec && generation == down_generation_ && !stopping_)
            bring_api_up();
    });
}

std::optional<std::string> mock_server::bring_api_up() {
    if (stopping_ || api_acceptor_.is_open())
        return std::nullopt;
    ++down_generation_;
    reopen_timer_.cancel();

    beast::error_code ec;
    api_acceptor_.open(api_endpoint_.protocol(), ec);
    if (!ec)
        api_acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec)
        api_acceptor_.bind(api_endpoint_, ec);
    if (!ec)
        api_acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        close_api_acceptor();
        log_line("api: cannot listen on " + format_endpoint(api_endpoint_) +
                 " again: " + ec.message() + "; retrying");
        schedule_reopen(std::chrono::milliseconds(100));
        return ec.message();
    }

    ++api_generation_;
    asio::co_spawn(executor_, accept_api(api_generation_), log_exception("api accept loop"));
    log_line("api: up on " + format_endpoint(api_endpoint_));
    return std::nullopt;
}

} // namespace synergy_auth_mock
