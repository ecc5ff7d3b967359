// redis_reply_reader (hiredis's reader with our object functions and limits) and the meaning of
// replies for the shared cache's commands.
#include "synergy_tokend/redis_reply.hpp"

#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

namespace st = synergy_tokend;
using status = st::redis_reply_reader::status;

namespace {

struct parsed {
    std::vector<st::redis_reply> replies;
    status last = status::need_more;
    std::string error;
};

// Feeds `bytes` in pieces of `chunk` bytes, taking every reply as it completes.
parsed parse(std::string_view bytes, std::size_t chunk,
             std::size_t max_bytes = st::redis_reply_reader::default_max_bytes,
             std::size_t max_elements = st::redis_reply_reader::default_max_elements) {
    st::redis_reply_reader reader(max_bytes, max_elements);
    parsed out;
    auto drain = [&] {
        for (;;) {
            auto r = reader.next();
            out.last = r.what;
            if (r.what != status::reply)
                return;
            out.replies.push_back(std::move(r.reply));
        }
    };
    for (std::size_t at = 0; at < bytes.size() && out.last != status::error; at += chunk) {
        reader.feed(bytes.substr(at, chunk));
        drain();
    }
    out.error = reader.error();
    return out;
}

parsed parse_whole(std::string_view bytes) {
    return parse(bytes, bytes.size() + 1);
}

} // namespace

BOOST_AUTO_TEST_SUITE(redis_reply)

BOOST_AUTO_TEST_CASE(every_kind_of_reply_and_every_split) {
    const std::string stream = "+OK\r\n-ERR no\r\n:-42\r\n$5\r\nab\r\nc\r\n$-1\r\n*-1\r\n"
                               "*3\r\n$0\r\n\r\n*1\r\n:7\r\n$-1\r\n*0\r\n";
    const parsed whole = parse_whole(stream);
    BOOST_TEST_REQUIRE(whole.replies.size() == 8u, whole.error);
    BOOST_TEST((whole.last == status::need_more));
    BOOST_TEST((whole.replies[0].type == st::redis_reply::kind::status));
    BOOST_TEST(whole.replies[0].str == "OK");
    BOOST_TEST((whole.replies[1].type == st::redis_reply::kind::error));
    BOOST_TEST(whole.replies[1].str == "ERR no");
    BOOST_TEST(whole.replies[2].integer == -42);
    BOOST_TEST(whole.replies[3].str == "ab\r\nc");
    BOOST_TEST((whole.replies[4].type == st::redis_reply::kind::nil));
    BOOST_TEST((whole.replies[5].type == st::redis_reply::kind::nil));
    const auto& array = whole.replies[6];
    BOOST_TEST_REQUIRE(array.elements.size() == 3u);
    BOOST_TEST((array.elements[0].type == st::redis_reply::kind::string));
    BOOST_TEST(array.elements[0].str.empty());
    BOOST_TEST(array.elements[1].elements.at(0).integer == 7);
    BOOST_TEST((array.elements[2].type == st::redis_reply::kind::nil));
    BOOST_TEST((whole.replies[7].type == st::redis_reply::kind::array));
    BOOST_TEST(whole.replies[7].elements.empty());
    for (std::size_t chunk = 1; chunk < stream.size(); ++chunk) {
        const parsed split = parse(stream, chunk);
        BOOST_TEST_INFO("chunk " << chunk);
        BOOST_TEST((split.replies == whole.replies));
    }
}

BOOST_AUTO_TEST_CASE(a_bulk_string_not_followed_by_crlf_is_refused) {
    // hiredis 0.14 skips the two bytes after a bulk's data without looking at them.
    for (std::string bad : {"$1\r\naXY", "$1\r\na\rX", "*1\r\n$2\r\nab!!"}) {
        const parsed p = parse_whole(bad);
        BOOST_TEST_INFO(bad);
        BOOST_TEST((p.last == status::error));
        BOOST_TEST(p.replies.empty());
        BOOST_TEST(p.error.find("not followed by CRLF") != std::string::npos, p.error);
    }
}

BOOST_AUTO_TEST_CASE(garbage_is_an_error_and_the_reader_stays_failed) {
    for (std::string bad : {"HTTP/1.1 200 OK\r\n", ":12a\r\n", "$abc\r\n", "$-5\r\n", "*-2\r\n",
                            ":\r\n", ":99999999999999999999\r\n"}) {
        st::redis_reply_reader reader;
        reader.feed(bad);
        BOOST_TEST_INFO(bad);
        BOOST_TEST((reader.next().what == status::error));
        BOOST_TEST(!reader.error().empty());
        reader.feed("+OK\r\n");
        BOOST_TEST((reader.next().what == status::error));
    }
}

BOOST_AUTO_TEST_CASE(size_and_nesting_limits) {
    // A bulk length far beyond the limit: refused once more than max_bytes are buffered,
    // whatever the length says.
    std::string huge = "$9999999999\r\n" + std::string(300, 'x');
    parsed p = parse(huge, 16, 256);
    BOOST_TEST((p.last == status::error));
    BOOST_TEST(p.error.find("longer than 256 bytes") != std::string::npos, p.error);
    // A complete reply larger than the limit, fed at once, is refused too.
    p = parse_whole("$300\r\n" + std::string(300, 'x') + "\r\n");
    BOOST_TEST((p.last == status::need_more)); // within the default limit
    p = parse("$300\r\n" + std::string(300, 'x') + "\r\n", 1000, 256);
    BOOST_TEST((p.last == status::error));
    // Replies within the limit one after another: each counts alone.
    std::string many;
    for (int i = 0; i < 100; ++i)
        many += "$10\r\n0123456789\r\n";
    p = parse(many, 7, 64);
    BOOST_TEST(p.replies.size() == 100u);
    // An array count beyond the element limit: refused at its header, before any allocation
    // (hiredis would calloc 2^31 pointers for this one).
    p = parse_whole("*2147483647\r\n");
    BOOST_TEST((p.last == status::error));
    BOOST_TEST(p.error.find("2147483647 elements") != std::string::npos, p.error);
    // The element limit is for the whole reply, nested arrays included.
    p = parse("*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*1\r\n:4\r\n", 3, 1024, 5);
    BOOST_TEST((p.last == status::error));
    p = parse("*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*1\r\n:4\r\n", 3, 1024, 6);
    BOOST_TEST(p.replies.size() == 1u);
    // More than 8 levels of arrays (hiredis's own limit).
    std::string deep;
    for (int i = 0; i < 8; ++i)
        deep += "*1\r\n";
    p = parse_whole(deep + ":1\r\n");
    BOOST_TEST(p.replies.size() == 1u);
    p = parse_whole("*1\r\n" + deep + ":1\r\n");
    BOOST_TEST((p.last == status::error));
}

BOOST_AUTO_TEST_CASE(what_a_reply_means_for_each_command) {
    auto one = [](std::string_view bytes) {
        parsed p = parse_whole(bytes);
        BOOST_REQUIRE_EQUAL(p.replies.size(), 1u);
        return p.replies[0];
    };
    BOOST_TEST(st::meaning_of_get(one("$3\r\nabc\r\n")).value.value() == "abc");
    BOOST_TEST(!st::meaning_of_get(one("$-1\r\n")).value);
    BOOST_TEST(st::meaning_of_get(one("$-1\r\n")).problem.empty());
    BOOST_TEST(!st::meaning_of_get(one("-WRONGTYPE x\r\n")).problem.empty());
    BOOST_TEST(!st::meaning_of_get(one("+abc\r\n")).problem.empty());
    BOOST_TEST(!st::meaning_of_get(one(":1\r\n")).value);

    BOOST_TEST(st::meaning_of_set_nx(one("+OK\r\n")).won);
    const auto lost = st::meaning_of_set_nx(one("$-1\r\n"));
    BOOST_TEST((!lost.won && lost.problem.empty()));
    for (std::string_view bad : {"+QUEUED\r\n", "$2\r\nOK\r\n", ":1\r\n", "-ERR\r\n", "*0\r\n"}) {
        const auto m = st::meaning_of_set_nx(one(bad));
        BOOST_TEST((!m.won && !m.problem.empty()), bad);
    }

    BOOST_TEST(st::problem_unless_ok(one("+OK\r\n"), "AUTH").empty());
    BOOST_TEST(st::problem_unless_ok(one("-WRONGPASS bad\r\n"), "AUTH") ==
               "AUTH answered the error WRONGPASS bad, not OK");
    BOOST_TEST(!st::problem_unless_ok(one("$2\r\nOK\r\n"), "SELECT").empty());

    BOOST_TEST(st::meaning_of_integer(one(":0\r\n"), "EVAL").value == 0);
    BOOST_TEST(st::meaning_of_integer(one(":1\r\n"), "EVAL").problem.empty());
    BOOST_TEST(!st::meaning_of_integer(one("$1\r\n1\r\n"), "EVAL").problem.empty());
    // Control bytes in Redis's text never reach a log line as they came.
    BOOST_TEST(st::problem_unless_ok(one("-ERR \x1b[31m\r\n"), "SET") ==
               "SET answered the error ERR ?[31m, not OK");
}

BOOST_AUTO_TEST_SUITE_END()
