#include "synergy_tokend/local_server.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>

#include "synergy_tokend/deadline_watchdog.hpp"
#include "synergy_tokend/http_reply.hpp"
#include "synergy_tokend/local_api.hpp"
#include "synergy_tokend/log.hpp"
#include "synergy_tokend/reply_sink.hpp"
#include "synergy_tokend/request_policy.hpp"
#include "synergy_tokend/router.hpp"
#include "synergy_tokend/send_all.hpp"

namespace synergy_tokend {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;
using boost::system::error_code;

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t read_chunk = 4096; // bytes asked of the socket per read
// After a refusal, how long and how much the peer may still send before the close (refuse()).
constexpr std::chrono::milliseconds linger_limit{2000};
constexpr std::size_t linger_bytes = 128 * 1024;

std::string endpoint_text(const tcp::endpoint& ep) {
    const auto addr = ep.address();
    return (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" +
           std::to_string(ep.port());
}

using steady = std::chrono::steady_clock;

// One client connection: its socket and the watchdog that cuts it off at its deadline (closing
// completes every pending operation with an error). The watchdog's horizon is the idle limit,
// the longest deadline a connection gets, so arming one hardly ever touches its timer.
template <class Protocol>
struct connection {
    connection(typename Protocol::socket s, steady::duration idle_limit)
        : socket(std::move(s))
        , watchdog(socket.get_executor(), idle_limit, [this] { close_socket(); }) {}

    typename Protocol::socket socket;
    deadline_watchdog watchdog; // after the socket: it closes it, so it goes first

    void expire_in(std::chrono::milliseconds d) { watchdog.arm_in(d); }
    void close() {
        watchdog.stop();
        close_socket();
    }

private:
    void close_socket() {
        error_code ignored;
        socket.shutdown(Protocol::socket::shutdown_both, ignored);
        socket.close(ignored);
    }
};

// Sends `buffers` whole (see send_all.hpp), within `timeout` once it has to wait for room.
template <class Protocol, class Buffers>
asio::awaitable<error_code> send_reply(connection<Protocol>& c, const Buffers& buffers,
                                       std::chrono::milliseconds timeout) {
    co_return co_await send_all(c.socket, buffers, [&c, timeout] { c.expire_in(timeout); });
}

// Writes `res` (HEAD: its header only) with the one serialiser of replies (http_reply.hpp).
template <class Protocol>
asio::awaitable<error_code> write_response(connection<Protocol>& c, local_response res,
                                           bool keep_alive, bool head,
                                           std::chrono::milliseconds timeout) {
    const std::string header = reply_header(res, keep_alive, head);
    const std::array<asio::const_buffer, 2> buffers{
        asio::buffer(header), head ? asio::const_buffer() : asio::buffer(res.body())};
    co_return co_await send_reply(c, buffers, timeout);
}

// The sink a route writes its streamed reply into (reply_sink.hpp). Each write is sent whole
// within `timeout` once it has to wait for room; between writes the connection has no deadline
// (the route's own idle timeout bounds the wait for upstream's next bytes).
template <class Protocol>
class socket_sink final : public reply_sink {
public:
    socket_sink(connection<Protocol>& c, bool keep_alive, bool http11,
                std::chrono::milliseconds timeout)
        : c_(c)
        , keep_alive_(keep_alive)
        , http11_(http11)
        , timeout_(timeout) {}

    asio::awaitable<error_code> begin(local_response& head,
                                      std::optional<std::uint64_t> length) override {
        begun_ = true;
        chunked_ = !length && http11_;
        const std::string header = streamed_reply_header(head, keep_alive_, length, chunked_);
        if (!head.keep_alive())
            broken_ = true; // closed after this reply (asked for, or the body ends with the close)
        co_return co_await send(asio::buffer(header));
    }

    asio::awaitable<error_code> write(std::string_view bytes) override {
        if (bytes.empty())
            co_return error_code{};
        if (!chunked_)
            co_return co_await send(asio::buffer(bytes.data(), bytes.size()));
        char size_line[24];
        const int n = std::snprintf(size_line, sizeof size_line, "%zx\r\n", bytes.size());
        const std::array<asio::const_buffer, 3> buffers{
            asio::buffer(size_line, static_cast<std::size_t>(n)),
            asio::buffer(bytes.data(), bytes.size()), asio::buffer("\r\n", 2)};
        co_return co_await send(buffers);
    }

    asio::awaitable<error_code> finish() override {
        if (!chunked_)
            co_return error_code{};
        co_return co_await send(asio::buffer("0\r\n\r\n", 5));
    }

    void abort() override {
        broken_ = true;
        c_.close();
    }

private:
    template <class Buffers>
    asio::awaitable<error_code> send(const Buffers& buffers) {
        const error_code ec = co_await send_reply(c_, buffers, timeout_);
        c_.watchdog.disarm();
        if (ec)
            broken_ = true;
        co_return ec;
    }

    connection<Protocol>& c_;
    bool keep_alive_;
    bool http11_;
    std::chrono::milliseconds timeout_;
    bool chunked_ = false;
};

using request_parser = http::request_parser<http::string_body>;

// The message of the 400 for a request whose complete header the local parser refuses
// (PRODUCT.md §6: framing, duplicate Host, a path that may not be forwarded), or "" when it may
// go on.
std::string header_refusal(const request_parser& parser) {
    const local_request& req = parser.get();
    framing_facts facts;
    facts.version = req.version();
    for (const auto& f : req) {
        switch (f.name()) {
        case http::field::host:
            ++facts.host_fields;
            break;
        case http::field::transfer_encoding:
            if (facts.transfer_encoding_fields++ == 0)
                facts.transfer_encoding = {f.value().data(), f.value().size()};
            break;
        case http::field::content_length:
            facts.has_content_length = true;
            break;
        default:
            break;
        }
    }
    framing_verdict framing = check_framing(facts);
    // Beast frames a body as chunked only for a last coding "chunked" in the first such field, and
    // as no body at all for any other coding: whatever check_framing() allows must be what Beast
    // reads as chunked, or the body would be parsed as the next request.
    if (framing == framing_verdict::allow && facts.transfer_encoding_fields != 0 &&
        !parser.chunked())
        framing = framing_verdict::transfer_encoding_not_chunked;
    if (framing != framing_verdict::allow)
        return describe(framing);
    const path_problem path =
        target_path_problem(std::string_view(req.target().data(), req.target().size()));
    if (path != path_problem::none)
        return std::string("refused request target: ") + describe(path);
    return {};
}

// How reading a request ended: ec as Beast's parser says (http::error::header_limit for a header
// block over the limit), or a refusal of its header.
struct read_outcome {
    error_code ec;
    std::string refusal;        // not empty: header_refusal()'s message; the body was not read
    std::size_t body_limit = 0; // the request's, once its header was read
};

// Reads the next request into `parser`, parsing the bytes already in `buffer` first.
// Unless `timed` (the deadline already covers this request), a request that does not arrive
// whole in its first read gets request_timeout from then on.
//
// The header block (request line, fields and the empty line ending them, CRLF CRLF included) may
// take `header_limit` bytes exactly: the parser is never shown more of an unfinished header than
// what is left of the limit. (Beast's own header_limit counts only the bytes of one put(), and a
// put() consumes the complete fields it parsed, so fed in reads it would take headers of any
// size; fed at once, it still lets the fields have the limit after the request line.)
//
// The body may take the limit local_api::body_limit() gives for the request's target (a route's
// max_body_bytes, else server_limits::body_limit): a Content-Length above it is refused before any
// byte of the body is read, a chunked body once it has grown past it (the parser's own limit,
// the largest of them all, bounds what is read meanwhile).
template <class Protocol>
asio::awaitable<read_outcome> read_request(connection<Protocol>& c, beast::flat_buffer& buffer,
                                           request_parser& parser, std::size_t header_limit,
                                           bool timed, std::chrono::milliseconds request_timeout,
                                           local_api* api) {
    std::size_t header_taken = 0; // bytes of the header block the parser has consumed
    bool header_checked = false;
    read_outcome out;
    error_code& ec = out.ec;
    for (;;) {
        if (buffer.size() != 0) {
            const bool in_header = !parser.is_header_done();
            const std::size_t used =
                parser.put(in_header ? asio::buffer(buffer.data(), header_limit - header_taken)
                                     : buffer.data(),
                           ec);
            buffer.consume(used);
            if (ec == http::error::need_more)
                ec = {};
            if (parser.is_header_done() && !header_checked) {
                header_checked = true;
                out.refusal = header_refusal(parser);
                if (!out.refusal.empty())
                    co_return out;
                const local_request& req = parser.get();
                out.body_limit = api->body_limit({req.target().data(), req.target().size()});
                if (parser.content_length() && *parser.content_length() > out.body_limit) {
                    ec = http::error::body_limit;
                    co_return out;
                }
            }
            if (!ec && header_checked && parser.get().body().size() > out.body_limit)
                ec = http::error::body_limit;
            if (ec || parser.is_done())
                co_return out;
            if (in_header) {
                header_taken += used;
                // The header reached the limit and is still not complete.
                if (!parser.is_header_done() && header_taken + buffer.size() >= header_limit) {
                    ec = http::error::header_limit;
                    co_return out;
                }
                // The header ended inside the window given: parse the body bytes after it.
                if (parser.is_header_done() && buffer.size() != 0)
                    continue;
            }
            if (!timed)
                c.expire_in(request_timeout);
            timed = true;
        }
        // (Asio tries the read at once, before it waits for readiness. Straight after a reply
        // that try finds nothing yet: a recv returning EAGAIN, which nginx does not make.
        // run_session yields before it reads when other connections are open; see there.)
        auto [rec, n] = co_await c.socket.async_read_some(buffer.prepare(read_chunk), use_nothrow);
        ec = rec;
        if (ec == asio::error::eof) {
            if (parser.got_some())
                parser.put_eof(ec);
            else
                ec = http::error::end_of_stream;
            co_return out;
        }
        if (ec)
            co_return out;
        buffer.commit(n);
    }
}

// Answers a request the server will not take and ends the connection: the reply, the end of
// sending, then whatever the peer still sends is read and dropped, for a bounded while, before
// run_session closes the socket. Closing with unread bytes would make the kernel reset the
// connection, and a reset can destroy the reply before the peer has read it.
template <class Protocol>
asio::awaitable<void> refuse(connection<Protocol>& c, local_response res,
                             std::chrono::milliseconds timeout) {
    if (co_await write_response(c, std::move(res), false, false, timeout))
        co_return;
    error_code ignored;
    c.socket.shutdown(Protocol::socket::shutdown_send, ignored);
    c.expire_in(std::min<std::chrono::milliseconds>(timeout, linger_limit));
    std::array<char, read_chunk> scratch;
    for (std::size_t dropped = 0; dropped < linger_bytes;) {
        auto [ec, n] = co_await c.socket.async_read_some(asio::buffer(scratch), use_nothrow);
        if (ec)
            break;
        dropped += n;
    }
}

// Returns once the peer has closed or reset the connection, or when cancelled: watched while a
// held reply waits (local_api.hpp), which is then cancelled. A peer that sends its next request
// meanwhile (pipelining) is not gone: the watch then only waits to be cancelled.
template <class Protocol>
asio::awaitable<void> peer_gone(connection<Protocol>* c) {
    for (;;) {
        auto [ec] = co_await c->socket.async_wait(Protocol::socket::wait_read, use_nothrow);
        if (ec)
            co_return; // cancelled (the reply is ready), or the socket failed
        char byte;
        const ssize_t n = ::recv(c->socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            co_return;
        if (n > 0) {
            asio::steady_timer forever(c->socket.get_executor(), steady::time_point::max());
            co_await forever.async_wait(use_nothrow);
            co_return;
        }
    }
}

// The held reply `response`, or nullopt when the peer went away first (the reply is then
// cancelled, and awaited to its end).
template <class Protocol>
asio::awaitable<std::optional<local_response>>
await_held(connection<Protocol>* c, asio::awaitable<local_response> response) {
    const auto ex = c->socket.get_executor();
    auto [order, reply_error, reply, watch_error] =
        co_await asio::experimental::make_parallel_group(
            asio::co_spawn(ex, std::move(response), asio::deferred),
            asio::co_spawn(ex, peer_gone(c), asio::deferred))
            .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    if (order[0] == 1)
        co_return std::nullopt;
    if (reply_error)
        std::rethrow_exception(reply_error);
    co_return std::move(reply);
}

// Reads requests and writes replies until the peer closes, a limit is hit, or the server stops.
// The connection and the session's slot are objects of this frame: however the session ends, the
// slot's destructor closes the connection and gives the slot back, and the connection's closes
// the descriptor.
template <class Protocol>
asio::awaitable<void> run_session(typename Protocol::socket socket, local_server* server) {
    const server_limits& limits = server->limits();
    local_api& api = server->api();
    connection<Protocol> c(std::move(socket), limits.idle_timeout);
    error_code ignored;
    c.socket.non_blocking(true, ignored);
    session_registry::slot slot(server->sessions(), [&c] { c.close(); });
    // Who is calling: asked of the kernel when a request first needs it (peer_identity.hpp).
    lazy_caller caller([&c, server] {
        caller_identity id;
        if constexpr (std::is_same_v<Protocol, tcp>) {
            error_code lec, rec;
            const auto local = c.socket.local_endpoint(lec);
            const auto remote = c.socket.remote_endpoint(rec);
            if (lec || rec)
                id.unknown_reason = "the connection is already closed";
            else
                id = identify_tcp_peer(local, remote, server->api().accounts());
            id.listener = lec ? std::string("tcp") : "tcp " + endpoint_text(local);
        } else {
            id = identify_unix_peer(c.socket.native_handle(), server->api().accounts());
            id.listener = "unix " + server->unix_path();
        }
        return id;
    });
    // The first request must arrive within request_timeout of the accept.
    c.expire_in(limits.request_timeout);
    beast::flat_buffer buffer;
    bool first = true;

    for (;;) {
        if (server->stopping())
            break;
        request_parser parser;
        parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
        parser.body_limit(std::max(limits.body_limit, api.largest_body_limit()));
        parser.eager(true); // parse the body too as soon as its bytes are there
        // A kept-alive connection may then idle idle_timeout before the next request's first
        // byte, which starts request_timeout for the rest (at once when it is already here).
        const bool pipelined = buffer.size() != 0;
        if (!first)
            c.expire_in(pipelined ? limits.request_timeout : limits.idle_timeout);
        // Let the other connections' ready work run before this one reads its next request. Under
        // load the client has usually sent it by then, so the read finds it at once: one recv per
        // request instead of a recv that finds nothing, a wait and another recv. Measured: about
        // 10% more keep-alive requests/s with 64 clients; alone, a connection reads at once.
        if (!first && !pipelined && server->open_connections() > 1)
            co_await asio::post(c.socket.get_executor(), asio::use_awaitable);
        const read_outcome got =
            co_await read_request(c, buffer, parser, limits.header_limit, first || pipelined,
                                  limits.request_timeout, &api);
        first = false;
        const error_code& ec = got.ec;
        // The request as far as it was parsed, for the count of a refusal.
        const local_request& partial = parser.get();
        if (!got.refusal.empty()) {
            co_await refuse(c, api.refusal(400, got.refusal, partial), limits.request_timeout);
            break;
        }
        if (ec == http::error::header_limit) {
            co_await refuse(
                c,
                api.refusal(431,
                            "request header over " + std::to_string(limits.header_limit) + " bytes",
                            partial),
                limits.request_timeout);
            break;
        }
        if (ec == http::error::body_limit) {
            const std::size_t limit = got.body_limit != 0 ? got.body_limit : limits.body_limit;
            co_await refuse(
                c,
                api.refusal(413, "request body over " + std::to_string(limit) + " bytes", partial),
                limits.request_timeout);
            break;
        }
        if (ec) {
            // A malformed request gets a 400; a closed, reset or too slow peer gets nothing.
            if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
                ec != http::error::end_of_stream && ec != http::error::partial_message)
                co_await refuse(
                    c, api.refusal(400, "malformed HTTP request: " + ec.message(), partial),
                    limits.request_timeout);
            break;
        }
        const bool keep_alive = parser.get().keep_alive();
        const bool head = parser.get().method() == http::verb::head;
        socket_sink<Protocol> sink(c, keep_alive && !server->stopping(),
                                   parser.get().version() >= 11, limits.request_timeout);
        local_reply reply = api.handle(std::move(parser.get()), !server->stopping(), caller, &sink);
        slot.busy(true);
        if (reply.bytes) {
            // The hot path: a reply already serialised, which says keep-alive.
            const error_code wec =
                co_await send_reply(c, asio::buffer(*reply.bytes), limits.request_timeout);
            slot.busy(false);
            if (wec)
                break;
            continue;
        }
        c.watchdog.disarm(); // the handler has its own time limits; a held wait has its own too
        local_response res;
        if (reply.held) {
            std::optional<local_response> held = co_await await_held(&c, std::move(reply.response));
            if (!held) {
                slot.busy(false);
                break; // the client went away while its request was held
            }
            res = std::move(*held);
        } else {
            res = co_await std::move(reply.response);
        }
        if (sink.begun()) { // the reply went out as it came (a route's)
            slot.busy(false);
            if (sink.broken() || !keep_alive || server->stopping())
                break;
            continue;
        }
        const error_code wec = co_await write_response(
            c, std::move(res), keep_alive && !server->stopping(), head, limits.request_timeout);
        slot.busy(false);
        if (wec || !keep_alive || server->stopping())
            break;
    }
}

void log_session_exception(std::exception_ptr e) {
    if (!e)
        return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        log::error("local_server", std::string("session ended by an internal error: ") + ex.what());
    }
}

template <class Protocol>
asio::awaitable<void> accept_loop(local_server* server, typename Protocol::acceptor* acceptor) {
    bool failing = false; // logged once per run of failures, not once per retry
    for (;;) {
        auto [ec, socket] = co_await acceptor->async_accept(use_nothrow);
        if (ec == asio::error::operation_aborted || !acceptor->is_open() || server->stopping())
            co_return;
        if (ec) {
            // Out of file descriptors and the like: say so, pause, keep serving.
            if (!failing)
                log::warn("local_server", "accept failed: " + ec.message() +
                                              "; new connections wait until it clears");
            failing = true;
            asio::steady_timer pause(co_await asio::this_coro::executor,
                                     std::chrono::milliseconds(100));
            co_await pause.async_wait(use_nothrow);
            continue;
        }
        if (failing)
            log::info("local_server", "accepting connections again");
        failing = false;
        if (server->at_capacity()) {
            error_code ignored;
            socket.close(ignored);
            continue;
        }
        if constexpr (std::is_same_v<Protocol, tcp>)
            socket.set_option(tcp::no_delay(true), ec);
        asio::co_spawn(acceptor->get_executor(), run_session<Protocol>(std::move(socket), server),
                       log_session_exception);
    }
}

// A stale socket file (no process answers) is removed; a live one is an error.
std::string prepare_unix_path(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0)
        return errno == ENOENT ? std::string() : std::string(std::strerror(errno));
    if (!S_ISSOCK(st.st_mode))
        return "exists and is not a socket";
    asio::io_context probe_ctx;
    unix_socket::socket probe(probe_ctx);
    error_code ec;
    probe.connect(unix_socket::endpoint(path), ec);
    if (!ec)
        return "another process is listening on it";
    if (::unlink(path.c_str()) != 0)
        return std::string("cannot remove the stale socket file: ") + std::strerror(errno);
    return {};
}

} // namespace

local_server::local_server(asio::any_io_executor ex, const listen_config& cfg, local_api& api)
    : ex_(ex)
    , cfg_(cfg)
    , api_(api) {
    limits_.request_timeout = cfg.request_timeout;
    limits_.idle_timeout = cfg.keepalive_idle;
}

local_server::~local_server() {
    if (!unix_path_bound_.empty())
        ::unlink(unix_path_bound_.c_str());
}

std::string local_server::open() {
    for (const auto& addr : cfg_.tcp) {
        const std::string name = "listen.tcp " + addr.host + ":" + std::to_string(addr.port);
        error_code ec;
        const auto ip = asio::ip::make_address(addr.host, ec);
        if (ec)
            return name + ": not an IP address";
        const tcp::endpoint ep(ip, addr.port);
        auto acceptor = std::make_unique<tcp::acceptor>(ex_);
        acceptor->open(ep.protocol(), ec);
        if (!ec)
            acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec)
            acceptor->bind(ep, ec);
        if (!ec)
            acceptor->listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
            tcp_.clear();
            return name + ": " + ec.message();
        }
        tcp_.push_back(std::move(acceptor));
    }
    if (!cfg_.unix_path.empty()) {
        const std::string name = "listen.unix " + cfg_.unix_path;
        if (auto problem = prepare_unix_path(cfg_.unix_path); !problem.empty()) {
            tcp_.clear();
            return name + ": " + problem;
        }
        error_code ec;
        auto acceptor = std::make_unique<unix_socket::acceptor>(ex_);
        const unix_socket::endpoint ep(cfg_.unix_path);
        acceptor->open(ep.protocol(), ec);
        if (!ec)
            acceptor->bind(ep, ec);
        if (!ec) {
            unix_path_bound_ = cfg_.unix_path;
            if (::chmod(cfg_.unix_path.c_str(), cfg_.unix_mode) != 0)
                ec.assign(errno, boost::system::system_category());
        }
        if (!ec)
            acceptor->listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
            tcp_.clear();
            return name + ": " + ec.message();
        }
        unix_ = std::move(acceptor);
    }
    return {};
}

void local_server::start() {
    for (auto& acceptor : tcp_)
        asio::co_spawn(ex_, accept_loop<tcp>(this, acceptor.get()), log_session_exception);
    if (unix_)
        asio::co_spawn(ex_, accept_loop<unix_socket>(this, unix_.get()), log_session_exception);
}

void local_server::stop(std::function<void()> on_drained) {
    error_code ignored;
    for (auto& acceptor : tcp_)
        acceptor->close(ignored);
    if (unix_)
        unix_->close(ignored);
    sessions_.drain(std::move(on_drained));
}

std::vector<std::string> local_server::describe_listeners() const {
    std::vector<std::string> out;
    for (const auto& acceptor : tcp_) {
        error_code ec;
        const auto ep = acceptor->local_endpoint(ec);
        if (!ec)
            out.push_back("tcp " + endpoint_text(ep));
    }
    if (unix_)
        out.push_back("unix " + unix_path_bound_);
    return out;
}

session_registry::slot::slot(session_registry& registry, std::function<void()> close)
    : registry_(&registry)
    , it_(registry.entries_.insert(registry.entries_.end(), entry{std::move(close), this})) {}

session_registry::slot::~slot() {
    if (registry_ == nullptr)
        return;
    const std::function<void()> close = std::move(it_->close);
    registry_->entries_.erase(it_);
    if (close)
        close();
    if (registry_->draining_ && registry_->entries_.empty() && registry_->on_drained_)
        std::exchange(registry_->on_drained_, nullptr)();
}

session_registry::~session_registry() {
    for (auto& e : entries_)
        e.owner->registry_ = nullptr;
}

void session_registry::drain(std::function<void()> on_drained) {
    draining_ = true;
    on_drained_ = std::move(on_drained);
    for (auto& e : entries_)
        if (!e.busy && e.close)
            e.close();
    if (entries_.empty() && on_drained_)
        std::exchange(on_drained_, nullptr)();
}

} // namespace synergy_tokend
