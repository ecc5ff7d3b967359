// Where a reply that is passed on as it arrives goes (a product API route's, route_proxy.hpp):
// local_server gives one to each request it hands local_api, so that a handler can write the
// status line and fields at once and then the body piece by piece, instead of returning a
// response whole.
//
// The order is begin() once, write() any number of times, then finish() (the body is complete)
// or abort() (it will not be). Framing is the sink's: with the body's length known the reply
// has that Content-Length; without it, chunked transfer coding, or for an HTTP/1.0 client no
// length and the connection closed after the body. abort() closes the connection without
// completing the framing (no terminating chunk; fewer bytes than Content-Length said), so that
// the client sees a reply cut short, never a complete-looking one. Once begun, the handler's
// returned response is not written (it only tells the status, for the counts), and a connection
// whose reply was aborted or failed is closed.
//
// Each call's error is the write's: the client went away or took nothing for the write timeout.
// Single-threaded, on the server's executor.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include "synergy_tokend/http_reply.hpp"

namespace synergy_tokend {

class reply_sink {
public:
    virtual ~reply_sink() = default;

    // The status line and fields of `head` (its body is ignored; Content-Length and
    // Transfer-Encoding are the sink's to set), the body to follow being `length` bytes long.
    virtual boost::asio::awaitable<boost::system::error_code>
    begin(local_response& head, std::optional<std::uint64_t> length) = 0;
    virtual boost::asio::awaitable<boost::system::error_code> write(std::string_view bytes) = 0;
    virtual boost::asio::awaitable<boost::system::error_code> finish() = 0;
    virtual void abort() = 0;

    bool begun() const { return begun_; }
    // The connection cannot carry another reply: aborted, a write failed, or framed by its close.
    bool broken() const { return broken_; }

protected:
    bool begun_ = false;
    bool broken_ = false;
};

} // namespace synergy_tokend
