// The upstream reply reader's conformance table: each legal-but-strange or broken reply a
// hostile upstream can send, fed whole, one byte at a time, and split in two at every offset.
// Each must give the same outcome every way: one final response (status, body, reusability) or
// an error, and never a reusable connection with bytes left over.
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <boost/asio/buffer.hpp>

#include "synergy_tokend/reply_reader.hpp"

namespace st = synergy_tokend;
namespace bdata = boost::unit_test::data;

namespace {

enum class ending { clean, truncated, none };

struct reply_case {
    const char* name;
    std::string stream;
    ending end;
    // Expected: a response with this status and body, or (nullopt) an error.
    std::optional<unsigned> status;
    std::string body;
    bool reusable = false;
    bool head = false;
    std::optional<st::reply_errc> error = std::nullopt; // when it must be this one
};

std::ostream& operator<<(std::ostream& os, const reply_case& c) {
    return os << c.name;
}

struct outcome {
    st::reply_reader::state state = st::reply_reader::state::need_more;
    unsigned status = 0;
    std::string body;
    std::string reason;
    bool reusable = false;
    boost::system::error_code error;
    bool got_some = false;
};

void append(boost::beast::flat_buffer& buffer, const std::string& bytes) {
    auto space = buffer.prepare(bytes.size());
    boost::asio::buffer_copy(space, boost::asio::buffer(bytes));
    buffer.commit(bytes.size());
}

// Feeds `parts` in turn (stopping once there is an outcome), then ends the stream as `end` says.
outcome run(const std::vector<std::string>& parts, ending end, bool head) {
    st::reply_reader reader(1024 * 1024, 8 * 1024, head);
    boost::beast::flat_buffer buffer;
    auto state = st::reply_reader::state::need_more;
    std::size_t unread = 0;
    for (const auto& part : parts) {
        if (state != st::reply_reader::state::need_more) {
            unread += part.size();
            continue;
        }
        append(buffer, part);
        state = reader.feed(buffer);
    }
    if (state == st::reply_reader::state::need_more && end != ending::none)
        state = reader.end_of_stream(end == ending::clean);
    outcome out;
    out.state = state;
    out.error = reader.error();
    out.got_some = reader.got_some();
    if (state == st::reply_reader::state::done) {
        // Bytes not read yet would be seen by the pool's check before reuse.
        out.reusable = reader.reusable(buffer) && unread == 0;
        auto res = reader.take();
        out.status = res.result_int();
        out.body = res.body();
        out.reason = std::string(res.reason());
    }
    return out;
}

void check(const reply_case& c, const outcome& got, const std::string& how) {
    BOOST_TEST_CONTEXT(c.name << ", fed " << how) {
        if (c.status) {
            BOOST_TEST((got.state == st::reply_reader::state::done));
            BOOST_TEST(got.status == *c.status);
            BOOST_TEST(got.body == c.body);
            BOOST_TEST(got.reusable == c.reusable);
            BOOST_TEST(!got.error);
        } else {
            // An error, or (no end of stream) still waiting: the exchange then times out. Either
            // way no response and no reuse.
            BOOST_TEST((got.state != st::reply_reader::state::done));
            if (c.end != ending::none)
                BOOST_TEST((got.state == st::reply_reader::state::failed));
            if (c.error && got.state == st::reply_reader::state::failed)
                BOOST_TEST((got.error == make_error_code(*c.error)), got.error.message());
        }
    }
}

const std::string ok2 = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
const std::string other = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nother";

const std::vector<reply_case> cases = {
    {"content-length", ok2, ending::none, 200, "ok", true},
    {"chunked with extension and trailer",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nok\r\n3\r\n!!!\r\n0\r\n"
     "Trailer-Field: 1\r\n\r\n",
     ending::none, 200, "ok!!!", true},
    {"chunked, empty: the last chunk first (Beast 1.81 asserted on it fed byte by byte)",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ending::none, 200, "", true},
    {"chunked, empty, then a trailer",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\n", ending::none, 200,
     "", true},
    {"100 Continue first", "HTTP/1.1 100 Continue\r\n\r\n" + ok2, ending::none, 200, "ok", true},
    {"103 Early Hints first",
     "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" + ok2, ending::none, 200,
     "ok", true},
    {"several interim replies",
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early "
     "Hints\r\n\r\nHTTP/1.1 199 Whatever\r\n\r\n" +
         ok2,
     ending::none, 200, "ok", true},
    {"interim only, then close", "HTTP/1.1 100 Continue\r\n\r\n", ending::clean, std::nullopt, "",
     false, false, st::reply_errc::truncated},
    {"too many interim replies",
     [] {
         std::string s;
         for (int i = 0; i < 17; ++i)
             s += "HTTP/1.1 100 Continue\r\n\r\n";
         return s + ok2;
     }(),
     ending::none, std::nullopt, "", false, false, st::reply_errc::too_many_interim},
    {"101 never asked for", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n" + ok2,
     ending::none, std::nullopt, "", false, false, st::reply_errc::unexpected_upgrade},
    {"extra bytes after the reply", ok2 + other, ending::none, 200, "ok", false},
    {"a stray CRLF after the reply", ok2 + "\r\n", ending::none, 200, "ok", false},
    {"EOF-delimited body, close_notify", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it",
     ending::clean, 200, "all of it", false},
    {"EOF-delimited body, truncated", "HTTP/1.1 200 OK\r\n\r\nall of it", ending::truncated,
     std::nullopt, "", false, false, st::reply_errc::truncated},
    {"EOF-delimited body, no end yet", "HTTP/1.1 200 OK\r\n\r\nall of it", ending::none,
     std::nullopt, ""},
    {"Connection: close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
     ending::none, 200, "ok", false},
    {"HTTP/1.0 without keep-alive", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", ending::none,
     200, "ok", false},
    {"HTTP/1.0 with keep-alive",
     "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", ending::none, 200,
     "ok", true},
    {"short body, clean close", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", ending::clean,
     std::nullopt, "", false, false, st::reply_errc::truncated},
    {"short body, truncated", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
     ending::truncated, std::nullopt, "", false, false, st::reply_errc::truncated},
    {"headers then close", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", ending::clean,
     std::nullopt, "", false, false, st::reply_errc::truncated},
    {"half a header then close", "HTTP/1.1 200 OK\r\nContent-Le", ending::clean, std::nullopt, "",
     false, false, st::reply_errc::truncated},
    {"chunked cut inside a chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
     ending::clean, std::nullopt, "", false, false, st::reply_errc::truncated},
    {"closed before any byte", "", ending::clean, std::nullopt, "", false, false,
     st::reply_errc::closed_before_reply},
    {"unknown status 299, no reason", "HTTP/1.1 299 \r\nContent-Length: 1\r\n\r\nx", ending::none,
     299, "x", true},
    {"unknown status 418", "HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\n\r\n", ending::none,
     418, "", true},
    {"unknown status 520", "HTTP/1.1 520 Unknown Error\r\nContent-Length: 0\r\n\r\n", ending::none,
     520, "", true},
    {"unknown status 999", "HTTP/1.1 999 Nine\r\nContent-Length: 3\r\n\r\nabc", ending::none, 999,
     "abc", true},
    {"status below 100", "HTTP/1.1 042 Odd\r\nContent-Length: 0\r\n\r\n", ending::none,
     std::nullopt, "", false, false, st::reply_errc::bad_status},
    {"204 ignores its Content-Length", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
     ending::none, 204, "", true},
    {"reply to HEAD has no body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", ending::none, 200,
     "", true, true},
    {"not HTTP", "SSH-2.0-OpenSSH_9.2\r\n\r\n", ending::none, std::nullopt, ""},
    {"two Content-Lengths that differ",
     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!", ending::none,
     std::nullopt, ""},
};

} // namespace

BOOST_AUTO_TEST_SUITE(reply_reader)

BOOST_DATA_TEST_CASE(same_outcome_however_the_bytes_arrive, bdata::make(cases), c) {
    check(c, run({c.stream}, c.end, c.head), "whole");
    std::vector<std::string> bytes;
    for (char ch : c.stream)
        bytes.emplace_back(1, ch);
    check(c, run(bytes, c.end, c.head), "one byte at a time");
    for (std::size_t cut = 1; cut < c.stream.size(); ++cut)
        check(c, run({c.stream.substr(0, cut), c.stream.substr(cut)}, c.end, c.head),
              "split at " + std::to_string(cut));
}

BOOST_AUTO_TEST_CASE(a_reason_phrase_comes_through_as_sent) {
    const auto got =
        run({"HTTP/1.1 520 Origin Said No\r\nContent-Length: 0\r\n\r\n"}, ending::none, false);
    BOOST_TEST(got.status == 520u);
    BOOST_TEST(got.reason == "Origin Said No");
}

BOOST_AUTO_TEST_CASE(got_some_tells_a_dead_connection_from_a_failed_reply) {
    BOOST_TEST(!run({}, ending::truncated, false).got_some);
    BOOST_TEST(run({"H"}, ending::truncated, false).got_some);
    BOOST_TEST(run({"HTTP/1.1 100 Continue\r\n\r\n"}, ending::truncated, false).got_some);
}

BOOST_AUTO_TEST_CASE(a_body_over_the_limit_is_an_error) {
    st::reply_reader reader(4, 8 * 1024);
    boost::beast::flat_buffer buffer;
    append(buffer, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    BOOST_TEST((reader.feed(buffer) == st::reply_reader::state::failed));
    BOOST_TEST((reader.error() == boost::beast::http::error::body_limit));
    BOOST_TEST(!reader.reusable(buffer));
}

BOOST_AUTO_TEST_SUITE_END()
