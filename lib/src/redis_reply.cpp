#include "synergy_tokend/redis_reply.hpp"

#include <new>

#include <hiredis/read.h>

namespace synergy_tokend {

// hiredis calls these as it completes each item of a reply, with the reader's privdata (this
// object) in the task. An item inside an array is built in place in its parent's elements (sized
// when the array's header was read, never resized), so hiredis only ever frees the root.
struct redis_reply_reader::access {
    static redis_reply_reader& self(const redisReadTask* task) {
        return *static_cast<redis_reply_reader*>(task->privdata);
    }
    static redis_reply* place(const redisReadTask* task) {
        if (task->parent == nullptr)
            return new (std::nothrow) redis_reply;
        auto* parent = static_cast<redis_reply*>(task->parent->obj);
        const auto idx = static_cast<std::size_t>(task->idx);
        return task->idx >= 0 && idx < parent->elements.size() ? &parent->elements[idx] : nullptr;
    }
    static void* refuse(const redisReadTask* task, std::string why) {
        self(task).refusal_ = std::move(why);
        return nullptr; // hiredis stops with an error, frees the reply so far
    }
    static void* string(const redisReadTask* task, char* str, std::size_t len) {
        // hiredis has checked that the line's CRLF, or the bulk's data and two bytes after it,
        // are in its buffer; for a bulk it never looks at those two bytes.
        if (str[len] != '\r' || str[len + 1] != '\n')
            return refuse(task, "a bulk string not followed by CRLF");
        redis_reply* r = place(task);
        if (r == nullptr)
            return nullptr;
        r->type = task->type == REDIS_REPLY_STATUS  ? redis_reply::kind::status
                  : task->type == REDIS_REPLY_ERROR ? redis_reply::kind::error
                                                    : redis_reply::kind::string;
        r->str.assign(str, len);
        return r;
    }
    static void* array(const redisReadTask* task, int elements) {
        redis_reply_reader& reader = self(task);
        const auto n = static_cast<std::size_t>(elements);
        if (elements < 0 || n > reader.max_elements_ - reader.elements_)
            return refuse(task, "an array of " + std::to_string(elements) +
                                    " elements, more than a reply may hold (" +
                                    std::to_string(reader.max_elements_) + ")");
        reader.elements_ += n;
        redis_reply* r = place(task);
        if (r == nullptr)
            return nullptr;
        r->type = redis_reply::kind::array;
        r->elements.resize(n);
        return r;
    }
    static void* integer(const redisReadTask* task, long long value) {
        redis_reply* r = place(task);
        if (r == nullptr)
            return nullptr;
        r->type = redis_reply::kind::integer;
        r->integer = value;
        return r;
    }
    static void* nil(const redisReadTask* task) {
        redis_reply* r = place(task);
        if (r != nullptr)
            r->type = redis_reply::kind::nil;
        return r;
    }
    static void free_root(void* root) { delete static_cast<redis_reply*>(root); }
};

namespace {

redisReplyObjectFunctions reply_functions = {
    redis_reply_reader::access::string, redis_reply_reader::access::array,
    redis_reply_reader::access::integer, redis_reply_reader::access::nil,
    redis_reply_reader::access::free_root};

redisReader* new_reader() {
    redisReader* r = redisReaderCreateWithFunctions(&reply_functions);
    if (r == nullptr)
        throw std::bad_alloc();
    return r;
}

std::string describe(const redis_reply& r) {
    switch (r.type) {
    case redis_reply::kind::string:
        return "a bulk string";
    case redis_reply::kind::status:
        return "the status " + printable(r.str);
    case redis_reply::kind::error:
        return "the error " + printable(r.str);
    case redis_reply::kind::integer:
        return "the integer " + std::to_string(r.integer);
    case redis_reply::kind::nil:
        return "nil";
    case redis_reply::kind::array:
        return "an array";
    }
    return "an unknown reply";
}

} // namespace

redis_reply_reader::redis_reply_reader(std::size_t max_bytes, std::size_t max_elements)
    : reader_(new_reader(), redisReaderFree)
    , max_bytes_(max_bytes)
    , max_elements_(max_elements) {
    reader_->privdata = this;
}

redis_reply_reader::~redis_reply_reader() = default;

void redis_reply_reader::fail(std::string why) {
    failed_ = true;
    error_ = std::move(why);
}

std::size_t redis_reply_reader::buffered() const {
    return reader_->len - reader_->pos;
}

void redis_reply_reader::feed(std::string_view bytes) {
    if (failed_ || bytes.empty())
        return;
    if (redisReaderFeed(reader_.get(), bytes.data(), bytes.size()) != REDIS_OK) {
        fail("out of memory buffering a reply");
        return;
    }
    fed_ += bytes.size();
}

redis_reply_reader::result redis_reply_reader::next() {
    result out;
    if (failed_) {
        out.what = status::error;
        return out;
    }
    void* raw = nullptr;
    const int rc = redisReaderGetReply(reader_.get(), &raw);
    if (rc != REDIS_OK) {
        fail(!refusal_.empty()         ? refusal_
             : reader_->errstr[0] != 0 ? printable(reader_->errstr)
                                       : std::string("bytes that are not RESP"));
        out.what = status::error;
        return out;
    }
    const std::size_t used = fed_ - buffered(); // bytes of the stream parsed so far
    if (raw == nullptr) {
        if (fed_ - reply_start_ > max_bytes_) {
            fail("a reply longer than " + std::to_string(max_bytes_) + " bytes");
            out.what = status::error;
        }
        return out;
    }
    std::unique_ptr<redis_reply> reply(static_cast<redis_reply*>(raw));
    if (used - reply_start_ > max_bytes_) {
        fail("a reply longer than " + std::to_string(max_bytes_) + " bytes");
        out.what = status::error;
        return out;
    }
    reply_start_ = used;
    elements_ = 0;
    out.what = status::reply;
    out.reply = std::move(*reply);
    return out;
}

redis_reply_reader::result redis_reply_reader::next_alone() {
    result out = next();
    if (out.what == status::reply && buffered() > 0) {
        fail("bytes after the reply that no command asked for");
        out = {};
        out.what = status::error;
    }
    return out;
}

get_meaning meaning_of_get(const redis_reply& r) {
    get_meaning out;
    if (r.type == redis_reply::kind::string)
        out.value = r.str;
    else if (r.type != redis_reply::kind::nil)
        out.problem = "GET answered " + describe(r) + ", neither a value nor nil";
    return out;
}

set_nx_meaning meaning_of_set_nx(const redis_reply& r) {
    set_nx_meaning out;
    if (r.type == redis_reply::kind::status && r.str == "OK")
        out.won = true;
    else if (r.type != redis_reply::kind::nil)
        out.problem = "SET NX answered " + describe(r) + ", neither OK nor nil";
    return out;
}

std::string problem_unless_ok(const redis_reply& r, std::string_view command) {
    if (r.type == redis_reply::kind::status && r.str == "OK")
        return {};
    return std::string(command) + " answered " + describe(r) + ", not OK";
}

integer_meaning meaning_of_integer(const redis_reply& r, std::string_view command) {
    integer_meaning out;
    if (r.type == redis_reply::kind::integer)
        out.value = r.integer;
    else
        out.problem = std::string(command) + " answered " + describe(r) + ", not an integer";
    return out;
}

std::string printable(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 120))
        out += (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) ? c : '?';
    return out;
}

} // namespace synergy_tokend
