#include "synergy_tokend/reply_reader.hpp"

#include <optional>

#include <algorithm>
#include <string>

#include <boost/beast/http/error.hpp>

namespace synergy_tokend {

namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {

class reply_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "upstream reply"; }
    std::string message(int ev) const override {
        switch (static_cast<reply_errc>(ev)) {
        case reply_errc::closed_before_reply:
            return "upstream closed the connection before replying";
        case reply_errc::truncated:
            return "upstream's reply was cut short (the connection ended inside it)";
        case reply_errc::unexpected_upgrade:
            return "upstream answered 101 Switching Protocols to a plain request";
        case reply_errc::too_many_interim:
            return "upstream sent too many interim (1xx) replies";
        case reply_errc::bad_status:
            return "upstream sent a status code below 100";
        }
        return "unknown upstream reply error";
    }
};

// What the end of the stream makes of a reply still being read by `parser`: nothing when it
// completes an EOF-delimited body, else why the reply is cut short. Both readers' one rule.
template <class Parser>
std::optional<reply_errc> end_of_stream_verdict(Parser& parser, bool got_some, bool clean) {
    if (!got_some)
        return reply_errc::closed_before_reply;
    if (!clean)
        return reply_errc::truncated;
    // Only a body that runs to the end of the stream may end here; any other message is short.
    if (!parser.is_header_done() || !parser.need_eof())
        return reply_errc::truncated;
    error_code ec;
    parser.put_eof(ec);
    if (ec || !parser.is_done())
        return reply_errc::truncated;
    return std::nullopt;
}

} // namespace

const boost::system::error_category& reply_category() {
    static const reply_category_impl instance;
    return instance;
}

error_code make_error_code(reply_errc e) {
    return {static_cast<int>(e), reply_category()};
}

reply_reader::reply_reader(std::uint64_t body_limit, std::uint32_t header_limit, bool head_request)
    : body_limit_(body_limit)
    , header_limit_(header_limit)
    , head_request_(head_request) {
    start_message();
}

void reply_reader::start_message() {
    parser_.emplace();
    parser_->body_limit(body_limit_);
    parser_->header_limit(header_limit_);
    parser_->eager(true); // the body too, as soon as its bytes are there
    if (head_request_)
        parser_->skip(true);
}

reply_reader::state reply_reader::fail(error_code ec) {
    error_ = ec;
    state_ = state::failed;
    parser_.reset();
    return state_;
}

error_code classify_status(unsigned status, unsigned& interim, bool& skip) {
    skip = false;
    if (status < 100)
        return reply_errc::bad_status;
    if (status / 100 != 1)
        return {};
    if (status == 101)
        return reply_errc::unexpected_upgrade;
    if (++interim > reply_reader::max_interim)
        return reply_errc::too_many_interim;
    skip = true;
    return {};
}

bool reply_reader::on_message_done() {
    bool skip = false;
    if (const error_code ec = classify_status(parser_->get().result_int(), interim_, skip)) {
        fail(ec);
        return true;
    }
    if (!skip) {
        state_ = state::done;
        return true;
    }
    start_message(); // the final reply follows
    return false;
}

reply_reader::state reply_reader::feed(beast::flat_buffer& buffer) {
    while (state_ == state::need_more && buffer.size() != 0) {
        // Boost 1.81's chunk parser asserts (an abort in a build with assertions) when, having
        // seen the last chunk's size line, it is shown fewer than 5 bytes again; found by
        // fuzz/reply_reader_fuzz.cpp. No element of a chunked body shorter than that can end the
        // message ("0\r\n\r\n" is the shortest end), so waiting for 5 bytes never stalls one.
        if (parser_->is_header_done() && parser_->chunked() && buffer.size() < 5)
            break;
        error_code ec;
        const std::size_t used = parser_->put(buffer.data(), ec);
        buffer.consume(used);
        if (used != 0 || parser_->got_some())
            got_some_ = true;
        // Beast wants more bytes: the unparsed ones stay in the buffer, to be shown to it again
        // only with more after them (as its own read loop does). Putting the same incomplete
        // bytes again at once breaks an internal assumption of its chunk parser (an assertion
        // in Boost 1.81's parse_chunk_header, found by fuzz/reply_reader_fuzz.cpp).
        if (ec == http::error::need_more)
            break;
        if (ec)
            return fail(ec);
        if (parser_->is_done()) {
            if (on_message_done())
                break;
        } else if (used == 0) {
            break;
        }
    }
    // A byte that arrived but could not be parsed yet (a partial status line) is still a reply
    // begun: the request reached upstream.
    if (buffer.size() != 0)
        got_some_ = true;
    return state_;
}

reply_reader::state reply_reader::end_of_stream(bool clean) {
    if (state_ != state::need_more)
        return state_;
    if (const auto cut = end_of_stream_verdict(*parser_, got_some_, clean))
        return fail(*cut);
    ended_by_eof_ = true;
    on_message_done(); // a final reply: a 1xx has no body to end with the stream
    return state_;
}

bool reply_reader::reusable(const beast::flat_buffer& buffer) const {
    return state_ == state::done && !ended_by_eof_ && buffer.size() == 0 && parser_ &&
           parser_->keep_alive();
}

reply_reader::response reply_reader::take() {
    return parser_->release();
}

// ---- reply_stream_reader ----

reply_stream_reader::reply_stream_reader(std::uint32_t header_limit, bool head_request,
                                         std::size_t window)
    : header_limit_(header_limit)
    , head_request_(head_request)
    , window_(std::max<std::size_t>(window, 1)) {
    start_message();
}

void reply_stream_reader::start_message() {
    parser_.emplace();
    parser_->body_limit(boost::none); // any length: the bytes are passed on, not held
    parser_->header_limit(header_limit_);
    parser_->eager(true);
    if (head_request_)
        parser_->skip(true);
    body_taken();
}

reply_stream_reader::state reply_stream_reader::fail(error_code ec) {
    error_ = ec;
    state_ = state::failed;
    return state_;
}

std::string_view reply_stream_reader::body_bytes() const {
    const auto& body = parser_->get().body();
    return {window_.data(), window_.size() - body.size};
}

void reply_stream_reader::body_taken() {
    auto& body = parser_->get().body();
    body.data = window_.data();
    body.size = window_.size();
}

std::optional<std::uint64_t> reply_stream_reader::body_length() const {
    const unsigned status = parser_->get().result_int();
    if (head_request_ || status == 204 || status == 304)
        return 0;
    if (parser_->chunked())
        return std::nullopt;
    if (const auto length = parser_->content_length())
        return *length;
    return std::nullopt; // delimited by the end of the stream
}

reply_stream_reader::state reply_stream_reader::feed(beast::flat_buffer& buffer) {
    if (state_ == state::done || state_ == state::failed)
        return state_;
    state_ = state::need_more;
    // Set once the parser wants more bytes than the buffer has: what it parsed meanwhile (a
    // header, body bytes, the end) is still reported first, in that order.
    bool waiting = false;
    for (;;) {
        if (!header_seen_ && parser_->is_header_done()) {
            bool skip = false;
            if (const error_code ec = classify_status(parser_->get().result_int(), interim_, skip))
                return fail(ec);
            if (!skip) {
                header_seen_ = true;
                state_ = state::header;
                return state_;
            }
            start_message(); // an interim reply has no body: the final one follows
            waiting = false;
            continue;
        }
        if (header_seen_ && parser_->is_done()) {
            state_ = state::done;
            return state_;
        }
        if (header_seen_ && body_bytes().size() == window_.size()) {
            state_ = state::body;
            return state_;
        }
        if (waiting || buffer.size() == 0)
            break;
        // Boost 1.81's chunk parser asserts when shown fewer than 5 bytes after the last chunk's
        // size line, and when shown the same incomplete bytes again (see reply_reader::feed()).
        if (parser_->is_header_done() && parser_->chunked() && buffer.size() < 5)
            break;
        error_code ec;
        const std::size_t used = parser_->put(buffer.data(), ec);
        buffer.consume(used);
        if (used != 0 || parser_->got_some())
            got_some_ = true;
        if (ec == http::error::need_buffer)
            continue; // the window is full: reported above
        if (ec == http::error::need_more || (!ec && used == 0 && !parser_->is_done())) {
            waiting = true;
            continue;
        }
        if (ec)
            return fail(ec);
    }
    if (buffer.size() != 0)
        got_some_ = true;
    return state_;
}

reply_stream_reader::state reply_stream_reader::end_of_stream(bool clean) {
    if (state_ == state::done || state_ == state::failed)
        return state_;
    state_ = state::need_more;
    if (header_seen_ && parser_->is_done())
        return state_ = state::done;
    if (const auto cut = end_of_stream_verdict(*parser_, got_some_, clean))
        return fail(*cut);
    ended_by_eof_ = true;
    state_ = state::done; // a final reply: feed() reported its header before waiting for more
    return state_;
}

bool reply_stream_reader::reusable(const beast::flat_buffer& buffer) const {
    return state_ == state::done && !ended_by_eof_ && buffer.size() == 0 && parser_->keep_alive();
}

} // namespace synergy_tokend
