#include "synergy_tokend/config.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <unistd.h>
#include <vector>

#include <boost/json.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

namespace st = synergy_tokend;
namespace bdata = boost::unit_test::data;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

const std::string source_root = [] {
    const std::string file = __FILE__;
    const std::string suffix = "tests/unit/config_test.cpp";
    return file.substr(0, file.size() - suffix.size());
}();

// The PRODUCT.md §3 example, verbatim.
constexpr const char* product_example = R"({
  "upstream": {
    "base_url": "https://token.connect.sportradar.com/v1",
    "ca_file": "",                  // PEM bundle; "" = the system trust store
    "connect_timeout_ms": 3000,
    "request_timeout_ms": 10000,
    "max_connections": 8,           // upstream connections open at once; more requests queue
    "idle_timeout_s": 30,           // a kept-alive upstream connection unused this long is closed
    "allow_insecure_http": false    // http:// base_url only when true (test upstreams)
  },
  "identity": {                     // exactly one source
    "user_identity_token_file": "identity-token"
    // or "user_identity_token_env": "SYNERGY_USER_IDENTITY_TOKEN"
    // a relative file name is looked up in $CREDENTIALS_DIRECTORY first (systemd LoadCredential=),
    // then beside the config file, so the default works both under the unit and by hand
    // a relative file name is looked up in $CREDENTIALS_DIRECTORY first (systemd LoadCredential=)
  },
  "listen": {
    "tcp": ["127.0.0.1:8731"],      // [] = no TCP
    "allow_remote": false,          // true allows non-loopback addresses in "tcp"
    "unix": "/run/synergy-tokend/tokend.sock",   // "" = no Unix socket
    "unix_mode": "0660",
    "require_request_header": true, // see section 6
    "max_connections": 1024,
    "request_timeout_s": 10,        // a request must arrive complete this long after its first byte
    "keepalive_idle_s": 60          // a kept-alive connection may idle this long between requests
  },
  "tokens": [                       // the profiles kept warm; at least one unless on_demand is on
    { "name": "stats", "product": "synergy-stats", "customer_id": "345",
      "scopes": ["read:organization"],      // optional; absent = all the user may have
      "default": true }                     // the profile /info calls use when none is named;
  ],                                        // at most one; a single profile is the default anyway
  "refresh": {
    "refresh_at": 0.75,             // fraction of the lifetime at which to refresh
    "min_remaining_s": 60,          // refresh at least this long before expiry
    "jitter": 0.05,                 // ± fraction of the lifetime, spreads a fleet's refreshes
    "retry_initial_ms": 1000,
    "retry_max_ms": 300000,
    "default_lifetime_s": 3600,
    "min_serve_remaining_s": 5      // never hand out a token with less real time left;
  },                                // must be < min_remaining_s
  "on_demand": { "enabled": true, "max_entries": 10000, "max_bytes": 33554432, "idle_evict_s": 3600 },
  "state": { "persist": false, "dir": "/var/lib/synergy-tokend" },
  "service": { "startup_timeout_s": 30, "shutdown_grace_s": 5 },
  "log": { "level": "info" }        // error | warn | info | debug
})";

std::string joined(const std::vector<std::string>& errors) {
    std::string out;
    for (const auto& e : errors)
        out += e + "\n";
    return out;
}

// True when some error is about exactly `path` (not a longer path that starts with it).
bool has_error_at(const st::config_parse_result& result, const std::string& path) {
    const std::string prefix = "config.json: " + path + ": ";
    return std::any_of(result.errors.begin(), result.errors.end(),
                       [&](const std::string& e) { return e.rfind(prefix, 0) == 0; });
}

void check_defaults_except_tokens(const st::config& c) {
    BOOST_TEST(c.upstream.base_url == "https://token.connect.sportradar.com/v1");
    BOOST_TEST(c.upstream.ca_file == "");
    BOOST_TEST(c.upstream.connect_timeout.count() == 3000);
    BOOST_TEST(c.upstream.request_timeout.count() == 10000);
    BOOST_TEST(c.upstream.max_connections == 8u);
    BOOST_TEST(c.upstream.idle_timeout.count() == 30);
    BOOST_TEST(!c.upstream.allow_insecure_http);
    // The credential of the shipped unit (LoadCredential=identity-token:...), found in
    // $CREDENTIALS_DIRECTORY first, then beside the configuration file.
    BOOST_TEST(c.identity.token_file == "identity-token");
    BOOST_TEST(c.identity.token_env == "");
    BOOST_TEST_REQUIRE(c.listen.tcp.size() == 1u);
    BOOST_TEST(c.listen.tcp[0].host == "127.0.0.1");
    BOOST_TEST(c.listen.tcp[0].port == 8731);
    BOOST_TEST(!c.listen.allow_remote);
    BOOST_TEST(c.listen.unix_path == "/run/synergy-tokend/tokend.sock");
    BOOST_TEST(c.listen.unix_mode == 0660u);
    BOOST_TEST(c.listen.require_request_header);
    BOOST_TEST(c.listen.max_connections == 1024u);
    BOOST_TEST(c.listen.max_waits == 512u);
    BOOST_TEST(c.listen.request_timeout.count() == 10);
    BOOST_TEST(c.listen.keepalive_idle.count() == 60);
    BOOST_TEST(c.refresh.refresh_at == 0.75);
    BOOST_TEST(c.refresh.min_remaining.count() == 60);
    BOOST_TEST(c.refresh.jitter == 0.05);
    BOOST_TEST(c.refresh.retry_initial.count() == 1000);
    BOOST_TEST(c.refresh.retry_max.count() == 300000);
    BOOST_TEST(c.refresh.default_lifetime.count() == 3600);
    BOOST_TEST(c.refresh.min_serve_remaining.count() == 5);
    BOOST_TEST(c.on_demand.enabled);
    BOOST_TEST(c.on_demand.max_entries == 10000u);
    BOOST_TEST(c.on_demand.max_bytes == 33554432u);
    BOOST_TEST(c.on_demand.idle_evict.count() == 3600);
    BOOST_TEST(!c.state.persist);
    BOOST_TEST(c.state.dir == "/var/lib/synergy-tokend");
    BOOST_TEST(c.service.startup_timeout.count() == 30);
    BOOST_TEST(c.service.shutdown_grace.count() == 5);
    BOOST_TEST(std::string(st::to_string(c.log)) == "info");
}

void check_stats_profile(const st::config& c) {
    BOOST_TEST_REQUIRE(c.tokens.size() == 1u);
    const st::profile_config& p = c.tokens[0];
    BOOST_TEST(p.name == "stats");
    BOOST_TEST(p.product == "synergy-stats");
    BOOST_TEST(p.customer_id == "345");
    BOOST_TEST_REQUIRE(p.scopes.has_value());
    BOOST_TEST(*p.scopes == std::vector<std::string>{"read:organization"},
               boost::test_tools::per_element());
    BOOST_TEST(p.is_default);
    BOOST_TEST(c.default_profile() == &c.tokens[0]);
}

struct invalid_case {
    const char* json;
    const char* path;     // the key path the single error must name
    const char* expected; // a fragment of what the message says was expected
};

std::ostream& operator<<(std::ostream& os, const invalid_case& c) {
    return os << c.json;
}

constexpr const char* one_token = R"({"name":"a","product":"p","customer_id":"1"})";

std::string with_tokens(const std::string& tokens) {
    return R"({"tokens":[)" + tokens + "]}";
}

const std::vector<invalid_case> invalid_cases = {
    // Unknown keys, at every level.
    {R"({"upstreams":{}})", "upstreams", "unknown key"},
    {R"({"upstream":{"max_conection":8}})", "upstream.max_conection",
     "unknown key (did you mean max_connections?)"},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":"1","colour":"red"}]})",
     "tokens[0].colour", "unknown key"},
    {R"({"log":{"level":"info","level":"debug"}})", "log.level", "duplicate key"},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":"1","scopes":["x","y"]},)"
     R"({"name":"b","product":"p","name":"c","customer_id":"2"}]})",
     "tokens[1].name", "duplicate key"},
    // Wrong types and ranges.
    {R"({"upstream":[]})", "upstream", "expected an object"},
    {R"({"upstream":{"connect_timeout_ms":0}})", "upstream.connect_timeout_ms",
     "expected an integer from 1 to"},
    {R"({"upstream":{"request_timeout_ms":"10s"}})", "upstream.request_timeout_ms",
     "(milliseconds)"},
    {R"({"upstream":{"request_timeout_ms":2.5}})", "upstream.request_timeout_ms",
     "expected an integer"},
    {R"({"upstream":{"idle_timeout_s":-1}})", "upstream.idle_timeout_s", "(seconds)"},
    {R"({"upstream":{"max_connections":0}})", "upstream.max_connections",
     "expected an integer from 1"},
    {R"({"upstream":{"allow_insecure_http":"yes"}})", "upstream.allow_insecure_http",
     "expected true or false"},
    {R"({"upstream":{"base_url":"ftp://example.com/v1"}})", "upstream.base_url",
     "expected an http:// or https:// URL"},
    {R"({"upstream":{"base_url":"https:///v1"}})", "upstream.base_url", "with a host"},
    {R"({"upstream":{"base_url":"https://example.com/v1?x=1"}})", "upstream.base_url", "query"},
    {R"({"upstream":{"base_url":"https://example.com:0/v1"}})", "upstream.base_url",
     "port from 1 to 65535"},
    {R"({"upstream":{"base_url":"http://127.0.0.1:9000/v1"}})", "upstream.base_url",
     "upstream.allow_insecure_http is true"},
    // Identity.
    {R"({"identity":{}})", "identity", "expected one of"},
    {R"({"identity":{"user_identity_token_file":"/a","user_identity_token_env":"X"}})", "identity",
     "not both"},
    {R"({"identity":{"user_identity_token_file":""}})", "identity.user_identity_token_file",
     "expected a non-empty string"},
    {R"({"identity":{"user_identity_token_env":"X","file":"/a"}})", "identity.file", "unknown key"},
    // Listeners.
    {R"({"listen":{"tcp":"127.0.0.1:8731"}})", "listen.tcp", "expected an array"},
    {R"({"listen":{"tcp":["0.0.0.0:8731"]}})", "listen.tcp[0]", "set listen.allow_remote to true"},
    {R"({"listen":{"tcp":["127.0.0.1:1","[2001:db8::1]:8731"]}})", "listen.tcp[1]",
     "listen.allow_remote"},
    {R"({"listen":{"tcp":["example.com:80"]}})", "listen.tcp[0]", "HOST:PORT"},
    {R"({"listen":{"tcp":["127.0.0.1:65536"]}})", "listen.tcp[0]", "from 0 to 65535"},
    {R"({"listen":{"tcp":["127.0.0.1"]}})", "listen.tcp[0]", "HOST:PORT"},
    {R"({"listen":{"tcp":["::1:8731"]}})", "listen.tcp[0]", "[IPv6]"},
    {R"({"listen":{"tcp":["127.0.0.1:8731","localhost:8731"]}})", "listen.tcp[1]", "listen.tcp[0]"},
    {R"({"listen":{"tcp":["[::1]:80","[0:0::1]:80"]}})", "listen.tcp[1]",
     "expected each address once"},
    {R"({"listen":{"unix_mode":"0999"}})", "listen.unix_mode", "octal"},
    {R"({"listen":{"unix_mode":"1777"}})", "listen.unix_mode", "\"0777\""},
    {R"({"listen":{"unix_mode":660}})", "listen.unix_mode", "string of octal digits"},
    {R"({"listen":{"unix":"tokend.sock"}})", "listen.unix", "absolute path"},
    {R"({"listen":{"max_connections":0}})", "listen.max_connections", "from 1"},
    {R"({"listen":{"max_waits":0}})", "listen.max_waits", "from 1"},
    {R"({"listen":{"max_connections":10,"max_waits":11}})", "listen.max_waits",
     "expected at most listen.max_connections (10)"},
    {R"({"listen":{"request_timeout_s":0}})", "listen.request_timeout_s", "from 1"},
    {R"({"listen":{"keepalive_idle_s":"60"}})", "listen.keepalive_idle_s", "seconds"},
    // File sinks.
    {R"({"tokens":[{"name":"a","product":"p","customer_id":"1","sink":{"path":"/etc/a.token"}}]})",
     "tokens[0].sink.path", "expected a path under the runtime or state directory"},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":"1","sink":{"path":"/run/synergy-tokend"}}]})",
     "tokens[0].sink.path", "under the runtime or state directory"},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":"1","sink":{"path":"/run/synergy-tokend/../x"}}]})",
     "tokens[0].sink.path", "without . or .. segments"},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":"1","sink":{"path":"a.token"}}]})",
     "tokens[0].sink.path", "absolute"},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":"1","sink":{"path":"/run/synergy-tokend/tokend.sock"}}]})",
     "tokens[0].sink.path", "not the daemon's socket"},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":"1","sink":{"mode":"0640"}}]})",
     "tokens[0].sink.path", "missing"},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":"1","sink":{"path":"/run/synergy-tokend/a","mode":"640x"}}]})",
     "tokens[0].sink.mode", "octal"},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":"1","sink":{"path":"/run/synergy-tokend/a","mode":"0040"}}]})",
     "tokens[0].sink.mode", "let the owner read"},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":"1","sink":{"path":"/run/synergy-tokend/a","format":"yaml"}}]})",
     "tokens[0].sink.format", "\"token\" or \"json\""},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":"1","sink":"/run/synergy-tokend/a"}]})",
     "tokens[0].sink", "expected an object"},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":"1","sink":{"path":"/run/synergy-tokend/a"}},)"
     R"({"name":"b","product":"p","customer_id":"2","sink":{"path":"/run/synergy-tokend/a"}}]})",
     "tokens[1].sink.path", "tokens[0].sink.path names it too"},
    // Profiles.
    {R"({"tokens":{}})", "tokens", "expected an array"},
    {R"({"tokens":["stats"]})", "tokens[0]", "expected an object"},
    {R"({"tokens":[{"product":"p","customer_id":"1"}]})", "tokens[0].name", "missing"},
    {R"({"tokens":[{"name":"a b","product":"p","customer_id":"1"}]})", "tokens[0].name",
     "letters, digits"},
    {R"({"tokens":[{"name":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",)"
     R"("product":"p","customer_id":"1"}]})",
     "tokens[0].name", "1 to 64"},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":"1"},)"
     R"({"name":"a","product":"q","customer_id":"2"}]})",
     "tokens[1].name", "tokens[0].name"},
    {R"({"tokens":[{"name":"a","customer_id":"1"}]})", "tokens[0].product", "missing"},
    {R"({"tokens":[{"name":"a","product":"","customer_id":"1"}]})", "tokens[0].product",
     "non-empty string"},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":"1"},)"
     R"({"name":"b","product":"p","customer_id":true}]})",
     "tokens[1].customer_id", "expected a string or a number"},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":null}]})", "tokens[0].customer_id",
     "expected a string or a number"},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":1.5}]})", "tokens[0].customer_id",
     "integer"},
    {R"({"tokens":[{"name":"a","product":"p"}]})", "tokens[0].customer_id", "missing"},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":"1","scopes":"read"}]})",
     "tokens[0].scopes", "expected an array"},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":"1","scopes":["x","x"]}]})",
     "tokens[0].scopes[1]", "tokens[0].scopes[0]"},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":"1","scopes":["x",""]}]})",
     "tokens[0].scopes[1]", "non-empty string"},
    {R"({"tokens":[{"name":"a","product":"p","customer_id":"1","default":true},)"
     R"({"name":"b","product":"p","customer_id":"2","default":false},)"
     R"({"name":"c","product":"p","customer_id":"3","default":true}]})",
     "tokens[2].default", "tokens[0] is already the default"},
    {R"({"on_demand":{"enabled":false}})", "tokens", "at least one profile"},
    {R"({"on_demand":{"enabled":false},"tokens":[]})", "tokens", "at least one profile"},
    // Refresh.
    {R"({"refresh":{"refresh_at":0}})", "refresh.refresh_at", "greater than 0"},
    {R"({"refresh":{"refresh_at":1.5}})", "refresh.refresh_at", "at most 1"},
    {R"({"refresh":{"jitter":0.6}})", "refresh.jitter", "from 0 to 0.5"},
    {R"({"refresh":{"min_serve_remaining_s":60}})", "refresh.min_serve_remaining_s",
     "less than refresh.min_remaining_s"},
    {R"({"refresh":{"min_remaining_s":3}})", "refresh.min_serve_remaining_s",
     "less than refresh.min_remaining_s (3)"},
    {R"({"refresh":{"retry_initial_ms":5000,"retry_max_ms":1000}})", "refresh.retry_initial_ms",
     "at most refresh.retry_max_ms"},
    {R"({"refresh":{"retry_max_ms":0}})", "refresh.retry_max_ms", "from 1"},
    {R"({"refresh":{"default_lifetime_s":0}})", "refresh.default_lifetime_s", "from 1"},
    // The rest.
    {R"({"on_demand":{"max_entries":0}})", "on_demand.max_entries", "from 1"},
    {R"({"on_demand":{"max_bytes":1000}})", "on_demand.max_bytes", "from 65536"},
    {R"({"on_demand":{"max_bytes":"32M"}})", "on_demand.max_bytes", "expected an integer"},
    {R"({"on_demand":{"enabled":1}})", "on_demand.enabled", "expected true or false"},
    {R"({"state":{"dir":"var/lib/synergy-tokend"}})", "state.dir", "absolute path"},
    {R"({"service":{"startup_timeout_s":0}})", "service.startup_timeout_s", "from 1"},
    {R"({"service":{"shutdown_grace_s":-1}})", "service.shutdown_grace_s", "from 0"},
    {R"({"log":{"level":"verbose"}})", "log.level", "\"error\", \"warn\", \"info\", \"debug\""},
    {R"({"log":"debug"})", "log", "expected an object"},
    // Routes (PRODUCT.md §11).
    {R"({"routes":{}})", "routes", "expected an array of routes"},
    {R"({"routes":[1]})", "routes[0]", "expected an object with prefix"},
    {R"({"tokens":[{"name":"stats","product":"p","customer_id":"1"}],"routes":[{"upstream":"https://a.example/v2","token":"stats"}]})",
     "routes[0].prefix", "missing"},
    {R"({"tokens":[{"name":"stats","product":"p","customer_id":"1"}],"routes":[{"prefix":"/stats/","token":"stats"}]})",
     "routes[0].upstream", "missing"},
    {R"({"tokens":[{"name":"stats","product":"p","customer_id":"1"}],"routes":[{"prefix":"/stats/","upstream":"https://a.example/"}]})",
     "routes[0].token", "missing"},
    {R"({"tokens":[{"name":"stats","product":"p","customer_id":"1"}],"routes":[{"prefix":"stats","upstream":"https://a.example/","token":"stats"}]})",
     "routes[0].prefix", "one path segment between slashes"},
    {R"({"tokens":[{"name":"stats","product":"p","customer_id":"1"}],"routes":[{"prefix":"/a/b/","upstream":"https://a.example/","token":"stats"}]})",
     "routes[0].prefix", "one path segment between slashes"},
    {R"({"tokens":[{"name":"stats","product":"p","customer_id":"1"}],"routes":[{"prefix":"/../","upstream":"https://a.example/","token":"stats"}]})",
     "routes[0].prefix", "one path segment between slashes"},
    {R"({"tokens":[{"name":"stats","product":"p","customer_id":"1"}],"routes":[{"prefix":"/a%2F/","upstream":"https://a.example/","token":"stats"}]})",
     "routes[0].prefix", "one path segment between slashes"},
    {R"({"tokens":[{"name":"stats","product":"p","customer_id":"1"}],"routes":[{"prefix":"/s/","upstream":"https://a.example/","token":"stats"},)"
     R"({"prefix":"/s/","upstream":"https://b.example/","token":"stats"}]})",
     "routes[1].prefix", "routes[0] has /s/ already"},
    {R"({"tokens":[{"name":"stats","product":"p","customer_id":"1"}],"routes":[{"prefix":"/s/","upstream":"https://a.example/","token":"nope"}]})",
     "routes[0].token", "there is no profile \"nope\""},
    {R"({"tokens":[{"name":"stats","product":"p","customer_id":"1"}],"routes":[{"prefix":"/s/","upstream":"http://a.example/","token":"stats"}]})",
     "routes[0].upstream", "upstream.allow_insecure_http"},
    {R"({"tokens":[{"name":"stats","product":"p","customer_id":"1"}],"routes":[{"prefix":"/s/","upstream":"ftp://a.example/","token":"stats"}]})",
     "routes[0].upstream", "http:// or https://"},
    {R"({"tokens":[{"name":"stats","product":"p","customer_id":"1"}],"routes":[{"prefix":"/s/","upstream":"https://a.example/?q=1","token":"stats"}]})",
     "routes[0].upstream", "without a query"},
    {R"({"tokens":[{"name":"stats","product":"p","customer_id":"1"}],"routes":[{"prefix":"/s/","upstream":"https://a.example/","token":"stats","timeout_ms":0}]})",
     "routes[0].timeout_ms", "from 1"},
    {R"({"tokens":[{"name":"stats","product":"p","customer_id":"1"}],"routes":[{"prefix":"/s/","upstream":"https://a.example/","token":"stats",)"
     R"("max_body_bytes":-1}]})",
     "routes[0].max_body_bytes", "from 0"},
    {R"({"tokens":[{"name":"stats","product":"p","customer_id":"1"}],"routes":[{"prefix":"/s/","upstream":"https://a.example/","token":"stats","tokn":1}]})",
     "routes[0].tokn", "unknown key"},
};

} // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(empty_object_gives_every_default) {
    const auto result = st::parse_config("{}");
    BOOST_TEST_REQUIRE(result.ok(), joined(result.errors));
    check_defaults_except_tokens(result.value);
    BOOST_TEST(result.value.tokens.empty());
    BOOST_TEST(result.value.default_profile() == nullptr);
}

BOOST_AUTO_TEST_CASE(minimal_profile_takes_defaults) {
    const auto result = st::parse_config(
        R"({"tokens":[{"name":"stats","product":"synergy-stats","customer_id":"345"}]})");
    BOOST_TEST_REQUIRE(result.ok(), joined(result.errors));
    check_defaults_except_tokens(result.value);
    BOOST_TEST_REQUIRE(result.value.tokens.size() == 1u);
    const auto& p = result.value.tokens[0];
    BOOST_TEST(p.name == "stats");
    BOOST_TEST(p.product == "synergy-stats");
    BOOST_TEST(p.customer_id == "345");
    BOOST_TEST(!p.scopes.has_value());
    BOOST_TEST(!p.is_default);
    // A single profile is the default anyway.
    BOOST_TEST(result.value.default_profile() == &result.value.tokens[0]);
}

BOOST_AUTO_TEST_CASE(product_example_parses) {
    const auto result = st::parse_config(product_example);
    BOOST_TEST_REQUIRE(result.ok(), joined(result.errors));
    check_defaults_except_tokens(result.value);
    check_stats_profile(result.value);
}

BOOST_AUTO_TEST_CASE(comments_and_trailing_commas_are_allowed) {
    const auto result = st::parse_config(R"(
        /* block */ {
          "upstream": { "max_connections": 2, }, // trailing comma in an object
          "listen": { "tcp": ["127.0.0.1:0", "[::1]:0",], },
          "tokens": [ { "name": "a", "product": "p", "customer_id": "1", "scopes": ["x",], }, ],
        }
    )");
    BOOST_TEST_REQUIRE(result.ok(), joined(result.errors));
    BOOST_TEST(result.value.upstream.max_connections == 2u);
    BOOST_TEST(result.value.listen.tcp.size() == 2u);
    BOOST_TEST_REQUIRE(result.value.tokens.size() == 1u);
    BOOST_TEST(result.value.tokens[0].scopes->size() == 1u);
}

BOOST_AUTO_TEST_CASE(customer_id_may_be_a_number) {
    const auto result =
        st::parse_config(R"({"tokens":[{"name":"a","product":"p","customer_id":345},)"
                         R"({"name":"b","product":"p","customer_id":18446744073709551615},)"
                         R"({"name":"c","product":"p","customer_id":0}]})");
    BOOST_TEST_REQUIRE(result.ok(), joined(result.errors));
    BOOST_TEST_REQUIRE(result.value.tokens.size() == 3u);
    BOOST_TEST(result.value.tokens[0].customer_id == "345");
    BOOST_TEST(result.value.tokens[1].customer_id == "18446744073709551615");
    BOOST_TEST(result.value.tokens[2].customer_id == "0");
    // Several profiles and none marked: no default.
    BOOST_TEST(result.value.default_profile() == nullptr);
}

BOOST_AUTO_TEST_CASE(default_profile_is_the_marked_one) {
    const auto result = st::parse_config(
        with_tokens(std::string(one_token) +
                    R"(,{"name":"b","product":"p","customer_id":"2","scopes":[],"default":true})"));
    BOOST_TEST_REQUIRE(result.ok(), joined(result.errors));
    BOOST_TEST_REQUIRE(result.value.default_profile() != nullptr);
    BOOST_TEST(result.value.default_profile()->name == "b");
    // An explicit empty scope list is kept apart from "absent".
    BOOST_TEST_REQUIRE(result.value.tokens[1].scopes.has_value());
    BOOST_TEST(result.value.tokens[1].scopes->empty());
}

BOOST_AUTO_TEST_CASE(values_are_read_and_normalised) {
    const auto result = st::parse_config(R"({
      "upstream": { "base_url": "HTTP://127.0.0.1:18443/v1/", "allow_insecure_http": true,
                    "connect_timeout_ms": 250, "idle_timeout_s": 1 },
      "identity": { "user_identity_token_env": "MY_TOKEN" },
      "listen": { "tcp": ["localhost:0", "[0:0:0:0:0:0:0:1]:8731", "10.1.2.3:80"],
                  "allow_remote": true, "unix": "", "unix_mode": "600",
                  "require_request_header": false, "request_timeout_s": 2,
                  "keepalive_idle_s": 3 },
      "refresh": { "refresh_at": 1, "jitter": 0, "min_remaining_s": 1,
                   "min_serve_remaining_s": 0 },
      "state": { "persist": true, "dir": "/tmp/x" },
      "service": { "shutdown_grace_s": 0 },
      "log": { "level": "debug" }
    })");
    BOOST_TEST_REQUIRE(result.ok(), joined(result.errors));
    const st::config& c = result.value;
    BOOST_TEST(c.upstream.base_url == "http://127.0.0.1:18443/v1");
    BOOST_TEST(c.upstream.connect_timeout == 250ms);
    BOOST_TEST(c.upstream.idle_timeout == 1s);
    BOOST_TEST(c.identity.token_env == "MY_TOKEN");
    BOOST_TEST(c.identity.token_file == "");
    BOOST_TEST_REQUIRE(c.listen.tcp.size() == 3u);
    BOOST_TEST(c.listen.tcp[0].host == "127.0.0.1");
    BOOST_TEST(c.listen.tcp[0].port == 0);
    BOOST_TEST(c.listen.tcp[1].host == "::1");
    BOOST_TEST(c.listen.tcp[1].port == 8731);
    BOOST_TEST(c.listen.tcp[2].host == "10.1.2.3");
    BOOST_TEST(c.listen.allow_remote);
    BOOST_TEST(c.listen.unix_path == "");
    BOOST_TEST(c.listen.unix_mode == 0600u);
    BOOST_TEST(!c.listen.require_request_header);
    BOOST_TEST(c.listen.request_timeout == 2s);
    BOOST_TEST(c.listen.keepalive_idle == 3s);
    BOOST_TEST(c.refresh.refresh_at == 1.0);
    BOOST_TEST(c.refresh.jitter == 0.0);
    BOOST_TEST(c.refresh.min_remaining == 1s);
    BOOST_TEST(c.refresh.min_serve_remaining == 0s);
    BOOST_TEST(c.state.persist);
    BOOST_TEST(c.state.dir == "/tmp/x");
    BOOST_TEST(c.service.shutdown_grace == 0s);
    BOOST_TEST(std::string(st::to_string(c.log)) == "debug");
}

BOOST_AUTO_TEST_CASE(base_url_loses_one_trailing_slash) {
    const auto root = st::parse_config(R"({"upstream":{"base_url":"https://example.com/"}})");
    BOOST_TEST_REQUIRE(root.ok(), joined(root.errors));
    BOOST_TEST(root.value.upstream.base_url == "https://example.com");
    const auto ipv6 = st::parse_config(R"({"upstream":{"base_url":"https://[::1]:8443/a/b/"}})");
    BOOST_TEST_REQUIRE(ipv6.ok(), joined(ipv6.errors));
    BOOST_TEST(ipv6.value.upstream.base_url == "https://[::1]:8443/a/b");
}

BOOST_AUTO_TEST_CASE(empty_tcp_list_means_no_tcp_listener) {
    const auto result = st::parse_config(R"({"listen":{"tcp":[]}})");
    BOOST_TEST_REQUIRE(result.ok(), joined(result.errors));
    BOOST_TEST(result.value.listen.tcp.empty());
}

BOOST_AUTO_TEST_CASE(two_ephemeral_ports_are_not_duplicates) {
    const auto result = st::parse_config(R"({"listen":{"tcp":["127.0.0.1:0","127.0.0.1:0"]}})");
    BOOST_TEST_REQUIRE(result.ok(), joined(result.errors));
    BOOST_TEST(result.value.listen.tcp.size() == 2u);
}

BOOST_DATA_TEST_CASE(invalid_config_names_its_key_path, bdata::make(invalid_cases), sample) {
    const auto result = st::parse_config(sample.json);
    BOOST_TEST_INFO("errors: " << joined(result.errors));
    BOOST_TEST_REQUIRE(result.errors.size() == 1u);
    const std::string& error = result.errors[0];
    const std::string prefix = std::string("config.json: ") + sample.path + ": ";
    BOOST_TEST(error.rfind(prefix, 0) == 0u, error << " does not start with " << prefix);
    BOOST_TEST(error.find(sample.expected, prefix.size()) != std::string::npos,
               error << " does not say " << sample.expected);
}

BOOST_AUTO_TEST_CASE(all_errors_are_reported_at_once) {
    const auto result = st::parse_config(R"({
      "upstream": { "max_conection": 8, "connect_timeout_ms": -5 },
      "listen": { "tcp": ["0.0.0.0:8731", "127.0.0.1:x"] },
      "tokens": [
        { "name": "a", "product": "p", "customer_id": "1" },
        { "name": "b", "product": "p", "customer_id": [] }
      ],
      "refresh": { "min_serve_remaining_s": 90 },
      "log": { "level": "loud" }
    })");
    BOOST_TEST(!result.ok());
    BOOST_TEST(result.errors.size() == 7u, joined(result.errors));
    for (const char* path :
         {"upstream.max_conection", "upstream.connect_timeout_ms", "listen.tcp[0]", "listen.tcp[1]",
          "tokens[1].customer_id", "refresh.min_serve_remaining_s", "log.level"})
        BOOST_TEST(has_error_at(result, path), path << " missing in:\n" << joined(result.errors));
    const bool exact_customer_message =
        std::find(result.errors.begin(), result.errors.end(),
                  "config.json: tokens[1].customer_id: expected a string or a number") !=
        result.errors.end();
    BOOST_TEST(exact_customer_message, joined(result.errors));
}

BOOST_AUTO_TEST_CASE(syntax_error_gives_line_and_column) {
    const auto result =
        st::parse_config("{\n  \"log\": {\"level\": \"info\"}\n  \"state\": {}\n}", "tokend.json");
    BOOST_TEST_REQUIRE(result.errors.size() == 1u, joined(result.errors));
    BOOST_TEST(result.errors[0].rfind("tokend.json:3:3: invalid JSON: ", 0) == 0u,
               result.errors[0]);
}

BOOST_AUTO_TEST_CASE(truncated_text_is_a_syntax_error_at_its_end) {
    const auto result = st::parse_config("{\n  \"log\": {");
    BOOST_TEST_REQUIRE(result.errors.size() == 1u, joined(result.errors));
    BOOST_TEST(result.errors[0].rfind("config.json:2:11: invalid JSON: ", 0) == 0u,
               result.errors[0]);
    const auto empty = st::parse_config("");
    BOOST_TEST_REQUIRE(empty.errors.size() == 1u);
    BOOST_TEST(empty.errors[0].rfind("config.json:1:1: invalid JSON: ", 0) == 0u, empty.errors[0]);
}

BOOST_AUTO_TEST_CASE(syntax_error_column_counts_characters) {
    const auto result = st::parse_config("{ // \xC2\xB1 5\n\"\xC3\xA9\": x }");
    BOOST_TEST_REQUIRE(result.errors.size() == 1u, joined(result.errors));
    BOOST_TEST(result.errors[0].rfind("config.json:2:6: invalid JSON: ", 0) == 0u,
               result.errors[0]);
}

BOOST_AUTO_TEST_CASE(utf8_byte_order_mark_is_ignored) {
    const auto result = st::parse_config("\xEF\xBB\xBF{\"log\":{\"level\":\"warn\"}}");
    BOOST_TEST_REQUIRE(result.ok(), joined(result.errors));
    BOOST_TEST(std::string(st::to_string(result.value.log)) == "warn");
}

BOOST_AUTO_TEST_CASE(top_level_must_be_an_object) {
    const auto result = st::parse_config("[]");
    BOOST_TEST_REQUIRE(result.errors.size() == 1u, joined(result.errors));
    BOOST_TEST(result.errors[0] == "config.json: expected a JSON object at the top level");
}

BOOST_AUTO_TEST_CASE(http_base_url_allowed_when_insecure_http_is) {
    // allow_insecure_http may come after base_url: the check sees the whole section.
    const auto result = st::parse_config(
        R"({"upstream":{"base_url":"http://localhost:9/v1","allow_insecure_http":true}})");
    BOOST_TEST_REQUIRE(result.ok(), joined(result.errors));
    BOOST_TEST(result.value.upstream.base_url == "http://localhost:9/v1");
}

BOOST_AUTO_TEST_CASE(routes_are_read_with_their_defaults) {
    const auto result = st::parse_config(R"({
        "upstream": {"allow_insecure_http": true},
        "tokens": [{"name": "stats", "product": "p", "customer_id": "1"}],
        "routes": [
            {"prefix": "/stats/", "upstream": "https://api.example.com/v2/", "token": "stats"},
            {"prefix": "/plain_1.x-y/", "upstream": "http://127.0.0.1:9000", "token": "stats",
             "ca_file": "/etc/ca.pem", "timeout_ms": 250, "max_body_bytes": 0},
        ]})");
    BOOST_TEST_REQUIRE(result.ok(), joined(result.errors));
    BOOST_TEST_REQUIRE(result.value.routes.size() == 2u);
    const auto& a = result.value.routes[0];
    BOOST_TEST(a.prefix == "/stats/");
    BOOST_TEST(a.name() == "stats");
    BOOST_TEST(a.upstream == "https://api.example.com/v2"); // one trailing slash dropped
    BOOST_TEST(a.token == "stats");
    BOOST_TEST(a.ca_file == "");
    BOOST_TEST(a.timeout.count() == 30000);
    BOOST_TEST(a.max_body_bytes == 1048576u);
    const auto& b = result.value.routes[1];
    BOOST_TEST(b.name() == "plain_1.x-y");
    BOOST_TEST(b.upstream == "http://127.0.0.1:9000");
    BOOST_TEST(b.ca_file == "/etc/ca.pem");
    BOOST_TEST(b.timeout.count() == 250);
    BOOST_TEST(b.max_body_bytes == 0u);
    BOOST_TEST(st::parse_config("{}").value.routes.empty());
}

BOOST_AUTO_TEST_CASE(non_loopback_allowed_when_allow_remote_is) {
    const auto result =
        st::parse_config(R"({"listen":{"tcp":["0.0.0.0:8731","[::]:8731"],"allow_remote":true}})");
    BOOST_TEST_REQUIRE(result.ok(), joined(result.errors));
    BOOST_TEST(result.value.listen.tcp[0].host == "0.0.0.0");
    BOOST_TEST(result.value.listen.tcp[1].host == "::");
}

BOOST_AUTO_TEST_CASE(loopback_is_all_of_127_8) {
    const auto result = st::parse_config(R"({"listen":{"tcp":["127.1.2.3:80"]}})");
    BOOST_TEST(result.ok(), joined(result.errors));
}

BOOST_AUTO_TEST_CASE(source_names_the_input) {
    const auto result = st::parse_config(R"({"bogus":1})", "other.json");
    BOOST_TEST_REQUIRE(result.errors.size() == 1u);
    BOOST_TEST(result.errors[0] == "other.json: bogus: unknown key");
}

BOOST_AUTO_TEST_CASE(unreadable_file_is_one_error_with_the_reason) {
    const std::string path = "/nonexistent-dir/synergy-tokend/config.json";
    const auto result = st::load_config_file(path);
    BOOST_TEST_REQUIRE(result.errors.size() == 1u);
    BOOST_TEST(result.errors[0] == path + ": cannot read: " + std::strerror(ENOENT));
}

BOOST_AUTO_TEST_CASE(file_errors_name_the_base_name) {
    const auto dir =
        std::filesystem::temp_directory_path() / ("config_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto path = dir / "tokend-test.json";
    {
        std::ofstream out(path);
        out << R"({"log":{"level":"noisy"}})";
    }
    const auto result = st::load_config_file(path.string());
    std::filesystem::remove_all(dir);
    BOOST_TEST_REQUIRE(result.errors.size() == 1u, joined(result.errors));
    BOOST_TEST(result.errors[0].rfind("tokend-test.json: log.level: expected one of", 0) == 0u,
               result.errors[0]);
}

BOOST_AUTO_TEST_CASE(sample_config_parses_cleanly) {
    const std::string path = source_root + "etc/config.json";
    const auto result = st::load_config_file(path);
    BOOST_TEST_REQUIRE(result.ok(), joined(result.errors));
    // The sample shows every default, so it must mean exactly what "{}" means, plus "stats".
    check_defaults_except_tokens(result.value);
    // A relative identity token file is looked up beside the configuration file (after the
    // credentials directory), whatever the working directory.
    BOOST_TEST(result.value.identity.base_dir == source_root + "etc");
    check_stats_profile(result.value);
}

BOOST_AUTO_TEST_CASE(sample_config_lists_every_key) {
    std::ifstream in(source_root + "etc/config.json");
    BOOST_TEST_REQUIRE(in.good());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    json::parse_options options;
    options.allow_comments = true;
    options.allow_trailing_commas = true;
    const json::value root = json::parse(text, {}, options);
    const std::vector<std::pair<const char*, std::vector<const char*>>> sections = {
        {"upstream",
         {"base_url", "ca_file", "connect_timeout_ms", "request_timeout_ms", "max_connections",
          "idle_timeout_s", "allow_insecure_http"}},
        {"identity", {"user_identity_token_file"}},
        {"listen",
         {"tcp", "allow_remote", "unix", "unix_mode", "require_request_header", "max_connections",
          "max_waits", "request_timeout_s", "keepalive_idle_s"}},
        {"refresh",
         {"refresh_at", "min_remaining_s", "jitter", "retry_initial_ms", "retry_max_ms",
          "default_lifetime_s", "min_serve_remaining_s"}},
        {"on_demand", {"enabled", "max_entries", "max_bytes", "idle_evict_s"}},
        {"state", {"persist", "dir"}},
        {"service", {"startup_timeout_s", "shutdown_grace_s"}},
        {"log", {"level"}},
    };
    for (const auto& [section, keys] : sections) {
        const json::object* object =
            root.as_object().if_contains(section) ? root.at(section).if_object() : nullptr;
        BOOST_TEST_REQUIRE(object != nullptr, section);
        for (const char* key : keys)
            BOOST_TEST(object->contains(key), section << "." << key);
    }
    // The commented-out alternative is shown too.
    BOOST_TEST(text.find("\"user_identity_token_env\": \"SYNERGY_USER_IDENTITY_TOKEN\"") !=
               std::string::npos);
    for (const char* key : {"\"prefix\"", "\"upstream\"", "\"token\"", "\"timeout_ms\": 30000",
                            "\"max_body_bytes\": 1048576"})
        BOOST_TEST(text.find(key) != std::string::npos, "routes[]." << key);
}

BOOST_AUTO_TEST_CASE(max_waits_defaults_to_half_of_max_connections) {
    const auto half = st::parse_config(R"({"listen":{"max_connections":101},"tokens":[)" +
                                       std::string(one_token) + "]}");
    BOOST_TEST_REQUIRE(half.ok(), joined(half.errors));
    BOOST_TEST(half.value.listen.max_waits == 50u);
    const auto one = st::parse_config(R"({"listen":{"max_connections":1},"tokens":[)" +
                                      std::string(one_token) + "]}");
    BOOST_TEST_REQUIRE(one.ok(), joined(one.errors));
    BOOST_TEST(one.value.listen.max_waits == 1u);
    const auto given = st::parse_config(R"({"listen":{"max_connections":10,"max_waits":10},)"
                                        R"("tokens":[)" +
                                        std::string(one_token) + "]}");
    BOOST_TEST_REQUIRE(given.ok(), joined(given.errors));
    BOOST_TEST(given.value.listen.max_waits == 10u);
}

BOOST_AUTO_TEST_CASE(sinks_may_go_under_the_state_dir_the_socket_dir_or_runtime_directory) {
    ::setenv("RUNTIME_DIRECTORY", "/tmp/rt-a:/tmp/rt-b", 1);
    const auto r = st::parse_config(
        R"({"state":{"dir":"/srv/state"},"listen":{"unix":"/srv/sock/t.sock"},"tokens":[)"
        R"({"name":"a","product":"p","customer_id":"1","sink":{"path":"/srv/state/a"}},)"
        R"({"name":"b","product":"p","customer_id":"2","sink":{"path":"/srv/sock/b","mode":"0600","format":"json"}},)"
        R"({"name":"c","product":"p","customer_id":"3","sink":{"path":"/tmp/rt-b/sub/c"}},)"
        R"({"name":"d","product":"p","customer_id":"4","sink":{"path":"/var/lib/synergy-tokend/d"}}]})");
    ::unsetenv("RUNTIME_DIRECTORY");
    BOOST_TEST_REQUIRE(r.ok(), joined(r.errors));
    BOOST_TEST_REQUIRE(r.value.tokens[1].sink.has_value());
    BOOST_TEST(r.value.tokens[0].sink->mode == 0640u);
    BOOST_TEST((r.value.tokens[0].sink->fmt == st::sink_config::format::token));
    BOOST_TEST(r.value.tokens[1].sink->mode == 0600u);
    BOOST_TEST((r.value.tokens[1].sink->fmt == st::sink_config::format::json));
    BOOST_TEST(r.value.tokens[2].sink->path == "/tmp/rt-b/sub/c");
    const auto outside = st::parse_config(
        R"({"tokens":[{"name":"a","product":"p","customer_id":"1","sink":{"path":"/tmp/rt-a/x"}}]})");
    BOOST_TEST(has_error_at(outside, "tokens[0].sink.path"));
}

BOOST_AUTO_TEST_CASE(log_level_names) {
    BOOST_TEST(std::string(st::to_string(st::log_level::error)) == "error");
    BOOST_TEST(std::string(st::to_string(st::log_level::warn)) == "warn");
    BOOST_TEST(std::string(st::to_string(st::log_level::info)) == "info");
    BOOST_TEST(std::string(st::to_string(st::log_level::debug)) == "debug");
}

BOOST_AUTO_TEST_SUITE_END()
