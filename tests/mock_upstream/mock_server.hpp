// The mock's listeners and connections: the API port (TLS or plain HTTP, keep-alive, faults
// applied per mock_api.hpp) and the plain-HTTP control port (control_api.hpp). Each connection is
// a coroutine co_spawned with a handler that logs its exception, so a bug ends one connection, not
// the mock. Reads and writes time out after server_options::idle_timeout, except on a connection
// stalled by a fault, which is held until the client or the mock closes it.
//
// Everything runs on the executor given at construction, which must be single-threaded.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "mock_state.hpp"

namespace synergy_auth_mock {

struct server_options {
    std::string host = "127.0.0.1";
    unsigned short api_port = 0; // 0: ephemeral
    unsigned short control_port = 0;
    std::chrono::seconds idle_timeout{30}; // for every read and write
    std::size_t body_limit = 1024 * 1024;  // larger request bodies get 413
    std::size_t header_limit = 16 * 1024;  // larger request headers get 431
};

// "127.0.0.1:8443", or "[::1]:8443" for IPv6.
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& endpoint);

// The open connections of one port, so that /control/down and stop() can close them.
class connection_registry {
public:
    // Registers a connection (its stream, and the timer it may wait on, if any) for the
    // member's lifetime.
    class member {
    public:
        member(connection_registry& registry, boost::beast::tcp_stream& stream,
               boost::asio::steady_timer* timer = nullptr);
        ~member();
        member(const member&) = delete;
        member& operator=(const member&) = delete;

        // True once close_all() closed this connection: stop using it.
        bool closed() const { return closed_; }

    private:
        friend class connection_registry;
        connection_registry& registry_;
        boost::beast::tcp_stream& stream_;
        boost::asio::steady_timer* timer_;
        bool closed_ = false;
    };

    // Closes every registered stream and cancels its timer; their operations end with errors.
    void close_all();

private:
    std::unordered_set<member*> members_;
};

class mock_server {
public:
    // Binds and listens on both ports; throws std::runtime_error saying why when it cannot. With
    // tls null the API port speaks plain HTTP. tls and state must outlive the server.
    mock_server(boost::asio::any_io_executor executor, server_options options,
                boost::asio::ssl::context* tls, mock_state& state);

    // Starts accepting on both ports.
    void start();

    boost::asio::ip::tcp::endpoint api_endpoint() const { return api_endpoint_; }
    boost::asio::ip::tcp::endpoint control_endpoint() const { return control_endpoint_; }

    // Closes both ports and every connection, and cancels timers: once the sessions have
    // unwound, the executor runs out of work.
    void stop();

private:
    boost::asio::awaitable<void> accept_api(std::uint64_t generation);
    boost::asio::awaitable<void> accept_control();
    // Stream: plain or TLS over a beast::tcp_stream (defined and used in the .cpp only).
    template <class Stream>
    boost::asio::awaitable<void> run_api_connection(Stream stream, std::uint64_t generation);
    boost::asio::awaitable<void> run_control_connection(boost::asio::ip::tcp::socket socket);

    // /control/down: refuse new connections and close the open ones, for duration or until
    // bring_api_up().
    void take_api_down(std::optional<std::chrono::milliseconds> duration);
    // Listens again on the same port. On failure, retries every 100 ms and returns the reason.
    std::optional<std::string> bring_api_up();
    void close_api_acceptor();
    void schedule_reopen(std::chrono::milliseconds delay);

    boost::asio::any_io_executor executor_;
    server_options options_;
    boost::asio::ssl::context* tls_;
    mock_state& state_;

    boost::asio::ip::tcp::acceptor api_acceptor_;
    boost::asio::ip::tcp::acceptor control_acceptor_;
    boost::asio::ip::tcp::endpoint api_endpoint_; // kept across down/up
    boost::asio::ip::tcp::endpoint control_endpoint_;
    // Changes whenever the API acceptor closes or opens, so that an accept loop or a connection
    // accepted just before can tell it belongs to a closed acceptor.
    std::uint64_t api_generation_ = 0;
    boost::asio::steady_timer reopen_timer_;
    std::uint64_t down_generation_ = 0; // tells a stale reopen timer from the current one
    bool stopping_ = false;

    connection_registry api_connections_;
    connection_registry control_connections_;
};

} // namespace synergy_auth_mock
