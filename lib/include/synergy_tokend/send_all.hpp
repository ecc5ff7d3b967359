// Sending a whole buffer sequence on a socket in non-blocking mode, the way both the local
// server's replies and the upstream client's TLS records go out.
//
// The socket is tried at once: usually it takes everything in one send and no asynchronous
// operation starts. Only when it is full does `before_waiting` run (the caller arms a deadline
// there, if it has one) and the rest is written when there is room. Returns the first error; the
// socket must be in non-blocking mode (socket.non_blocking(true)).
#pragma once

#include <cstddef>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/system/error_code.hpp>

namespace synergy_tokend {

template <class Socket, class Buffers, class BeforeWaiting>
boost::asio::awaitable<boost::system::error_code> send_all(Socket& socket, const Buffers& buffers,
                                                           BeforeWaiting before_waiting) {
    namespace asio = boost::asio;
    boost::system::error_code ec;
    const std::size_t sent = asio::write(socket, buffers, ec);
    if (ec != asio::error::would_block && ec != asio::error::try_again)
        co_return ec;
    before_waiting();
    boost::beast::buffers_suffix<Buffers> rest(buffers);
    rest.consume(sent);
    auto [wec, written] =
        co_await asio::async_write(socket, rest, asio::as_tuple(asio::use_awaitable));
    co_return wec;
}

} // namespace synergy_tokend
