// A small Redis client for the shared cache (PRODUCT.md §10), on the daemon's event loop.
//
// - Protocol: hiredis (Debian's libhiredis 0.14, linked statically) formats every command
//   (redisFormatCommandArgv: binary-safe arguments) and parses every reply (redisReader, through
//   redis_reply_reader with its limits): no RESP code of our own. hiredis does no I/O here; this
//   class moves the bytes with Asio.
// - Transports: TCP (redis://), TLS over TCP with the project's tls_client (rediss://: peer
//   verification against ca_file or the system store, host name check and SNI, TLS >= 1.2, as
//   for upstream), and Unix sockets (unix:/path).
// - Connections: a new one sends AUTH (username and password; the password alone for the default
//   user) and SELECT when the URL names a database other than 0. Idle connections are kept for
//   reuse (a few); one command runs on one connection at a time; a connection that failed in any
//   way (timeout, close, a reply that cannot be parsed or is too large, bytes after the reply) is
//   closed, never reused.
// - Timeouts: every command() has a deadline covering the connection (resolve, connect, TLS,
//   AUTH, SELECT) and the exchange; past it the connection is closed and the result is
//   redis_errc::timeout. No call waits longer.
// - Errors: a result with an error_code (redis_errc, or the socket's) and a detail text for the
//   log, which never holds the password. A Redis error reply (-ERR ...) is a successful exchange
//   whose reply has type error.
//
// All member functions on the executor given at construction. command() never throws for network
// or protocol failures.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

#include "synergy_tokend/redis_reply.hpp"
#include "synergy_tokend/shared_cache_config.hpp"

namespace synergy_tokend {

enum class redis_errc {
    connect_failed = 1, // resolve or connect failed
    tls_failed,         // handshake or peer verification failed; detail has OpenSSL's reason
    auth_failed,        // AUTH or SELECT answered with an error
    timeout,            // the deadline passed
    connection_lost,    // the peer closed or reset the connection before a complete reply
    protocol_error,     // bytes that are not RESP (hiredis's reader said so)
};

const boost::system::error_category& redis_category();
boost::system::error_code make_error_code(redis_errc e);

struct redis_result {
    boost::system::error_code ec;
    std::string detail; // why, for the log
    redis_reply reply;  // valid when ok()
    bool ok() const { return !ec; }
};

class redis_client {
public:
    using clock = std::chrono::steady_clock;

    // Throws std::runtime_error when the TLS context cannot be made (ca_file unreadable).
    redis_client(boost::asio::any_io_executor ex, const shared_cache_config& cfg,
                 std::string password);
    ~redis_client();
    redis_client(const redis_client&) = delete;
    redis_client& operator=(const redis_client&) = delete;

    // Sends one command (its arguments, binary-safe) and reads its reply, by `deadline`.
    boost::asio::awaitable<redis_result> command(std::vector<std::string> args,
                                                 clock::time_point deadline);

    // Closes the idle connections (commands in flight end with an error).
    void close();

    // Commands sent, for the statistics.
    std::uint64_t commands_sent() const { return commands_sent_; }

private:
    struct connection;
    using connection_ptr = std::shared_ptr<connection>;
    boost::asio::awaitable<redis_result> connect(connection_ptr c, clock::time_point deadline);
    static boost::asio::awaitable<std::optional<redis_result>>
    setup_step(connection_ptr c, std::vector<std::string> args, std::string what);
    static boost::asio::awaitable<redis_result> exchange(connection_ptr c,
                                                         std::vector<std::string> args);

    boost::asio::any_io_executor ex_;
    shared_cache_config cfg_;
    std::string password_;
    boost::asio::ssl::context tls_ctx_;
    std::vector<connection_ptr> idle_;
    std::uint64_t commands_sent_ = 0;
};

} // namespace synergy_tokend

template <>
struct boost::system::is_error_code_enum<synergy_tokend::redis_errc> : std::true_type {};
