#include "synergy_tokend/config.hpp"
#include "synergy_tokend/shared_cache_config.hpp"

#include <string>

#include <boost/test/unit_test.hpp>

namespace st = synergy_tokend;
using namespace std::chrono_literals;

namespace {

std::string joined(const std::vector<std::string>& errors) {
    std::string out;
    for (const auto& e : errors)
        out += e + "\n";
    return out;
}

// The one error a config text gives, which must name `path` and contain `what`.
void check_error(const std::string& text, const std::string& path, const std::string& what) {
    const auto r = st::parse_config(text);
    BOOST_TEST_INFO("config: " << text);
    BOOST_TEST_REQUIRE(r.errors.size() == 1u, joined(r.errors));
    BOOST_TEST(r.errors[0].find("config.json: " + path + ": ") == 0u, r.errors[0]);
    BOOST_TEST(r.errors[0].find(what) != std::string::npos, r.errors[0]);
}

} // namespace

BOOST_AUTO_TEST_SUITE(shared_cache_config)

BOOST_AUTO_TEST_CASE(absent_means_no_sharing) {
    const auto r = st::parse_config("{}");
    BOOST_TEST_REQUIRE(r.ok(), joined(r.errors));
    BOOST_TEST(!r.value.shared_cache.has_value());
}

BOOST_AUTO_TEST_CASE(product_example_parses_with_its_defaults) {
    const auto r = st::parse_config(R"({"shared_cache": {
      "url": "rediss://redis.internal:6380/0",  // redis://, rediss:// (TLS), or unix:/path
      "username": "tokend", "password_file": "redis-password",
      "ca_file": "", "key_prefix": "tokend:", "timeout_ms": 200, "lease_ms": 10000
    }})");
    BOOST_TEST_REQUIRE(r.ok(), joined(r.errors));
    BOOST_TEST_REQUIRE(r.value.shared_cache.has_value());
    const st::shared_cache_config& sc = *r.value.shared_cache;
    BOOST_TEST(sc.url == "rediss://redis.internal:6380/0");
    BOOST_TEST((sc.endpoint.transport == st::redis_endpoint::kind::tls));
    BOOST_TEST(sc.endpoint.host == "redis.internal");
    BOOST_TEST(sc.endpoint.port == 6380);
    BOOST_TEST(sc.endpoint.db == 0u);
    BOOST_TEST(sc.username == "tokend");
    BOOST_TEST(sc.password_file == "redis-password");
    BOOST_TEST(sc.key_prefix == "tokend:");
    BOOST_TEST(sc.timeout.count() == 200);
    BOOST_TEST(sc.lease.count() == 10000);

    const auto minimal = st::parse_config(R"({"shared_cache":{"url":"redis://127.0.0.1"}})");
    BOOST_TEST_REQUIRE(minimal.ok(), joined(minimal.errors));
    const st::shared_cache_config& m = *minimal.value.shared_cache;
    BOOST_TEST(m.endpoint.port == 6379);
    BOOST_TEST(m.password_file.empty());
    BOOST_TEST(m.key_prefix == "tokend:");
    BOOST_TEST((m.timeout == 200ms));
    BOOST_TEST((m.lease == 10000ms));
}

BOOST_AUTO_TEST_CASE(urls) {
    auto ok = [](const std::string& url) {
        const auto c = st::parse_redis_url(url);
        BOOST_TEST_INFO("url: " << url);
        BOOST_TEST(c.problem.empty(), c.problem);
        return c.endpoint;
    };
    auto e = ok("redis://[::1]:7000/3");
    BOOST_TEST(e.host == "::1");
    BOOST_TEST(e.port == 7000);
    BOOST_TEST(e.db == 3u);
    e = ok("unix:/run/redis/redis-server.sock");
    BOOST_TEST((e.transport == st::redis_endpoint::kind::unix_socket));
    BOOST_TEST(e.path == "/run/redis/redis-server.sock");
    BOOST_TEST(ok("unix:///run/r.sock").path == "/run/r.sock");
    BOOST_TEST(ok("redis://cache-1.internal/").db == 0u);

    for (const std::string bad :
         {"http://x", "redis://", "redis://:6379", "redis://h:0", "redis://h:65536", "redis://h/x",
          "redis://h?db=1", "unix:relative.sock", "unix:", "redis://h o", "redis://[::1"}) {
        BOOST_TEST_INFO("url: " << bad);
        BOOST_TEST(!st::parse_redis_url(bad).problem.empty());
    }
}

BOOST_AUTO_TEST_CASE(errors_name_their_key) {
    check_error(R"({"shared_cache":{}})", "shared_cache.url", "missing");
    check_error(R"({"shared_cache":"redis://h"})", "shared_cache", "expected an object");
    check_error(R"({"shared_cache":{"url":"memcached://h"}})", "shared_cache.url",
                "expected redis://");
    check_error(R"({"shared_cache":{"url":"redis://user:secret@h"}})", "shared_cache.url",
                "password_file");
    check_error(R"({"shared_cache":{"url":"redis://h","timeout_ms":0}})", "shared_cache.timeout_ms",
                "from 1");
    check_error(R"({"shared_cache":{"url":"redis://h","lease_ms":"10s"}})", "shared_cache.lease_ms",
                "expected an integer");
    check_error(R"({"shared_cache":{"url":"redis://h","username":"tokend"}})",
                "shared_cache.password_file", "missing");
    check_error(R"({"shared_cache":{"url":"redis://h","ca_file":"/etc/ca.pem"}})",
                "shared_cache.ca_file", "rediss://");
    check_error(R"({"shared_cache":{"url":"redis://h","key_prefx":"x"}})", "shared_cache.key_prefx",
                "key_prefix");
}

BOOST_AUTO_TEST_SUITE_END()
