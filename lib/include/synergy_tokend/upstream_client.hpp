// The HTTP(S) client for the Auth API (PRODUCT.md §2, §6 upstream TLS), with a connection pool.
//
// - TLS: peer verification against `ca_file` or the system store, hostname verification, SNI,
//   TLS >= 1.2. A failed handshake reports OpenSSL's reason ("certificate verify failed: ...").
// - Pool: at most `max_connections` connections open at once; a request beyond that waits for a
//   free one (within request_timeout). Kept-alive connections are reused and closed after
//   `idle_timeout` unused. A connection goes back to the pool only when its last reply was a
//   complete final response that allows keep-alive with nothing left over (reply_reader.hpp),
//   and an idle one on which bytes arrived (or the peer's close) is closed, never reused: no
//   request is ever answered with bytes that belong to another.
// - One outcome per send(): a complete final response (interim 1xx skipped, any status code
//   100..999 kept as a number with its reason phrase), or an error. A request whose kept-alive
//   connection turns out closed before any byte of the reply is sent again on the next
//   connection (GET and POST alike: nothing reached upstream), within request_timeout.
// - Timeouts: request_timeout for the whole send() (queue wait, connection, write and read of
//   the exchange, every resend included); within it connect_timeout for resolve + connect +
//   handshake.
// - stream(): the same exchange, but the final reply's header goes to a reply_consumer as soon
//   as it is parsed, and its body in pieces as they arrive (reply_stream_reader), never more
//   than one window (16 KiB) held and no byte read from upstream before the consumer has taken
//   the last ones. Its time limit is an idle one: request_timeout for the queue wait and the
//   connection, then at most request_timeout between one step of progress and the next (the
//   request written, each read, each piece the consumer took), however long the whole reply.
//
// All member functions must be called on the executor given at construction (one event-loop
// thread). send() never throws for network or protocol failures: it reports them in the result.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>

#include "synergy_tokend/config.hpp"
#include "synergy_tokend/reply_reader.hpp"
#include "synergy_tokend/upstream_stats.hpp"

namespace synergy_tokend {

struct upstream_url {
    bool tls = true;
    std::string host;      // without brackets for IPv6
    std::string port;      // always set ("443" / "80" by default)
    std::string base_path; // e.g. "/v1", no trailing slash, may be empty
    std::string host_header;
};

// Splits a base URL (already validated by the config parser). Pure.
std::optional<upstream_url> parse_upstream_url(std::string_view url);

enum class upstream_errc {
    connect_failed = 1,   // resolve or TCP connect failed (refused, unreachable)
    tls_handshake_failed, // detail has OpenSSL's reason
    timeout,              // connect, queue, or exchange took too long
    connection_lost,      // closed or reset before a complete reply
    bad_response,         // not parseable as HTTP, or over the size limit
    shutting_down,
};

const boost::system::error_category& upstream_category();
boost::system::error_code make_error_code(upstream_errc e);

struct upstream_request {
    boost::beast::http::verb method = boost::beast::http::verb::get;
    std::string target; // relative to the base path: "/products/token", "/info/x?y=1"
    std::string body;
    std::string content_type;
    std::string authorization; // full header value; never logged
    std::string accept;
    // Further fields sent as they are, after the ones above (a route's forwarded headers); the
    // caller keeps out the ones serialise sets itself (Host, Content-Length, ...).
    std::vector<std::pair<std::string, std::string>> fields;
};

struct upstream_result {
    boost::system::error_code ec; // upstream_errc on failure
    std::string detail;           // human-readable cause for logs and error bodies
    boost::beast::http::response<boost::beast::http::string_body> response;
    std::chrono::microseconds latency{0};
    bool ok() const { return !ec; }
};

// What the final reply's header says, for a consumer of stream().
struct reply_head {
    const boost::beast::http::response_header<>& fields; // status, reason phrase and fields
    std::optional<std::uint64_t> body_length; // framing's; nullopt: chunked or to the end
};

// Takes a reply as stream() reads it. Its calls run on the client's executor, in order: header
// once, then body zero or more times.
class reply_consumer {
public:
    virtual ~reply_consumer() = default;
    // stream: pass the body on to body(); collect: read it whole into the result's response (at
    // most 8 MiB, as send()); stop: read nothing more (the connection is closed, the result is
    // an error with `stopped` set).
    enum class choice { stream, collect, stop };
    virtual boost::asio::awaitable<choice> header(const reply_head& head) = 0;
    // The next bytes of the body. False: read nothing more (as stop).
    virtual boost::asio::awaitable<bool> body(std::string_view bytes) = 0;
};

struct upstream_stream_result {
    boost::system::error_code ec; // as upstream_result's
    std::string detail;
    // header() was called: whatever ec says, the consumer has seen the reply's header.
    bool header_seen = false;
    bool streamed = false;        // header() chose stream: the body went to body()
    bool stopped = false;         // the consumer stopped the exchange
    std::uint64_t body_bytes = 0; // bytes given to body()
    // With collect: the complete reply. With stream: its header only.
    boost::beast::http::response<boost::beast::http::string_body> response;
    std::chrono::microseconds latency{0};
    bool ok() const { return !ec; }
};

class upstream_client {
public:
    // Throws std::runtime_error naming the file when `ca_file` cannot be loaded.
    upstream_client(boost::asio::any_io_executor ex, const upstream_config& cfg);
    ~upstream_client();
    upstream_client(const upstream_client&) = delete;
    upstream_client& operator=(const upstream_client&) = delete;

    boost::asio::awaitable<upstream_result> send(upstream_request req);
    // The reply to `req` passed to `consumer` as it arrives (see above).
    boost::asio::awaitable<upstream_stream_result> stream(upstream_request req,
                                                          reply_consumer& consumer);

    upstream_stats stats() const;
    const latency_histogram& latency() const { return latency_; }
    const upstream_url& url() const { return url_; }
    boost::asio::any_io_executor executor() const { return ex_; }

    // Closes idle connections and fails later sends with shutting_down.
    void shutdown();

private:
    struct connection;
    using connection_ptr = std::shared_ptr<connection>;

    boost::asio::awaitable<connection_ptr> acquire(std::chrono::steady_clock::time_point deadline,
                                                   upstream_result& failure);
    boost::asio::awaitable<connection_ptr> connect(std::chrono::steady_clock::time_point deadline,
                                                   upstream_result& failure);
    void release(connection_ptr conn, bool reusable);
    static boost::asio::awaitable<boost::system::error_code>
    exchange(connection& c, const std::string& wire, reply_reader& reader);
    static boost::asio::awaitable<boost::system::error_code> write_request(connection& c,
                                                                           const std::string& wire);
    static boost::asio::awaitable<std::pair<boost::system::error_code, std::size_t>>
    read_some(connection& c);
    // stream()'s exchange on `c`; `idle` the longest wait for progress.
    static boost::asio::awaitable<boost::system::error_code>
    stream_exchange(connection& c, const std::string& wire, reply_stream_reader& reader,
                    reply_consumer& consumer, std::chrono::steady_clock::duration idle,
                    upstream_stream_result& result);
    void close_expired_idle();
    static boost::asio::awaitable<void> reap_idle(upstream_client* self);

    boost::asio::any_io_executor ex_;
    upstream_config cfg_;
    upstream_url url_;
    boost::asio::ssl::context tls_ctx_;
    std::deque<connection_ptr> idle_;
    std::size_t open_ = 0;
    boost::asio::steady_timer slot_freed_;
    bool reaper_running_ = false;
    bool stopping_ = false;
    std::shared_ptr<bool> alive_;
    upstream_stats stats_;
    latency_histogram latency_;
};

} // namespace synergy_tokend

template <>
struct boost::system::is_error_code_enum<synergy_tokend::upstream_errc> : std::true_type {};
