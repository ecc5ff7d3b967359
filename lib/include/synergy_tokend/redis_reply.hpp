// Redis replies, from bytes to what a command's caller needs (PRODUCT.md §10); pure, no I/O.
//
// - redis_reply_reader: hiredis's reply reader (redisReader, Debian's libhiredis 0.14) parses the
//   bytes; this class gives it its own reply-object functions, which build redis_reply values
//   directly and enforce what hiredis 0.14 does not:
//     * a bulk string's data must be followed by CRLF (hiredis skips those two bytes unread);
//     * a reply may hold at most `max_elements` array elements in all, refused when the array's
//       header is read, before anything is allocated for it (hiredis would calloc the count);
//     * a reply may take at most `max_bytes` bytes of RESP: refused as soon as more are buffered
//       for an incomplete reply (a bulk length of 10 GB is refused after max_bytes, never
//       allocated), or when a complete one is larger;
//     * more than 8 levels of arrays (a root and 7 nested) are refused by hiredis itself.
//   The replies and the error are the same however the bytes are cut into feed() calls: hiredis
//   only acts on complete lines and bulks, and the size limit is a property of each reply.
//   After an error the reader gives nothing more.
// - The meaning of a reply for the commands the shared cache sends: GET (a value or nil), SET NX
//   (OK: won, nil: lost), SET / AUTH / SELECT (OK), EVAL returning an integer. Anything else,
//   including an error reply, is a problem naming what came.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct redisReader;

namespace synergy_tokend {

struct redis_reply {
    enum class kind { string, status, error, integer, nil, array };
    kind type = kind::nil;
    std::string str; // string, status, error
    long long integer = 0;
    std::vector<redis_reply> elements;
    bool operator==(const redis_reply&) const = default;
};

class redis_reply_reader {
public:
    static constexpr std::size_t default_max_bytes = 1024 * 1024;
    static constexpr std::size_t default_max_elements = 1024;

    explicit redis_reply_reader(std::size_t max_bytes = default_max_bytes,
                                std::size_t max_elements = default_max_elements);
    ~redis_reply_reader();
    redis_reply_reader(const redis_reply_reader&) = delete;
    redis_reply_reader& operator=(const redis_reply_reader&) = delete;

    enum class status { reply, need_more, error };
    struct result {
        status what = status::need_more;
        redis_reply reply; // when what == reply
    };

    // Appends bytes read from the connection (ignored after an error).
    void feed(std::string_view bytes);
    // The next complete reply, need_more, or error (error() says why; printable, for the log).
    result next();
    // next() for a connection that carries one command at a time (redis_client): a reply
    // followed by bytes already fed is an error, those bytes answer no command.
    result next_alone();
    const std::string& error() const { return error_; }
    // Bytes fed that no reply returned so far has used.
    std::size_t buffered() const;
    // Whether any byte of a next reply has been fed (and parsed or not).
    bool mid_reply() const { return fed_ != reply_start_; }

    // For hiredis's object functions (redis_reply.cpp).
    struct access;

private:
    void fail(std::string why);

    std::unique_ptr<redisReader, void (*)(redisReader*)> reader_;
    std::size_t max_bytes_;
    std::size_t max_elements_;
    std::size_t fed_ = 0;         // bytes fed in all
    std::size_t reply_start_ = 0; // where the reply being read starts, in the bytes fed
    std::size_t elements_ = 0;    // array elements of the reply being read
    std::string refusal_;         // why an object function refused, when one did
    bool failed_ = false;
    std::string error_;
};

// What a reply means for the command that asked for it; `problem` is empty when the reply is one
// the command can have.
struct get_meaning {
    std::optional<std::string> value; // nil: none
    std::string problem;
};
get_meaning meaning_of_get(const redis_reply& r);

struct set_nx_meaning {
    bool won = false; // OK: the key was set; nil: it existed
    std::string problem;
};
set_nx_meaning meaning_of_set_nx(const redis_reply& r);

// SET, AUTH, SELECT: "" when the reply is +OK, else the problem (`command` names it).
std::string problem_unless_ok(const redis_reply& r, std::string_view command);

struct integer_meaning {
    long long value = 0;
    std::string problem;
};
integer_meaning meaning_of_integer(const redis_reply& r, std::string_view command);

// At most 120 bytes of `s`, control bytes as '?': Redis's text for a log line.
std::string printable(std::string_view s);

} // namespace synergy_tokend
