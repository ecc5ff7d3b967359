#include "synergy_tokend/http_reply.hpp"

#include "synergy_tokend/clock.hpp"
#include "synergy_tokend/router.hpp"
#include "synergy_tokend/token_store.hpp"

namespace synergy_tokend {

namespace http = boost::beast::http;

local_response json_response(unsigned status, std::string body) {
    local_response res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, "application/json");
    res.body() = std::move(body);
    return res;
}

local_response make_error_response(unsigned status, std::string_view message) {
    return json_response(status, error_envelope(status, reason_for_status(status), message,
                                                format_rfc3339(wall_clock::now())));
}

local_response failure_response(const serve_result& served) {
    local_response res;
    switch (served.outcome) {
    case serve_result::status::unknown_profile:
        res = make_error_response(404, served.reason);
        break;
    case serve_result::status::upstream_error:
        // Drop-in callers expect upstream's own answer: status and body as they came.
        // The status as a number, whatever it is, with upstream's reason phrase.
        res.version(11);
        res.result(served.upstream.status);
        res.reason(served.upstream.reason);
        res.set(http::field::content_type, served.upstream.content_type.empty()
                                               ? "application/json"
                                               : served.upstream.content_type);
        res.body() = served.upstream.body; // redacted of every secret but the caller's own
        if (!served.upstream.retry_after.empty())
            res.set(http::field::retry_after, served.upstream.retry_after);
        break;
    case serve_result::status::bad_reply:
        res = make_error_response(502, served.reason);
        break;
    case serve_result::status::unavailable:
    case serve_result::status::ok:
        res = make_error_response(503, served.reason);
        res.set(http::field::retry_after, std::to_string(served.retry_after.count()));
        break;
    }
    return res;
}

namespace {

// The status line, the fields and the empty line of `res`.
std::string header_block(const local_response& res) {
    std::string header;
    header.reserve(256); // the usual reply's header in one allocation
    header += "HTTP/1.1 ";
    header += std::to_string(res.result_int());
    header += ' ';
    // A status Beast has no name for and no reason phrase was given for: none on the wire, rather
    // than Beast's placeholder.
    if (res.result() != http::status::unknown ||
        res.reason() != http::obsolete_reason(res.result()))
        header += res.reason();
    header += "\r\n";
    for (const auto& field : res) {
        header += field.name_string();
        header += ": ";
        header += field.value();
        header += "\r\n";
    }
    header += "\r\n";
    return header;
}

} // namespace

std::string reply_header(local_response& res, bool keep_alive, bool head) {
    res.version(11);
    res.keep_alive(keep_alive);
    // A HEAD reply that says the length of the body a GET would get (a route's) keeps it.
    if (!head || res.find(http::field::content_length) == res.end())
        res.prepare_payload();
    return header_block(res);
}

std::string streamed_reply_header(local_response& res, bool keep_alive,
                                  std::optional<std::uint64_t> length, bool chunked) {
    res.version(11);
    res.erase(http::field::content_length);
    res.erase(http::field::transfer_encoding);
    if (length)
        res.content_length(*length);
    else if (chunked)
        res.set(http::field::transfer_encoding, "chunked");
    res.keep_alive(keep_alive && (length || chunked));
    return header_block(res);
}

std::string reply_bytes(local_response res, bool keep_alive) {
    std::string out = reply_header(res, keep_alive);
    out.reserve(out.size() + res.body().size());
    out += res.body();
    return out;
}

} // namespace synergy_tokend
