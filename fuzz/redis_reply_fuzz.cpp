// libFuzzer target: the shared cache's Redis reply path, the code every daemon runs on the bytes
// Redis (or whoever answers on its address) sends: redis_reply_reader (hiredis's redisReader
// with the project's object functions and limits) and the meaning of a reply for each command
// the shared cache sends (GET, SET NX, SET / AUTH / SELECT, EVAL), as redis_client and
// shared_cache use them.
//
// Input layout: byte 0 picks the limits (bit 0: small ones, so that inputs of a few KB reach
// them; else the daemon's) and the command (the rest, modulo 4); bytes 1..6 are three cut
// offsets (16 bits each, modulo the stream's length); the rest is the stream.
//
// Invariants checked on every run:
// - no crash, no undefined behaviour, no leak (ASan, UBSan, LeakSanitizer);
// - the replies, and whether the stream ends in an error, are the same fed whole, in the four
//   pieces the cuts make, and (for streams up to 512 bytes) one byte at a time;
// - every reply is exactly the canonical RESP of what it holds, and the replies together are
//   exactly the bytes they used: garbage is never a reply (hiredis 0.14 alone would take
//   "$1\r\naXY" for "a");
// - limits: no reply has more than max_elements elements or more than 8 levels of arrays;
//   bytes waiting for an incomplete reply never exceed max_bytes (a huge bulk length or array
//   count is refused, never allocated: ASan's allocator and libFuzzer's malloc limit would say);
// - one command at a time (next_alone, redis_client's exchange): the same reply whole or split,
//   except that bytes after the reply are an error only when they came with it;
// - each command's meaning is a success only for the replies that command can have.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "synergy_tokend/redis_reply.hpp"

namespace st = synergy_tokend;
using status = st::redis_reply_reader::status;

namespace {

// Which invariant failed, by its line, then abort.
#define check(ok) check_at((ok), __LINE__)
void check_at(bool ok, int line) {
    if (!ok) {
        std::fprintf(stderr, "redis_reply_fuzz.cpp:%d: invariant failed\n", line);
        std::abort();
    }
}

struct limits {
    std::size_t bytes;
    std::size_t elements;
};

struct outcome {
    std::vector<st::redis_reply> replies;
    status last = status::need_more;
    std::size_t used = 0; // bytes the replies used
};

// Feeds the pieces in turn, taking every reply as it completes.
outcome stream(const std::vector<std::string_view>& pieces, limits lim) {
    st::redis_reply_reader reader(lim.bytes, lim.elements);
    outcome out;
    std::size_t fed = 0;
    for (std::string_view piece : pieces) {
        reader.feed(piece);
        fed += piece.size();
        for (;;) {
            auto r = reader.next();
            out.last = r.what;
            if (r.what != status::reply)
                break;
            out.replies.push_back(std::move(r.reply));
            out.used = fed - reader.buffered();
        }
        if (out.last == status::error) {
            check(!reader.error().empty());
            break;
        }
        // What waits for an incomplete reply stays within the limit.
        check(fed - out.used <= lim.bytes);
        check(reader.buffered() <= fed - out.used);
    }
    return out;
}

struct single {
    status what = status::need_more;
    st::redis_reply reply;
    bool bytes_after = false; // the error was for bytes after a reply
};

// redis_client's exchange: the pieces until a reply or an error.
single exchange(const std::vector<std::string_view>& pieces, limits lim) {
    st::redis_reply_reader reader(lim.bytes, lim.elements);
    single out;
    for (std::string_view piece : pieces) {
        reader.feed(piece);
        auto r = reader.next_alone();
        out.what = r.what;
        if (r.what == status::reply) {
            out.reply = std::move(r.reply);
            break;
        }
        if (r.what == status::error) {
            out.bytes_after = reader.error() == "bytes after the reply that no command asked for";
            break;
        }
    }
    return out;
}

bool starts(std::string_view bytes, std::size_t& at, std::string_view what) {
    if (bytes.substr(at, what.size()) != what)
        return false;
    at += what.size();
    return true;
}

// Whether `bytes` at `at` hold exactly the canonical RESP of `r` (nil: "$-1" or "*-1");
// advances `at` past it. Counts elements and the nesting depth.
bool canonical(const st::redis_reply& r, std::string_view bytes, std::size_t& at,
               std::size_t& elements, int depth, int& max_depth) {
    using kind = st::redis_reply::kind;
    switch (r.type) {
    case kind::status:
    case kind::error:
        return r.str.find("\r\n") == std::string::npos &&
               starts(bytes, at, r.type == kind::status ? "+" : "-") && starts(bytes, at, r.str) &&
               starts(bytes, at, "\r\n");
    case kind::integer:
        return starts(bytes, at, ":" + std::to_string(r.integer) + "\r\n");
    case kind::string:
        return starts(bytes, at, "$" + std::to_string(r.str.size()) + "\r\n") &&
               starts(bytes, at, r.str) && starts(bytes, at, "\r\n");
    case kind::nil:
        return starts(bytes, at, "$-1\r\n") || starts(bytes, at, "*-1\r\n");
    case kind::array:
        if (depth + 1 > max_depth)
            max_depth = depth + 1;
        elements += r.elements.size();
        if (!starts(bytes, at, "*" + std::to_string(r.elements.size()) + "\r\n"))
            return false;
        for (const auto& e : r.elements)
            if (!canonical(e, bytes, at, elements, depth + 1, max_depth))
                return false;
        return true;
    }
    return false;
}

// Each command's meaning is a success only for the replies it can have.
void check_meaning(const st::redis_reply& r, unsigned command) {
    using kind = st::redis_reply::kind;
    switch (command) {
    case 0: { // GET
        const auto m = st::meaning_of_get(r);
        check(m.problem.empty() == (r.type == kind::string || r.type == kind::nil));
        check(m.value.has_value() == (r.type == kind::string));
        if (m.value)
            check(*m.value == r.str);
        break;
    }
    case 1: { // SET NX
        const auto m = st::meaning_of_set_nx(r);
        const bool ok = r.type == kind::status && r.str == "OK";
        check(m.won == ok);
        check(m.problem.empty() == (ok || r.type == kind::nil));
        break;
    }
    case 2: { // SET, AUTH, SELECT
        const std::string p = st::problem_unless_ok(r, "AUTH");
        check(p.empty() == (r.type == kind::status && r.str == "OK"));
        for (char c : p)
            check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
        break;
    }
    default: { // EVAL
        const auto m = st::meaning_of_integer(r, "EVAL");
        check(m.problem.empty() == (r.type == kind::integer));
        if (m.problem.empty())
            check(m.value == r.integer);
        break;
    }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 7)
        return 0;
    const limits lim = (data[0] & 1) != 0 ? limits{512, 16}
                                          : limits{st::redis_reply_reader::default_max_bytes,
                                                   st::redis_reply_reader::default_max_elements};
    const unsigned command = (data[0] >> 1) % 4;
    const std::string_view bytes(reinterpret_cast<const char*>(data + 7), size - 7);

    std::size_t cuts[3];
    for (int i = 0; i < 3; ++i)
        cuts[i] = (data[1 + 2 * i] | (data[2 + 2 * i] << 8)) % (bytes.size() + 1);
    std::sort(cuts, cuts + 3);
    const std::vector<std::string_view> whole{bytes};
    const std::vector<std::string_view> pieces{
        bytes.substr(0, cuts[0]), bytes.substr(cuts[0], cuts[1] - cuts[0]),
        bytes.substr(cuts[1], cuts[2] - cuts[1]), bytes.substr(cuts[2])};

    const outcome all = stream(whole, lim);
    // Garbage is never a reply: the replies are exactly the bytes they used, canonically.
    std::size_t at = 0;
    for (const auto& r : all.replies) {
        std::size_t elements = 0;
        int depth = 0;
        check(canonical(r, bytes, at, elements, 0, depth));
        check(elements <= lim.elements);
        check(depth <= 8);
        check_meaning(r, command);
    }
    check(at == all.used);

    const outcome split = stream(pieces, lim);
    check(split.replies == all.replies);
    check(split.last == all.last);
    check(split.used == all.used);
    if (bytes.size() <= 512) {
        std::vector<std::string_view> bytewise;
        for (std::size_t i = 0; i < bytes.size(); ++i)
            bytewise.push_back(bytes.substr(i, 1));
        const outcome one_by_one = stream(bytewise, lim);
        check(one_by_one.replies == all.replies);
        check(one_by_one.last == all.last);
    }

    // One command at a time: the first reply, whole or split.
    const single alone = exchange(whole, lim);
    const single cut = exchange(pieces, lim);
    if (all.replies.empty()) {
        check(alone.what == all.last);
        check(cut.what == all.last);
    } else if (all.replies.size() == 1 && all.used == bytes.size()) {
        check(alone.what == status::reply && alone.reply == all.replies[0]);
        check(cut.what == status::reply && cut.reply == all.replies[0]);
    } else {
        // More bytes than the first reply: an error when they came with it.
        check(alone.what == status::error && alone.bytes_after);
        check(cut.what == status::error ? cut.bytes_after : cut.reply == all.replies[0]);
        check(cut.what != status::need_more);
    }
    return 0;
}
