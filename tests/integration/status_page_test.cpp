// The status page (PRODUCT.md §5 GET /) served by the running daemon: its headers, its content
// negotiation on /status, the request policy on it (suite status_page); and the page as a person
// sees it (suite status_page_browser): Debian's chromium, headless, loads it from the running
// daemon against the mock Auth API, with one servable profile and one the mock refuses, and the
// test reads the DOM after the page's script ran (rows, states, the lifetime bar, no token),
// Chromium's console (no CSP violation, no message at all) and keeps a screenshot in the build
// directory (its path is in the log: a CI artifact). Where Chromium is missing or cannot run,
// that suite says why and exits 77, which CTest reports as skipped.
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "harness.hpp"

using namespace tokend_test;
namespace json = boost::json;

namespace {

// One servable profile and one the mock refuses (422 "product not available").
std::string config_for(const mock_upstream& mock) {
    return R"({"upstream":{"base_url":")" + mock.base_url() + R"(","ca_file":")" + mock.ca_file() +
           R"("},"tokens":[)"
           R"({"name":"stats","product":"synergy-stats","customer_id":"345","default":true},)"
           R"({"name":"broken","product":"invalid-product","customer_id":"345"}]})";
}

constexpr const char* browser_accept =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

http_reply get(const tokend_daemon& d, const std::string& target,
               std::map<std::string, std::string> headers = {}) {
    http_call call;
    call.target = target;
    call.headers = std::move(headers);
    return http_request(d.tcp(), call);
}

} // namespace

BOOST_AUTO_TEST_SUITE(status_page)

BOOST_AUTO_TEST_CASE(the_root_answers_the_page_with_a_strict_policy) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const std::string token =
        daemon.get_token_within("stats", 10s).json().at("data").at("token").as_string().c_str();

    const auto page = get(daemon, "/");
    BOOST_REQUIRE_EQUAL(page.status, 200u);
    BOOST_CHECK_EQUAL(page.header("content-type"), "text/html; charset=utf-8");
    const std::string csp = page.header("content-security-policy");
    BOOST_CHECK(csp.starts_with("default-src 'none'; script-src 'sha256-"));
    BOOST_CHECK(csp.find("; connect-src 'self';") != std::string::npos);
    BOOST_CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
    BOOST_CHECK(csp.find("unsafe") == std::string::npos);
    BOOST_CHECK_EQUAL(page.header("x-content-type-options"), "nosniff");
    BOOST_CHECK_EQUAL(page.header("cache-control"), "no-store");
    BOOST_CHECK(page.body.starts_with("<!DOCTYPE html>"));
    BOOST_CHECK(page.body.find(token) == std::string::npos);
    check_no_secret_in("GET /", page.body);

    // The same bytes over the Unix socket.
    http_call call;
    call.target = "/";
    call.headers["Host"] = "";
    const auto over_unix = http_request(daemon.unix_socket(), call);
    BOOST_CHECK_EQUAL(over_unix.status, 200u);
    BOOST_CHECK(over_unix.body == page.body);

    // HEAD: the header alone, with the GET reply's length.
    const std::string head = raw_exchange(
        daemon.tcp(), "HEAD / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    BOOST_CHECK(head.starts_with("HTTP/1.1 200 "));
    BOOST_CHECK(head.find("Content-Length: " + std::to_string(page.body.size()) + "\r\n") !=
                std::string::npos);
    BOOST_CHECK(head.ends_with("\r\n\r\n"));

    call.method = "POST";
    call.headers.clear();
    const auto post = http_request(daemon.tcp(), call);
    BOOST_CHECK_EQUAL(post.status, 405u);
    BOOST_CHECK_EQUAL(post.header("allow"), "GET");
}

BOOST_AUTO_TEST_CASE(status_answers_a_browser_with_the_page_and_anyone_else_with_json) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const auto page = get(daemon, "/");

    const auto for_browser = get(daemon, "/status", {{"Accept", browser_accept}});
    BOOST_CHECK_EQUAL(for_browser.status, 200u);
    BOOST_CHECK_EQUAL(for_browser.header("content-type"), "text/html; charset=utf-8");
    BOOST_CHECK_EQUAL(for_browser.header("content-security-policy"),
                      page.header("content-security-policy"));
    BOOST_CHECK_EQUAL(for_browser.header("vary"), "Accept");
    BOOST_CHECK(for_browser.body == page.body);

    for (const char* accept : {"", "*/*", "application/json", "application/json, text/html"}) {
        BOOST_TEST_INFO("Accept: " << accept);
        std::map<std::string, std::string> headers;
        if (*accept != '\0')
            headers["Accept"] = accept;
        const auto r = get(daemon, "/status", headers);
        BOOST_CHECK_EQUAL(r.status, 200u);
        BOOST_CHECK(r.header("content-type").starts_with("application/json"));
        BOOST_CHECK_EQUAL(r.header("vary"), "Accept");
        BOOST_CHECK(r.json().is_object());
    }
}

BOOST_AUTO_TEST_CASE(the_page_obeys_the_host_and_origin_rules_of_every_route) {
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const std::map<std::string, std::string> refused[] = {
        {{"Host", "attacker.example:8731"}},
        {{"Origin", "http://attacker.example"}},
        {{"Origin", "null"}},
        {{"X-Forwarded-For", "192.0.2.1"}},
        {{"Forwarded", "for=192.0.2.1"}},
    };
    for (const auto& headers : refused) {
        BOOST_TEST_INFO(headers.begin()->first << ": " << headers.begin()->second);
        for (const auto& [target, accept] :
             {std::pair{"/", "*/*"}, std::pair{"/status", browser_accept}}) {
            auto with_accept = headers;
            with_accept["Accept"] = accept;
            const auto r = get(daemon, target, with_accept);
            BOOST_CHECK_EQUAL(r.status, 403u);
            BOOST_CHECK(r.header("content-type").starts_with("application/json"));
            BOOST_CHECK(r.header("content-security-policy").empty());
        }
    }
    // The loopback names a person types are fine.
    for (const char* host : {"127.0.0.1:8731", "localhost:8731", "[::1]:8731", "localhost"})
        BOOST_CHECK_EQUAL(get(daemon, "/", {{"Host", host}}).status, 200u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- in a real browser ----

namespace {

// /status until the servable profile is fresh and the refused one has failed at least once.
json::object wait_for_both_profiles(const tokend_daemon& d) {
    json::object data;
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
        const auto doc = get(d, "/status").json();
        if (doc.is_object() && doc.as_object().contains("data")) {
            data = doc.at("data").as_object();
            bool fresh = false;
            bool failed = false;
            for (const auto& p : data.at("profiles").as_array()) {
                if (p.at("name") == "stats")
                    fresh = p.at("state") == "fresh";
                if (p.at("name") == "broken")
                    failed = p.at("consecutiveFailures").to_number<int>() >= 1;
            }
            if (fresh && failed)
                return data;
        }
        std::this_thread::sleep_for(50ms);
    }
    BOOST_FAIL("the profiles did not settle: " << json::serialize(data));
    return data;
}

// SKIP_RETURN_CODE of integration.status_page_browser (tests/CMakeLists.txt).
constexpr int skipped = 77;

std::string chromium_binary() {
    if (const char* b = std::getenv("TOKEND_TEST_CHROMIUM"); b != nullptr && *b != '\0')
        return b;
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin");
    for (std::string dir; std::getline(dirs, dir, ':');)
        if (!dir.empty() && ::access((dir + "/chromium").c_str(), X_OK) == 0)
            return dir + "/chromium";
    return {};
}

struct browser_run {
    std::optional<int> exit_code; // nullopt: still running after the timeout (then killed)
    std::string dom;              // --dump-dom: the document after its script ran
    std::string log;              // Chromium's log, the page's console messages included
};

// Headless Chromium on `url` with a fresh profile, for at most 60 s; `screenshot`: a PNG path or
// empty. The page's timers run in virtual time: 3 s of it, enough for its first fetch (virtual
// time waits for network fetches) and less than its refresh period.
browser_run run_chromium(const std::string& binary, const std::string& url,
                         const std::string& screenshot = {}) {
    temp_dir dir;
    std::vector<std::string> argv{
        binary,
        "--headless",
        "--no-sandbox", // the test runs as root, where Chromium's sandbox cannot start
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--user-data-dir=" + dir.file("profile"),
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,760",
        "--virtual-time-budget=3000",
        "--dump-dom",
    };
    if (!screenshot.empty())
        argv.push_back("--screenshot=" + screenshot);
    argv.push_back(url);
    browser_run out;
    {
        process p(argv, dir.file("dom.html"), dir.file("chromium.log"),
                  {{"HOME", dir.path()},
                   {"XDG_CONFIG_HOME", dir.file("config")},
                   {"XDG_CACHE_HOME", dir.file("cache")}});
        out.exit_code = p.wait_exit(60s);
    }
    out.dom = read_file(dir.file("dom.html"));
    out.log = read_file(dir.file("chromium.log"));
    return out;
}

// The lines of `log` that contain `needle`.
std::vector<std::string> lines_with(const std::string& log, const std::string& needle) {
    std::vector<std::string> found;
    std::stringstream in(log);
    for (std::string line; std::getline(in, line);)
        if (line.find(needle) != std::string::npos)
            found.push_back(line);
    return found;
}

// The table row of profile `name` in `dom`, from <tr to </tr>.
std::string row_of(const std::string& dom, const std::string& name) {
    const auto at = dom.find("<tr data-profile=\"" + name + "\"");
    if (at == std::string::npos)
        return {};
    return dom.substr(at, dom.find("</tr>", at) - at);
}

std::string tail(const std::string& text, std::size_t n) {
    return text.size() <= n ? text : text.substr(text.size() - n);
}

// Skips the test (the process exits with `skipped`, which CTest reports as skipped, never as
// passed) when Chromium is missing or cannot render a page here. Runs before anything else is
// started, so there is nothing to clean up.
[[noreturn]] void skip(const std::string& why) {
    std::cout << "SKIPPED: " << why << std::endl;
    std::exit(skipped);
}

std::string chromium_or_skip() {
    const std::string binary = chromium_binary();
    if (binary.empty())
        skip("no chromium on PATH (Debian package chromium; or set TOKEND_TEST_CHROMIUM)");
    if (::access(binary.c_str(), X_OK) != 0)
        skip(binary + " cannot be run: " + std::strerror(errno));
    browser_run probe;
    try {
        probe = run_chromium(binary, "data:text/html,<p id=probe>rendered</p>");
    } catch (const std::exception& e) {
        skip(binary + " cannot be started: " + e.what());
    }
    if (probe.exit_code != 0 || probe.dom.find("rendered") == std::string::npos)
        skip(binary + " cannot render a page here (exit " +
             (probe.exit_code ? std::to_string(*probe.exit_code) : "none: timed out") +
             "); its log ends:\n" + tail(probe.log, 2000));
    return binary;
}

} // namespace

BOOST_AUTO_TEST_SUITE(status_page_browser)

BOOST_AUTO_TEST_CASE(chromium_renders_every_profile_from_the_running_daemon) {
    const std::string chromium = chromium_or_skip();
    mock_upstream mock;
    tokend_daemon daemon(config_for(mock));
    const std::string token =
        daemon.get_token_within("stats", 10s).json().at("data").at("token").as_string().c_str();
    BOOST_REQUIRE(!token.empty());
    wait_for_both_profiles(daemon);

    const std::string artifacts = SYNERGY_TOKEND_ARTIFACT_DIR;
    std::filesystem::create_directories(artifacts);
    const std::string screenshot = artifacts + "/status-page.png";
    std::filesystem::remove(screenshot);
    const std::string url = "http://127.0.0.1:" + std::to_string(daemon.tcp().port) + "/";
    const auto run = run_chromium(chromium, url, screenshot);
    BOOST_REQUIRE_MESSAGE(run.exit_code == 0, "chromium failed: " << tail(run.log, 3000));
    BOOST_TEST_MESSAGE("artifact: screenshot of the status page: " << screenshot);

    // The script ran and filled the page in from /status.
    BOOST_TEST_INFO("DOM: " << run.dom);
    BOOST_CHECK(run.dom.find("class=\"summary ok\"") != std::string::npos);
    BOOST_CHECK(run.dom.find(">2 profiles: 1 fresh, 1 failed.</p>") != std::string::npos);
    BOOST_CHECK(std::regex_search(
        run.dom, std::regex(R"(<span id="updated">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</span>)")));
    const std::string stats = row_of(run.dom, "stats");
    const std::string broken = row_of(run.dom, "broken");
    BOOST_REQUIRE(!stats.empty());
    BOOST_REQUIRE(!broken.empty());
    BOOST_CHECK(
        stats.find(R"(<th scope="row"><span>stats</span><span class="tag">default</span>)") !=
        std::string::npos);
    BOOST_CHECK(stats.find(R"(<span class="state state-fresh">fresh</span>)") != std::string::npos);
    BOOST_CHECK(stats.find(R"(<div class="bar" role="img" aria-label="Token lifetime: issued )") !=
                std::string::npos);
    BOOST_CHECK(stats.find("mark refresh") != std::string::npos);
    BOOST_CHECK(stats.find("mark now") != std::string::npos);
    BOOST_CHECK(stats.find("mark expiry") != std::string::npos);
    BOOST_CHECK(broken.find(R"(<span class="state state-failed">failed</span>)") !=
                std::string::npos);
    BOOST_CHECK(broken.find("product not available: invalid-product") != std::string::npos);
    BOOST_CHECK(broken.find(R"(<td class="num bad">)") != std::string::npos);
    BOOST_CHECK(broken.find("no token") != std::string::npos);
    // The upstream and the daemon's figures.
    BOOST_CHECK(run.dom.find("<dd>" + mock.base_url() + "</dd>") != std::string::npos);
    BOOST_CHECK(run.dom.find("<dt>Last latency</dt><dd>") != std::string::npos);
    BOOST_CHECK(run.dom.find("<dt>On-demand entries</dt><dd>0</dd>") != std::string::npos);

    // No token, and no complaint from the page: no CSP violation, no console message at all.
    BOOST_CHECK(run.dom.find(token) == std::string::npos);
    check_no_secret_in("the rendered status page", run.dom);
    const auto violations = lines_with(run.log, "Content Security Policy");
    BOOST_CHECK_MESSAGE(violations.empty(),
                        "CSP violation: " << (violations.empty() ? "" : violations.front()));
    const auto console = lines_with(run.log, ":CONSOLE");
    BOOST_CHECK_MESSAGE(console.empty(), "console: " << (console.empty() ? "" : console.front()));

    // The screenshot is a PNG.
    const std::string png = read_file(screenshot);
    BOOST_CHECK(png.starts_with("\x89PNG\r\n\x1a\n"));
    BOOST_TEST_MESSAGE("screenshot: " << png.size() << " bytes");

    // The page's requests went through the request policy like any other: no 403 among them.
    const std::string metrics = get(daemon, "/metrics").body;
    BOOST_CHECK(metrics.find(R"(route="/",code="200")") != std::string::npos);
    BOOST_CHECK(metrics.find(R"(route="/status",code="403")") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(chromium_shows_a_clear_message_when_status_cannot_be_fetched) {
    const std::string chromium = chromium_or_skip();
    mock_upstream mock;
    std::string page;
    {
        tokend_daemon daemon(config_for(mock));
        page = get(daemon, "/").body;
    }
    // The page the daemon served, opened with no daemon behind it: its fetch of /status fails.
    temp_dir dir;
    write_file(dir.file("status.html"), page);
    const auto run = run_chromium(chromium, "file://" + dir.file("status.html"));
    BOOST_REQUIRE_MESSAGE(run.exit_code == 0, "chromium failed: " << tail(run.log, 3000));
    BOOST_TEST_INFO("DOM: " << run.dom);
    BOOST_CHECK(run.dom.find(R"(<p id="summary" class="summary error")") != std::string::npos);
    BOOST_CHECK(run.dom.find("Cannot reach the daemon") != std::string::npos);
    BOOST_CHECK(run.dom.find("No data yet. Trying again every 5 s.") != std::string::npos);
    BOOST_CHECK(run.dom.find("<body class=\"stale\">") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
