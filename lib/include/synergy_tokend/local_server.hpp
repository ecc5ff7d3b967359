// The local listeners (PRODUCT.md §5, §6): TCP addresses and a Unix socket, one coroutine per
// connection. The server reads requests, writes replies and enforces the limits below; everything
// else is local_api's: each request goes to local_api::handle(), and its reply (the fast path's
// shared bytes, or a response serialised by http_reply's reply_header()) is written back; or
// the handler writes it itself, as it arrives, into the reply_sink the server gives each request
// (a product API route's: reply_sink.hpp), after which a connection whose reply was cut short
// is closed. The
// server's own refusals (400, 413, 431) are made by local_api::refusal(), so they are counted.
//
// Limits enforced per connection: the request header block (request line, fields and the empty
// line that ends them, its CRLF CRLF included) may be 8192 bytes exactly, one more gets 431; a
// body over 64 KiB gets 413. A new connection must deliver a complete request within
// listen.request_timeout_s, and so must a request once its first byte arrived; a kept-alive
// connection may idle listen.keepalive_idle_s between requests. Beyond listen.max_connections,
// new connections are closed at once. Pipelined requests are answered in order. While a reply
// is being made the connection has no deadline (the handler has its own time limits): a held
// change wait (local_api.hpp) lasts as long as its `wait`; meanwhile the server watches the
// connection, and when the client closes or resets it the held reply is cancelled and the
// connection closed. One failing
// session never affects another.
//
// Checked once a request's header is complete, before any byte of its body is read
// (request_policy's check_framing(), router's target_path_problem()): a Transfer-Encoding other
// than the one coding "chunked", Transfer-Encoding with Content-Length or in HTTP/1.0, more than
// one Host field, or a /v1/info/... path that may not be forwarded get 400 naming the problem.
// After each such refusal, and after a 431, a 413 or a 400 for a malformed request, the
// connection is closed: the bytes after the header are never parsed as a request.
//
// Each session's resources are held by objects: its connection (socket and deadline watchdog)
// and its slot in the server's session_registry, so a session that ends by an exception (a bug
// in a handler; logged, it ends that session only) leaks neither its descriptor nor its slot,
// and a graceful stop still drains.
//
// The Unix socket is created with listen.unix_mode; a stale socket file is replaced, a live one
// (another daemon answering) is an error. All member functions run on the executor given at
// construction.
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "synergy_tokend/config.hpp"

namespace synergy_tokend {

class local_api;

// The open sessions of a server: what max_connections counts, what a graceful stop closes and
// waits for. A session holds its place by a slot object for as long as it runs; the slot's
// destructor closes the session's connection and gives the place back, however the session ends
// (a return or an exception), and calls drain()'s callback when it was the last. Single threaded,
// like the server.
//
// A slot may outlive its registry: a session still suspended when the daemon exits (after
// service.shutdown_grace_s) has its frame destroyed with the io_context, after the server. The
// registry's destructor lets go of its slots, whose destructors then do nothing.
class session_registry {
public:
    class slot;

private:
    struct entry {
        std::function<void()> close; // closes the session's connection, cancelling its I/O
        slot* owner = nullptr;
        bool busy = false; // a request is being handled
    };

public:
    session_registry() = default;
    ~session_registry();
    session_registry(const session_registry&) = delete;
    session_registry& operator=(const session_registry&) = delete;

    class slot {
    public:
        // `close` must stay callable for the slot's life: declare the slot after what it closes.
        slot(session_registry& registry, std::function<void()> close);
        ~slot();
        slot(const slot&) = delete;
        slot& operator=(const slot&) = delete;

        // While busy, drain() leaves the connection open: a reply is being made for it.
        void busy(bool b) {
            if (registry_ != nullptr)
                it_->busy = b;
        }

    private:
        friend class session_registry;
        session_registry* registry_; // nullptr once the registry is gone
        std::list<entry>::iterator it_;
    };

    std::size_t size() const { return entries_.size(); }

    // Closes every session that is not busy; from then on draining() is true, and `on_drained`
    // is called once no slot is left (at once when none is).
    void drain(std::function<void()> on_drained);
    bool draining() const { return draining_; }

private:
    std::list<entry> entries_;
    std::function<void()> on_drained_;
    bool draining_ = false;
};

struct server_limits {
    std::size_t header_limit = 8 * 1024;
    std::size_t body_limit = 64 * 1024;
    std::chrono::milliseconds request_timeout{10000}; // listen.request_timeout_s
    std::chrono::milliseconds idle_timeout{60000};    // listen.keepalive_idle_s
};

class local_server {
public:
    // The timeouts of server_limits come from `cfg`.
    local_server(boost::asio::any_io_executor ex, const listen_config& cfg, local_api& api);
    ~local_server();
    local_server(const local_server&) = delete;
    local_server& operator=(const local_server&) = delete;

    // Binds every listener. On failure returns a message naming the listener and the reason
    // ("listen.tcp 127.0.0.1:8731: Address already in use") and leaves nothing bound.
    std::string open();

    // Starts accepting on every bound listener.
    void start();

    // Stops accepting, closes idle connections and lets requests in flight finish; each busy
    // connection closes after its reply. `on_drained` is called when no connection is left.
    void stop(std::function<void()> on_drained);

    // "tcp 127.0.0.1:8731", "unix /run/synergy-tokend/tokend.sock" (actual bound ports).
    std::vector<std::string> describe_listeners() const;
    // The Unix socket's path ("" without one).
    const std::string& unix_path() const { return unix_path_bound_; }
    std::size_t open_connections() const { return sessions_.size(); }

    // Shared with the session coroutines in local_server.cpp.
    session_registry& sessions() { return sessions_; }
    bool stopping() const { return sessions_.draining(); }
    bool at_capacity() const { return sessions_.size() >= cfg_.max_connections; }
    local_api& api() { return api_; }
    const server_limits& limits() const { return limits_; }

private:
    boost::asio::any_io_executor ex_;
    listen_config cfg_;
    local_api& api_;
    server_limits limits_;
    std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> tcp_;
    std::unique_ptr<boost::asio::local::stream_protocol::acceptor> unix_;
    std::string unix_path_bound_;
    session_registry sessions_;
};

} // namespace synergy_tokend
