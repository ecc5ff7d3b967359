// The hostile-upstream suite of issue 13 (PRODUCT.md §6, "Upstream replies"): an Auth API that is
// legal but unkind (interim 1xx replies, bytes after a reply, EOF-delimited bodies, short bodies,
// 1-byte TLS records, status codes Beast has no name for, idle keep-alive connections closed
// early, a process killed, frozen or restarted under the daemon's pool) must never make the daemon
// hand one caller another's reply, nor turn a failure into a success.
//
// Every case runs the same way: a daemon with two profiles (alpha, beta: one identity, two tokens
// with different scopes) and a pool of up to 4 upstream connections, warmed by concurrent calls so
// that several connections are pooled; then rounds of concurrent callers, each tagged: /v1/info
// callers by a query the mock echoes in "mock":{"query"} (and by their profile's scopes), drop-in
// POST /v1/products/token callers by their own identity token and customerId, which the mock
// writes into the token's payload. Every answer is checked against its own call: status, body,
// that it is not anyone else's, and that it came within request_timeout_ms + 1 s.
#include <array>
#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <openssl/evp.h>

#include "harness.hpp"

using namespace tokend_test;
namespace json = boost::json;
namespace bdata = boost::unit_test::data;
using steady = std::chrono::steady_clock;

namespace {

constexpr long request_timeout_ms = 2000;
// No local request may take longer than this (issue 13: request_timeout_ms + 1 s).
constexpr std::chrono::milliseconds longest_allowed{request_timeout_ms + 1000};
constexpr int max_connections = 4;

const std::string daemon_identity = "test-identity-token-0001";

// The first 8 hex digits of SHA-256(text): the mock's "sub" for an identity token.
std::string short_hash(const std::string& text) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned length = 0;
    EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr);
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex;
    for (int i = 0; i < 4; ++i) {
        hex += digits[digest[i] >> 4];
        hex += digits[digest[i] & 15];
    }
    return hex;
}

// The payload of a JWT as JSON; null when it is not one.
json::value jwt_payload(const std::string& jwt) {
    const auto first = jwt.find('.');
    const auto second = jwt.find('.', first + 1);
    if (first == std::string::npos || second == std::string::npos)
        return nullptr;
    std::string bytes;
    std::uint32_t bits = 0;
    int count = 0;
    for (const char c : jwt.substr(first + 1, second - first - 1)) {
        int v = -1;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-')
            v = 62;
        else if (c == '_')
            v = 63;
        else
            return nullptr;
        bits = bits << 6 | static_cast<std::uint32_t>(v);
        count += 6;
        if (count >= 8) {
            count -= 8;
            bytes += static_cast<char>((bits >> count) & 0xff);
        }
    }
    boost::system::error_code ec;
    json::value v = json::parse(bytes, ec);
    return ec ? json::value() : v;
}

// connect_timeout_ms is more than the 1 s of slack: a request that waits for a connection and then
// opens one must still end within request_timeout_ms + 1 s, whatever connect_timeout_ms is.
std::string config_for(const mock_upstream& mock) {
    return R"({"upstream":{"base_url":")" + mock.base_url() + R"(","ca_file":")" + mock.ca_file() +
           R"(","connect_timeout_ms":1500,"request_timeout_ms":)" +
           std::to_string(request_timeout_ms) + R"(,"max_connections":)" +
           std::to_string(max_connections) +
           R"(,"idle_timeout_s":30},"tokens":[)"
           R"({"name":"alpha","product":"synergy-stats","customer_id":"101",)"
           R"("scopes":["read:alpha"]},)"
           R"({"name":"beta","product":"synergy-stats","customer_id":"202",)"
           R"("scopes":["read:beta"]}]})";
}

// One local caller, tagged so that its answer can be told from everyone else's.
struct tagged_call {
    bool info = true;
    std::string profile;     // info: alpha or beta
    std::string tag;         // info: the query sent upstream, echoed by the mock
    std::string identity;    // drop-in: the caller's identity token
    std::string customer_id; // drop-in: unique per identity
};

struct answer {
    tagged_call call;
    http_reply reply;
    std::chrono::milliseconds took{0};
};

std::string describe(const answer& a) {
    std::ostringstream s;
    s << (a.call.info ? "info " + a.call.profile + " " + a.call.tag
                      : "drop-in customerId " + a.call.customer_id)
      << " -> " << a.reply.status << " in " << a.took.count() << " ms "
      << (a.reply.error.empty() ? "" : "(" + a.reply.error + ") ") << a.reply.body.substr(0, 300);
    return s.str();
}

http_call to_http(const tagged_call& c) {
    http_call call;
    call.timeout = longest_allowed + 3s; // a hang is measured, not waited for forever
    if (c.info) {
        call.target = "/v1/info/scopes/authorized?" + c.tag;
        call.headers["X-Tokend-Request"] = "1";
        call.headers["X-Token-Name"] = c.profile;
        return call;
    }
    call.method = "POST";
    call.target = "/v1/products/token";
    call.headers["Content-Type"] = "application/json";
    call.body = json::serialize(json::object{{"userIdentityToken", c.identity},
                                             {"product", "synergy-live"},
                                             {"customerId", c.customer_id}});
    return call;
}

// Every call at once, each on its own connection and thread.
std::vector<answer> run_round(tokend_daemon& daemon, const std::vector<tagged_call>& calls) {
    std::vector<answer> answers(calls.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < calls.size(); ++i) {
        threads.emplace_back([&, i] {
            answers[i].call = calls[i];
            const auto start = steady::now();
            answers[i].reply = http_request(daemon.tcp(), to_http(calls[i]));
            answers[i].took =
                std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
        });
    }
    for (auto& t : threads)
        t.join();
    for (const auto& a : answers)
        BOOST_TEST_MESSAGE("  " << describe(a));
    return answers;
}

// `infos` callers per profile and `dropins` drop-in callers with identities first..first+dropins-1
// (the same number: the same identity, customerId and so cache key).
std::vector<tagged_call> mix(const std::string& round, int infos, int first_dropin, int dropins) {
    std::vector<tagged_call> calls;
    for (int i = 0; i < infos; ++i) {
        for (const char* profile : {"alpha", "beta"}) {
            tagged_call c;
            c.profile = profile;
            c.tag = "tag=" + round + "-" + profile + "-" + std::to_string(i);
            calls.push_back(c);
        }
    }
    for (int k = first_dropin; k < first_dropin + dropins; ++k) {
        tagged_call c;
        c.info = false;
        c.identity = "hostile-identity-" + std::to_string(k) + "-of-a-drop-in-caller";
        c.customer_id = std::to_string(7000 + k);
        calls.push_back(c);
    }
    return calls;
}

// The answer is not anyone else's, whatever its status: no bogus reply, no other caller's tag,
// no token on an /info call, no /info reply or other identity's token on a drop-in call.
void check_not_foreign(const answer& a) {
    BOOST_TEST_INFO(describe(a));
    BOOST_CHECK(a.reply.body.find("bogus") == std::string::npos);
    const json::value v = a.reply.json();
    const json::object* o = v.if_object();
    if (o == nullptr)
        return;
    const json::value* tag = o->contains("mock") && o->at("mock").is_object()
                                 ? o->at("mock").as_object().if_contains("query")
                                 : nullptr;
    const json::value* data = o->if_contains("data");
    const json::value* token =
        data && data->is_object() ? data->as_object().if_contains("token") : nullptr;
    if (a.call.info) {
        if (tag != nullptr)
            BOOST_CHECK_EQUAL(*tag, json::value(a.call.tag));
        BOOST_CHECK_MESSAGE(token == nullptr, "an /info caller got a token reply");
        return;
    }
    BOOST_CHECK_MESSAGE(tag == nullptr, "a drop-in caller got an /info reply");
    if (token != nullptr && token->is_string()) {
        const json::value payload = jwt_payload(std::string(token->as_string()));
        BOOST_CHECK_MESSAGE(payload.is_object(), "the token is not a JWT");
        if (!payload.is_object())
            return;
        BOOST_CHECK_EQUAL(payload.at("customerId"), json::value(a.call.customer_id));
        BOOST_CHECK_EQUAL(payload.at("sub"), json::value(short_hash(a.call.identity)));
        BOOST_CHECK_EQUAL(payload.at("product"), json::value("synergy-live"));
    }
}

void check_in_time(const answer& a) {
    BOOST_CHECK_MESSAGE(a.took <= longest_allowed,
                        describe(a) << ": longer than " << longest_allowed.count() << " ms");
}

// The caller got its own, complete, successful reply.
void check_own_success(const answer& a) {
    BOOST_TEST_INFO(describe(a));
    BOOST_CHECK_EQUAL(a.reply.status, 200u);
    BOOST_CHECK(a.reply.header("content-type").starts_with("application/json"));
    const json::value v = a.reply.json();
    BOOST_CHECK_MESSAGE(v.is_object(), "not a JSON object: \"" << a.reply.body << "\"");
    if (!v.is_object())
        return;
    if (a.call.info) {
        // The body is complete: the tag is its last member.
        BOOST_CHECK(v.as_object().contains("mock"));
        if (!v.as_object().contains("mock"))
            return;
        BOOST_CHECK_EQUAL(v.at("mock").at("query"), json::value(a.call.tag));
        BOOST_CHECK_EQUAL(v.at("mock").at("sub"), json::value(short_hash(daemon_identity)));
        BOOST_CHECK_EQUAL(v.at("data"), json::value(json::array{"read:" + a.call.profile}));
        return;
    }
    const json::value* data = v.as_object().if_contains("data");
    const json::value* token =
        data && data->is_object() ? data->as_object().if_contains("token") : nullptr;
    BOOST_CHECK_MESSAGE(token != nullptr && token->is_string(), "no data.token");
    if (token != nullptr && token->is_string())
        BOOST_CHECK(jwt_payload(std::string(token->as_string())).is_object());
}

// The caller got a failure, and the daemon said so: never a 200.
void check_failure(const answer& a, unsigned info_status) {
    BOOST_TEST_INFO(describe(a));
    if (a.call.info) {
        BOOST_CHECK_EQUAL(a.reply.status, info_status);
    } else {
        // A drop-in fetch that failed: the daemon's 502 (no usable reply) or 503 (no token).
        BOOST_CHECK(a.reply.status >= 502 && a.reply.status <= 504);
    }
    const json::value v = a.reply.json();
    BOOST_CHECK_MESSAGE(v.is_object() && v.as_object().contains("error"),
                        "not an error envelope: \"" << a.reply.body << "\"");
}

void check_all_succeed(const std::vector<answer>& answers) {
    for (const auto& a : answers) {
        check_not_foreign(a);
        check_in_time(a);
        check_own_success(a);
    }
}

void check_all_fail(const std::vector<answer>& answers, unsigned info_status) {
    for (const auto& a : answers) {
        check_not_foreign(a);
        check_in_time(a);
        check_failure(a, info_status);
    }
}

// A mock, a daemon against it with both profiles' tokens fetched, and a warm pool.
struct hostile_setup {
    mock_upstream mock;
    std::optional<tokend_daemon> daemon;

    // `settings`: mock settings (a JSON object) applied before the daemon starts; "" for none.
    explicit hostile_setup(const std::string& settings = "") {
        if (!settings.empty())
            mock.settings(settings);
        daemon.emplace(config_for(mock));
        BOOST_REQUIRE_EQUAL(daemon->get_token("alpha").status, 200u);
        BOOST_REQUIRE_EQUAL(daemon->get_token("beta").status, 200u);
        BOOST_REQUIRE_EQUAL(token_requests(), 2);
        // Concurrent calls: several connections end up pooled.
        BOOST_TEST_MESSAGE("warm-up");
        const auto warm = run_round(*daemon, mix("warm", 4, 0, 0));
        for (const auto& a : warm)
            BOOST_REQUIRE_MESSAGE(a.reply.status == 200, describe(a));
        BOOST_REQUIRE_GE(mock.counter("open_connections"), 2);
        BOOST_REQUIRE_EQUAL(token_requests(), 2);
    }

    std::int64_t token_requests() { return mock.counter("token_requests"); }
    // Requests upstream has seen, of both kinds.
    std::int64_t exchanges() { return token_requests() + mock.counter("info_requests"); }

    // One round, logged under `name`.
    std::vector<answer> round(const std::string& name, int infos, int first_dropin, int dropins) {
        BOOST_TEST_MESSAGE("round " << name);
        return run_round(*daemon, mix(name, infos, first_dropin, dropins));
    }
};

// A fault for every API request from now on, both endpoints.
void arm(mock_upstream& mock, const std::string& fault_members) {
    mock.fault(R"({"count":-1,"endpoint":"any",)" + fault_members + "}");
}

// A mode after which every caller must get its own complete reply: two rounds under the fault
// (the second on whatever the first left in the pool, its drop-in keys cached), one after it.
void run_delivering_case(const std::string& fault_members) {
    hostile_setup s;
    arm(s.mock, fault_members);
    check_all_succeed(s.round("1", 3, 0, 3));
    BOOST_CHECK_EQUAL(s.token_requests(), 2 + 3); // one per new drop-in key
    check_all_succeed(s.round("2", 3, 0, 3));
    BOOST_CHECK_EQUAL(s.token_requests(), 2 + 3); // cached: the right token, once
    s.mock.clear_faults();
    check_all_succeed(s.round("3", 3, 3, 2));
    BOOST_CHECK_EQUAL(s.token_requests(), 2 + 3 + 2);
    BOOST_CHECK(s.daemon->proc().running());
}

// A mode in which every reply is incomplete: every caller gets a failure, then, the fault gone,
// every caller (new drop-in keys) its own reply.
void run_failing_case(const std::string& fault_members) {
    hostile_setup s;
    arm(s.mock, fault_members);
    check_all_fail(s.round("1", 3, 0, 3), 502);
    // Bytes of a reply arrived: nothing to retry, one upstream request per fetch.
    BOOST_CHECK_EQUAL(s.token_requests(), 2 + 3);
    s.mock.clear_faults();
    check_all_succeed(s.round("2", 3, 3, 3));
    BOOST_CHECK_EQUAL(s.token_requests(), 2 + 3 + 3);
    BOOST_CHECK(s.daemon->proc().running());
}

struct status_row {
    unsigned status;
    const char* reason; // null: none
};

std::ostream& operator<<(std::ostream& out, const status_row& row) {
    return out << row.status << " " << (row.reason ? row.reason : "(no reason phrase)");
}

const status_row unknown_statuses[] = {
    {299, nullptr},        {299, "Odd Success"},    {418, nullptr},
    {418, "I'm a teapot"}, {520, nullptr},          {520, "Web Server Returned an Unknown Error"},
    {999, nullptr},        {999, "Nine Nine Nine"},
};

} // namespace

BOOST_AUTO_TEST_SUITE(hostile_upstream)

BOOST_AUTO_TEST_CASE(interim_100_and_103_before_the_final_reply_are_skipped) {
    run_delivering_case(R"("mode":"interim")");
}

BOOST_AUTO_TEST_CASE(several_interim_replies_apart_from_the_final_reply_are_skipped) {
    run_delivering_case(R"("mode":"interim","interim":[100,103,103,102,199],"gap_ms":30)");
}

BOOST_AUTO_TEST_CASE(interim_replies_in_one_byte_tls_records_are_skipped) {
    run_delivering_case(R"("mode":"interim","interim":[100,103],"byte_records":true)");
}

// Bytes after a complete reply: the reply is delivered, the connection is not reused (each
// request after the first few needs a connection of its own), and the bogus second reply reaches
// nobody, not even as a cached token.
BOOST_AUTO_TEST_CASE(extra_bytes_after_a_reply_reach_nobody_and_the_connection_is_closed) {
    hostile_setup s;
    const auto connections = s.mock.counter("connections");
    const auto exchanges = s.exchanges();
    arm(s.mock, R"("mode":"extra_bytes")");
    check_all_succeed(s.round("1", 3, 0, 3));
    check_all_succeed(s.round("2", 3, 0, 3));
    BOOST_CHECK_EQUAL(s.token_requests(), 2 + 3);
    // Each exchange spoils its connection: only the first few went on the pooled ones.
    BOOST_CHECK_GE(s.mock.counter("connections") - connections,
                   s.exchanges() - exchanges - max_connections);
    s.mock.clear_faults();
    check_all_succeed(s.round("3", 3, 3, 2));
    BOOST_CHECK_EQUAL(s.token_requests(), 2 + 3 + 2);
}

// Bytes after a complete reply, arriving 300 ms later, when the connection is back in the pool
// with an empty buffer: whoever uses it next must get its own reply, not those bytes. (Bytes that
// come after the next request was sent cannot be told from its reply, by anyone: so round 1 has
// one call per pooled connection, each held 100 ms by upstream, and the pool idles until the
// bytes are in.)
BOOST_AUTO_TEST_CASE(extra_bytes_arriving_on_a_pooled_connection_reach_nobody) {
    hostile_setup s;
    s.mock.settings(R"({"delay_ms":100})");
    arm(s.mock, R"("mode":"extra_bytes","gap_ms":300)");
    check_all_succeed(s.round("1", 1, 0, 2)); // 4 calls, 4 connections
    std::this_thread::sleep_for(600ms);       // each pooled connection holds a bogus reply now
    s.mock.clear_faults();
    s.mock.settings(R"({"delay_ms":0})");
    check_all_succeed(s.round("2", 3, 0, 3));
    check_all_succeed(s.round("3", 3, 3, 2));
    BOOST_CHECK_EQUAL(s.token_requests(), 2 + 2 + 1 + 2);
}

BOOST_AUTO_TEST_CASE(eof_delimited_body_ended_by_close_notify_is_delivered_whole) {
    run_delivering_case(R"("mode":"eof_body","close_notify":true)");
}

BOOST_AUTO_TEST_CASE(eof_delimited_body_ended_without_close_notify_is_502) {
    run_failing_case(R"("mode":"eof_body","close_notify":false)");
}

// Every reply says Connection: close: each is delivered, and the next request goes on a fresh
// connection.
BOOST_AUTO_TEST_CASE(connection_close_replies_are_delivered_and_the_next_goes_on_a_new_connection) {
    hostile_setup s;
    const auto connections = s.mock.counter("connections");
    const auto exchanges = s.exchanges();
    arm(s.mock, R"("mode":"connection_close")");
    check_all_succeed(s.round("1", 3, 0, 3));
    check_all_succeed(s.round("2", 3, 0, 3));
    BOOST_CHECK_EQUAL(s.token_requests(), 2 + 3);
    BOOST_CHECK_GE(s.mock.counter("connections") - connections,
                   s.exchanges() - exchanges - max_connections);
    s.mock.clear_faults();
    check_all_succeed(s.round("3", 3, 3, 2));
}

BOOST_AUTO_TEST_CASE(connection_close_replies_without_close_notify_are_delivered) {
    run_delivering_case(R"("mode":"connection_close","close_notify":false)");
}

BOOST_AUTO_TEST_CASE(short_body_then_close_notify_is_502_never_200) {
    run_failing_case(R"("mode":"short_body","close_notify":true)");
}

BOOST_AUTO_TEST_CASE(short_body_then_tcp_close_is_502_never_200) {
    run_failing_case(R"("mode":"short_body","close_notify":false)");
}

BOOST_AUTO_TEST_CASE(headers_then_close_notify_is_502_never_200) {
    run_failing_case(R"("mode":"headers_then_close","close_notify":true)");
}

BOOST_AUTO_TEST_CASE(headers_then_tcp_close_is_502_never_200) {
    run_failing_case(R"("mode":"headers_then_close","close_notify":false)");
}

BOOST_AUTO_TEST_CASE(replies_in_one_byte_tls_records_are_delivered) {
    run_delivering_case(R"("mode":"byte_records")");
}

// Status codes Beast has no name for, on /info: the number and the body come back as they were
// sent, for every caller; drop-in callers alongside are unaffected.
BOOST_DATA_TEST_CASE(unknown_status_codes_are_relayed_as_numbers_byte_for_byte,
                     bdata::make(unknown_statuses), row) {
    hostile_setup s;
    const std::string body = R"({"odd":)" + std::to_string(row.status) + R"(,"reason":")" +
                             (row.reason ? row.reason : "") + R"("})";
    json::object fault{{"mode", "status"},   {"status", row.status},
                       {"endpoint", "info"}, {"count", -1},
                       {"body", body},       {"content_type", "application/x-odd+json"}};
    if (row.reason)
        fault["reason"] = row.reason;
    s.mock.fault(json::serialize(fault));
    for (const auto& a : s.round("odd", 3, 0, 2)) {
        check_not_foreign(a);
        check_in_time(a);
        if (!a.call.info) {
            check_own_success(a);
            continue;
        }
        BOOST_TEST_INFO(describe(a));
        BOOST_CHECK_EQUAL(a.reply.status, row.status);
        BOOST_CHECK_EQUAL(a.reply.body, body);
        BOOST_CHECK_EQUAL(a.reply.header("content-type"), "application/x-odd+json");
    }
    BOOST_CHECK_EQUAL(s.token_requests(), 2 + 2);
    s.mock.clear_faults();
    check_all_succeed(s.round("after", 3, 0, 2));
    BOOST_CHECK_EQUAL(s.token_requests(), 2 + 2);
}

// Upstream closes kept-alive connections after 1 s idle, the daemon keeps them 30 s: once the mock
// has closed them all every pooled connection is dead, and every request is sent again on a fresh
// one, GET and token POST alike: no 502, no empty 200.
BOOST_AUTO_TEST_CASE(pooled_connections_upstream_closed_when_idle_are_replaced_without_errors) {
    hostile_setup s(R"({"keepalive_idle_ms":1000})");
    // Polled, not slept: the mock's count of open connections drops to 0 after its idle limit.
    const auto all_closed = [&s] {
        const auto by = std::chrono::steady_clock::now() + 5s;
        std::int64_t open = -1;
        while ((open = s.mock.counter("open_connections")) != 0 &&
               std::chrono::steady_clock::now() < by)
            std::this_thread::sleep_for(50ms);
        return open;
    };
    BOOST_CHECK_EQUAL(all_closed(), 0);
    check_all_succeed(s.round("1", 3, 0, 3));
    BOOST_CHECK_EQUAL(s.token_requests(), 2 + 3);
    BOOST_CHECK_EQUAL(all_closed(), 0);
    check_all_succeed(s.round("2", 3, 3, 3));
    BOOST_CHECK_EQUAL(s.token_requests(), 2 + 3 + 3);
}

// Upstream killed (SIGKILL) under a warm pool: callers get 502 at once, never 200; restarted on
// the same port, every request succeeds on fresh connections with its own non-empty body.
BOOST_AUTO_TEST_CASE(killed_then_restarted_upstream_gives_502_then_every_request_succeeds) {
    hostile_setup s;
    s.mock.kill();
    check_all_fail(s.round("killed", 2, 0, 2), 502);
    s.mock.restart();
    check_all_succeed(s.round("restarted", 3, 2, 3));
    // The restarted mock counts from zero: one token request per new drop-in key, no refresh of
    // the profiles' tokens (upstream still accepts them).
    BOOST_CHECK_EQUAL(s.token_requests(), 3);
    check_all_succeed(s.round("again", 3, 2, 3));
    BOOST_CHECK_EQUAL(s.token_requests(), 3);
}

BOOST_AUTO_TEST_CASE(upstream_restarted_under_a_warm_pool_every_request_succeeds) {
    hostile_setup s;
    s.mock.restart();
    check_all_succeed(s.round("restarted", 3, 0, 3));
    BOOST_CHECK_EQUAL(s.token_requests(), 3);
    check_all_succeed(s.round("again", 3, 3, 2));
    BOOST_CHECK_EQUAL(s.token_requests(), 3 + 2);
}

// Upstream frozen (SIGSTOP): connections stay open and nothing answers. Every caller gets 504
// within request_timeout_ms + 1 s; after SIGCONT every request succeeds.
BOOST_AUTO_TEST_CASE(frozen_upstream_gives_504_in_time_then_recovers_after_sigcont) {
    hostile_setup s;
    s.mock.freeze();
    // More callers than connections: some wait for one, then must open one, all in time.
    const auto frozen = s.round("frozen", 3, 0, 2);
    s.mock.thaw();
    for (const auto& a : frozen) {
        check_not_foreign(a);
        check_in_time(a);
        check_failure(a, 504);
    }
    check_all_succeed(s.round("thawed", 3, 2, 3));
    // The frozen drop-in fetches may reach the mock once it runs again; the new keys do, once.
    BOOST_CHECK_GE(s.token_requests(), 2 + 3);
    BOOST_CHECK_LE(s.token_requests(), 2 + 2 + 3);
}

// 401 to every /info call: one refresh-and-retry for the profile's token, then the refusal is
// passed on with no further token requests (issue 13, item 4).
BOOST_AUTO_TEST_CASE(a_401_to_every_info_call_costs_one_token_request_for_twenty_calls) {
    hostile_setup s;
    s.mock.fault(R"({"mode":"status","status":401,"endpoint":"info","count":-1})");
    std::vector<tagged_call> calls;
    for (int i = 0; i < 20; ++i) {
        tagged_call c;
        c.profile = "alpha";
        c.tag = "tag=refused-" + std::to_string(i);
        calls.push_back(c);
    }
    // Ten at once, then ten one after the other.
    std::vector<answer> answers =
        run_round(*s.daemon, std::vector<tagged_call>(calls.begin(), calls.begin() + 10));
    for (std::size_t i = 10; i < calls.size(); ++i) {
        const auto more = run_round(*s.daemon, {calls[i]});
        answers.push_back(more.front());
    }
    for (const auto& a : answers) {
        BOOST_TEST_INFO(describe(a));
        check_not_foreign(a);
        check_in_time(a);
        BOOST_CHECK_EQUAL(a.reply.status, 401u);
    }
    BOOST_CHECK_EQUAL(s.token_requests(), 2 + 1);
    // The new token is the one in use, and stays servable.
    const auto alpha = s.daemon->get_token("alpha");
    BOOST_REQUIRE_EQUAL(alpha.status, 200u);
    const std::string token(alpha.json().at("data").at("token").as_string());
    BOOST_CHECK_EQUAL(s.mock.control("GET", "/control/last-info").at("authorization"),
                      json::value("Bearer " + token));
    s.mock.clear_faults();
    check_all_succeed(s.round("accepted", 3, 0, 0));
    BOOST_CHECK_EQUAL(s.token_requests(), 2 + 1);
}

BOOST_AUTO_TEST_SUITE_END()
