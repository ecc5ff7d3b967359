// The mock's Auth API behaviour (see main.cpp for the contract), without I/O: the session reads a
// request, calls begin_api_request, waits ticket.delay, calls finish_api_request and then does
// what the outcome says. Splitting in two lets a delayed request be counted and its fault taken
// in arrival order, while its token is issued (iat, exp) when the reply is actually sent.
//
// Neither function throws on any input; both must run on the event-loop thread that owns state.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "mock_state.hpp"

namespace synergy_auth_mock {

using request = boost::beast::http::request<boost::beast::http::string_body>;
using response = boost::beast::http::response<boost::beast::http::string_body>;

enum class endpoint { token, info, other };

struct api_ticket {
    std::uint64_t request_id = 0;
    endpoint kind = endpoint::other;
    std::optional<fault> applied_fault;
    std::chrono::milliseconds delay{0}; // settings delay plus a delay fault's
};

enum class api_action {
    reply,      // send response
    truncate,   // send response's headers and half its body, then close
    drop,       // close without a reply
    stall,      // never reply
    stall_body, // send response's headers and half its body, then never the rest
    raw,        // send raw.writes, then end as raw.end says
    stream,     // send response's header, then stream.size generated body bytes (stream_reply)
};

// How a raw reply ends once its bytes are written.
enum class raw_end {
    keep_alive,   // read the next request
    close_notify, // TLS close_notify (plain HTTP: shutdown), then close
    close_now,    // close the socket at once: no close_notify, a truncation for TLS
};

// Bytes the API sends as they are, for the hostile modes (interim replies, extra bytes, EOF
// bodies, short bodies, status codes Beast has no name for).
struct raw_reply {
    std::vector<std::string> writes;  // in order, `gap` apart
    std::chrono::milliseconds gap{0}; // before each write but the first
    bool byte_records = false;        // each byte its own write (its own TLS record)
    raw_end end = raw_end::keep_alive;
};

// A generated body of any length (GET /product/stream): byte i is 'a' + i % 26, sent in writes of
// `piece` bytes `interval` apart, framed by Content-Length, chunks (one per write) or the end of
// the stream; `cut`: only that many bytes, then a close without TLS close_notify.
enum class stream_framing { length, chunked, eof };
struct stream_reply {
    std::uint64_t size = 0;
    std::size_t piece = 65536;
    std::chrono::milliseconds interval{0};
    stream_framing framing = stream_framing::length;
    std::optional<std::uint64_t> cut;
};

struct api_outcome {
    api_action action = api_action::reply;
    // Complete (X-Mock-Request-Id, Content-Length) for reply, truncate, stall_body; for raw, the
    // final reply as it is logged (the bytes sent are in raw).
    response res;
    raw_reply raw;
    stream_reply stream;
    std::string log_note; // e.g. "fault=drop", for the log line
};

// On arrival: assigns the request id, counts the request, logs a token request, takes a fault.
api_ticket begin_api_request(mock_state& state, const request& req);

// When it is time to answer: the reply (issuing a token if due) or the fault's action. Records
// the status in the token-request log and the exchange in last_info.
api_outcome finish_api_request(mock_state& state, const api_ticket& ticket, const request& req);

// The reply to a request the HTTP parser rejected (400, 413 or 431), in the upstream envelope.
response unparsable_request_reply(mock_state& state, unsigned status, const std::string& why);

} // namespace synergy_auth_mock
