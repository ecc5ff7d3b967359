#include "synergy_tokend/cli_client.hpp"

#include "synergy_tokend/cli.hpp"

#include <charconv>
#include <cstdlib>
#include <ostream>
#include <sstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "synergy_tokend/authority.hpp"
#include "synergy_tokend/clock.hpp"

namespace synergy_tokend {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using boost::system::error_code;

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr auto client_timeout = std::chrono::seconds(15);

struct client_reply {
    std::string failure; // non-empty: no reply
    unsigned status = 0;
    std::string body;
    std::string etag;
};

// One request's extras: the ETag the caller has, and how long the whole exchange may take.
struct client_options {
    std::string if_none_match;
    std::chrono::seconds timeout = client_timeout;
};

template <class Protocol>
asio::awaitable<void> fetch(typename Protocol::endpoint ep, std::string target, std::string accept,
                            client_options opts, client_reply* out) {
    beast::basic_stream<Protocol> stream(co_await asio::this_coro::executor);
    stream.expires_after(opts.timeout);
    auto [cec] = co_await stream.async_connect(ep, use_nothrow);
    if (cec) {
        out->failure = "cannot connect: " + cec.message();
        co_return;
    }
    http::request<http::string_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "localhost");
    req.set(http::field::accept, accept);
    req.set(http::field::user_agent, "synergy-tokend-cli/" SYNERGY_TOKEND_VERSION);
    req.set("X-Tokend-Request", "1");
    if (!opts.if_none_match.empty())
        req.set(http::field::if_none_match, opts.if_none_match);
    req.keep_alive(false);
    auto [wec, written] = co_await http::async_write(stream, req, use_nothrow);
    if (wec) {
        out->failure = "cannot send the request: " + wec.message();
        co_return;
    }
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    auto [rec, read] = co_await http::async_read(stream, buffer, res, use_nothrow);
    if (rec) {
        out->failure = "no reply: " + rec.message();
        co_return;
    }
    out->status = res.result_int();
    out->body = std::move(res.body());
    if (const auto it = res.find(http::field::etag); it != res.end())
        out->etag = std::string(it->value());
}

client_reply get(const client_endpoint& ep, const std::string& target, const std::string& accept,
                 const client_options& opts = {}) {
    asio::io_context io;
    client_reply reply;
    if (!ep.unix_path.empty()) {
        asio::co_spawn(
            io,
            fetch<asio::local::stream_protocol>(
                asio::local::stream_protocol::endpoint(ep.unix_path), target, accept, opts, &reply),
            asio::detached);
    } else {
        asio::ip::tcp::resolver resolver(io);
        error_code ec;
        auto results = resolver.resolve(ep.host, ep.port, ec);
        if (ec || results.empty()) {
            reply.failure = "cannot resolve " + ep.host + ": " + ec.message();
            return reply;
        }
        asio::co_spawn(
            io, fetch<asio::ip::tcp>(results.begin()->endpoint(), target, accept, opts, &reply),
            asio::detached);
    }
    io.run();
    return reply;
}

// The error envelope's message, or the raw body.
std::string error_message(const client_reply& r) {
    error_code ec;
    const auto v = json::parse(r.body, ec);
    if (!ec && v.is_object())
        if (const auto* e = v.as_object().if_contains("error"); e && e->is_object())
            if (const auto* m = e->as_object().if_contains("message"); m && m->is_string())
                return std::string(m->as_string());
    return r.body;
}

std::string text_of(const json::value* v) {
    if (v == nullptr || v->is_null())
        return "-";
    if (v->is_string())
        return std::string(v->as_string());
    std::ostringstream s;
    s << *v;
    return s.str();
}

// Parses "2026-11-23T08:43:41Z"; nullopt otherwise.
std::optional<wall_clock::time_point> parse_rfc3339(std::string_view t) {
    int y, mo, d, h, mi, s;
    if (t.size() != 20 || std::sscanf(std::string(t).c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ", &y, &mo,
                                      &d, &h, &mi, &s) != 6)
        return std::nullopt;
    const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(unsigned(mo)),
                                          std::chrono::day(unsigned(d))};
    if (!ymd.ok())
        return std::nullopt;
    return std::chrono::sys_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(mi) +
           std::chrono::seconds(s);
}

std::string human_duration(long long s) {
    const bool negative = s < 0;
    if (negative)
        s = -s;
    std::string out;
    if (s >= 3600)
        out = std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
    else if (s >= 60)
        out = std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
    else
        out = std::to_string(s) + "s";
    return negative ? out + " ago" : "in " + out;
}

} // namespace

std::optional<client_endpoint> parse_client_endpoint(std::string_view text) {
    client_endpoint ep;
    if (text.starts_with("unix:")) {
        ep.unix_path = std::string(text.substr(5));
        if (ep.unix_path.empty())
            return std::nullopt;
        return ep;
    }
    if (!text.starts_with("http://"))
        return std::nullopt;
    std::string_view authority = text.substr(7);
    if (const auto slash = authority.find('/'); slash != std::string_view::npos) {
        if (authority.substr(slash) != "/")
            return std::nullopt;
        authority = authority.substr(0, slash);
    }
    const auto split = split_authority(authority);
    if (!split)
        return std::nullopt;
    const std::string_view host = split->host;
    const std::string_view port = split->port.value_or("80");
    unsigned port_number = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
    if (host.empty() || ec != std::errc() || end != port.data() + port.size() || port_number == 0 ||
        port_number > 65535)
        return std::nullopt;
    ep.host = std::string(host);
    ep.port = std::string(port);
    return ep;
}

std::string choose_endpoint(const std::string& given) {
    if (!given.empty())
        return given;
    if (const char* env = std::getenv("SYNERGY_TOKEND_ENDPOINT"); env && *env)
        return env;
    return "unix:/run/synergy-tokend/tokend.sock";
}

std::string format_status_table(const json::value& data,
                                std::chrono::system_clock::time_point now) {
    std::ostringstream out;
    const json::object* obj = data.if_object();
    if (obj == nullptr)
        return "(no status)\n";
    out << "synergy-tokend " << text_of(obj->if_contains("version")) << ", up "
        << text_of(obj->if_contains("uptime")) << " s, upstream "
        << text_of(obj->if_contains("upstream") && obj->at("upstream").is_object()
                       ? obj->at("upstream").as_object().if_contains("baseUrl")
                       : nullptr)
        << "\n\n";

    std::vector<std::array<std::string, 5>> rows{
        {"NAME", "STATE", "EXPIRES", "LAST REFRESH", "LAST ERROR"}};
    auto relative = [&](const json::value* v) {
        if (v == nullptr || !v->is_string())
            return std::string("-");
        const auto t = parse_rfc3339(v->as_string());
        if (!t)
            return std::string(v->as_string());
        return human_duration(std::chrono::floor<std::chrono::seconds>(*t - now).count());
    };
    if (const auto* profiles = obj->if_contains("profiles"); profiles && profiles->is_array()) {
        for (const auto& p : profiles->as_array()) {
            const json::object* po = p.if_object();
            if (po == nullptr)
                continue;
            std::string name = text_of(po->if_contains("name"));
            if (const auto* d = po->if_contains("default"); d && d->is_bool() && d->as_bool())
                name += " *";
            rows.push_back({name, text_of(po->if_contains("state")),
                            relative(po->if_contains("expiresAt")),
                            relative(po->if_contains("lastRefreshAt")),
                            text_of(po->if_contains("lastError"))});
        }
    }
    std::array<std::size_t, 5> width{};
    for (const auto& r : rows)
        for (std::size_t i = 0; i < 4; ++i)
            width[i] = std::max(width[i], r[i].size());
    for (const auto& r : rows) {
        for (std::size_t i = 0; i < 4; ++i)
            out << r[i] << std::string(width[i] - r[i].size() + 2, ' ');
        out << r[4] << '\n';
    }
    out << "\non-demand entries: " << text_of(obj->if_contains("onDemandEntries"))
        << "   (* = default profile)\n";
    return out.str();
}

namespace {

// GET `target` from the daemon at `endpoint`: the body of its 200 reply. Anything else is
// written to `err` and sets `exit_status` (bad endpoint, daemon unreachable, error reply).
std::optional<std::string> fetch(const std::string& endpoint, const std::string& target,
                                 const std::string& accept, std::ostream& err, int& exit_status) {
    const auto ep = parse_client_endpoint(endpoint);
    if (!ep) {
        err << "synergy-tokend: bad endpoint '" << endpoint
            << "': expected http://HOST:PORT or unix:/path\n";
        exit_status = exit_code::usage;
        return std::nullopt;
    }
    client_reply r = get(*ep, target, accept);
    if (!r.failure.empty()) {
        err << "synergy-tokend: daemon unreachable at " << endpoint << ": " << r.failure << '\n';
        exit_status = exit_code::unreachable;
        return std::nullopt;
    }
    if (r.status != 200) {
        err << "synergy-tokend: " << r.status << ": " << error_message(r) << '\n';
        exit_status = exit_code::failure;
        return std::nullopt;
    }
    return std::move(r.body);
}

} // namespace

namespace {

// `synergy-tokend token NAME --watch`: the token, then each new one, as lines; each request is
// held by the daemon until the token differs from the ETag last printed (or watch_wait passes:
// 304, asked again). Ends only with an error.
int watch_token(const std::string& endpoint, const std::string& target, std::ostream& out,
                std::ostream& err) {
    constexpr std::chrono::seconds watch_wait{300};
    const auto ep = parse_client_endpoint(endpoint);
    if (!ep) {
        err << "synergy-tokend: bad endpoint '" << endpoint
            << "': expected http://HOST:PORT or unix:/path\n";
        return exit_code::usage;
    }
    client_options opts;
    opts.timeout = watch_wait + client_timeout;
    const std::string held = target + "?wait=" + std::to_string(watch_wait.count());
    for (;;) {
        client_reply r = get(*ep, held, "text/plain", opts);
        if (!r.failure.empty()) {
            err << "synergy-tokend: daemon unreachable at " << endpoint << ": " << r.failure
                << '\n';
            return exit_code::unreachable;
        }
        if (r.status == 304)
            continue;
        if (r.status != 200) {
            err << "synergy-tokend: " << r.status << ": " << error_message(r) << '\n';
            return exit_code::failure;
        }
        if (r.etag.empty()) {
            err << "synergy-tokend: the daemon's reply has no ETag: it cannot be watched\n";
            return exit_code::failure;
        }
        if (r.etag != opts.if_none_match) {
            out << r.body << std::endl; // flushed: a shell loop reads it now
            if (!out) {
                err << "synergy-tokend: cannot write the token to standard output\n";
                return exit_code::failure;
            }
        }
        opts.if_none_match = std::move(r.etag);
    }
}

} // namespace

int run_token_command(const std::string& endpoint, const std::string& name, std::ostream& out,
                      std::ostream& err, bool watch) {
    std::string target = "/v1/tokens/";
    for (unsigned char c : name) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
            target += static_cast<char>(c);
        } else {
            static const char* hex = "0123456789ABCDEF";
            target += '%';
            target += hex[c >> 4];
            target += hex[c & 15];
        }
    }
    if (watch)
        return watch_token(endpoint, target, out, err);
    int status = exit_code::ok;
    const auto token = fetch(endpoint, target, "text/plain", err, status);
    if (!token)
        return status;
    out << *token << '\n';
    return exit_code::ok;
}

int run_status_command(const std::string& endpoint, std::ostream& out, std::ostream& err) {
    int status = exit_code::ok;
    const auto body = fetch(endpoint, "/status", "application/json", err, status);
    if (!body)
        return status;
    error_code ec;
    const auto v = json::parse(*body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("data")) {
        err << "synergy-tokend: the daemon's /status reply is not JSON\n";
        return exit_code::failure;
    }
    out << format_status_table(v.at("data"), std::chrono::system_clock::now());
    return exit_code::ok;
}

std::string format_whoami(const json::value& data) {
    std::ostringstream out;
    const auto* o = data.if_object();
    if (o == nullptr)
        return "(no caller)\n";
    const auto text = [&](std::string_view key) -> std::string {
        const json::value* v = o->if_contains(key);
        if (v == nullptr || v->is_null())
            return "-";
        if (v->is_string())
            return std::string(v->get_string());
        return json::serialize(*v);
    };
    out << "listener:    " << text("listener") << '\n';
    out << "identified:  " << text("identifiedBy") << '\n';
    if (const json::value* why = o->if_contains("unknownReason"); why && why->is_string())
        out << "why unknown: " << std::string_view(why->get_string()) << '\n';
    out << "uid:         " << text("uid");
    if (const std::string user = text("user"); user != "-")
        out << " (" << user << ')';
    out << '\n';
    out << "gid:         " << text("gid") << '\n';
    out << "groups:      " << text("groups") << '\n';
    out << "pid:         " << text("pid") << '\n';
    out << "may read:   ";
    const json::value* readable = o->if_contains("readableProfiles");
    if (readable != nullptr && readable->is_array() && !readable->get_array().empty()) {
        for (const auto& p : readable->get_array())
            if (p.is_string())
                out << ' ' << std::string_view(p.get_string());
    } else {
        out << " (no profile)";
    }
    out << '\n';
    return out.str();
}

int run_whoami_command(const std::string& endpoint, std::ostream& out, std::ostream& err) {
    int status = exit_code::ok;
    const auto body = fetch(endpoint, "/v1/whoami", "application/json", err, status);
    if (!body)
        return status;
    error_code ec;
    const auto v = json::parse(*body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("data")) {
        err << "synergy-tokend: the daemon's /v1/whoami reply is not JSON\n";
        return exit_code::failure;
    }
    out << format_whoami(v.at("data"));
    return exit_code::ok;
}

} // namespace synergy_tokend
