// The local API's messages (PRODUCT.md §5): the request and response types, the replies every
// endpoint shares (the error envelope, the answer for a token that cannot be served), and the one
// serialiser of replies: every byte local_server writes comes out of reply_header(), the cached
// token replies of local_api's fast path included.
//
// Pure functions of their arguments, apart from the envelope's "time" (the wall clock); no I/O.
// They throw only std::bad_alloc.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace synergy_tokend {

struct serve_result;

using local_request = boost::beast::http::request<boost::beast::http::string_body>;
using local_response = boost::beast::http::response<boost::beast::http::string_body>;

// A 200-style reply: `status`, Content-Type application/json, `body` (serialized JSON).
local_response json_response(unsigned status, std::string body);

// A JSON error reply in the upstream error envelope (status, message; no secrets).
local_response make_error_response(unsigned status, std::string_view message);

// The reply for a serve_result (token_store.hpp) that is not ok: 404 unknown profile, upstream's
// own status (as a number, with its reason phrase), Content-Type, body and Retry-After for an
// upstream error, 502 for a bad reply, 503 + Retry-After when no token is servable.
local_response failure_response(const serve_result& served);

// Makes `res` ready for the wire: HTTP/1.1, keep-alive as `keep_alive` says (Connection: close
// otherwise), Content-Length of its body; returns its header block: the status line (the status
// as a number; a status Beast has no name for gets the reason phrase set on `res`, or none), the
// fields in their order, and the empty line. The body is sent as it is, after it (or not at all
// for HEAD, Content-Length staying the GET reply's: with `head`, a Content-Length already set on
// `res` is kept, as a forwarded HEAD reply has it).
std::string reply_header(local_response& res, bool keep_alive, bool head = false);

// The header block of a reply whose body follows in pieces (reply_sink.hpp): as reply_header(),
// but with Content-Length `length` when known, else `Transfer-Encoding: chunked` (`chunked`
// true) or, for an HTTP/1.0 client (`chunked` false), no framing field and Connection: close.
std::string streamed_reply_header(local_response& res, bool keep_alive,
                                  std::optional<std::uint64_t> length, bool chunked);

// The complete reply, header (as reply_header() makes it) and body in one string: for replies
// serialised once and sent many times.
std::string reply_bytes(local_response res, bool keep_alive);

} // namespace synergy_tokend
