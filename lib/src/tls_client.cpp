#include "synergy_tokend/tls_client.hpp"

#include <climits>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "synergy_tokend/send_all.hpp"

namespace synergy_tokend {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t socket_read_size = 16 * 1024; // a whole TLS record fits

int clamp_to_int(std::size_t n) {
    return n > static_cast<std::size_t>(INT_MAX) ? INT_MAX : static_cast<int>(n);
}

// SSL_get_error() explains a call only when the thread's error queue was empty before it. Our own
// failures leave it empty (failure() drains it); this catches what any other OpenSSL call on the
// thread may have left. Peeking is cheaper than clearing, and the queue is almost always empty.
void drop_stale_errors() {
    if (ERR_peek_error() != 0)
        ERR_clear_error();
}

} // namespace

tls_client::tls_client(asio::ip::tcp::socket& socket, SSL_CTX* ctx)
    : socket_(socket)
    , rx_(socket_read_size) {
    ssl_ = SSL_new(ctx);
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    if (ssl_ == nullptr || in_ == nullptr || out_ == nullptr) {
        BIO_free(in_);
        BIO_free(out_);
        SSL_free(ssl_);
        ERR_clear_error();
        throw std::runtime_error("cannot create a TLS session (out of memory)");
    }
    // An empty incoming BIO means "not yet", not the end of the stream: the end is the socket's.
    BIO_set_mem_eof_return(in_, -1);
    SSL_set_bio(ssl_, in_, out_); // ssl_ owns both from here
    SSL_set_connect_state(ssl_);
    // A server asking to renegotiate mid-stream is refused rather than answered from inside a
    // read.
    SSL_set_options(ssl_, SSL_OP_NO_RENEGOTIATION);
}

tls_client::~tls_client() {
    SSL_free(ssl_);
}

bool tls_client::expect_peer(const std::string& host) {
    error_code ec;
    asio::ip::make_address(host, ec);
    bool accepted = false;
    if (!ec) { // an IP address: matched against the certificate's IP entries, no SNI
        accepted = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str()) == 1;
    } else {
        SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        accepted = SSL_set_tlsext_host_name(ssl_, host.c_str()) == 1 &&
                   SSL_set1_host(ssl_, host.c_str()) == 1;
    }
    if (!accepted)
        ERR_clear_error();
    return accepted;
}

error_code tls_client::failure(int ret, bool& wants_input) {
    wants_input = false;
    switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
        wants_input = true;
        return {};
    case SSL_ERROR_ZERO_RETURN: // the peer's close_notify
        return asio::error::eof;
    case SSL_ERROR_SSL: {
        // The first queued error says why; the queue is left empty for the next call (every
        // SSL_get_error needs an empty queue before the call it explains).
        const unsigned long first = ERR_get_error();
        ERR_clear_error();
        if (first != 0)
            return {static_cast<int>(first), asio::error::get_ssl_category()};
        return asio::ssl::error::unspecified_system_error;
    }
    default:
        // SSL_ERROR_SYSCALL without a socket of OpenSSL's own: the records ended early.
        ERR_clear_error();
        return asio::ssl::error::stream_truncated;
    }
}

bool tls_client::has_buffered_input() const {
    return SSL_pending(ssl_) > 0 || BIO_ctrl_pending(in_) > 0;
}

asio::awaitable<error_code> tls_client::flush() {
    char* data = nullptr;
    const long pending = BIO_get_mem_data(out_, &data);
    if (pending <= 0)
        co_return error_code{};
    // The connection's deadline is already armed: nothing to do before waiting for room.
    const error_code ec =
        co_await send_all(socket_, asio::buffer(data, static_cast<std::size_t>(pending)), [] {});
    (void)BIO_reset(out_);
    co_return ec;
}

asio::awaitable<error_code> tls_client::fill() {
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(rx_), use_nothrow);
    if (ec == asio::error::eof) // closed without close_notify, with a record or reply pending
        co_return asio::ssl::error::stream_truncated;
    if (ec)
        co_return ec;
    if (BIO_write(in_, rx_.data(), static_cast<int>(n)) != static_cast<int>(n)) {
        ERR_clear_error();
        co_return asio::error::no_memory;
    }
    co_return error_code{};
}

asio::awaitable<error_code> tls_client::handshake() {
    error_code ignored;
    socket_.non_blocking(true, ignored); // flush() tries each send at once
    for (;;) {
        drop_stale_errors();
        const int ret = SSL_do_handshake(ssl_);
        bool wants_input = false;
        const error_code failed = ret == 1 ? error_code{} : failure(ret, wants_input);
        // What OpenSSL wrote goes out first: the ClientHello, the Finished, or an alert.
        const error_code sent = co_await flush();
        if (ret == 1 || (failed && !wants_input))
            co_return failed ? failed : sent;
        if (sent)
            co_return sent;
        const error_code filled = co_await fill();
        if (filled)
            co_return filled;
    }
}

asio::awaitable<error_code> tls_client::write(asio::const_buffer data) {
    while (data.size() != 0) {
        drop_stale_errors();
        const int ret = SSL_write(ssl_, data.data(), clamp_to_int(data.size()));
        if (ret <= 0) {
            bool wants_input = false;
            const error_code ec = failure(ret, wants_input);
            // Only a renegotiation would make a write wait for input, and that is refused.
            co_return ec ? ec : asio::ssl::error::unspecified_system_error;
        }
        data += static_cast<std::size_t>(ret);
    }
    co_return co_await flush();
}

asio::awaitable<std::pair<error_code, std::size_t>>
tls_client::read_some(asio::mutable_buffer out) {
    for (;;) {
        drop_stale_errors();
        const int ret = SSL_read(ssl_, out.data(), clamp_to_int(out.size()));
        if (ret > 0)
            co_return std::pair{error_code{}, static_cast<std::size_t>(ret)};
        bool wants_input = false;
        const error_code failed = failure(ret, wants_input);
        if (!wants_input)
            co_return std::pair{failed, std::size_t{0}};
        // Anything OpenSSL has to say before it can read on (an alert) goes out first.
        error_code ec = co_await flush();
        if (!ec)
            ec = co_await fill();
        if (ec)
            co_return std::pair{ec, std::size_t{0}};
    }
}

} // namespace synergy_tokend
