// The client side of a TLS connection over a connected TCP socket, for the upstream client.
//
// OpenSSL never touches the socket: it reads records from one memory BIO and writes them to
// another, and this class moves them between those and the socket with Asio. Compared with
// asio::ssl::stream (a BIO pair, a composed operation per read and write, and an OpenSSL error
// queue clear before every call, where a peek does) this is the shortest path from the socket to
// OpenSSL and back, the one the /info proxy takes twice per request.
//
// - Peer verification is the SSL_CTX's (verify mode, trust store, minimum version); expect_peer()
//   adds the identity check: the certificate must name `host` (a DNS name or an IP address), and
//   a DNS name is also sent as SNI.
// - Errors: an OpenSSL failure as an error_code in asio's SSL category (its message is OpenSSL's
//   reason, e.g. "certificate verify failed"); the peer closing the TCP connection while a record
//   or a reply is incomplete as asio::ssl::error::stream_truncated; close_notify as
//   asio::error::eof; a socket error (the connection's watchdog closing it among them) as itself.
// - One operation at a time; all calls on the socket's executor. The socket must outlive this
//   object. Once the socket is closed every call fails with the socket's error; OpenSSL never
//   holds the descriptor, so it cannot read or write a number the system has given out again.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

using SSL = struct ssl_st;
using SSL_CTX = struct ssl_ctx_st;
using BIO = struct bio_st;

namespace synergy_tokend {

class tls_client {
public:
    // Throws std::runtime_error when OpenSSL cannot make the session (out of memory).
    tls_client(boost::asio::ip::tcp::socket& socket, SSL_CTX* ctx);
    ~tls_client();
    tls_client(const tls_client&) = delete;
    tls_client& operator=(const tls_client&) = delete;

    // The name or address the peer's certificate must carry; a name also goes out as SNI.
    // Returns false when OpenSSL refuses it (an invalid name).
    bool expect_peer(const std::string& host);

    boost::asio::awaitable<boost::system::error_code> handshake();
    // Sends all of `data` as application data.
    boost::asio::awaitable<boost::system::error_code> write(boost::asio::const_buffer data);
    // Reads at least one byte of application data into `out` (already decrypted bytes first).
    boost::asio::awaitable<std::pair<boost::system::error_code, std::size_t>>
    read_some(boost::asio::mutable_buffer out);

    // Bytes of the peer's already read from the socket but not yet returned by read_some()
    // (decrypted data, or records not yet decrypted): a connection with any is not idle.
    bool has_buffered_input() const;

    SSL* native_handle() const { return ssl_; }

private:
    // What SSL_get_error says about `ret` of the last call, as an error_code ({} for "wants
    // more input", which the callers handle by filling).
    boost::system::error_code failure(int ret, bool& wants_input);
    // Sends what OpenSSL has written to the outgoing BIO.
    boost::asio::awaitable<boost::system::error_code> flush();
    // Reads what the socket has into the incoming BIO.
    boost::asio::awaitable<boost::system::error_code> fill();

    boost::asio::ip::tcp::socket& socket_;
    SSL* ssl_ = nullptr;
    BIO* in_ = nullptr;    // records from the peer, for OpenSSL to read (owned by ssl_)
    BIO* out_ = nullptr;   // records from OpenSSL, for the peer (owned by ssl_)
    std::vector<char> rx_; // one socket read
};

} // namespace synergy_tokend
