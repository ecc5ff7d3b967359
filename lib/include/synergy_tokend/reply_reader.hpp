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
// reply_stream_reader reads the same way but does not hold the body: it stops once the final
// reply's header is complete (state header), and then each time its fixed window of body bytes
// is full (state body), so that a caller can pass a body of any length on as it arrives with
// bounded memory. Its rules are the ones above (the same interim replies skipped, the same
// errors, the same end-of-stream and reuse rules), without a body limit; fuzz/reply_reader_fuzz
// checks that it gives the same status and the same body bytes as reply_reader for any stream
// cut into any reads.
//
// Not thread-safe; no allocation beyond the parser's and the response's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include <string_view>
#include <vector>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
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

// What a complete message header with status `status` is, the `interim` ones before it counted:
// the final reply (an empty code), an interim one to skip (`skip` set, `interim` incremented),
// or an error (bad_status, unexpected_upgrade, too_many_interim). The rule both readers keep.
boost::system::error_code classify_status(unsigned status, unsigned& interim, bool& skip);
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

class reply_stream_reader {
public:
    using header_type = boost::beast::http::response_header<>;
    enum class state { need_more, header, body, done, failed };

    static constexpr std::size_t default_window = 16 * 1024;

    // `header_limit` and `head_request` as for reply_reader; `window`: the most body bytes held.
    reply_stream_reader(std::uint32_t header_limit, bool head_request,
                        std::size_t window = default_window);

    // Parses the bytes `buffer` holds, consuming what it parsed, and stops at the first of:
    // - header: the final reply's header became complete (once; interim replies are skipped);
    //   header() is valid from now on;
    // - body: the window is full (body_bytes());
    // - need_more: every byte was parsed; the window may hold bytes, to be passed on before the
    //   caller waits for more;
    // - done: the reply is complete (the window may hold its last bytes);
    // - failed: error() says why (the window may hold bytes parsed before the error, which are
    //   part of a reply that will never be complete).
    // Call again (with more bytes after need_more) while the state is header, body or
    // need_more, after taking the window's bytes with body_taken().
    state feed(boost::beast::flat_buffer& buffer);

    // As reply_reader::end_of_stream(); may end with the window holding the last bytes.
    state end_of_stream(bool clean);

    state current() const { return state_; }
    boost::system::error_code error() const { return error_; }
    bool got_some() const { return got_some_; }
    bool header_seen() const { return header_seen_; }

    // From state header on: the final reply's status line and fields.
    const header_type& header() const { return parser_->get().base(); }
    // From state header on: the body's length from its framing (Content-Length; 0 for a reply
    // that has no body: HEAD, 204, 304), or nullopt for a chunked or EOF-delimited body.
    std::optional<std::uint64_t> body_length() const;

    // The body bytes parsed and not yet taken, in order.
    std::string_view body_bytes() const;
    void body_taken();

    bool reusable(const boost::beast::flat_buffer& buffer) const;

private:
    using parser = boost::beast::http::response_parser<boost::beast::http::buffer_body>;
    void start_message();
    state fail(boost::system::error_code ec);

    std::uint32_t header_limit_;
    bool head_request_;
    std::vector<char> window_;
    std::optional<parser> parser_;
    state state_ = state::need_more;
    boost::system::error_code error_;
    bool got_some_ = false;
    bool header_seen_ = false;
    bool ended_by_eof_ = false;
    unsigned interim_ = 0;
};

} // namespace synergy_tokend

template <>
struct boost::system::is_error_code_enum<synergy_tokend::reply_errc> : std::true_type {};
