// The reading half of one upstream HTTP/1.1 exchange, without I/O (PRODUCT.md §6 "Upstream
// replies"): bytes in, at most one final response out.
//
// The upstream client feeds it every byte it reads from the connection and tells it how the
// stream ended; the fuzz target fuzz/reply_reader_fuzz.cpp feeds it arbitrary streams cut into
// arbitrary reads. The rules it keeps:
//
// - Interim `1xx` replies (100 Continue, 103 Early Hints, any other 1xx but 101) are read whole and
//   skipped; they are never the reply. `101 Switching Protocols` (never asked for), more than
//   `max_interim` interim replies and a status below 100 are errors. Any other final status,
//   100..999, registered or not, is a response.
// - The outcome is exactly one of: a complete final response (state done), or an error (state
//   failed). Never a default or partial response: take() is only valid once done.
// - A body delimited by the end of the stream is complete only when the stream ended cleanly (TLS
//   close_notify, or a FIN on plain http://); a truncated stream is `truncated`.
// - reusable() says whether the connection may carry another request: only after a complete final
//   response that allows keep-alive, whose end is known from its framing (not from the end of the
//   stream), with no byte left over after it. Anything else closes the connection.
//
// Not thread-safe; no allocation beyond the parser's and the response's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>

namespace synergy_tokend {

enum class reply_errc {
    closed_before_reply = 1, // the stream ended (or was cut) before any byte of a reply
    truncated,               // the stream ended, uncleanly or too soon, inside a reply
    unexpected_upgrade,      // 101 Switching Protocols to a request that asked for none
    too_many_interim,        // more than max_interim 1xx replies before the final one
    bad_status,              // a status code below 100 (Beast parses any three digits)
};

const boost::system::error_category& reply_category();
boost::system::error_code make_error_code(reply_errc e);

class reply_reader {
public:
    using response = boost::beast::http::response<boost::beast::http::string_body>;
    enum class state { need_more, done, failed };

    static constexpr unsigned max_interim = 16;

    // `body_limit`: larger bodies are an error (beast's body_limit). `header_limit` applies to
    // each reply's header, interim ones included. `head_request`: the request was HEAD, so the
    // reply has no body whatever its Content-Length says.
    reply_reader(std::uint64_t body_limit, std::uint32_t header_limit, bool head_request = false);

    // Parses the bytes `buffer` holds, consuming each byte it parsed; bytes after a complete final
    // response stay in `buffer` (and make the connection not reusable). Call again after more
    // bytes were appended, while the state is need_more.
    state feed(boost::beast::flat_buffer& buffer);

    // The stream ended: `clean` for TLS close_notify (or the FIN of plain TCP), false for a TCP
    // close with no close_notify, a reset, or any other read error. Call once, after feeding every
    // byte that was read, while the state is need_more.
    state end_of_stream(bool clean);

    state current() const { return state_; }
    // Why the state is failed: a reply_errc, or one of beast::http::error (bad_version,
    // body_limit, header_limit, ...). Empty otherwise.
    boost::system::error_code error() const { return error_; }
    // Any byte of any reply (an interim one included) was parsed: the request reached upstream.
    bool got_some() const { return got_some_; }
    unsigned interim_replies() const { return interim_; }

    // Only when done, and with the buffer the reader was fed: see the rules above.
    bool reusable(const boost::beast::flat_buffer& buffer) const;

    // The final response; only when done, once.
    response take();

private:
    using parser = boost::beast::http::response_parser<boost::beast::http::string_body>;
    void start_message();
    state fail(boost::system::error_code ec);
    // A message the parser completed: skips an interim one, or finishes.
    bool on_message_done();

    std::uint64_t body_limit_;
    std::uint32_t header_limit_;
    bool head_request_;
    std::optional<parser> parser_;
    state state_ = state::need_more;
    boost::system::error_code error_;
    bool got_some_ = false;
    bool ended_by_eof_ = false;
    unsigned interim_ = 0;
};

} // namespace synergy_tokend

template <>
struct boost::system::is_error_code_enum<synergy_tokend::reply_errc> : std::true_type {};
