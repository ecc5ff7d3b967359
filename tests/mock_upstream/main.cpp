// synergy-auth-mock: a stand-in for the Synergy Sports Auth API (../../../shared/upstream/), used
// by every test that touches upstream. A test tool: it logs freely, tokens included.
//
// COMMAND LINE
//   synergy-auth-mock [--plain] [--host 127.0.0.1] [--port N] [--control-port N] [--cert-dir DIR]
//                     [--reuse-certs] [--accept-earlier-tokens]
//   The API port speaks TLS (1.2 or later) unless --plain; the control port is always plain HTTP.
//   Port 0 (the default) is ephemeral. Bad arguments: a message and usage on stderr, exit 2; a
//   failure at start (a port in use, an unwritable DIR): a message, exit 1. SIGTERM and SIGINT
//   close everything and exit 0.
//
// CERTIFICATES (made at every start, TLS or not; see certs.hpp)
//   In DIR (default: a fresh mkdtemp directory under $TMPDIR or /tmp; files are left there):
//   ca.pem (the CA that signed the server certificate), untrusted-ca.pem (an unrelated CA),
//   server.pem (SAN DNS:localhost, IP:127.0.0.1, IP:::1), server-key.pem (0600). Valid from an
//   hour ago for a day. --reuse-certs (with --cert-dir): the certificates an earlier start left in
//   DIR are used instead, when all four are there, so that a mock restarted on the same ports is
//   trusted by a client that trusts the first one's ca.pem. --accept-earlier-tokens: /info accepts
//   a bearer token this process did not issue when its payload is one the mock writes (iss
//   synergy-auth-mock, exp, sub, product; sub "bogus" excepted), as a restarted upstream accepts
//   the tokens it signed before; unexpired and unrevoked as for the others.
//
// READY LINE: once both ports listen, exactly one line on stdout, flushed (HOST:PORT as bound,
// "[::1]:PORT" for IPv6; paths absolute):
//   ready api=HOST:PORT control=HOST:PORT ca=DIR/ca.pem untrusted_ca=DIR/untrusted-ca.pem
//
// API (base /v1; HTTP/1.1 keep-alive and HTTP/1.0; every reply has X-Mock-Request-Id: <n>)
//   POST /v1/products/token  body: exactly userIdentityToken (non-empty string), product (string),
//       customerId (string; a number is rejected), optional scopes (array of unique strings).
//       Schema violation: 422, a body that is not JSON: 400, both reason INVALID_DATA, message
//       naming the field. Identity not in settings valid_identity_tokens (when a list): 401
//       NOT_AUTHORISED. Product starting with "invalid": 422 INVALID_DATA. Otherwise 200:
//       {"data":{"token":JWT,"tokenType":"bearer","expiresIn":3600},"meta":{...}}, the JWT being
//       {"alg":"HS256","typ":"JWT"} . {"iss":"synergy-auth-mock","sub":<8 hex of SHA-256 of the
//       identity>,"product","customerId",["scopes"],"iat","exp","jti"} . 32 random bytes
//       (base64url, no padding). exp = iat + lifetime_s whatever the expiresIn form. The payload
//       also has "rid": the X-Mock-Request-Id of the token request that minted it.
//   GET /v1/info/scopes/authorized | scopes/available | access/authorized | access/available
//       (query ignored) need "Authorization: Bearer T", T issued here, unexpired (now < exp) and
//       not revoked, else 401 NOT_AUTHORISED. scopes/authorized: the token's scopes, or
//       ["read:organization"] if it has none; scopes/available: ["read:organization",
//       "read:games"]; access/*: the AccessListResponse example for a "datacore" token, else 403
//       NOT_AUTHORISED "only for datacore tokens". Every 200 has, after meta, "mock":{"requestId":
//       <X-Mock-Request-Id>,"query":<the query, without '?'>,"sub":<the bearer token's sub>,
//       "tokenRequestId":<its rid>}: whose reply it is, so a test can tag requests by query.
//   ANY /product/echo/... (a product API for routes): the bearer token checked as for /info, then
//       the request back as JSON {"method","target","headers","body"}.
//   GET /product/stream?size=N&piece=P&interval_ms=I&framing=length|chunked|eof&cut=K: the bearer
//       token checked as for /info, then a generated body of N bytes (byte i = 'a' + i % 26) in
//       writes of P bytes (65536) I ms apart (0), framed by Content-Length, one chunk per write, or
//       Connection: close and the end of the stream; with cut, only K bytes, then a close without
//       close_notify. Never held whole: any size.
//   Errors use the upstream envelope {"error":{"code","message","errors":[{"code","message",
//   "reason"}]},"meta":{...}}; wrong method on a known path: 405 ERROR; unknown path: 404
//   NOT_FOUND; body over 1 MiB: 413. meta is {"code","codeVersion":"mock","generationTime":0.001,
//   "time":"YYYY-MM-DD hh:mm:ss.uuuuuu" (UTC),"version":1}. Idle connections close after 30 s.
//
// CONTROL API (plain HTTP, JSON; 200 {"ok":true} unless said; bad input 400 {"ok":false,...})
//   GET  /control/counters        {"token_requests","token_requests_ok","info_requests",
//                                  "connections","open_connections","tls_handshakes",
//                                  "max_open_connections"}, API port only. A "token request" is
//                                  any request for /v1/products/token, an "info request" any for
//                                  /v1/info/...; token_requests_ok counts 200s carrying a token.
//   GET  /control/token-requests  {"data":[{"t_ms","status","product","customerId"}...]}: every
//                                  token request in arrival order; t_ms since start (steady
//                                  clock); status 0 until replied, and for drop/stall/truncate/
//                                  stall_body; product/customerId as sent, null if absent or
//                                  unparsable.
//   POST /control/settings        partial update, all or nothing: lifetime_s (int, 3600),
//                                  expires_in_form ("number"|"string"|"absent"|"raw"),
//                                  expires_in_raw (any JSON, serialized by Boost.JSON),
//                                  jwt_exp (bool, true), token_type (string|null, "bearer"),
//                                  valid_identity_tokens (array|null, null), delay_ms (int, 0:
//                                  waited before every API reply), keepalive_idle_ms (int >= 1
//                                  |null, null: an API connection that has served a request and
//                                  waits longer for the next is closed: close_notify, then FIN
//                                  without waiting for the client's close_notify).
//                                  Unknown key: 400.
//   POST /control/fault           {"mode","count":1,"endpoint":"token", ...}: the next count
//                                  matching API requests (-1: until cleared) get the fault.
//                                  Faults queue: a request takes the first that matches its
//                                  endpoint ("token", "info" or "any"). Modes: "status" (with
//                                  "status", optional "retry_after", "body" (default: an error
//                                  envelope, reason ERROR), "content_type" (default
//                                  application/json)), "malformed" (200 text/html
//                                  "<html>not json"), "no_token" (200 without data.token),
//                                  "drop", "truncate" (full Content-Length, half the body,
//                                  close), "delay" (with "delay_ms", then the normal reply),
//                                  "stall" (never answer, hold the connection), "stall_body"
//                                  (full Content-Length, half the body, then hold the
//                                  connection, never sending the rest). "status" takes 200 to 999
//                                  and optional "reason" (string|null): the reason phrase, "" for
//                                  none ("HTTP/1.1 299 \r\n"); without it, Beast's name for a code
//                                  Beast knows, none for others (299, 418, 520, 999 ...).
//                                  The hostile but legal upstream, written as raw bytes:
//                                  "interim" ("interim": [1xx codes but 101], default [100,103];
//                                  103 with two Link headers; then the normal reply),
//                                  "extra_bytes" (the normal reply, keep-alive, followed in the
//                                  same write by "extra" (string), default a complete second
//                                  200 reply whose token has sub/product/customerId "bogus" and
//                                  whose "mock" tag has query "bogus" and requestId 0),
//                                  "eof_body" (the normal reply without Content-Length,
//                                  "Connection: close", the body, then the end),
//                                  "connection_close" (the normal reply with "Connection: close",
//                                  then the end), "short_body" (full Content-Length, half the
//                                  body, then the end), "headers_then_close" (full
//                                  Content-Length, no body, then the end), "byte_records" (the
//                                  normal reply, one byte per write, TCP_NODELAY). Options:
//                                  "close_notify" (bool, true: the end is TLS close_notify then
//                                  FIN; false: a bare TCP close, a truncation), "gap_ms" (int,
//                                  0: for interim, a pause before each write after the first;
//                                  for extra_bytes, the extra bytes go in a write of their own,
//                                  that long after the reply), "byte_records" (bool, false: any
//                                  mode that sends a reply sends it one byte per write).
//                                  Unknown key: 400.
//   POST /control/clear-faults
//   POST /control/down            {"seconds":S} optional: close the API port (new connections
//                                  are refused) and every API connection; reopen the same port
//                                  after S seconds or on /control/up.
//   POST /control/up
//   POST /control/revoke          every token issued so far fails /info from now on.
//   GET  /control/last-info       {"path","query","authorization","status","body"} of the last
//                                  /info request, body being exactly what was sent; 404 if none.
//   POST /control/reset           counters (open_connections excepted), settings, faults, the
//                                  request log, issued tokens, last-info and request ids back to
//                                  start; an API port that is down comes up.
//
// Files: certs (PKI), mock_state (data), mock_api (API behaviour), control_api (control
// routes), mock_server (listeners, connections, down/up), log, main (arguments and wiring).
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>

#include "certs.hpp"
#include "log.hpp"
#include "mock_server.hpp"
#include "mock_state.hpp"

namespace {

namespace asio = boost::asio;
namespace mock = synergy_auth_mock;

constexpr std::string_view usage =
    "usage: synergy-auth-mock [--plain] [--host 127.0.0.1] [--port N] [--control-port N] "
    "[--cert-dir DIR] [--reuse-certs] [--accept-earlier-tokens]\n";

struct arguments {
    bool plain = false;
    std::string host = "127.0.0.1";
    unsigned short api_port = 0;
    unsigned short control_port = 0;
    std::filesystem::path cert_dir; // empty: a fresh temporary directory
    bool reuse_certs = false;
    bool accept_earlier_tokens = false;
};

std::optional<unsigned short> parse_port(std::string_view text) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value > 65535)
        return std::nullopt;
    return static_cast<unsigned short>(value);
}

// nullopt after printing why (the caller exits 2).
std::optional<arguments> parse_arguments(int argc, char** argv) {
    arguments args;
    for (int i = 1; i < argc; ++i) {
        std::string_view option = argv[i];
        std::optional<std::string_view> value;
        if (const auto equals = option.find('=');
            option.starts_with("--") && equals != option.npos) {
            value = option.substr(equals + 1);
            option = option.substr(0, equals);
        }
        auto take_value = [&]() -> std::optional<std::string_view> {
            if (value)
                return value;
            if (i + 1 < argc)
                return std::string_view(argv[++i]);
            return std::nullopt;
        };

        if (option == "--plain" && !value) {
            args.plain = true;
        } else if (option == "--reuse-certs" && !value) {
            args.reuse_certs = true;
        } else if (option == "--accept-earlier-tokens" && !value) {
            args.accept_earlier_tokens = true;
        } else if (option == "--help" || option == "-h") {
            std::cout << usage;
            std::exit(0);
        } else if (option == "--host" || option == "--cert-dir") {
            const auto text = take_value();
            if (!text || text->empty()) {
                std::cerr << "synergy-auth-mock: " << option << " needs a value\n" << usage;
                return std::nullopt;
            }
            if (option == "--host")
                args.host = *text;
            else
                args.cert_dir = *text;
        } else if (option == "--port" || option == "--control-port") {
            const auto text = take_value();
            const auto port = text ? parse_port(*text) : std::nullopt;
            if (!port) {
                std::cerr << "synergy-auth-mock: " << option << " needs a port from 0 to 65535\n"
                          << usage;
                return std::nullopt;
            }
            (option == "--port" ? args.api_port : args.control_port) = *port;
        } else {
            std::cerr << "synergy-auth-mock: unknown argument " << argv[i] << "\n" << usage;
            return std::nullopt;
        }
    }
    return args;
}

} // namespace

int main(int argc, char** argv) {
    const std::optional<arguments> args = parse_arguments(argc, argv);
    if (!args)
        return 2;
    // A test harness may close its end of stderr early; that must not kill the mock.
    std::signal(SIGPIPE, SIG_IGN);

    try {
        const mock::generated_certs certs = args->reuse_certs
                                                ? mock::reuse_or_generate_certs(args->cert_dir)
                                                : mock::generate_certs(args->cert_dir);
        std::optional<asio::ssl::context> tls;
        if (!args->plain)
            tls.emplace(mock::make_server_tls_context(certs));

        mock::mock_state state;
        state.accept_earlier_tokens = args->accept_earlier_tokens;
        asio::io_context io{1};
        mock::server_options options;
        options.host = args->host;
        options.api_port = args->api_port;
        options.control_port = args->control_port;
        mock::mock_server server{io.get_executor(), options, tls ? &*tls : nullptr, state};
        server.start();

        asio::signal_set signals{io, SIGINT, SIGTERM};
        signals.async_wait([&server](const boost::system::error_code& ec, int signal) {
            if (ec)
                return;
            mock::log_line("signal " + std::to_string(signal) + ": stopping");
            server.stop();
        });

        std::cout << "ready api=" << mock::format_endpoint(server.api_endpoint())
                  << " control=" << mock::format_endpoint(server.control_endpoint())
                  << " ca=" << certs.ca_file.string()
                  << " untrusted_ca=" << certs.untrusted_ca_file.string() << std::endl;
        mock::log_line(std::string(args->plain ? "plain HTTP" : "TLS") + " API on " +
                       mock::format_endpoint(server.api_endpoint()) + ", control on " +
                       mock::format_endpoint(server.control_endpoint()));

        io.run();
        mock::log_line("stopped");
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "synergy-auth-mock: " << e.what() << "\n";
        return 1;
    }
}
