// libFuzzer target: the upstream exchange's reading half (reply_reader), the code the upstream
// client runs on every byte of every reply. The input is an arbitrary upstream byte stream, cut
// into arbitrary reads, ended in one of three ways (clean close, truncated close, no close).
//
// Input layout: byte 0 picks the ending and the request method; bytes 1..8 are read sizes
// (1..256, used in turn); the rest is the stream.
//
// Invariants checked on every run:
// - the outcome is exactly one of: one complete final (non-1xx) response, or an error; after the
//   stream ended the reader is never still waiting;
// - the connection is reusable only after a final response that allows keep-alive, whose end
//   came from its framing, with the buffer empty;
// - a failed exchange has an error and is never reusable;
// - the outcome does not depend on how the stream was cut into reads: the same bytes fed in one
//   read give a response in the same cases, with the same status, body and reusability.
// And for reply_stream_reader (the streaming reader of product API routes), fed the same reads
// with a small window so that its bodies come in many pieces:
// - it reports the final header once, before any body byte, never an interim one, and never
//   holds more than its window;
// - it delivers a response exactly when reply_reader does, with the same status, the same body
//   bytes (the pieces put together) and the same reusability; when reply_reader fails it never
//   ends done (the bytes it passed on are then a reply the client sees cut short).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>

#include "synergy_tokend/reply_reader.hpp"

namespace st = synergy_tokend;

namespace {

enum class ending { clean, truncated, none };

struct outcome {
    st::reply_reader::state state = st::reply_reader::state::need_more;
    unsigned status = 0;
    std::string body;
    bool reusable = false;
    std::size_t left_over = 0;
};

constexpr std::uint64_t body_limit = 64 * 1024;
constexpr std::uint32_t header_limit = 8 * 1024;

void append(boost::beast::flat_buffer& buffer, std::string_view bytes) {
    auto space = buffer.prepare(bytes.size());
    boost::asio::buffer_copy(space, boost::asio::buffer(bytes.data(), bytes.size()));
    buffer.commit(bytes.size());
}

outcome run(std::string_view stream, const std::uint8_t* cuts, std::size_t n_cuts, ending end,
            bool head) {
    st::reply_reader reader(body_limit, header_limit, head);
    boost::beast::flat_buffer buffer;
    std::size_t at = 0;
    std::size_t cut = 0;
    auto state = st::reply_reader::state::need_more;
    while (state == st::reply_reader::state::need_more && at < stream.size()) {
        const std::size_t want = n_cuts == 0 ? stream.size() : 1 + cuts[cut++ % n_cuts];
        const std::size_t n = std::min(want, stream.size() - at);
        append(buffer, stream.substr(at, n));
        at += n;
        state = reader.feed(buffer);
        if (state == st::reply_reader::state::need_more &&
            buffer.size() > header_limit + body_limit)
            __builtin_trap(); // waiting for more while holding more than one reply may need
    }
    if (state == st::reply_reader::state::need_more && end != ending::none) {
        state = reader.end_of_stream(end == ending::clean);
        if (state == st::reply_reader::state::need_more)
            __builtin_trap(); // the stream ended: there must be an outcome
    }
    if (state != reader.current())
        __builtin_trap();

    outcome out;
    out.state = state;
    out.left_over = buffer.size() + (stream.size() - at);
    if (state == st::reply_reader::state::done) {
        if (reader.error())
            __builtin_trap();
        out.reusable = reader.reusable(buffer);
        if (out.reusable && buffer.size() != 0)
            __builtin_trap();
        auto res = reader.take();
        out.status = res.result_int();
        if (out.status < 200 || out.status > 999)
            __builtin_trap(); // never an interim reply, never a made-up status
        if (out.reusable && !res.keep_alive())
            __builtin_trap();
        if (res.body().size() > body_limit || (head && !res.body().empty()))
            __builtin_trap();
        out.body = std::move(res.body());
    } else if (state == st::reply_reader::state::failed) {
        if (!reader.error() || reader.reusable(buffer))
            __builtin_trap();
    } else if (reader.reusable(buffer)) {
        __builtin_trap();
    }
    return out;
}

// The same stream through reply_stream_reader, cut the same way, its window `window` bytes.
outcome run_stream(std::string_view stream, const std::uint8_t* cuts, std::size_t n_cuts,
                   ending end, bool head, std::size_t window) {
    using state = st::reply_stream_reader::state;
    st::reply_stream_reader reader(header_limit, head, window);
    boost::beast::flat_buffer buffer;
    std::size_t at = 0;
    std::size_t cut = 0;
    outcome out;
    bool header = false;
    auto take = [&] {
        const std::string_view bytes = reader.body_bytes();
        if (bytes.size() > window)
            __builtin_trap();
        if (!bytes.empty() && !header && reader.current() != state::failed)
            __builtin_trap(); // body bytes before the header
        out.body += bytes;
        reader.body_taken();
    };
    auto on_state = [&](state s) {
        if (s == state::header) {
            if (header)
                __builtin_trap(); // reported twice
            header = true;
            out.status = reader.header().result_int();
            if (out.status < 200 || out.status > 999)
                __builtin_trap();
            const auto length = reader.body_length();
            if (head && length != std::uint64_t{0})
                __builtin_trap();
        }
        take();
    };
    state s = state::need_more;
    for (;;) {
        s = reader.feed(buffer);
        on_state(s);
        if (s == state::header || s == state::body)
            continue;
        if (s != state::need_more || at >= stream.size())
            break;
        const std::size_t want = n_cuts == 0 ? stream.size() : 1 + cuts[cut++ % n_cuts];
        const std::size_t n = std::min(want, stream.size() - at);
        append(buffer, stream.substr(at, n));
        at += n;
    }
    if (s == state::need_more && end != ending::none) {
        s = reader.end_of_stream(end == ending::clean);
        take();
        if (s == state::need_more)
            __builtin_trap();
    }
    out.state = s == state::done     ? st::reply_reader::state::done
                : s == state::failed ? st::reply_reader::state::failed
                                     : st::reply_reader::state::need_more;
    out.left_over = buffer.size() + (stream.size() - at);
    if (s == state::done) {
        if (!header || reader.error())
            __builtin_trap();
        out.reusable = reader.reusable(buffer);
        if (head && !out.body.empty())
            __builtin_trap();
    } else if (s == state::failed && (!reader.error() || reader.reusable(buffer))) {
        __builtin_trap();
    }
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 9)
        return 0;
    const ending end = static_cast<ending>(data[0] % 3);
    const bool head = (data[0] & 0x80) != 0;
    const std::uint8_t* cuts = data + 1;
    const std::string_view stream(reinterpret_cast<const char*>(data + 9), size - 9);

    const outcome split = run(stream, cuts, 8, end, head);
    const outcome whole = run(stream, nullptr, 0, end, head);
    // Whatever the reads, the same answer. Bytes after a final response are either left in the
    // buffer (not reusable) or not read yet; the pool's check before reuse (bytes waiting on an
    // idle connection) closes the connection then, so that is the reuse to compare.
    const bool split_reused = split.reusable && split.left_over == 0;
    const bool whole_reused = whole.reusable && whole.left_over == 0;
    // A failure may show sooner or later (Beast finds some malformed headers only once it has
    // the whole header), but a response is delivered in both runs or in neither.
    const bool split_done = split.state == st::reply_reader::state::done;
    const bool whole_done = whole.state == st::reply_reader::state::done;
    if (split_done != whole_done)
        __builtin_trap();
    if (split_done &&
        (split.status != whole.status || split.body != whole.body || split_reused != whole_reused))
        __builtin_trap();

    // The streaming reader, the same reads, a window of 1..16 bytes.
    const outcome streamed = run_stream(stream, cuts, 8, end, head, 1 + data[1] % 16);
    const bool streamed_done = streamed.state == st::reply_reader::state::done;
    if (streamed_done != split_done)
        __builtin_trap();
    if (streamed_done && (streamed.status != split.status || streamed.body != split.body ||
                          (streamed.reusable && streamed.left_over == 0) != split_reused))
        __builtin_trap();
    return 0;
}
