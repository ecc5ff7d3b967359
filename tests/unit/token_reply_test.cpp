#include "synergy_tokend/token_reply.hpp"

#include <chrono>
#include <string>

#include <boost/test/unit_test.hpp>

using namespace synergy_tokend;
using namespace std::chrono_literals;
using std::chrono::seconds;
using std::chrono::system_clock;

namespace {

const system_clock::time_point now{seconds{1'700'000'000}};

std::string make_jwt(const std::string& payload) {
    return base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url_encode(payload) +
           "." + base64url_encode("not-a-real-signature");
}

std::string jwt_expiring_in(seconds s) {
    return make_jwt(R"({"sub":"u1","exp":)" +
                    std::to_string((now + s).time_since_epoch() / seconds{1}) + "}");
}

// A 2xx reply as upstream sends it; `data_fields` is spliced into data after the token.
std::string reply(const std::string& token, const std::string& data_fields = "") {
    return R"({"data":{"token":")" + token + '"' + data_fields +
           R"(},"meta":{"code":200,"codeVersion":"d6cd1e2","generationTime":0.011604,)"
           R"("time":"2018-06-05 23:43:41.227584","version":1}})";
}

token_reply parse_ok(const std::string& body, seconds default_lifetime = 3600s) {
    auto r = parse_token_reply(body, default_lifetime, now);
    BOOST_TEST_REQUIRE(r.has_value(), "parse failed: " << (r ? "" : r.error().message()));
    return *r;
}

boost::system::error_code parse_error(const std::string& body) {
    auto r = parse_token_reply(body, 3600s, now);
    BOOST_TEST_REQUIRE(r.has_error());
    return r.error();
}

// The decoded text, or a marker no test input decodes to: printable in a failed assertion.
std::string decoded(std::string_view in) {
    return base64url_decode(in).value_or("<not base64>");
}

} // namespace

BOOST_AUTO_TEST_SUITE(token_reply)

BOOST_AUTO_TEST_CASE(expires_in_number) {
    const auto t = parse_ok(reply("opaque", R"(,"tokenType":"bearer","expiresIn":3600)"));
    BOOST_TEST(t.token == "opaque");
    BOOST_TEST(t.token_type == "bearer");
    BOOST_TEST(t.lifetime.count() == 3600);
    BOOST_TEST(!t.lifetime_defaulted);

    BOOST_TEST(parse_ok(reply("opaque", R"(,"expiresIn":1800.9)")).lifetime.count() == 1800);
}

BOOST_AUTO_TEST_CASE(expires_in_numeric_string) {
    BOOST_TEST(parse_ok(reply("opaque", R"(,"expiresIn":"3600")")).lifetime.count() == 3600);
    BOOST_TEST(parse_ok(reply("opaque", R"(,"expiresIn":"3600.5")")).lifetime.count() == 3600);
    BOOST_TEST(parse_ok(reply("opaque", R"(,"expiresIn":"+3600")")).lifetime.count() == 3600);
    BOOST_TEST(parse_ok(reply("opaque", R"(,"expiresIn":"3600.")")).lifetime.count() == 3600);
    BOOST_TEST(parse_ok(reply("opaque", R"(,"expiresIn":"007")")).lifetime.count() == 7);
    const auto t = parse_ok(reply("opaque", R"(,"expiresIn":"  120 ")"));
    BOOST_TEST(t.lifetime.count() == 120);
    BOOST_TEST(!t.lifetime_defaulted);
}

BOOST_AUTO_TEST_CASE(expires_in_absent_uses_jwt_exp) {
    const auto t = parse_ok(reply(jwt_expiring_in(1800s)));
    BOOST_TEST(t.lifetime.count() == 1800);
    BOOST_TEST(!t.lifetime_defaulted);

    // Whole seconds, rounded down: 1799.7 s left is 1799.
    auto r = parse_token_reply(reply(jwt_expiring_in(1800s)), 3600s, now + 300ms);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(r->lifetime.count() == 1799);
}

BOOST_AUTO_TEST_CASE(both_present_smaller_wins) {
    BOOST_TEST(parse_ok(reply(jwt_expiring_in(1200s), R"(,"expiresIn":3600)")).lifetime.count() ==
               1200);
    BOOST_TEST(parse_ok(reply(jwt_expiring_in(1200s), R"(,"expiresIn":"600")")).lifetime.count() ==
               600);
}

BOOST_AUTO_TEST_CASE(neither_usable_defaults_and_flags) {
    const auto t = parse_ok(reply("opaque"), 900s);
    BOOST_TEST(t.lifetime.count() == 900);
    BOOST_TEST(t.lifetime_defaulted);

    // A JWT without exp is no source either.
    const auto u = parse_ok(reply(make_jwt(R"({"sub":"u1"})")), 900s);
    BOOST_TEST(u.lifetime.count() == 900);
    BOOST_TEST(u.lifetime_defaulted);
}

BOOST_AUTO_TEST_CASE(zero_or_negative_lifetime_is_an_error) {
    for (const char* fields : {R"(,"expiresIn":0)", R"(,"expiresIn":-5)", R"(,"expiresIn":"-5")",
                               R"(,"expiresIn":0.5)", R"(,"expiresIn":"0")"}) {
        BOOST_TEST_CONTEXT(fields) {
            BOOST_TEST(parse_error(reply("opaque", fields)) ==
                       make_error_code(token_reply_errc::bad_lifetime));
        }
    }
    // A zero expiresIn is the smaller of the two even with a valid JWT.
    BOOST_TEST(parse_error(reply(jwt_expiring_in(1800s), R"(,"expiresIn":0)")) ==
               make_error_code(token_reply_errc::bad_lifetime));
    // A JWT that expired already, and nothing else.
    BOOST_TEST(parse_error(reply(jwt_expiring_in(-10s))) ==
               make_error_code(token_reply_errc::bad_lifetime));
    BOOST_TEST(parse_error(reply(jwt_expiring_in(0s))) ==
               make_error_code(token_reply_errc::bad_lifetime));
    // A default that is no lifetime is not a token either.
    BOOST_TEST(parse_token_reply(reply("opaque"), 0s, now).error() ==
               make_error_code(token_reply_errc::bad_lifetime));
}

BOOST_AUTO_TEST_CASE(non_numeric_expires_in_counts_as_absent) {
    for (const char* fields :
         {R"(,"expiresIn":"abc")", R"(,"expiresIn":"")", R"(,"expiresIn":"   ")",
          R"(,"expiresIn":"1e999")", R"(,"expiresIn":"inf")", R"(,"expiresIn":"NaN")",
          R"(,"expiresIn":"3600s")", R"(,"expiresIn":"36 00")", R"(,"expiresIn":".")",
          R"(,"expiresIn":"-")", R"(,"expiresIn":"+-5")", R"(,"expiresIn":"0x10")",
          R"(,"expiresIn":"1.2.3")", R"(,"expiresIn":1e999)", R"(,"expiresIn":null)",
          R"(,"expiresIn":true)", R"(,"expiresIn":[3600])"}) {
        BOOST_TEST_CONTEXT(fields) {
            const auto t = parse_ok(reply("opaque", fields), 900s);
            BOOST_TEST(t.lifetime.count() == 900);
            BOOST_TEST(t.lifetime_defaulted);

            const auto u = parse_ok(reply(jwt_expiring_in(1200s), fields), 900s);
            BOOST_TEST(u.lifetime.count() == 1200);
            BOOST_TEST(!u.lifetime_defaulted);
        }
    }
}

BOOST_AUTO_TEST_CASE(huge_expires_in) {
    for (const char* fields :
         {R"(,"expiresIn":1e300)", R"(,"expiresIn":18446744073709551615)",
          R"(,"expiresIn":"99999999999999999999999999")", R"(,"expiresIn":9223372036854775807)"}) {
        BOOST_TEST_CONTEXT(fields) {
            const auto t = parse_ok(reply("opaque", fields));
            BOOST_TEST(t.lifetime == max_token_lifetime);
            BOOST_TEST(!t.lifetime_defaulted);
            // The JWT's exp wins as the smaller one.
            BOOST_TEST(parse_ok(reply(jwt_expiring_in(1200s), fields)).lifetime.count() == 1200);
        }
    }
    BOOST_TEST(parse_error(reply("opaque", R"(,"expiresIn":-1e300)")) ==
               make_error_code(token_reply_errc::bad_lifetime));
    // An absurd exp is clamped too.
    BOOST_TEST(parse_ok(reply(make_jwt(R"({"exp":1e300})"))).lifetime == max_token_lifetime);
}

BOOST_AUTO_TEST_CASE(token_type) {
    BOOST_TEST(parse_ok(reply("opaque", R"(,"expiresIn":60)")).token_type == "bearer");
    BOOST_TEST(parse_ok(reply("opaque", R"(,"tokenType":"Bearer")")).token_type == "Bearer");
    BOOST_TEST(parse_ok(reply("opaque", R"(,"tokenType":42)")).token_type == "bearer");
    BOOST_TEST(parse_ok(reply("opaque", R"(,"tokenType":null)")).token_type == "bearer");
}

BOOST_AUTO_TEST_CASE(missing_token) {
    for (const char* body :
         {R"({"meta":{"code":200}})", R"({"data":null})", R"({"data":"tok"})", R"({"data":{}})",
          R"({"data":{"token":""}})", R"({"data":{"token":42}})", R"({"data":{"token":null}})",
          R"({"data":{"token":"abc\r\nX-Evil: 1"}})", R"({"data":{"token":"a b"}})",
          R"({"data":{"tokens":"abc","expiresIn":3600}})"}) {
        BOOST_TEST_CONTEXT(body) {
            BOOST_TEST(parse_error(body) == make_error_code(token_reply_errc::missing_token));
        }
    }
}

BOOST_AUTO_TEST_CASE(not_json) {
    for (const char* body : {"", "<html>502 Bad Gateway</html>", "[1,2]", "\"token\"", "42", "null",
                             R"({"data":{"token":"abc")", "{\"data\":{}} trailing"}) {
        BOOST_TEST_CONTEXT(body) {
            BOOST_TEST(parse_error(body) == make_error_code(token_reply_errc::not_json));
        }
    }
}

BOOST_AUTO_TEST_CASE(meta_shape_does_not_matter) {
    // meta.time with a space and no zone, meta.version an integer (PRODUCT §2), or no meta at all.
    const auto t = parse_ok(reply("opaque", R"(,"expiresIn":"3600")"));
    BOOST_TEST(t.lifetime.count() == 3600);
    BOOST_TEST(parse_ok(R"({"data":{"token":"opaque","expiresIn":60},"meta":{"version":"1"}})")
                   .lifetime.count() == 60);
    BOOST_TEST(parse_ok(R"({"data":{"token":"opaque","expiresIn":60}})").lifetime.count() == 60);
}

BOOST_AUTO_TEST_CASE(error_category) {
    const boost::system::error_code ec = token_reply_errc::not_json;
    BOOST_TEST(ec.category().name() == std::string("token_reply"));
    BOOST_TEST(ec.message() == "upstream reply is not a JSON object");
    BOOST_TEST(make_error_code(token_reply_errc::missing_token).message() ==
               "upstream reply has no data.token");
    BOOST_TEST(make_error_code(token_reply_errc::bad_lifetime).message() ==
               "upstream reply has no usable lifetime");
    BOOST_TEST(ec != make_error_code(token_reply_errc::bad_lifetime));
}

BOOST_AUTO_TEST_CASE(jwt_expiry_reads_exp) {
    const auto exp = jwt_expiry(jwt_expiring_in(60s));
    BOOST_TEST_REQUIRE(exp.has_value());
    BOOST_TEST((*exp == now + 60s));

    const auto frac = jwt_expiry(make_jwt(R"({"exp":1700000060.5})"));
    BOOST_TEST_REQUIRE(frac.has_value());
    BOOST_TEST((*frac == now + 60500ms));
}

BOOST_AUTO_TEST_CASE(jwt_with_padding) {
    // Payload of 16 bytes: padded base64 ends in "==".
    const std::string payload = R"({"exp":17000000})";
    BOOST_TEST_REQUIRE(payload.size() % 3 == 1);
    const std::string jwt = base64url_encode("{}") + "." + base64url_encode(payload) + "==.sig";
    const auto exp = jwt_expiry(jwt);
    BOOST_TEST_REQUIRE(exp.has_value());
    BOOST_TEST((*exp == system_clock::time_point{seconds{17000000}}));
}

BOOST_AUTO_TEST_CASE(jwt_malformed) {
    const std::string h = base64url_encode("{}");
    const std::string p = base64url_encode(R"({"exp":1700000060})");
    BOOST_TEST(jwt_expiry(h + "." + p + ".sig").has_value()); // the control case
    BOOST_TEST(!jwt_expiry("opaque").has_value());
    BOOST_TEST(!jwt_expiry(h + "." + p).has_value());
    BOOST_TEST(!jwt_expiry(h + "." + p + ".sig.extra").has_value());
    BOOST_TEST(!jwt_expiry("." + p + ".sig").has_value());
    BOOST_TEST(!jwt_expiry(h + "..sig").has_value());
    BOOST_TEST(!jwt_expiry(h + "." + p + ".").has_value());
    BOOST_TEST(!jwt_expiry(h + ".!!!!.sig").has_value());          // bad base64
    BOOST_TEST(!jwt_expiry(h + ".eyJleHAiOjF9x.sig").has_value()); // impossible length
    BOOST_TEST(!jwt_expiry(h + "." + base64url_encode("[1,2]") + ".sig").has_value());
    BOOST_TEST(!jwt_expiry(h + "." + base64url_encode("1700000060") + ".sig").has_value());
    BOOST_TEST(!jwt_expiry(h + "." + base64url_encode("not json") + ".sig").has_value());
    BOOST_TEST(!jwt_expiry(make_jwt(R"({"exp":"1700000060"})")).has_value());
    BOOST_TEST(!jwt_expiry(make_jwt(R"({"exp":null})")).has_value());
    BOOST_TEST(!jwt_expiry(make_jwt(R"({"exp":1e999})")).has_value());
}

BOOST_AUTO_TEST_CASE(base64url_round_trip) {
    std::string all;
    for (int i = 0; i < 256; ++i) {
        all += static_cast<char>(i);
    }
    for (std::size_t n = 0; n <= all.size(); ++n) {
        const auto in = all.substr(0, n);
        const auto enc = base64url_encode(in);
        BOOST_TEST(enc.find_first_of("+/=") == std::string::npos);
        BOOST_TEST(decoded(enc) == in);
    }
    BOOST_TEST(base64url_encode("") == "");
    BOOST_TEST(base64url_encode("f") == "Zg");
    BOOST_TEST(base64url_encode("foob") == "Zm9vYg");
    BOOST_TEST(base64url_encode("\xfb\xff") == "-_8");
}

BOOST_AUTO_TEST_CASE(base64url_decode_alphabets_and_padding) {
    BOOST_TEST(decoded("-_8") == "\xfb\xff");
    BOOST_TEST(decoded("+/8=") == "\xfb\xff");
    BOOST_TEST(decoded("Zg==") == "f");
    BOOST_TEST(decoded("Zg") == "f");
    BOOST_TEST(decoded("") == "");

    BOOST_TEST(!base64url_decode("Zm9vY").has_value()); // len % 4 == 1
    BOOST_TEST(!base64url_decode("Zg=").has_value());   // padding to no multiple of 4
    BOOST_TEST(!base64url_decode("Zg===").has_value());
    BOOST_TEST(!base64url_decode("Z=g=").has_value()); // '=' inside
    BOOST_TEST(!base64url_decode("Zm9v YmFy").has_value());
    BOOST_TEST(!base64url_decode("Zm9v*").has_value());
    BOOST_TEST(!base64url_decode(std::string_view("Zm\0v", 4)).has_value());
}

BOOST_AUTO_TEST_CASE(describe_error_envelope) {
    const std::string body =
        R"({"error":{"code":422,"message":"customerId is invalid","errors":[{"code":422,)"
        R"("message":"customerId is invalid","reason":"INVALID_DATA"}]},)"
        R"("meta":{"time":"2018-06-05 23:43:41.227584","version":1}})";
    BOOST_TEST(describe_upstream_error(422, body) ==
               "HTTP 422 INVALID_DATA: customerId is invalid");

    // No errors[]: the message alone; no message: the first entry's.
    BOOST_TEST(
        describe_upstream_error(404, R"({"error":{"code":404,"message":"no such product"}})") ==
        "HTTP 404: no such product");
    BOOST_TEST(
        describe_upstream_error(
            401, R"({"error":{"errors":[{"message":"expired","reason":"NOT_AUTHORISED"}]}})") ==
        "HTTP 401 NOT_AUTHORISED: expired");
    BOOST_TEST(describe_upstream_error(500, R"({"meta":{}})") == "HTTP 500");
}

BOOST_AUTO_TEST_CASE(describe_error_non_json) {
    BOOST_TEST(describe_upstream_error(503, "<html>Service Unavailable</html>") ==
               "HTTP 503 (non-JSON body)");
    BOOST_TEST(describe_upstream_error(502, "") == "HTTP 502 (empty body)");
}

BOOST_AUTO_TEST_CASE(describe_error_is_log_safe) {
    const std::string long_message(500, 'x');
    const auto d = describe_upstream_error(400, R"({"error":{"message":"line1\nline2\u001b[31m )" +
                                                    long_message + R"("}})");
    BOOST_TEST(d.find('\n') == std::string::npos);
    BOOST_TEST(d.find('\x1b') == std::string::npos);
    BOOST_TEST(d.rfind("HTTP 400: line1line2[31m ", 0) == 0);
    BOOST_TEST(d.size() <= std::string("HTTP 400: ").size() + 200);

    // An identity token echoed back by upstream never reaches the log.
    const std::string secret = jwt_expiring_in(3600s);
    const auto e = describe_upstream_error(401, R"({"error":{"message":"token )" + secret +
                                                    R"( is not valid"}})");
    BOOST_TEST(e.find(secret) == std::string::npos);
    BOOST_TEST(e.find(secret.substr(0, 20)) == std::string::npos);
    BOOST_TEST(e == "HTTP 401: token [redacted] is not valid");
}

BOOST_AUTO_TEST_SUITE_END()
